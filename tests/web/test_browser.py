"""The map pages in a real browser: headless Chromium (Debian's) driven by Playwright, on
a 1280 x 800 desktop (the phone and tablet: test_browser_mobile.py).

The app runs on a live server on 127.0.0.1; fixtures and helpers: tests/web/conftest.py and
tests/web/browser.py. Screenshots land in ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import re

import pytest

from layers.registry import LAYERS
from tests.web.browser import ORIGIN, PAGE_BUDGET_BYTES, LiveServer, Watched
from tests.web.browser import empty_map_point as _empty_map_point
from tests.web.browser import open_page as _open
from tests.web.browser import record_weight as _record_weight
from tests.web.browser import shot as _shot
from tests.web.browser import trip_words as _trip_words
from tests.web.browser import wait_for_road_tiles as _wait_for_road_tiles
from tests.web.conftest import web_app

pytestmark = pytest.mark.browser


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
