"""The planning map in Chromium (issue 11): on a 360 x 740 phone and a 1280 x 800 desktop,
the form asks the planning API and recomputes in place, the choropleth and the gap layer
appear with a legend that matches the answer, the suggested sites are drawn, and a scenario
(a suggested site added, a tapped road closed, an office closed) shows its difference from the
baseline on the map and in figures; the per-area table and its downloads; errors; keyboard use.

The page's figures are checked against the API's answers captured from the page's own
requests and formatted here independently; the drawn difference of the gap layers against
the change the API reports; the tapped road against PostGIS. Screenshots and measurements:
``test-artifacts/planning-*``.
"""

from __future__ import annotations

import json
import math
import re
import urllib.request

import pytest

from tests.conftest import query
from tests.web.browser import (
    PAGE_BUDGET_BYTES,
    SIZES,
    TOUCH_TARGET_PX,
    Watched,
    element_at,
    free_map_rect,
    map_share,
    open_page,
    record,
    shot,
    small_targets,
    transferred_bytes,
    wait_for_road_tiles,
)

pytestmark = pytest.mark.browser

#: The least share of a 360 x 740 phone that is map, also with an analysis shown.
MIN_PHONE_MAP_SHARE = 0.70
#: Colours of the difference layer (js/planning-draw.js: NEWLY_COVERED, NEWLY_BEYOND).
NEWLY_COVERED = "#00a651"
NEWLY_BEYOND = "#c51b7d"
#: The drawn difference of the gap layers (newly covered minus newly beyond) agrees with the
#: API's change of road length beyond T within this share (the page cuts lines by a flat
#: approximation of length).
DIFF_TOLERANCE = 0.03


@pytest.fixture
def on(device):
    """``on(size)``: a fresh, recorded page in the touch context of ``size``."""
    opened: list[Watched] = []

    def make(size: str) -> Watched:
        w = Watched(device(size))
        opened.append(w)
        return w

    yield make
    for w in opened:
        w.close()


# --- helpers: formatting as an Indonesian page shows it, computed here ---


def pct_id(share: float) -> str:
    """``0.52986`` -> ``"53,0%"`` (one decimal, decimal comma)."""
    return f"{share * 100:.1f}".replace(".", ",") + "%"


def _compact(size: str) -> bool:
    return SIZES[size][0] < 1024


def _sheet_expanded(w: Watched) -> bool:
    return w.page.locator("#sheet").evaluate("e => e.classList.contains('is-expanded')")


def _expand(w: Watched, size: str) -> None:
    if _compact(size) and not _sheet_expanded(w):
        w.page.click("[data-sheet-toggle]")


def _collapse(w: Watched, size: str) -> None:
    if _compact(size) and _sheet_expanded(w):
        w.page.click("[data-sheet-toggle]")


def _state(w: Watched, name: str, value: str = "done") -> None:
    w.page.wait_for_function(
        "([n, v]) => document.body.dataset[n] === v", arg=[name, value], timeout=60000
    )


def _headline(w: Watched) -> str:
    return w.page.locator("#result .headline").inner_text()


def _is_api(path: str, method: str = "GET"):
    return lambda r: urlparts(r.url)[0] == path and r.request.method == method


def urlparts(url: str) -> tuple[str, dict]:
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def _analyse(w: Watched, *, category: str, minutes: str, by: str, count: str):
    """Fill the form and send it; return the coverage and suggest answers the page got."""
    w.page.select_option("#category", category)
    w.page.select_option("#minutes", minutes)
    w.page.check(f"input[name=by][value={by}]")
    w.page.fill("#count", count)
    with (
        w.page.expect_response(_is_api("/api/coverage")) as cov,
        w.page.expect_response(_is_api("/api/suggest")) as sug,
    ):
        w.page.click("#analyse")
    _state(w, "coverageState")
    _state(w, "suggestState")
    return cov.value, sug.value


