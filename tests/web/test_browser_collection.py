"""The "Rute pengangkutan" panel of the sanitation map in Chromium: a sanitation officer logs
in, plans the day, sees each truck's route in its colour with numbered stops and TPA visits,
unserved stops highlighted, the figures table, a printable route sheet and a GPX download;
on a phone the panel works in the bottom sheet."""

from __future__ import annotations

import pytest

from tests.web.browser import LiveServer, Watched, open_page, shot, small_targets
from tests.web.conftest import STAFF_PASSWORD, web_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def coll_server(buahbatu):
    import psycopg2

    from gis.db import libpq_url
    from services.accounts import create_user

    conn = psycopg2.connect(libpq_url(buahbatu))
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT 1 FROM staff_user WHERE username = 'browser-sanitation'")
            if cur.fetchone() is None:
                create_user(cur, "browser-sanitation", "sanitation", STAFF_PASSWORD)
    finally:
        conn.close()
    server = LiveServer(web_app(buahbatu))
    yield server
    server.stop()


def _login(w: Watched, base: str) -> None:
    w.page.goto(base + "/staff/login?next=/sanitation")
    w.page.fill("#username", "browser-sanitation")
    w.page.fill("#password", STAFF_PASSWORD)
    with w.page.expect_navigation():
        w.page.click("button[type=submit]")
    assert "/staff/login" not in w.page.url


def _plan(w: Watched, trucks: str = "2") -> None:
    w.page.fill("#trucks", trucks)
    w.page.fill("#capacity_m3", "6")
    w.page.click("#collection-plan")
    w.page.wait_for_selector(
        "body[data-collection-state='done'], body[data-collection-state='error']", timeout=90000
    )
    assert w.page.get_attribute("body", "data-collection-state") == "done", w.page.inner_text(
        "#collection-result"
    )


def test_plan_routes_on_the_sanitation_map(browser_context, coll_server):
    w = Watched(browser_context)
    try:
        _login(w, coll_server.url)
        open_page(w, coll_server.url + "/sanitation?lang=id")
        assert "Rute pengangkutan" in w.page.inner_text("#collection")
        _plan(w)
        page = w.page
        rows = page.locator(".collection-table tbody tr:not(.truck-actions)")
        assert rows.count() == 2
        # each truck's route in its own colour
        colors = page.eval_on_selector_all(
            "path.leaflet-interactive", "ps => ps.map(p => p.getAttribute('stroke'))"
        )
        used = {c for c in colors if c in ("#1565c0", "#6a1b9a")}
        assert used, colors
        numbers = page.eval_on_selector_all(
            ".collection-marker .stop-stop", "ns => ns.map(n => n.textContent)"
        )
        assert "1" in numbers and all(n.isdigit() for n in numbers)
        assert page.locator(".collection-marker .stop-tpa").count() >= 1
        # Bandung's TPS outside the network and the footway lane: highlighted as unserved
        assert page.locator(".collection-marker .stop-unserved").count() >= 1
        assert "Tidak terlayani" in page.inner_text("#collection-result")
        # the route sheet: printed alone, stops in order with times
        page.evaluate("window.print = function () {}")
        page.locator(".collection-table tr.truck-actions").first.locator("button").first.click()
        page.emulate_media(media="print")
        sheet = page.inner_text("#route-sheet")
        assert "Truk 1" in sheet and "TPA" in sheet and "06:00" in sheet
        assert page.is_visible("#route-sheet")
        hidden = page.evaluate("getComputedStyle(document.querySelector('.map-wrap')).visibility")
        assert hidden == "hidden"
        page.emulate_media(media="screen")
        shot(w, "collection-desktop")
        # GPX for the first truck
        actions = page.locator(".collection-table tr.truck-actions").first
        with page.expect_download() as dl:
            actions.locator("button").nth(1).click()
        assert dl.value.suggested_filename.endswith(".gpx")
        w.check_clean()
    finally:
        w.close()


def test_panel_without_login_says_so(browser_context, coll_server):
    w = Watched(browser_context.browser.new_context(viewport={"width": 1280, "height": 800}))
    try:
        open_page(w, coll_server.url + "/sanitation?lang=id")
        w.page.click("#collection-plan")
        w.page.wait_for_selector("body[data-collection-state='error']", timeout=30000)
        assert "Masuk sebagai petugas kebersihan" in w.page.inner_text("#collection-result")
    finally:
        w.context.close()


def test_panel_on_a_phone(device, coll_server):
    context = device("phone")
    w = Watched(context)
    try:
        _login(w, coll_server.url)
        open_page(w, coll_server.url + "/sanitation?lang=id")
        w.page.click("[data-sheet-toggle]")
        w.page.locator("#collection-plan").scroll_into_view_if_needed()
        _plan(w, "1")
        assert w.page.locator(".collection-table tbody tr:not(.truck-actions)").count() == 1
        offenders = [s for s in small_targets(w) if "collection" in s or "btn" in s]
        assert offenders == []
        shot(w, "collection-phone")
    finally:
        w.close()
