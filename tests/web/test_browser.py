"""The map pages in a real browser: headless Chromium (Debian's) driven by Playwright.

The app runs on a live server on 127.0.0.1. Chromium's own background traffic goes to a proxy
port on loopback that refuses connections; page requests are recorded and must all stay on
127.0.0.1. Screenshots land in ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import math
import re
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from gis.settings import PROJECT_ROOT
from layers.registry import LAYERS
from tests.web.conftest import web_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
#: The citizen map's first load, assets included, must transfer at most this much.
PAGE_BUDGET_BYTES = 1_500_000
ORIGIN = (60.1700, 24.9440)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A WSGI server for ``app`` on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


@pytest.fixture(scope="session")
def live_server(routed_db):
    server = LiveServer(web_app(routed_db))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory):
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium is missing at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    refusing_port = _free_port()  # closed again: nothing listens there
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--proxy-server=http://127.0.0.1:{refusing_port}",
            ],
            viewport={"width": 1280, "height": 800},
            geolocation={"latitude": ORIGIN[0], "longitude": ORIGIN[1]},
            permissions=["geolocation"],
            locale="id-ID",
        )
        yield context
        context.close()


class Watched:
    """A page with its console errors, page errors, dialogs and requests recorded."""

    def __init__(self, context):
        self.page = context.new_page()
        # every page load is a first load: nothing cached from an earlier test
        context.new_cdp_session(self.page).send("Network.clearBrowserCache")
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.finished: list = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("requestfinished", lambda r: self.finished.append(r))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def check_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.dialogs == []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            assert parts.hostname == "127.0.0.1", url

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def watched(browser_context):
    w = Watched(browser_context)
    yield w
    w.close()


def _open(w: Watched, url: str) -> None:
    w.page.goto(url)
    w.page.wait_for_selector("body[data-ready='1']", timeout=15000)


def _shot(w: Watched, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    w.page.screenshot(path=str(path))
    return path


def _record_weight(w: Watched, page: str) -> int:
    """Bytes transferred (headers and encoded bodies) so far; kept in test-artifacts/."""
    total = sum(
        r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"] for r in w.finished
    )
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{page}-page-weight.txt").write_text(f"{total}\n")
    return total


def _wait_for_road_tiles(w: Watched) -> None:
    w.page.wait_for_function(
        "document.querySelectorAll('.leaflet-tile path, .leaflet-tile canvas').length > 0",
        timeout=15000,
    )


def _empty_map_point(w: Watched, lat: float, lon: float) -> tuple[float, float]:
    """Page coordinates of a spot near (lat, lon) where a click reaches the map itself."""
    return w.page.evaluate(
        """([lat, lon]) => {
            const d = JSON.parse(document.getElementById('sigap-data').textContent);
            const map = window[d.names.map];
            const box = map.getContainer().getBoundingClientRect();
            for (let r = 0; r < 200; r += 6) {
              for (let a = 0; a < 360; a += 30) {
                const p = map.latLngToContainerPoint([lat, lon]);
                const x = box.left + p.x + r * Math.cos(a * Math.PI / 180);
                const y = box.top + p.y + r * Math.sin(a * Math.PI / 180);
                const el = document.elementFromPoint(x, y);
                if (el && (el === map.getContainer() || el.closest('.leaflet-tile-pane'))) {
                  return [x, y];
                }
              }
            }
            return null;
        }""",
        [lat, lon],
    )


def _trip_words(travel_time_s: float, distance_m: float, mode_words: str) -> str:
    """The Indonesian trip summary, computed here independently of sigap.js."""
    minutes = max(1, math.floor(travel_time_s / 60 + 0.5))
    time = f"{minutes} menit" if minutes < 60 else f"{minutes // 60} jam {minutes % 60} menit"
    if distance_m < 1000:
        dist = f"{math.floor(distance_m / 10 + 0.5) * 10} m"
    else:
        dist = f"{distance_m / 1000:.1f} km".replace(".", ",")
    return f"{time} {mode_words}, {dist}"


def test_citizen_map_markers_route_and_page_weight(watched, live_server, db_rows):
    w = watched
    _open(w, live_server.url + "/")
    _wait_for_road_tiles(w)
    w.page.wait_for_load_state("networkidle")
    # the first load, assets and road tiles included, stays within the 3G budget
    transferred = _record_weight(w, "citizen")
    assert 0 < transferred <= PAGE_BUDGET_BYTES, transferred
    # every office is a marker in its category's cluster
    in_clusters = w.page.evaluate(
        """() => {
          const d = JSON.parse(document.getElementById('sigap-data').textContent);
          return Object.values(d.names.clusters)
            .reduce((n, c) => n + window[c].getLayers().length, 0);
        }"""
    )
    assert in_clusters == db_rows("SELECT count(*) FROM office")[0][0]
    assert w.page.locator(".marker-cluster, path.leaflet-interactive").count() > 0
    # choose motorcycle and a category, click the map: the route is drawn
    w.page.get_by_label("Sepeda motor").check()
    w.page.select_option("#category", "post")
    xy = _empty_map_point(w, *ORIGIN)
    assert xy is not None
    with w.page.expect_response(re.compile(r"/api/nearest\?")) as info:
        w.page.mouse.click(*xy)
    answer = info.value.json()
    w.page.wait_for_selector("body[data-route-state='done']", timeout=15000)
    assert answer["mode"] == "motorcycle" and answer["category"] == "post"
    best = answer["results"][0]
    trip = w.page.locator("#result .trip").inner_text()
    assert trip == _trip_words(best["travel_time_s"], best["distance_m"], "dengan motor")
    assert re.fullmatch(r"\d+ menit dengan motor, \d+(,\d)? k?m", trip)
    assert w.page.locator("#result .facility-name").inner_text() == best["facility"]["name"]
    assert w.page.locator("path[stroke='#0b4f6c']").count() >= 1
    w.page.wait_for_load_state("networkidle")
    _shot(w, "citizen")
    w.check_clean()


def test_citizen_my_location_routes_from_the_device_position(watched, live_server):
    w = watched
    _open(w, live_server.url + "/?lang=id")
    with w.page.expect_response(re.compile(r"/api/nearest\?")) as info:
        w.page.click("#locate")
    url = info.value.url
    assert f"lat={ORIGIN[0]:.6f}" in url and f"lon={ORIGIN[1]:.6f}" in url
    w.page.wait_for_selector("body[data-route-state='done']", timeout=15000)
    assert "jalan kaki" in w.page.locator("#result .trip").inner_text()
    w.check_clean()


def test_layer_control_hides_a_category(watched, live_server):
    w = watched
    _open(w, live_server.url + "/")
    label = w.page.locator(".leaflet-control-layers-overlays label", has_text="Kesehatan")
    box = label.locator("input[type=checkbox]")
    assert box.is_checked()
    visible = """() => {
      const d = JSON.parse(document.getElementById('sigap-data').textContent);
      return window[d.names.map].hasLayer(window[d.names.clusters.health]);
    }"""
    assert w.page.evaluate(visible) is True
    box.uncheck()
    assert w.page.evaluate(visible) is False
    box.check()
    assert w.page.evaluate(visible) is True
    w.check_clean()


def test_language_switch(watched, live_server):
    w = watched
    _open(w, live_server.url + "/?lang=id")
    assert w.page.locator("h1").inner_text() == "Cari layanan publik terdekat"
    w.page.click("header .lang a[data-lang='en']")
    w.page.wait_for_selector("html[lang='en']")
    w.page.wait_for_selector("body[data-ready='1']")
    assert w.page.locator("h1").inner_text() == "Find the nearest public service"
    assert w.page.locator("nav a[aria-current='page']").inner_text() == "Public services"
    # the choice follows to the next page, then back to Indonesian
    w.page.click("nav a[href='/sanitation']")
    w.page.wait_for_selector("body[data-ready='1']")
    assert w.page.locator("h1").inner_text() == "Waste bins and road condition"
    w.page.click("header .lang a[data-lang='id']")
    w.page.wait_for_selector("html[lang='id']")
    assert w.page.locator("h1").inner_text() == "Tempat sampah dan kondisi jalan"
    w.check_clean()


def test_sanitation_map_roads_by_condition_and_bins(watched, live_server, db_rows):
    from layers.vocab import ROAD_CONDITION_COLORS, ROAD_CONDITIONS

    w = watched
    _open(w, live_server.url + "/sanitation?lang=id")
    _wait_for_road_tiles(w)
    strokes = set(
        w.page.evaluate(
            "() => [...document.querySelectorAll('.leaflet-tile path')]"
            ".map(p => p.getAttribute('stroke'))"
        )
    )
    assert strokes and strokes <= {c.lower() for c in ROAD_CONDITION_COLORS.values()}
    legend = w.page.locator("#condition-legend li").all_inner_texts()
    assert len(legend) == len(ROAD_CONDITIONS)
    assert legend[0] == "Baik" and "Tidak dapat dilalui" in legend
    bins = w.page.evaluate(
        """() => {
          const d = JSON.parse(document.getElementById('sigap-data').textContent);
          return Object.values(d.names.groups)
            .reduce((n, g) => n + window[g].getLayers().length, 0);
        }"""
    )
    assert bins == db_rows("SELECT count(*) FROM waste_bin")[0][0]
    # a click on a road shows its condition class in words
    xy = w.page.evaluate(
        """() => {
          const p = [...document.querySelectorAll('.leaflet-tile path')].find(e => {
            const r = e.getBoundingClientRect();
            return e.getTotalLength() > 40 && r.left > 400 && r.right < 1200
              && r.top > 150 && r.bottom < 750;
          });
          const pt = p.getPointAtLength(p.getTotalLength() / 2);
          const m = p.getScreenCTM();
          return [pt.x * m.a + pt.y * m.c + m.e, pt.x * m.b + pt.y * m.d + m.f];
        }"""
    )
    w.page.mouse.click(*xy)
    w.page.wait_for_selector(".leaflet-popup-content dd")
    # the popup comes from the registry: the class field first, with its label
    roads = LAYERS["road_segment"]
    labels = {f.name: f.label("id") for f in roads.fields}
    dts = w.page.locator(".leaflet-popup-content dt").all_inner_texts()
    dds = w.page.locator(".leaflet-popup-content dd").all_inner_texts()
    assert dts[0] == labels[roads.class_field] and dds[0] in legend
    assert set(dts) <= {labels[f] for f in roads.popup_fields}
    w.page.wait_for_load_state("networkidle")
    assert _record_weight(w, "sanitation") <= PAGE_BUDGET_BYTES
    _shot(w, "sanitation")
    w.check_clean()


def test_planning_map_isochrone_from_a_click(watched, live_server):
    w = watched
    _open(w, live_server.url + "/planning?lang=id")
    _wait_for_road_tiles(w)
    w.page.wait_for_load_state("networkidle")
    assert _record_weight(w, "planning") <= PAGE_BUDGET_BYTES
    w.page.select_option("#minutes", "5")
    xy = _empty_map_point(w, *ORIGIN)
    with w.page.expect_response(re.compile(r"/api/isochrone\?")) as info:
        w.page.mouse.click(*xy)
    fc = info.value.json()
    w.page.wait_for_selector("body[data-iso-state='done']", timeout=15000)
    assert len(fc["features"]) >= 1
    drawn = w.page.evaluate(
        """() => {
          const d = JSON.parse(document.getElementById('sigap-data').textContent);
          return window[d.names.groups.isochrone].getLayers().length;
        }"""
    )
    assert drawn == len(fc["features"]) + 1  # the bands and the start marker
    assert "5 menit" in w.page.locator("#result").inner_text()
    # the administrative areas came from the API into their layer
    areas = w.page.evaluate(
        """() => {
          const d = JSON.parse(document.getElementById('sigap-data').textContent);
          return window[d.names.groups.admin].getLayers()
            .map(l => l.feature.properties.name);
        }"""
    )
    assert areas == ["Kelurahan Uji"]
    w.page.wait_for_load_state("networkidle")
    _shot(w, "planning")
    w.check_clean()


def test_hostile_names_show_as_text(browser_context, fresh_db):
    import psycopg2

    from gis.db import libpq_url

    evil = "<img src=x onerror=alert(1)>"
    conn = psycopg2.connect(libpq_url(fresh_db))
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO office (source, source_id, category, name, address, phone, geom) "
            "VALUES ('test', 'evil/1', 'health', %s, %s, %s, "
            "ST_SetSRID(ST_MakePoint(24.94, 60.17), 4326))",
            (evil, "</script><script>alert(2)</script>", "${alert(3)}"),
        )
    conn.close()
    server = LiveServer(web_app(fresh_db))
    w = Watched(browser_context)
    try:
        _open(w, server.url + "/")
        w.page.evaluate(
            """() => {
              const d = JSON.parse(document.getElementById('sigap-data').textContent);
              const cluster = window[d.names.clusters.health];
              const marker = cluster.getLayers()[0];
              cluster.zoomToShowLayer(marker, () => marker.openPopup());
            }"""
        )
        w.page.wait_for_selector(".leaflet-popup-content h3")
        assert w.page.locator(".leaflet-popup-content h3").inner_text() == evil
        assert (
            "</script><script>alert(2)</script>"
            in w.page.locator(".leaflet-popup-content").inner_text()
        )
        assert w.page.locator(".leaflet-popup-content img").count() == 0
        assert w.page.locator("img[src='x']").count() == 0
        w.check_clean()
    finally:
        w.close()
        server.stop()


def test_content_security_policy_blocks_injected_scripts(watched, live_server):
    """The page's own inline scripts ran (the map is ready); a script injected into the page
    without the request's nonce, inline or as an event handler, does not run."""
    w = watched
    _open(w, live_server.url + "/?lang=id")
    result = w.page.evaluate(
        """() => new Promise(resolve => {
          const seen = [];
          document.addEventListener('securitypolicyviolation',
            e => seen.push(e.effectiveDirective));
          const s = document.createElement('script');
          s.textContent = 'window.__sigapPwned = 1';
          document.body.appendChild(s);
          const img = document.createElement('img');
          img.setAttribute('onerror', 'window.__sigapPwned2 = 1');
          img.src = '/no-such-image.png';
          document.body.appendChild(img);
          setTimeout(() => resolve({
            ran: Boolean(window.__sigapPwned || window.__sigapPwned2), seen: seen
          }), 1500);
        })"""
    )
    assert result["ran"] is False
    assert result["seen"] and all(d.startswith("script-src") for d in result["seen"])
    assert any("Content Security Policy" in e for e in w.errors)  # Chromium reports it