def _area_fills(w: Watched) -> dict[str, dict]:
    """Each drawn area: its fill colour and opacity, by area key."""
    return w.page.evaluate(
        """() => {
          const d = JSON.parse(document.getElementById('sigap-data').textContent);
          const out = {};
          window[d.names.groups.areas].eachLayer(l => {
            out[l.feature.properties.key] = {fill: l.options.fillColor,
                                             opacity: l.options.fillOpacity};
          });
          return out;
        }"""
    )


def _legend_swatches(w: Watched) -> list[tuple[str, str]]:
    """The panel legend's area classes: (background colour as rgb(...), text)."""
    return w.page.evaluate(
        """() => [...document.querySelectorAll('#planning-legend li')]
          .filter(li => li.querySelector('.swatch'))
          .map(li => [getComputedStyle(li.querySelector('.swatch')).backgroundColor,
                      li.textContent.trim()])"""
    )


def _rgb(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i : i + 2], 16) for i in (0, 2, 4)))


def _drawn_difference_m(w: Watched) -> dict[str, float]:
    """Length (m, on the sphere) of the drawn lines newly within and newly beyond T."""
    return w.page.evaluate(
        """([covered, beyond]) => {
          const d = JSON.parse(document.getElementById('sigap-data').textContent);
          const map = window[d.names.map];
          const out = {covered: 0, beyond: 0};
          const walk = (layer) => {
            if (layer.eachLayer) { layer.eachLayer(walk); return; }
            if (!layer.getLatLngs) { return; }
            const key = layer.options.color === covered ? 'covered'
              : layer.options.color === beyond ? 'beyond' : null;
            if (!key) { return; }
            const ll = layer.getLatLngs();
            for (let i = 1; i < ll.length; i++) { out[key] += map.distance(ll[i - 1], ll[i]); }
          };
          walk(window[d.names.groups.change]);
          return out;
        }""",
        [NEWLY_COVERED, NEWLY_BEYOND],
    )


def _check_choropleth(w: Watched, areas: list[dict]) -> None:
    """Every area is drawn, filled in the legend's class whose range holds its share."""
    fills = _area_fills(w)
    assert set(fills) == {f["properties"]["key"] for f in areas}
    legend = _legend_swatches(w)
    ranges = {}
    for colour, text in legend:
        bounds = [int(x) for x in re.findall(r"(\d+)%", text)]
        if len(bounds) == 2:
            ranges[colour] = bounds
    assert len(ranges) == 5, legend
    shares_drawn = set()
    for f in areas:
        p = f["properties"]
        fill = fills[p["key"]]
        if p["share_beyond"] is None:
            assert fill["opacity"] == 0
            continue
        low, high = ranges[_rgb(fill["fill"])]
        share = p["share_beyond"] * 100
        assert low <= share <= high and (share < high or high == 100), (p, low, high)
        shares_drawn.add(_rgb(fill["fill"]))
    assert len(shares_drawn) >= 2  # a choropleth, not one colour


def _check_access_choropleth(w: Watched, areas: list[dict]) -> None:
    """Coloured by accessibility: areas with no office within T in the legend's first class,
    the others in classes that rise with their score (at least two of them)."""
    fills = _area_fills(w)
    order = {colour: i for i, (colour, _text) in enumerate(_legend_swatches(w))}
    scored = []
    for f in areas:
        p = f["properties"]
        fill = fills[p["key"]]
        if p["accessibility"] is None:
            assert fill["opacity"] == 0
            continue
        cls = order[_rgb(fill["fill"])]
        if p["accessibility"] == 0:
            assert cls == 0, p
        else:
            assert cls > 0, p
            scored.append((p["accessibility"], cls))
    classes = [cls for _score, cls in sorted(scored)]
    assert classes == sorted(classes) and len(set(classes)) >= 2, classes


