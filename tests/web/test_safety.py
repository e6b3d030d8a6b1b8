"""What the API must never do: leak reporters' contact details, hand spreadsheets a formula,
leave temporary files behind, or build an unbounded export or tile.

``pii_db`` (tests/web/conftest.py) is our own Helsinki copy with a complaint whose reporter
holds marker strings and an office whose text starts with formula characters.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile

import pytest

from layers.registry import LAYERS
from tests.conftest import query
from tests.web.conftest import HOSTILE_OFFICE, PII_MARKERS
from web import params
from web.features import csv_cell

PUBLIC_MARKER = "PUBLIC-MARKER-9c1d"  # inside the hostile office's (public) name
LANGS = ("id", "en")


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _every_response(app, client) -> dict[str, bytes]:
    """URL -> headers and body of every route without path arguments (in both languages),
    every layer in every format, a road tile over the planted complaint and routing answers
    from it."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments:
            urls += [f"{rule.rule}?lang={lang}" for lang in LANGS]
    for name in LAYERS:
        urls.append(f"/api/layers/{name}/items?limit={params.MAX_LIMIT}")
        urls += [f"/api/layers/{name}/items?f={f}" for f in params.FORMATS if f != "geojson"]
    z = params.MIN_TILE_ZOOM
    for zoom in (z, z + 4):
        x, y = _tile_xy(24.944, 60.169, zoom)
        urls.append(f"/api/roads/tiles/{zoom}/{x}/{y}.pbf")
    here = "lat=60.169&lon=24.944"
    urls.append(f"/api/nearest?{here}&category=health&k=10")
    urls.append(f"/api/isochrone?{here}&minutes=5")
    out = {}
    for url in urls:
        r = client.get(url)
        # /api/nearest and /api/isochrone without a point answer 400; everything else 200
        assert r.status_code == 200 or (r.status_code == 400 and "lat=" not in url), url
        head = "".join(f"{k}: {v}\n" for k, v in r.headers.items()).encode()
        out[url] = head + r.get_data()
    return out


def test_reporter_contact_details_never_leave_the_database(pii_db, pii_app, pii_client):
    # the markers are in the database (the independent side), next to a complaint
    reporters = query(pii_db, "SELECT name, phone, email, device_id FROM complaint_reporter")
    assert reporters == [PII_MARKERS]
    responses = _every_response(pii_app, pii_client)
    pages = [u for u in responses if not u.startswith("/api/")]
    assert {p.split("?")[0] for p in pages} >= {"/", "/sanitation", "/planning"}
    for url, body in responses.items():
        for marker in PII_MARKERS:
            assert marker.encode() not in body, (marker, url)
            assert marker.lower().encode() not in body.lower(), (marker, url)
    # the search would have seen planted data: the hostile office's public name is there,
    # in GeoJSON, CSV, the GeoPackage's bytes and the map pages
    for url in (
        f"/api/layers/office/items?limit={params.MAX_LIMIT}",
        "/api/layers/office/items?f=csv",
        "/api/layers/office/items?f=gpkg",
        "/?lang=id",
        "/planning?lang=en",
    ):
        assert PUBLIC_MARKER.encode() in responses[url], url


def test_csv_cells_cannot_start_a_formula(pii_db, pii_client):
    (hostile_id,) = query(pii_db, "SELECT id FROM office WHERE source_id = 'hostile/1'")[0]
    db = {
        r[0]: r[1:]
        for r in query(pii_db, "SELECT id, name, kind, address, phone, opening_hours FROM office")
    }
    r = pii_client.get("/api/layers/office/items?f=csv")
    assert r.status_code == 200
    rows = {int(row["id"]): row for row in csv.DictReader(io.StringIO(r.get_data(as_text=True)))}
    assert set(rows) == set(db)
    got = rows[hostile_id]
    o = HOSTILE_OFFICE
    for field in ("name", "kind", "address", "phone", "opening_hours"):
        assert got[field] == "'" + str(o[field]), field
    assert got["services"] == "'" + "; ".join(o["services"])  # type: ignore[arg-type]
    # every other office: text as stored, unless it too starts a formula (OWASP's list,
    # full-width forms, after leading spaces; written out here independently of web.features)
    formula = re.compile("^[ \u00a0\u3000]*[=+\\-@\t\r\n\uff1d\uff0b\uff0d\uff20]")
    for fid, values in db.items():
        fields = ("name", "kind", "address", "phone", "opening_hours")
        for field, value in zip(fields, values, strict=True):
            expected = "" if value is None else value
            if formula.match(expected):
                expected = "'" + expected
            assert rows[fid][field] == expected, (fid, field)


