"""Map pages, language, assets, escaping, configuration and the OpenAPI description."""

from __future__ import annotations

import gzip
import json
import re

import psycopg2
import pytest
from werkzeug.routing import Rule

from gis.db import libpq_url
from tests.web.conftest import web_app
from web import ConfigError, create_app

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
            "lat", "lon",
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


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    from gis.settings import get_settings

    monkeypatch.setenv("SIGAP_ENV", "production")
    monkeypatch.delenv("SIGAP_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match="SIGAP_SECRET_KEY"):
            create_app()
        monkeypatch.setenv("SIGAP_SECRET_KEY", "k" * 40)
        get_settings.cache_clear()
        assert create_app().config["SECRET_KEY"] == "k" * 40
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_development_key_is_random_per_app():
    a = create_app({"SECRET_KEY": None})
    b = create_app({"SECRET_KEY": None})
    assert len(a.config["SECRET_KEY"]) >= 32
    assert a.config["SECRET_KEY"] != b.config["SECRET_KEY"]


def test_vendor_assets_are_served_gzipped_with_cache_headers(client):
    html = client.get("/").get_data(as_text=True)
    src = re.search(r'src="(/vendor/leaflet/leaflet\.js\?v=[0-9a-f]+)"', html).group(1)
    r = client.get(src, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.mimetype == "application/javascript"
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.cache_control.max_age >= 86400 and r.cache_control.public
    body = gzip.decompress(r.get_data())
    assert b"Leaflet" in body[:500] and len(r.get_data()) < len(body) / 2
    again = client.get(src, headers={"Accept-Encoding": "gzip", "If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/vendor/leaflet/../../package.json").status_code == 404
    assert client.get("/vendor/evil/x.js").status_code == 404


def test_html_pages_are_gzipped(client):
    r = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert b"folium-map" in gzip.decompress(r.get_data())


def _openapi_path(rule: Rule) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)


def test_openapi_describes_every_api_route_and_nothing_else(app, client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            routes[_openapi_path(rule)] = {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}}
    described = {path: set(ops) for path, ops in doc["paths"].items()}
    assert described == routes
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["responses"], path
            for p in op.get("parameters", []):
                if p["in"] == "path":
                    assert "{" + p["name"] + "}" in path


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("/api/layers/{name}/items", {"name", "bbox", "limit", "offset", "f"}),
        ("/api/nearest", {"lat", "lon", "category", "mode", "k"}),
        ("/api/isochrone", {"lat", "lon", "minutes", "mode"}),
        ("/api/roads/tiles/{z}/{x}/{y}.pbf", {"z", "x", "y"}),
    ],
)
def test_openapi_parameters_are_the_ones_the_handlers_read(client, path, names):
    doc = client.get("/api/openapi.json").get_json()
    assert {p["name"] for p in doc["paths"][path]["get"]["parameters"]} == names


def test_optional_tile_server_from_configuration(helsinki_db):
    tiles = "http://tiles.example.internal/{z}/{x}/{y}.png"
    app = web_app(helsinki_db, TILE_URL=tiles, TILE_ATTRIBUTION="Pemkot")
    html = app.test_client().get("/").get_data(as_text=True)
    assert '"http://tiles.example.internal/{z}/{x}/{y}.png"' in html
    assert "Pemkot" in html
