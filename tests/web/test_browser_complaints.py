"""The complaint pages in headless Chromium: the /lapor form (with a photo, at phone size),
the duplicate hint, the public status page, the staff login, queue and transitions, and the
help desk's form. Checked against the database, read as the owner."""

from __future__ import annotations

import json
import shutil
import urllib.request
import uuid
from pathlib import Path

import pytest
from PIL import Image

from gis.settings import PROJECT_ROOT
from tests.conftest import query
from tests.services.test_photos import GPS_IFD, jpeg_with_gps
from tests.web.browser import (
    ARTIFACTS,
    PAGE_BUDGET_BYTES,
    LiveServer,
    Watched,
    device_options,
    empty_map_point,
    record_weight,
    shot,
    small_targets,
    wait_for_road_tiles,
)
from tests.web.conftest import PII_MARKERS, STAFF_PASSWORD, web_app

SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
HOSTILE = "<script>alert('x')</script> & <b>tebal</b>"


@pytest.fixture(scope="module")
def lapor_server(complaint_db, complaint_staff, tmp_path_factory):
    """The app on ``complaint_db`` with its own photo directory, limits out of the way
    (every browser request comes from 127.0.0.1)."""
    from services.config import get_service_settings

    mp = pytest.MonkeyPatch()
    mp.setenv("SIGAP_PUBLIC_POST_LIMIT", "100000/60")
    mp.setenv("SIGAP_LOGIN_LIMIT", "100000/60")
    get_service_settings.cache_clear()
    photo_dir = tmp_path_factory.mktemp("photos")
    server = LiveServer(web_app(complaint_db, PHOTO_DIR=str(photo_dir)))
    server.photo_dir = photo_dir  # type: ignore[attr-defined]
    yield server
    server.stop()
    mp.undo()
    get_service_settings.cache_clear()


@pytest.fixture
def page_of(chromium):
    """``page_of(size)``: a Watched page in a fresh context (its own cookies)."""
    made = []

    def make(size: str = "phone") -> Watched:
        context = chromium.new_context(**device_options(size))
        w = Watched(context)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
        w.context.close()


