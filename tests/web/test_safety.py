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
#: What a route without parameters answers when the request carries no login.
WITHOUT_LOGIN = {
    "/staff/": 302,
    "/staff/api/me": 401,
    "/staff/api/complaints": 401,
    "/staff/antrian": 302,
    "/staff/layanan": 302,
}
#: The planted complaint of ``pii_db`` (tests/web/conftest.py) in every complaint answer.
COMPLAINT_URLS = (
    "/api/complaints/TEST-0001",
    "/api/complaints/test0001",
    "/api/complaints?limit=1000",
    "/api/complaints/nearby?lat=60.169&lon=24.944&service_code=sampah",
    "/api/complaints/summary",
    "/open311/v2/requests.json",
    "/open311/v2/requests.xml",
    "/open311/v2/requests.json?service_request_id=TEST-0001",
    "/open311/v2/requests/TEST-0001.json",
    "/open311/v2/requests/TEST-0001.xml",
    "/open311/v2/tokens/token-pii.json",
    "/open311/v2/tokens/token-pii.xml",
    "/lapor/TEST-0001",
    "/lapor/TEST-0001?lang=en",
)


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
    urls += COMPLAINT_URLS
    out = {}
    for url in urls:
        r = client.get(url)
        # /api/nearest and /api/isochrone without a point answer 400; staff routes without a
        # login 302 or 401; everything else 200
        expected = WITHOUT_LOGIN.get(url.split("?")[0], 200)
        assert r.status_code == expected or (r.status_code == 400 and "lat=" not in url), url
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
    for url in COMPLAINT_URLS[:3] + COMPLAINT_URLS[5:10]:  # the complaint is there
        assert b"TEST-0001" in responses[url] and b"Sampah menumpuk" in responses[url], url
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


def _posts_with_markers(client) -> dict[str, bytes]:
    """Refused submissions that carry the markers: no error message may echo them."""
    name, phone, email, device = PII_MARKERS
    out = {}
    json_body = {
        "service_code": "sampah",
        "lat": 99,
        "lon": 24.9,
        "description": "x",
        "name": name,
        "phone": phone,
        "email": email,
        "device_id": device,
    }
    r = client.post("/api/complaints", json=json_body)
    out["POST /api/complaints"] = r.get_data()
    r = client.post("/api/complaints", json={**json_body, "lat": 60.169, "phone": name})
    out["POST /api/complaints bad phone"] = r.get_data()
    form = {
        "service_code": "sampah",
        "lat": "99",
        "long": "24.9",
        "description": "x",
        "first_name": name,
        "phone": phone,
        "email": email,
        "device_id": device,
    }
    for fmt in ("json", "xml"):
        r = client.post(f"/open311/v2/requests.{fmt}", data=form)
        out[f"POST open311 {fmt}"] = r.get_data()
    return out


def test_refused_submissions_do_not_echo_contact_details(pii_client):
    for what, body in _posts_with_markers(pii_client).items():
        for marker in PII_MARKERS:
            assert marker.encode() not in body, (what, marker)


def test_staff_answers_leave_contact_details_to_the_audited_route(pii_db, pii_app):
    """A planner (who may not see contact details) reads the queue and the complaint: no
    marker; only the contact route shows them, to a role that may, with an audit row."""
    import psycopg2

    from gis.db import libpq_url
    from services.accounts import create_user
    from tests.web.conftest import STAFF_PASSWORD, staff_login

    conn = psycopg2.connect(libpq_url(pii_db))
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM staff_user WHERE username = 'pii-planner'")
        if not cur.fetchone()[0]:
            create_user(cur, "pii-planner", "planner", STAFF_PASSWORD)
            create_user(cur, "pii-desk", "desk", STAFF_PASSWORD)
    conn.close()
    planner = pii_app.test_client()
    csrf = staff_login(planner, "pii-planner")
    bodies = [
        planner.get(u).get_data()
        for u in ("/staff/api/complaints", "/staff/api/complaints/TEST-0001", "/staff/api/me")
    ]
    bodies.append(
        planner.post(
            "/staff/api/complaints/TEST-0001/contact", headers={"X-CSRF-Token": csrf}
        ).get_data()
    )
    assert b"TEST-0001" in bodies[0]
    for body in bodies:
        for marker in PII_MARKERS:
            assert marker.encode() not in body
    desk = pii_app.test_client()
    dcsrf = staff_login(desk, "pii-desk")
    r = desk.post("/staff/api/complaints/TEST-0001/contact", headers={"X-CSRF-Token": dcsrf})
    assert r.status_code == 200 and r.get_json()["name"] == PII_MARKERS[0]
    assert query(pii_db, "SELECT count(*) FROM contact_view") == [(1,)]