def _check_gaps(w: Watched, answer: dict) -> None:
    """The gap layer: one line per piece beyond T, in its band's colour (the pieces no office
    reaches dashed), the bands told apart, and the legend's strokes the API's bands in order,
    each in the colour its pieces are drawn in (before any scenario)."""
    drawn = w.page.evaluate(
        """() => {
          const d = JSON.parse(document.getElementById('sigap-data').textContent);
          return window[d.names.groups.gaps].getLayers().map(l => [
            l.feature.properties.band, l.feature.properties.unreachable, l.options.color,
            Boolean(l.options.dashArray)]);
        }"""
    )
    assert len(drawn) == len(answer["gaps"]["features"]) > 0
    colour_of: dict[int, str] = {}
    for band, unreachable, colour, dashed in drawn:
        assert colour_of.setdefault(band, colour) == colour
        assert dashed == bool(unreachable)
    assert len(set(colour_of.values())) == len(colour_of)
    strokes = w.page.evaluate(
        """() => [...document.querySelectorAll('#planning-legend li')]
          .filter(li => li.querySelector('.stroke'))
          .map(li => getComputedStyle(li.querySelector('.stroke')).borderTopColor)"""
    )
    assert len(strokes) == len(answer["bands"])
    legend = {b["band"]: colour for b, colour in zip(answer["bands"], strokes, strict=True)}
    for band, colour in colour_of.items():
        assert legend[band] == _rgb(colour), band


