"""web/params.py: every API parameter is parsed once, strictly, by gis.validate.

The parameters come from the OpenAPI description, so a new parameter is covered without
editing this file: each one, given a value Python's int()/float() would accept but the
strict parsers refuse, answers 400 naming it.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from web import params

#: The complaint planted for ``/api/complaints/{tracking_id}`` (``test_valid_requests_answer``).
VALID_TRACKING_ID = "PARM-0001"
#: A valid request for each operation: path values and query values.
VALID: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "/api/layers/{name}/items": (
        {"name": "office"},
        {"bbox": "24.9,60.1,25.0,60.2", "limit": "10", "offset": "0", "f": "geojson"},
    ),
    "/api/roads/tiles/{z}/{x}/{y}.pbf": ({"z": "15", "x": "18654", "y": "9484"}, {}),
    "/api/nearest": (
        {},
        {"lat": "60.17", "lon": "24.944", "category": "health", "mode": "walk", "k": "2"},
    ),
    "/api/isochrone": ({}, {"lat": "60.17", "lon": "24.944", "minutes": "5", "mode": "walk"}),
    "/api/coverage": (
        {},
        {
            "category": "health",
            "mode": "walk",
            "minutes": "5",
            "by": "admin_area",
            "admin_level": "7",
            "hex_resolution": "9",
            "gaps": "false",
            "f": "json",
        },
    ),
    "/api/suggest": (
        {},
        {
            "category": "health",
            "mode": "car",
            "minutes": "1.5",
            "by": "admin_area",
            "admin_level": "7",
            "hex_resolution": "9",
            "count": "1",
            "candidates": "60.17,24.944",
        },
    ),
    "/api/complaints": (
        {},
        {
            "service_code": "sampah",
            "status": "open",
            "start_date": "2026-01-01T00:00:00Z",
            "end_date": "2099-01-01T00:00:00Z",
            "limit": "10",
        },
    ),
    "/api/complaints/nearby": ({}, {"lat": "60.17", "lon": "24.944", "service_code": "sampah"}),
    "/api/complaints/{tracking_id}": ({"tracking_id": VALID_TRACKING_ID}, {}),
}
#: Path parameters that name a thing: a bad value is "not found" (404), not a bad request.
NAMES = frozenset({"name", "tracking_id"})
#: gis.validate.number_list strips spaces around each item of a comma-separated list
#: (``minutes=5, 10``); part A owns that rule.
LENIENT: frozenset[tuple[str, str]] = frozenset({("minutes", " 5"), ("minutes", "5 ")})
#: Values the strict parsers refuse although Python accepts some of them.
NOT_STRICT = ("1_0", " 5", "0x10", "", "5 ", "１０", "inf", "nan")


def _url(path: str, path_values: dict[str, str], query: dict[str, str]) -> str:
    for k, v in path_values.items():
        path = path.replace("{" + k + "}", v)
    return path + ("?" + urlencode(query) if query else "")


def _operations(client) -> list[tuple[str, dict]]:
    doc = client.get("/api/openapi.json").get_json()
    out = []
    for path, item in doc["paths"].items():
        for p in item.get("get", {}).get("parameters", []):  # POST bodies: their own tests
            out.append((path, p))
    return out


def test_every_documented_parameter_is_covered(client):
    for path, p in _operations(client):
        assert path in VALID, path
        path_values, query = VALID[path]
        assert p["name"] in (path_values if p["in"] == "path" else query), (path, p["name"])


def test_valid_requests_answer(routed_client, routed_db):
    from tests.conftest import query as run_sql

    run_sql(
        routed_db,
        "INSERT INTO complaint (tracking_id, token, service_code, catalogue_version, agency,"
        " state, channel, description, request_hash, forward_due_at, follow_up_due_at, due_at,"
        " geom) VALUES (%s, 'params-token', 'sampah', 't', 'dlh', 'diterima', 'web', 'x', 'h',"
        " now(), now(), now(), ST_SetSRID(ST_MakePoint(24.944, 60.17), 4326))"
        " ON CONFLICT DO NOTHING",
        (VALID_TRACKING_ID,),
    )
    for path, (path_values, query) in VALID.items():
        r = routed_client.get(_url(path, path_values, query))
        assert r.status_code == 200, (path, r.get_data()[:200])


@pytest.mark.parametrize("bad", NOT_STRICT)
def test_every_parameter_refuses_loose_values(client, bad):
    for path, p in _operations(client):
        path_values, query = VALID[path]
        name = p["name"]
        if (name, bad) in LENIENT:
            continue
        if p["in"] == "path":
            if bad.strip() != bad or not bad:
                continue  # a URL path segment cannot carry these
            r = client.get(_url(path, {**path_values, name: bad}, query))
        else:
            r = client.get(_url(path, path_values, {**query, name: bad}))
        expected = 404 if name in NAMES else 400  # an unknown layer is "not found"
        assert r.status_code == expected, (path, name, bad, r.get_data()[:200])
        assert r.get_json()["error"]["param"] == name


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("k=1_0", "k"),
        ("k=+", "k"),
        ("k=", "k"),
        ("lat=6.017e1&lon=24.944&k=1", None),  # an exponent is plain decimal notation
    ],
)
def test_nearest_numbers_are_strict(routed_client, query, param):
    base = {"lat": "60.17", "lon": "24.944", "category": "health"}
    for part in query.split("&"):
        key, _, value = part.partition("=")
        base[key] = value
    r = routed_client.get("/api/nearest?" + urlencode(base))
    if param is None:
        assert r.status_code == 200
    else:
        assert r.status_code == 400 and r.get_json()["error"]["param"] == param


def test_empty_format_is_refused_not_defaulted(client):
    r = client.get("/api/layers/office/items?f=")
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["param"] == "f" and err["code"] == "invalid_parameter"


def test_tile_coordinates_are_bounded_by_the_zoom():
    z = params.MIN_TILE_ZOOM
    last = 2**z - 1
    assert params.parse_tile(str(z), str(last), "0") == (z, last, 0)
    for x, y, bad in ((last + 1, 0, "x"), (0, last + 1, "y"), (-1, 0, "x")):
        with pytest.raises(Exception) as info:
            params.parse_tile(str(z), str(x), str(y))
        assert getattr(info.value, "param", None) == bad


def test_facility_categories_come_from_the_registry():
    from layers.registry import facility_layers
    from layers.vocab import FACILITY_CATEGORIES

    assert params.facility_categories() == FACILITY_CATEGORIES
    for spec in facility_layers():
        assert set(spec.classes) <= set(params.facility_categories())
