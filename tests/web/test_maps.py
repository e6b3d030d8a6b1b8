"""web/maps.py: the map pages, their language, their data blob and escaping."""

from __future__ import annotations

import json
import re

import psycopg2
import pytest

from gis.db import libpq_url
from tests.web.conftest import web_app

PAGES = ["/", "/sanitation", "/planning"]
EVIL = "<img src=x onerror=alert(1)>"
EVIL_SCRIPT = "</script><script>alert(2)</script>${alert(3)}`"


def _blob(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="sigap-data">(.*?)</script>', html, re.S)
    assert m, "page has no data blob"
    return json.loads(m.group(1))


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_in_indonesian_by_default(client, path):
    r = client.get(path)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert '<html lang="id">' in html
    assert "Layanan publik" in html and "Kebersihan" in html and "Perencanaan" in html
    assert "Pengaduan" in html  # the complaint map's place in the menu
    assert 'class="folium-map"' in html
    assert _blob(html)["lang"] == "id"


@pytest.mark.parametrize("path", PAGES)
def test_pages_reference_no_external_host(client, path):
    html = client.get(path).get_data(as_text=True)
    urls = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', html)
    assert urls, "no assets found at all"
    for url in urls:
        assert not re.match(r"^([a-z]+:)?//", url, re.I), url
    assert "http://" not in html and "https://" not in html
    assert "cdn" not in html.lower()


def test_english_by_parameter_then_by_cookie(client):
    r = client.get("/?lang=en")
    html = r.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Find the nearest public service" in html
    assert "lang=en" in r.headers["Set-Cookie"]
    # the cookie keeps English on the next page, without the parameter
    html = client.get("/sanitation").get_data(as_text=True)
    assert '<html lang="en">' in html and "Road condition" in html
    html = client.get("/planning?lang=id").get_data(as_text=True)
    assert '<html lang="id">' in html and "Jangkauan layanan" in html


def test_trip_words_are_translated(client):
    strings_id = _blob(client.get("/?lang=id").get_data(as_text=True))["strings"]
    strings_en = _blob(client.get("/?lang=en").get_data(as_text=True))["strings"]
    assert strings_id["mode_motorcycle"] == "dengan motor"
    assert strings_en["mode_motorcycle"] == "by motorcycle"
    assert strings_id["minutes"] % {"n": 12} == "12 menit"
    trip = strings_id["trip"] % {"time": "12 menit", "mode": "dengan motor", "dist": "4,3 km"}
    assert trip == "12 menit dengan motor, 4,3 km"


def test_page_blob_holds_the_offices_with_public_fields_only(client, db_rows):
    blob = _blob(client.get("/").get_data(as_text=True))
    ids = {r[0] for r in db_rows("SELECT id FROM office")}
    assert blob["markers"]["layer"] == "office"
    assert {o["id"] for o in blob["markers"]["items"]} == ids
    for o in blob["markers"]["items"]:
        assert set(o) == {
            "id", "name", "category", "kind", "address", "opening_hours", "phone", "services",
            "attributes", "lat", "lon",
        }  # fmt: skip


def test_error_pages_are_translated_html(client):
    r = client.get("/no/such/page")
    assert r.status_code == 404
    assert r.mimetype == "text/html"
    assert "Halaman ini tidak ada." in r.get_data(as_text=True)
    r = client.get("/no/such/page?lang=en")
    assert "This page does not exist." in r.get_data(as_text=True)
    assert "Traceback" not in r.get_data(as_text=True)


@pytest.fixture
def evil_db(fresh_db):
    """An empty database with offices whose names are attacks on the page."""
    conn = psycopg2.connect(libpq_url(fresh_db))
    with conn, conn.cursor() as cur:
        for i, name in enumerate([EVIL, EVIL_SCRIPT]):
            cur.execute(
                "INSERT INTO office (source, source_id, category, name, address, geom) "
                "VALUES ('test', %s, 'health', %s, %s, ST_SetSRID(ST_MakePoint(%s, 60.17), 4326))",
                (f"evil/{i}", name, name, 24.94 + i * 0.001),
            )
    conn.close()
    return fresh_db


def test_database_text_never_becomes_markup_or_code(evil_db):
    client = web_app(evil_db).test_client()
    for path in ["/", "/planning"]:
        html = client.get(path).get_data(as_text=True)
        assert "<img src=x" not in html
        assert "</script><script>alert(2)" not in html
        names = {o["name"] for o in _blob(html)["markers"]["items"]}
        assert names == {EVIL, EVIL_SCRIPT}
    fc = client.get("/api/layers/office/items").get_json()
    assert {f["properties"]["name"] for f in fc["features"]} == {EVIL, EVIL_SCRIPT}


def test_optional_tile_server_from_configuration(helsinki_db):
    tiles = "http://tiles.example.internal/{z}/{x}/{y}.png"
    app = web_app(helsinki_db, TILE_URL=tiles, TILE_ATTRIBUTION="Pemkot")
    html = app.test_client().get("/").get_data(as_text=True)
    assert '"http://tiles.example.internal/{z}/{x}/{y}.png"' in html
    assert "Pemkot" in html


def test_popups_legends_and_classes_reach_the_page_from_the_registry(client):
    from layers.registry import LAYERS

    for path, lang in (("/sanitation?lang=id", "id"), ("/planning?lang=en", "en")):
        blob = _blob(client.get(path).get_data(as_text=True))
        assert blob["layers"]
        for name, data in blob["layers"].items():
            spec = LAYERS[name]
            assert data["popup"] == list(spec.popup_fields)
            assert data["classField"] == spec.class_field
            assert data["colors"] == spec.colors
            assert data["classes"] == {v: spec.class_label(v, lang) for v in spec.classes}
            assert data["fields"] == {
                f.name: {"label": f.label(lang), "type": f.type} for f in spec.fields
            }
    sanitation = client.get("/sanitation?lang=id").get_data(as_text=True)
    for value, (label_id, _en) in LAYERS["road_segment"].classes.items():
        assert label_id in sanitation and LAYERS["road_segment"].colors[value] in sanitation


def test_the_page_script_names_no_layer_class_or_field():
    """Everything layer-specific comes from the blob: the page scripts (web/static/js/)
    hold no layer name, class value or field name as a string literal."""
    from pathlib import Path

    from layers.registry import LAYERS

    scripts = sorted((Path(__file__).parents[2] / "web" / "static" / "js").glob("*.js"))
    assert len(scripts) >= 4, scripts  # the shared ones and one per page
    js = "\n".join(p.read_text() for p in scripts)
    literals = set(re.findall(r'"([^"\\]*)"', js)) | set(re.findall(r"'([^'\\]*)'", js))
    names = set(LAYERS)
    for spec in LAYERS.values():
        names |= set(spec.classes) | set(spec.field_names)
    # "id" is Leaflet's and the DOM's; "category" is /api/nearest's parameter and the id of
    # the page's select, not a reference to the office layer's field
    names -= {"id", "category"}
    assert literals & names == set()