def _check_summary(w: Watched, answer: dict) -> None:
    s = answer["summary"]
    assert (
        _headline(w)
        == f"{pct_id(s['share_length_beyond'])} jalan di luar {answer['minutes']:g} menit"
    )
    text = w.page.locator("#coverage-summary").inner_text()
    km = f"{s['road_length_beyond_m'] / 1000:.1f}".replace(".", ",")
    assert f"{pct_id(s['share_length_beyond'])} panjang jalan ({km} km dari" in text
    assert f"{s['nodes_beyond']:,}".replace(",", ".") + " dari " in text


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_planning_map_recomputes_draws_and_shows_a_scenario(on, live_server, routed_db, size):
    w = on(size)
    open_page(w, live_server.url + "/planning?lang=id")
    wait_for_road_tiles(w)
    w.page.wait_for_load_state("networkidle")
    first_load = transferred_bytes(w)
    # the analyses and their drawing are not part of the first load: asked for with the form
    assert not any(
        part in u for u in w.requests for part in ("/api/coverage", "/api/suggest", "planning-draw")
    )
    assert 0 < first_load <= PAGE_BUDGET_BYTES, first_load
    w.page.evaluate("window.__samePage = true")

    # the form: hexagons, T = 5 min on foot, 2 sites
    _expand(w, size)
    cov, sug = _analyse(w, category="health", minutes="5", by="hex", count="2")
    before_analysis = first_load
    answer, sites = cov.json(), sug.json()
    assert urlparts(cov.url)[1] == {
        "category": "health",
        "mode": "walk",
        "minutes": "5",
        "by": "hex",
    }
    assert answer["areas_kind"] == "hex" and len(answer["areas"]["features"]) > 20
    _check_summary(w, answer)
    _check_choropleth(w, answer["areas"]["features"])
    _check_gaps(w, answer)
    # the suggested sites: numbered markers and a list with what each newly covers
    site_labels = w.page.locator(".plan-marker.site").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))"
    )
    feats = sites["sites"]["features"]
    assert len(site_labels) == len(feats) == 2
    for label, f in zip(sorted(site_labels), feats, strict=True):
        p = f["properties"]
        km = f"{p['newly_covered_length_m'] / 1000:.1f}".replace(".", ",")
        assert label.startswith(f"Lokasi {p['rank']}: menjangkau {km} km jalan baru")

    # the form recomputes in place: another T, no button, no new page
    with (
        w.page.expect_response(_is_api("/api/coverage")) as again,
        w.page.expect_response(_is_api("/api/suggest")) as again_sites,
    ):
        w.page.select_option("#minutes", "10")
    ten, ten_sites = again.value.json(), again_sites.value.json()
    assert urlparts(again.value.url)[1]["minutes"] == "10"
    _state(w, "coverageState")
    _state(w, "suggestState")
    assert w.page.evaluate("window.__samePage") is True
    assert ten["summary"]["share_length_beyond"] < answer["summary"]["share_length_beyond"]
    _check_summary(w, ten)
    _check_choropleth(w, ten["areas"]["features"])
    # ... and the accessibility score colours the areas when chosen
    w.page.check("input[name=colour][value=access]")
    assert "aksesibilitas" in w.page.locator("#planning-legend").inner_text().lower()
    _check_access_choropleth(w, ten["areas"]["features"])
    w.page.check("input[name=colour][value=share]")

    # a scenario: the first suggested site added, through its button
    add = w.page.locator("#sites-list li").first.locator("button").last
    assert add.get_attribute("aria-label") == "Tambahkan lokasi 1 ke skenario"
    with w.page.expect_response(_is_api("/api/scenario", "POST")) as posted:
        add.click()
    sc = posted.value.json()
    body = json.loads(posted.value.request.post_data)
    _state(w, "scenarioState")
    first_site = ten_sites["sites"]["features"][0]["properties"]
    assert body["minutes"] == 10 and body["category"] == "health" and body["by"] == "hex"
    assert body["close_segments"] == [] and len(body["add_facilities"]) == 1
    added = body["add_facilities"][0]
    assert (added["lat"], added["lon"]) == (
        round(first_site["lat"], 6),
        round(first_site["lon"], 6),
    )
    # the scenario lowers the share beyond T by what the suggestion promised
    b, r = sc["baseline"]["summary"], sc["result"]["summary"]
    assert math.isclose(
        b["share_length_beyond"] - r["share_length_beyond"],
        first_site["newly_covered_share"],
        abs_tol=1e-4,
    )
    # the figures as text: each measure "now → with the scenario (change)", the share first
    first = w.page.locator(".plan-compare dd").first.inner_text()
    now, _, rest = first.partition(" → ")
    after, _, change = rest.partition(" (")
    assert [now, after] == [pct_id(b["share_length_beyond"]), pct_id(r["share_length_beyond"])]
    drop = -sc["change"]["summary"]["share_length_beyond"] * 100
    assert change == f"−{drop:.1f} poin)".replace(".", ",")
    # on the map: the areas coloured by their change, the roads newly within T drawn
    assert w.page.locator("input[name=colour][value=change]").is_checked()
    fills = _area_fills(w)
    changed = {a["key"]: a["share_beyond"] for a in sc["change"]["areas"]}
    for key, fill in fills.items():
        if changed.get(key):
            assert fill["opacity"] > 0, key
        else:
            assert fill["opacity"] == 0, key
    drawn = _drawn_difference_m(w)
    net_m = drawn["covered"] - drawn["beyond"]
    expected_m = -sc["change"]["summary"]["road_length_beyond_m"]
    assert expected_m > 0
    assert math.isclose(net_m, expected_m, rel_tol=DIFF_TOLERANCE, abs_tol=5.0), (drawn, expected_m)
    # the picture of the README: the whole analysis in view, the answer in the panel or peek
    _collapse(w, size)
    _fit_to_areas(w)
    w.page.mouse.move(0, 0)
    if not _compact(size):  # the side panel shows the scenario's figures
        _scroll_panel_to(w, "#scenario")
    shot(w, f"planning-analysis-{size}")

    # a tapped road closed: the road under the finger, as PostGIS finds it
    _expand(w, size)
    w.page.check("input[name=tool][value=close]")
    _collapse(w, size)
    segment, x, y = _road_to_tap(w, routed_db)
    with w.page.expect_response(_is_api("/api/scenario", "POST")) as closed:
        if _compact(size):
            w.page.touchscreen.tap(x, y)
        else:
            w.page.mouse.click(x, y)
    _state(w, "scenarioState")
    closing = json.loads(closed.value.request.post_data)
    assert closing["close_segments"] == [segment]
    assert closed.value.json()["scenario"]["closed_segment_ids"] == [segment]
    scenario_items = w.page.locator("#scenario-list li").count()
    assert scenario_items == 2

    # phones: the map keeps its share; every target stays 44 px; the table scrolls in the sheet
    _collapse(w, size)
    share = map_share(w)
    centre_free = free_map_rect(w)
    shot(w, f"planning-scenario-{size}")
    if _compact(size):
        assert share >= MIN_PHONE_MAP_SHARE, share
        _expand(w, size)
        offenders = small_targets(w)
        assert offenders == [], f"under {TOUCH_TARGET_PX} px: {offenders}"
        _scroll_panel_to(w, "#sites")
        shot(w, f"planning-sheet-{size}")
        scroll = w.page.locator(".table-scroll").evaluate(
            "e => ({sh: e.scrollHeight, ch: e.clientHeight, ow: getComputedStyle(e).overflowY})"
        )
        assert scroll["sh"] > scroll["ch"] and scroll["ow"] == "auto", scroll
        assert w.page.evaluate("() => window.scrollY") == 0
        _collapse(w, size)
    assert centre_free["bottom"] > centre_free["top"]
    record(
        f"planning-analysis-{size}",
        {
            "first_load_bytes": before_analysis,
            "after_analysis_and_scenario_bytes": transferred_bytes(w),
            "map_share_with_answer": round(share, 3),
        },
    )
    w.check_clean()