def post_complaint(base: str, **over) -> str:
    """File a complaint through the public API of the live server; its tracking id."""
    body = {
        "service_code": "lampu_jalan",
        "lat": 60.1664,
        "lon": 24.9433,
        "description": f"Lampu mati {uuid.uuid4()}",
        **over,
    }
    req = urllib.request.Request(
        base + "/api/complaints",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 (loopback)
        assert r.status == 201
        return json.loads(r.read())["tracking_id"]


def open_ready(w: Watched, url: str) -> None:
    w.page.goto(url)
    w.page.wait_for_selector("body[data-ready='1']", timeout=20000)


def tap_at(w: Watched, lat: float, lon: float) -> None:
    """A real tap on the map near (lat, lon) (on an empty spot of the map)."""
    xy = empty_map_point(w, lat, lon)
    assert xy, "no free spot of the map near the point"
    w.page.touchscreen.tap(*xy)


def choose_point(w: Watched, lat: float, lon: float) -> None:
    """The map's click at exactly (lat, lon), as Leaflet reports a tap there."""
    w.page.evaluate(
        """([lat, lon]) => {
            const d = JSON.parse(document.getElementById('sigap-data').textContent);
            const map = window[d.names.map];
            map.fire('click', {latlng: L.latLng(lat, lon)});
        }""",
        [lat, lon],
    )
    w.page.wait_for_function("() => document.body.dataset.dupState !== 'loading'", timeout=10000)


def expand_sheet(w: Watched) -> None:
    if w.page.get_attribute("[data-sheet-toggle]", "aria-expanded") != "true":
        w.page.click("[data-sheet-toggle]")


def login(w: Watched, base: str, username: str) -> None:
    w.page.goto(base + "/staff/login")
    w.page.fill("#username", username)
    w.page.fill("#password", STAFF_PASSWORD)
    w.page.click("button[type=submit]")
    w.page.wait_for_url(base + "/staff/", timeout=15000)


def test_the_form_files_one_complaint_with_a_clean_photo(lapor_server, complaint_db, page_of):
    base = lapor_server.url
    w = page_of("phone")
    open_ready(w, base + "/lapor")
    wait_for_road_tiles(w)
    assert record_weight(w, "lapor-phone") <= PAGE_BUDGET_BYTES  # the first load on a phone
    assert w.page.get_attribute("#site-menu a[href='/lapor']", "aria-current") == "page"
    tap_at(w, 60.1675, 24.9375)
    w.page.wait_for_selector("body[data-point]")
    expand_sheet(w)
    w.page.select_option("#service_code", "lampu_jalan")
    w.page.fill("#attr-nomor_tiang", "PJU-17")
    # small enough to go as it is (the page shrinks only larger photos): the server must
    # drop the GPS position itself
    original = jpeg_with_gps(size=(1200, 900))
    marker = f"LAPOR-{uuid.uuid4().hex[:10]}"
    w.page.fill("#description", f"{marker} {HOSTILE}")
    w.page.set_input_files(
        "#photo",
        files=[
            {
                "name": "PII-ORIGINAL-NAME.jpg",
                "mimeType": "image/jpeg",
                "buffer": original,
            }
        ],
    )
    w.page.fill("#name", PII_MARKERS[0])
    w.page.fill("#phone", "+62 812 5555 0101")
    assert small_targets(w) == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    w.page.eval_on_selector("#sheet-body", "e => { e.scrollTop = 0; }")
    shot(w, "lapor-phone-form")
    shutil.copy(ARTIFACTS / "lapor-phone-form.png", SCREENSHOTS / "lapor-phone.png")
    w.page.dblclick("#submit")  # a double tap sends one report
    w.page.wait_for_selector("body[data-lapor-state='done']", timeout=30000)
    tid = w.page.text_content("#tracking-id").strip()
    assert w.page.get_attribute("body", "data-photo-bytes") == str(len(original))
    assert w.page.is_visible("#tracking-id") and w.page.is_visible("#copy-id")
    assert w.page.text_content("#copy-id").strip() == "Salin nomor"
    shot(w, "lapor-phone-done")
    w.page.click("#copy-id")  # the clipboard, or (no permission) the id selected for copying
    w.page.wait_for_function(
        "(id) => document.body.dataset.copied === id || String(getSelection()) === id", arg=tid
    )
    rows = query(
        complaint_db,
        "SELECT tracking_id, photo_ref, channel, description, attributes FROM complaint"
        " WHERE description LIKE %s",
        (marker + "%",),
    )
    assert len(rows) == 1, rows
    assert rows[0][0] == tid and rows[0][2] == "web"
    assert rows[0][3] == f"{marker} {HOSTILE}"  # stored as typed
    assert rows[0][4] == {"nomor_tiang": "PJU-17"}
    photo_ref = rows[0][1]
    assert photo_ref and "ORIGINAL" not in photo_ref
    stored = Path(lapor_server.photo_dir) / photo_ref
    with Image.open(stored) as img:
        assert img.format == "JPEG" and img.size == (1200, 900)
        assert len(img.getexif()) == 0 and not img.getexif().get_ifd(GPS_IFD)
    assert b"Exif" not in stored.read_bytes()[:4096]
    reporter = query(
        complaint_db,
        "SELECT r.name FROM complaint_reporter r JOIN complaint c ON c.id = r.complaint_id"
        " WHERE c.tracking_id = %s",
        (tid,),
    )
    assert reporter == [(PII_MARKERS[0],)]

    # the status page: the description as text, the photo, no contact data
    w.page.click("#status-link")
    w.page.wait_for_url(f"{base}/lapor/{tid}")
    assert w.page.text_content("#description") == f"{marker} {HOSTILE}"
    assert w.page.query_selector("#description script, #description b") is None
    w.page.wait_for_function("() => document.getElementById('photo').naturalWidth > 0")
    html = w.page.content()
    for pii in (*PII_MARKERS, "5555 0101", "PII-ORIGINAL-NAME"):
        assert pii not in html
    shot(w, "lapor-phone-status")
    w.check_clean()


def test_the_duplicate_hint_shows_open_reports_within_50_m(lapor_server, page_of):
    base = lapor_server.url
    here = (60.16342, 24.94794)
    tid = post_complaint(base, service_code="drainase", lat=here[0], lon=here[1])
    w = page_of("desktop")
    open_ready(w, base + "/lapor")
    wait_for_road_tiles(w)
    assert record_weight(w, "lapor-desktop") <= PAGE_BUDGET_BYTES
    w.page.select_option("#service_code", "drainase")
    choose_point(w, here[0] + 0.00018, here[1])  # 20 m north
    assert w.page.get_attribute("body", "data-dup-state") == "shown"
    assert w.page.is_visible("#duplicates")
    assert "Sudah dilaporkan?" in w.page.text_content("#duplicates")
    link = w.page.query_selector(f"#duplicate-list a[href='/lapor/{tid}']")
    assert link is not None and link.text_content() == tid
    shot(w, "lapor-duplicate-hint")
    choose_point(w, here[0] + 0.0018, here[1])  # 200 m north
    assert w.page.get_attribute("body", "data-dup-state") == "none"
    assert w.page.is_hidden("#duplicates")
    choose_point(w, here[0] + 0.00018, here[1])
    assert w.page.get_attribute("body", "data-dup-state") == "shown"
    w.page.select_option("#service_code", "sampah")  # another service: no hint
    w.page.wait_for_function("() => document.body.dataset.dupState === 'none'")
    w.check_clean()


def test_field_errors_come_from_the_form_and_the_api(lapor_server, page_of):
    w = page_of("desktop")
    open_ready(w, lapor_server.url + "/lapor")
    w.page.click("#submit")
    w.page.wait_for_selector("body[data-lapor-state='error']")
    assert w.page.text_content("#point-error")
    assert w.page.get_attribute("#service_code", "aria-invalid") == "true"
    choose_point(w, 60.1671, 24.9452)
    w.page.select_option("#service_code", "banjir")
    w.page.fill("#attr-kedalaman_cm", "900")  # the catalogue allows 0 to 500
    w.page.fill("#description", "Genangan")
    w.page.click("#submit")
    w.page.wait_for_selector("#attr-kedalaman_cm[aria-invalid='true']")
    assert "kedalaman_cm" in w.page.text_content("#attr-kedalaman_cm-error")
    assert w.page.is_visible("#lapor-summary")
    # the console shows the API's 400; nothing else went wrong
    assert all("status of 400" in e for e in w.errors), w.errors


def test_a_transition_on_the_staff_page_shows_on_the_status_page(
    lapor_server, complaint_db, complaint_staff, page_of
):
    base = lapor_server.url
    name = f"PII-STAFF-CASE-{uuid.uuid4().hex[:6]}"
    tid = post_complaint(base, lat=60.16605, lon=24.94052, name=name, phone="0812 3333 4444")
    w = page_of("phone")
    login(w, base, complaint_staff["desk"])
    w.page.click("a[href='/staff/antrian']")
    w.page.wait_for_selector("#queue")
    row = w.page.query_selector(f"#queue li[data-tracking-id='{tid}']")
    assert row is not None
    overdue = [li.get_attribute("data-overdue") for li in w.page.query_selector_all("#queue li")]
    assert overdue == sorted(overdue, reverse=True)  # overdue first
    assert small_targets(w) == []
    shot(w, "staff-queue-phone")
    shutil.copy(ARTIFACTS / "staff-queue-phone.png", SCREENSHOTS / "staff-queue-phone.png")
    row.query_selector("a").click()
    w.page.wait_for_selector("#transition-form")
    assert w.page.get_attribute("#state", "data-state") == "diterima"
    # the contact details: for the desk, on request, audited
    w.page.fill("#purpose", "telepon balik")
    w.page.click("#show-contact")
    w.page.wait_for_selector("body[data-contact-state='shown']")
    assert w.page.text_content("#contact-name") == name
    audit = query(
        complaint_db,
        "SELECT v.purpose FROM contact_view v JOIN complaint c ON c.id = v.complaint_id"
        " WHERE c.tracking_id = %s",
        (tid,),
    )
    assert audit == [("telepon balik",)]
    w.page.fill("#note", "STAFF-ONLY-NOTE dicek lewat telepon")
    w.page.fill("#public_note", "Laporan sudah kami periksa <b>ok</b>")
    w.page.focus("button[data-to-state='diverifikasi']")
    w.page.keyboard.press("Enter")  # from the keyboard
    w.page.wait_for_function(
        "() => document.getElementById('state')"
        " && document.getElementById('state').dataset.state === 'diverifikasi'",
        timeout=15000,
    )
    w.page.wait_for_selector(
        "body[data-mini-map='1'] #mini-map .leaflet-marker-pane", state="attached"
    )
    w.page.evaluate("() => window.scrollTo(0, 0)")
    shot(w, "staff-complaint-phone")
    w.check_clean()

    public = page_of("desktop")
    public.page.goto(f"{base}/lapor/{tid}")
    assert public.page.get_attribute("#state", "data-state") == "diverifikasi"
    events = public.page.text_content("#events")
    assert "Laporan sudah kami periksa <b>ok</b>" in events
    html = public.page.content()
    for hidden in (
        "STAFF-ONLY-NOTE",
        "staff-desk",
        "Uji desk",
        name,
        "3333 4444",
    ):
        assert hidden not in html
    assert public.page.query_selector("#events li[data-to-state='diverifikasi']") is not None
    shot(public, "status-after-transition")
    public.check_clean()


def test_the_help_desk_files_a_phone_complaint(
    lapor_server, complaint_db, complaint_staff, page_of
):
    base = lapor_server.url
    w = page_of("desktop")
    login(w, base, complaint_staff["desk"])
    open_ready(w, base + "/staff/layanan")
    choose_point(w, 60.16720, 24.93210)
    w.page.select_option("#service_code", "lainnya")
    marker = f"DESK-{uuid.uuid4().hex[:10]}"
    w.page.fill("#description", marker + " dilaporkan lewat telepon")
    w.page.fill("#name", "Ibu Penelepon")
    w.page.check("input[name=channel][value=phone]")
    w.page.click("#submit")
    w.page.wait_for_selector("body[data-lapor-state='done']", timeout=30000)
    tid = w.page.text_content("#tracking-id").strip()
    rows = query(
        complaint_db,
        "SELECT c.tracking_id, c.channel, u.username FROM complaint c"
        " JOIN complaint_event e ON e.complaint_id = c.id AND e.kind = 'created'"
        " LEFT JOIN staff_user u ON u.id = e.actor_id WHERE c.description LIKE %s",
        (marker + "%",),
    )
    assert rows == [(tid, "phone", complaint_staff["desk"])]
    shot(w, "helpdesk-done")
    w.check_clean()


def test_a_photo_that_is_not_an_image_gets_a_field_error(lapor_server, page_of):
    w = page_of("desktop")
    open_ready(w, lapor_server.url + "/lapor")
    choose_point(w, 60.1683, 24.9418)
    w.page.select_option("#service_code", "lainnya")
    w.page.fill("#description", "Foto palsu")
    w.page.set_input_files(
        "#photo",
        files=[{"name": "x.jpg", "mimeType": "image/jpeg", "buffer": b"<html>not a photo</html>"}],
    )
    w.page.click("#submit")
    w.page.wait_for_selector("#photo[aria-invalid='true']", timeout=15000)
    assert "JPEG or PNG" in w.page.text_content("#photo-error")
    assert w.page.get_attribute("body", "data-lapor-state") == "error"
    # the console shows the 400 of the upload; nothing else went wrong
    assert all("status of 400" in e for e in w.errors), w.errors


def test_the_road_action_from_the_complaint_page_changes_the_segment(
    lapor_server, complaint_db, complaint_staff, page_of
):
    base = lapor_server.url
    tid = post_complaint(
        base,
        service_code="jalan_rusak",
        lat=60.16473,
        lon=24.93916,
        attributes={"tingkat_kerusakan": "tidak_dapat_dilalui"},
    )
    ((segment, before),) = query(
        complaint_db,
        "SELECT s.id, s.condition FROM complaint c JOIN road_segment s"
        " ON s.id = c.linked_feature_id WHERE c.tracking_id = %s",
        (tid,),
    )
    w = page_of("desktop")
    login(w, base, complaint_staff["admin"])
    w.page.goto(f"{base}/staff/pengaduan/{tid}")
    w.page.click("button[data-to-state='diverifikasi']")
    w.page.wait_for_selector("#state[data-state='diverifikasi']", timeout=15000)
    w.page.select_option("#condition", "tidak_dapat_dilalui")
    w.page.click("#road-form button[value='set']")
    w.page.wait_for_selector("#road-form button[value='clear']", timeout=15000)
    assert query(complaint_db, "SELECT condition FROM road_segment WHERE id = %s", (segment,)) == [
        ("tidak_dapat_dilalui",)
    ]
    w.page.click("#road-form button[value='clear']")
    w.page.wait_for_selector("#road-form button[value='set']")
    w.page.wait_for_function(
        "() => !document.querySelector(\"#road-form button[value='clear']\")", timeout=15000
    )
    assert query(complaint_db, "SELECT condition FROM road_segment WHERE id = %s", (segment,)) == [
        (before,)
    ]
    w.check_clean()


def test_a_large_photo_is_shrunk_in_the_browser_first(lapor_server, complaint_db, page_of):
    w = page_of("desktop")
    open_ready(w, lapor_server.url + "/lapor")
    choose_point(w, 60.16795, 24.93655)
    w.page.select_option("#service_code", "lainnya")
    marker = f"BIG-{uuid.uuid4().hex[:10]}"
    w.page.fill("#description", marker)
    big = jpeg_with_gps(size=(4000, 3000))
    w.page.set_input_files(
        "#photo", files=[{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": big}]
    )
    w.page.click("#submit")
    w.page.wait_for_selector("body[data-lapor-state='done']", timeout=30000)
    sent = int(w.page.get_attribute("body", "data-photo-bytes"))
    assert sent < len(big)
    ((ref,),) = query(
        complaint_db, "SELECT photo_ref FROM complaint WHERE description = %s", (marker,)
    )
    with Image.open(Path(lapor_server.photo_dir) / ref) as img:
        assert img.size == (1600, 1200) and len(img.getexif()) == 0
    w.check_clean()