def test_csv_cell_leaves_numbers_and_safe_text_alone():
    assert csv_cell(-5) == -5
    assert csv_cell(-0.25) == -0.25
    assert csv_cell(None) == ""
    assert csv_cell("Puskesmas") == "Puskesmas"
    assert csv_cell("POINT(-1 2)") == "POINT(-1 2)"
    assert csv_cell(["a", "b"]) == "a; b"
    assert csv_cell(["-a", "b"]) == "'-a; b"


def test_csv_injection_is_documented(client):
    doc = client.get("/api/openapi.json").get_json()
    assert "formula" in doc["info"]["description"]
    assert "'+62" in doc["info"]["description"]


@pytest.mark.parametrize("method", ["head", "get"])
def test_geopackage_export_leaves_no_temporary_file(client, tmp_path, monkeypatch, method):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    r = getattr(client, method)("/api/layers/office/items?f=gpkg")
    assert r.status_code == 200
    assert r.mimetype == "application/geopackage+sqlite3"
    if method == "get":
        assert r.get_data()[:16] == b"SQLite format 3\x00"
    r.close()
    assert list(tmp_path.iterdir()) == []


def test_geopackage_export_to_a_client_that_hangs_up_leaves_no_file(app, tmp_path, monkeypatch):
    """A WSGI server that closes the response before reading it (the client went away)."""
    from werkzeug.test import EnvironBuilder

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    environ = EnvironBuilder(path="/api/layers/office/items", query_string="f=gpkg").get_environ()
    body = app.wsgi_app(environ, lambda status, headers: None)
    assert list(tmp_path.iterdir()) == []  # nothing waits for the body to be read
    getattr(body, "close", lambda: None)()
    assert list(tmp_path.iterdir()) == []


def test_export_without_limit_is_capped(client, db_rows, monkeypatch):
    (total,) = db_rows("SELECT count(*) FROM road_segment")[0]
    cap = 1000
    assert total > cap
    monkeypatch.setattr(params, "MAX_EXPORT_FEATURES", cap)
    for f in ("csv", "gpkg"):
        r = client.get(f"/api/layers/road_segment/items?f={f}")
        assert r.status_code == 422
        err = r.get_json()["error"]
        assert err["code"] == "export_too_large" and err["param"] == "limit"
        assert str(total) in err["message"] and str(cap) in err["message"]
    # paging with limit/offset still reaches every feature, and a short tail needs no limit
    r = client.get("/api/layers/road_segment/items?f=csv&limit=1500")
    assert r.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))) == 1500
    r = client.get(f"/api/layers/road_segment/items?f=csv&offset={total - cap}")
    assert r.status_code == 200
    tail = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    ids = sorted(i for (i,) in db_rows("SELECT id FROM road_segment"))
    assert [int(row["id"]) for row in tail] == ids[total - cap :]


def test_export_cap_is_documented(client):
    doc = client.get("/api/openapi.json").get_json()
    items = doc["paths"]["/api/layers/{name}/items"]["get"]["parameters"]
    limit = next(p for p in items if p["name"] == "limit")
    assert str(params.MAX_EXPORT_FEATURES) in limit["description"]
    assert "422" in limit["description"]


def test_low_zoom_tiles_are_refused_and_documented(client):
    z = params.MIN_TILE_ZOOM
    x, y = _tile_xy(24.944, 60.169, z - 1)
    r = client.get(f"/api/roads/tiles/{z - 1}/{x}/{y}.pbf")
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["param"] == "z" and str(z) in err["message"]
    for zoom in (0, 5):
        assert client.get(f"/api/roads/tiles/{zoom}/0/0.pbf").status_code == 400
    x, y = _tile_xy(24.944, 60.169, z)
    r = client.get(f"/api/roads/tiles/{z}/{x}/{y}.pbf")
    assert r.status_code == 200 and len(r.get_data()) > 1000
    doc = client.get("/api/openapi.json").get_json()
    tile = doc["paths"]["/api/roads/tiles/{z}/{x}/{y}.pbf"]["get"]
    zp = next(p for p in tile["parameters"] if p["name"] == "z")
    assert zp["schema"]["minimum"] == z
    assert str(z) in tile["description"]


def test_map_road_layer_does_not_ask_for_refused_tiles(client):
    page = client.get("/sanitation").get_data(as_text=True)
    assert f'"minZoom": {params.MIN_TILE_ZOOM}' in page