def _scroll_panel_to(w: Watched, selector: str) -> None:
    """Scroll the panel (the bottom sheet on a phone) so that ``selector`` is at its top."""
    w.page.locator(selector).evaluate(
        "e => { const b = document.getElementById('sheet-body');"
        " b.scrollTop += e.getBoundingClientRect().top - b.getBoundingClientRect().top; }"
    )


def _fit_to_areas(w: Watched) -> None:
    w.page.evaluate(
        """() => {
          const d = JSON.parse(document.getElementById('sigap-data').textContent);
          SIGAP.map.fitVisible(window[d.names.groups.areas].getBounds(), 17);
        }"""
    )
    wait_for_road_tiles(w)
    w.page.wait_for_load_state("networkidle")


def _road_to_tap(w: Watched, db_url: str) -> tuple[int, float, float]:
    """A walkable road (its id) and a screen point on it where a tap reaches the map: the
    middle of the road, the map centred there at zoom 17."""
    candidates = query(
        db_url,
        "SELECT id, ST_Y(ST_LineInterpolatePoint(geom, 0.5)),"
        " ST_X(ST_LineInterpolatePoint(geom, 0.5)) FROM road_segment"
        " WHERE cost_walk_s IS NOT NULL AND length_m > 80 AND highway = 'residential'"
        " ORDER BY id LIMIT 30",
    )
    for seg_id, lat, lon in candidates:
        xy = w.page.evaluate(
            """([lat, lon]) => {
              const d = JSON.parse(document.getElementById('sigap-data').textContent);
              const map = window[d.names.map];
              map.setView([lat, lon], 17, {animate: false});
              const p = map.latLngToContainerPoint([lat, lon]);
              const box = map.getContainer().getBoundingClientRect();
              return [box.left + p.x, box.top + p.y];
            }""",
            [lat, lon],
        )
        at = element_at(w, *xy)
        if not at["inMap"] or at["inControl"] or at["isMarker"]:
            continue
        # the nearest walkable road to the point the page will read back is this one
        back = w.page.evaluate(
            """([x, y]) => {
              const d = JSON.parse(document.getElementById('sigap-data').textContent);
              const map = window[d.names.map];
              const box = map.getContainer().getBoundingClientRect();
              const ll = map.containerPointToLatLng([x - box.left, y - box.top]);
              return [ll.lat, ll.lng];
            }""",
            xy,
        )
        nearest = query(
            db_url,
            "SELECT id FROM road_segment WHERE cost_walk_s IS NOT NULL"
            " ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326) LIMIT 1",
            (back[1], back[0]),
        )[0][0]
        if nearest == seg_id:
            return seg_id, xy[0], xy[1]
    raise AssertionError("no road of Helsinki could be tapped")


