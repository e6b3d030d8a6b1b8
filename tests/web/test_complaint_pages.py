"""The complaint pages through the test client: the photo upload and its rules, the status
page (404, *rahasia*), the photo's serving, the staff pages' guards, the pages' words."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from PIL import Image

from tests.conftest import query
from tests.services.test_photos import jpeg_with_gps
from tests.web.conftest import PII_MARKERS, staff_login, web_app
from web.complaint_text import TEXT


@pytest.fixture(scope="module")
def pages_app(complaint_db, complaint_staff, tmp_path_factory):
    from services.config import get_service_settings

    mp = pytest.MonkeyPatch()
    mp.setenv("SIGAP_PUBLIC_POST_LIMIT", "100000/60")
    get_service_settings.cache_clear()
    app = web_app(complaint_db, PHOTO_DIR=str(tmp_path_factory.mktemp("photos")))
    yield app
    mp.undo()
    get_service_settings.cache_clear()


@pytest.fixture
def client(pages_app):
    return pages_app.test_client()


def _csrf(client) -> str:
    page = client.get("/lapor")
    assert page.status_code == 200
    with client.session_transaction() as session:
        return session["csrf_token"]


def _upload(client, data: bytes, token: str | None, name: str = "foto.jpg"):
    headers = {"X-CSRF-Token": token} if token else {}
    return client.post(
        "/lapor/foto",
        data={"photo": (io.BytesIO(data), name, "image/jpeg")},
        headers=headers,
        content_type="multipart/form-data",
    )


def _file(client, **over) -> str:
    body = {
        "service_code": "lainnya",
        "lat": 60.1686,
        "lon": 24.9512,
        "description": f"Halaman uji {uuid.uuid4()}",
        **over,
    }
    r = client.post("/api/complaints", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["tracking_id"]


def test_both_languages_have_the_same_words():
    assert set(TEXT["id"]) == set(TEXT["en"])
    assert all(v.strip() for lang in TEXT.values() for v in lang.values())


def test_the_form_page_is_linked_and_strict(client):
    r = client.get("/lapor")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert 'href="/lapor" aria-current="page"' in html
    assert "segera hadir" not in html.lower() and "coming soon" not in html.lower()
    assert not re.search(r"\son[a-z]+=", html)  # no inline handlers (CSP)
    for tag in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html):
        assert "nonce=" in tag or 'type="application/json"' in tag, tag
    assert client.get("/").get_data(as_text=True).count('href="/lapor"') == 1
    en = client.get("/lapor?lang=en").get_data(as_text=True)
    assert "Report a problem" in en


def test_a_photo_needs_the_session_token(client):
    _csrf(client)
    r = _upload(client, jpeg_with_gps(), None)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf"
    r = _upload(client, jpeg_with_gps(), "wrong-token")
    assert r.status_code == 403


def test_a_photo_is_stored_clean_and_served_only_for_public_reports(client, pages_app):
    token = _csrf(client)
    r = _upload(client, jpeg_with_gps(), token, name="../../etc/PII-NAME.jpg")
    assert r.status_code == 201, r.get_json()
    ref = r.get_json()["photo_ref"]
    assert "PII" not in ref and "/" not in ref
    tid = _file(client, photo_ref=ref)
    page = client.get(f"/lapor/{tid}").get_data(as_text=True)
    assert f'src="/lapor/{tid}/foto"' in page
    photo = client.get(f"/lapor/{tid}/foto")
    assert photo.status_code == 200
    assert photo.mimetype == "image/jpeg"
    assert photo.headers["X-Content-Type-Options"] == "nosniff"
    assert "PII" not in photo.headers.get("Content-Disposition", "")
    with Image.open(io.BytesIO(photo.data)) as img:
        assert img.format == "JPEG" and len(img.getexif()) == 0
    photo.close()
    secret = _file(client, photo_ref=ref, rahasia=True, lat=60.1687)
    assert client.get(f"/lapor/{secret}/foto").status_code == 404
    no_photo = _file(client, lat=60.1688)
    assert client.get(f"/lapor/{no_photo}/foto").status_code == 404


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"<script>alert(1)</script>", 400),
        (b"\x00" * 100, 400),
        (b"", 400),
    ],
    ids=["html", "nul-bytes", "empty"],
)
def test_what_is_not_a_photo_is_refused(client, data, status):
    r = _upload(client, data, _csrf(client))
    assert r.status_code == status
    err = r.get_json()["error"]
    assert err["param"] == "photo" and "<script>" not in err["message"]


def test_over_five_megabytes_is_413(client):
    from services.photos import MAX_PHOTO_BYTES

    big = b"\xff" * (MAX_PHOTO_BYTES + 100_000)
    body = (
        b'--B\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + big + b"\r\n--B--\r\n"
    )  # bytes, not a file: the test client would spool a large file to disk and keep it
    r = client.post(
        "/lapor/foto",
        data=body,
        headers={"X-CSRF-Token": _csrf(client)},
        content_type="multipart/form-data; boundary=B",
    )
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "too_large"
    r = client.post(
        "/lapor/foto",
        data={"nothing": "here"},
        headers={"X-CSRF-Token": _csrf(client)},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400 and r.get_json()["error"]["param"] == "photo"


def test_the_status_page_of_an_unknown_id_is_a_404_page(client):
    for tid in ("ZZZZ-ZZZZ", "<script>", "x" * 300):
        r = client.get(f"/lapor/{tid}")
        assert r.status_code == 404
        assert r.mimetype == "text/html"
        assert "<script>" not in r.get_data(as_text=True).split("</head>", 1)[1]
    r = client.get("/lapor/cari?id=zzzz-zzzz")
    assert r.status_code == 303 and r.headers["Location"].endswith("/lapor/ZZZZ-ZZZZ")


def test_a_rahasia_report_shows_only_its_state(client):
    marker = f"RAHASIA-{uuid.uuid4().hex[:8]}"
    tid = _file(
        client,
        description=marker,
        address="Jalan Rahasia 9",
        rahasia=True,
        name=PII_MARKERS[0],
        lat=60.1689,
    )
    html = client.get(f"/lapor/{tid}").get_data(as_text=True)
    assert tid in html and 'data-state="diterima"' in html
    for hidden in (marker, "Jalan Rahasia", PII_MARKERS[0], "60.1689"):
        assert hidden not in html


def test_the_status_page_escapes_and_hides_contacts(client):
    tid = _file(
        client,
        description="<img src=x onerror=alert(1)> & co",
        address="<b>Jl. Uji</b>",
        name=PII_MARKERS[0],
        phone="+62 812 9999 0000",
        email=PII_MARKERS[2],
        lat=60.1690,
    )
    html = client.get(f"/lapor/{tid}").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; co" in html
    assert "&lt;b&gt;Jl. Uji&lt;/b&gt;" in html
    for pii in (PII_MARKERS[0], PII_MARKERS[2], "9999 0000"):
        assert pii not in html


def test_staff_pages_need_a_login_and_the_right_role(pages_app, complaint_staff):
    client = pages_app.test_client()
    for path in ("/staff/antrian", "/staff/pengaduan/1", "/staff/layanan"):
        r = client.get(path)
        assert r.status_code == 302 and "/staff/login?next=" in r.headers["Location"]
    staff_login(client, complaint_staff["roads"])
    assert client.get("/staff/antrian").status_code == 200
    assert client.get("/staff/layanan").status_code == 403
    assert client.get("/staff/pengaduan/ZZZZ-ZZZZ").status_code == 404


def test_the_queue_filters_and_lists_overdue_first(pages_app, complaint_db, complaint_staff):
    client = pages_app.test_client()
    late = _file(client, service_code="sampah", lat=60.1691)
    query(
        complaint_db,
        "UPDATE complaint SET forward_due_at = now() - interval '1 day' WHERE tracking_id = %s",
        (late,),
    )
    staff_login(client, complaint_staff["admin"])
    html = client.get("/staff/antrian").get_data(as_text=True)
    flags = re.findall(r'data-overdue="([01])"', html)
    assert flags and flags == sorted(flags, reverse=True)
    assert f'data-tracking-id="{late}" data-overdue="1"' in html
    dlh = client.get("/staff/antrian?agency=dlh&overdue=1").get_data(as_text=True)
    assert late in dlh
    assert late not in client.get("/staff/antrian?agency=dpupr").get_data(as_text=True)
    # an unknown filter value is ignored (the form only offers known ones)
    assert client.get("/staff/antrian?state=%3Cscript%3E").status_code == 200