def _download(w: Watched, selector: str) -> tuple[str, bytes]:
    with w.page.expect_download() as info:
        w.page.click(selector)
    dl = info.value
    with open(dl.path(), "rb") as fh:
        return dl.suggested_filename, fh.read()


def _fetch(url: str, body: dict | None = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:  # noqa: S310 (the test's own server)
        return r.read()


def test_planning_table_downloads_and_keyboard(on, live_server):
    w = on("desktop")
    open_page(w, live_server.url + "/planning?lang=id")
    w.page.select_option("#category", "health")
    w.page.select_option("#minutes", "5")
    w.page.fill("#count", "0")
    # the form is sent from the keyboard
    w.page.focus("#analyse")
    with w.page.expect_response(_is_api("/api/coverage")) as cov:
        w.page.keyboard.press("Enter")
    _state(w, "coverageState")
    answer = cov.value.json()
    assert not any("/api/suggest" in u for u in w.requests)  # 0 sites: none asked
    # the default areas: the administrative areas loaded (one kelurahan), roads outside it
    assert answer["areas_kind"] == "admin_area"
    features = answer["areas"]["features"]
    rows = w.page.locator("#area-table tbody tr")
    assert rows.count() == len(features) == 1
    p = features[0]["properties"]
    cells = rows.first.locator("th, td").all_inner_texts()
    assert cells[0] == "Kelurahan Uji"
    assert cells[1] == f"{p['road_length_m'] / 1000:.1f}".replace(".", ",")
    assert cells[3] == pct_id(p["share_beyond"])
    outside_km = f"{answer['outside']['road_length_m'] / 1000:.1f}".replace(".", ",")
    assert f"{outside_km} km jalan berada di luar semua wilayah" in (
        w.page.locator("#coverage-summary").inner_text()
    )
    # the table's row button shows the area on the map
    w.page.click("#area-table tbody th button")
    assert w.page.evaluate(
        """() => {
          const d = JSON.parse(document.getElementById('sigap-data').textContent);
          const map = window[d.names.map];
          let inView = false;
          window[d.names.groups.areas].eachLayer(l => {
            inView = map.getBounds().contains(l.getBounds()) && l.options.weight === 4;
          });
          return inView;
        }"""
    )
    # downloads: the same table as the API's CSV and GeoPackage
    query_ = "category=health&mode=walk&minutes=5&by=admin_area"
    name, csv_bytes = _download(w, "#download-csv")
    assert name == "coverage-health-walk-5min.csv"
    assert csv_bytes == _fetch(f"{live_server.url}/api/coverage?{query_}&f=csv")
    assert b"Kelurahan Uji" in csv_bytes
    name, gpkg = _download(w, "#download-gpkg")
    assert name == "coverage-health-walk-5min.gpkg" and gpkg.startswith(b"SQLite format 3\0")

    # by keyboard: "add an office here" with the arrow keys, then "use the centre" with Enter
    w.page.focus("input[name=tool][value=iso]")
    w.page.keyboard.press("ArrowDown")
    w.page.keyboard.press("ArrowDown")
    assert w.page.locator("input[name=tool][value=add]").is_checked()
    w.page.keyboard.press("Tab")
    assert w.page.evaluate("document.activeElement.id") == "use-centre"
    with w.page.expect_response(_is_api("/api/scenario", "POST")) as posted:
        w.page.keyboard.press("Enter")
    _state(w, "scenarioState")
    body = json.loads(posted.value.request.post_data)
    added = body["add_facilities"]
    assert len(added) == 1
    # the office stands at the middle of the map (within a pixel)
    off_px = w.page.evaluate(
        """([lat, lon]) => {
          const d = JSON.parse(document.getElementById('sigap-data').textContent);
          const map = window[d.names.map];
          return map.latLngToContainerPoint([lat, lon]).distanceTo(map.getSize().divideBy(2));
        }""",
        [added[0]["lat"], added[0]["lon"]],
    )
    assert off_px <= 1.0, off_px
    assert (
        w.page.locator("#scenario-list li")
        .inner_text()
        .startswith("Kantor ditambah: Kantor baru 1")
    )
    # with a scenario the downloads are the scenario's table
    name, csv_bytes = _download(w, "#download-csv")
    assert name == "scenario-health-walk-5min.csv"
    assert csv_bytes == _fetch(f"{live_server.url}/api/scenario?f=csv", body)
    # the scenario cleared: back to the baseline, no difference drawn
    w.page.click("#scenario-reset")
    assert w.page.locator("#scenario").is_hidden()
    assert not w.page.locator("input[name=colour][value=change]").is_enabled()
    assert _drawn_difference_m(w) == {"covered": 0, "beyond": 0}

    # "close this office": a health office brought to the middle of the map, by keyboard
    office = w.page.evaluate(
        """() => {
          const d = JSON.parse(document.getElementById('sigap-data').textContent);
          const M = SIGAP.map;
          const o = d.markers.items.find(o => M.classOf(d.markers.layer, o) === 'health');
          M.map().setView([o.lat, o.lon], 17, {animate: false});
          return {id: o.id, name: M.featureTitle(d.markers.layer, o)};
        }"""
    )
    w.page.focus("input[name=tool][value=add]")
    w.page.keyboard.press("ArrowDown")
    assert w.page.locator("input[name=tool][value=remove]").is_checked()
    with w.page.expect_response(_is_api("/api/scenario", "POST")) as posted:
        w.page.focus("#use-centre")
        w.page.keyboard.press("Enter")
    _state(w, "scenarioState")
    body = json.loads(posted.value.request.post_data)
    assert body["remove_facilities"] == [office["id"]] and body["add_facilities"] == []
    sc = posted.value.json()
    assert sc["result"]["facilities"]["count"] == answer["facilities"]["count"] - 1
    assert (
        w.page.locator("#scenario-list li")
        .inner_text()
        .startswith(f"Kantor ditutup: {office['name']}")
    )
    w.page.click("#scenario-reset")
    w.check_clean()


def test_planning_says_what_is_wrong_in_english(on, live_server):
    w = on("desktop")
    open_page(w, live_server.url + "/planning?lang=en")
    # a service with no office in Helsinki, and more sites than the API allows
    w.page.select_option("#category", "police")
    w.page.select_option("#minutes", "5")
    w.page.fill("#count", "51")
    with (
        w.page.expect_response(_is_api("/api/coverage")) as cov,
        w.page.expect_response(_is_api("/api/suggest")) as sug,
    ):
        w.page.click("#analyse")
    _state(w, "coverageState")
    _state(w, "suggestState", "error")
    answer = cov.value.json()
    assert answer["facilities"]["count"] == 0
    assert sug.value.status == 400 and sug.value.json()["error"]["param"] == "count"
    # everything uncovered is an answer, said so
    share = f"{answer['summary']['share_length_beyond'] * 100:.1f}%"
    assert share == "100.0%"
    summary = w.page.locator("#coverage-summary").inner_text()
    assert "There is no office of this kind in the data: every road is beyond T." in summary
    # the count's error at its field, tied to it, and in the sites' place
    message = "The number of new sites must be a whole number from 0 to 50."
    assert w.page.locator("#count-error").inner_text() == message
    assert w.page.locator("#count").get_attribute("aria-invalid") == "true"
    assert "count-error" in w.page.locator("#count").get_attribute("aria-describedby")
    assert w.page.locator("#sites-text").inner_text() == message
    # a good count clears it and brings the sites
    with w.page.expect_response(_is_api("/api/suggest")) as fixed:
        w.page.fill("#count", "1")
    assert fixed.value.status == 200
    _state(w, "suggestState")
    assert w.page.locator("#count").get_attribute("aria-invalid") is None
    assert w.page.locator("#sites-list li").count() == 1
    # the only console errors are the browser's note of the 400 answer
    w.errors = [e for e in w.errors if "status of 400" not in e]
    w.check_clean()
