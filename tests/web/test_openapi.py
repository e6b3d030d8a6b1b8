"""web/openapi.py: the OpenAPI description matches the routes, the limits and the registry."""

from __future__ import annotations

import re

import pytest
from werkzeug.routing import Rule


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


def test_enums_come_from_the_registry_and_the_routing_modes(client):
    from gis.routing import MODES
    from layers.registry import LAYERS, facility_layers

    doc = client.get("/api/openapi.json").get_json()
    items = {p["name"]: p for p in doc["paths"]["/api/layers/{name}/items"]["get"]["parameters"]}
    assert items["name"]["schema"]["enum"] == list(LAYERS)
    nearest = {p["name"]: p for p in doc["paths"]["/api/nearest"]["get"]["parameters"]}
    categories = [c for spec in facility_layers() for c in spec.classes]
    assert nearest["category"]["schema"]["enum"] == categories
    assert nearest["mode"]["schema"]["enum"] == list(MODES)


def test_bbox_format_is_stated(client):
    doc = client.get("/api/openapi.json").get_json()
    items = {p["name"]: p for p in doc["paths"]["/api/layers/{name}/items"]["get"]["parameters"]}
    text = items["bbox"]["description"]
    for words in ("minlon,minlat,maxlon,maxlat", "WGS84", "EPSG:4326", "without spaces"):
        assert words in text
    assert re.fullmatch(items["bbox"]["schema"]["pattern"], items["bbox"]["schema"]["example"])


def test_tile_bounds_are_stated(client):
    from web import params

    doc = client.get("/api/openapi.json").get_json()
    tile = doc["paths"]["/api/roads/tiles/{z}/{x}/{y}.pbf"]["get"]
    by_name = {p["name"]: p for p in tile["parameters"]}
    assert "2^z - 1" in tile["description"]
    for axis in ("x", "y"):
        schema = by_name[axis]["schema"]
        assert schema["minimum"] == 0 and schema["maximum"] == 2**params.MAX_TILE_ZOOM - 1
        assert "2^z - 1" in by_name[axis]["description"]
    z = params.MIN_TILE_ZOOM
    assert client.get(f"/api/roads/tiles/{z}/{2**z - 1}/0.pbf").status_code == 200
    assert client.get(f"/api/roads/tiles/{z}/{2**z}/0.pbf").status_code == 400


@pytest.mark.parametrize("path", ["/api/nearest", "/api/isochrone"])
def test_off_network_422_is_described_and_is_what_the_api_answers(client, routed_client, path):
    from gis.routing import SNAP_LIMIT_M

    doc = client.get("/api/openapi.json").get_json()
    described = doc["paths"][path]["get"]["responses"]["422"]["description"]
    assert "off_network" in described and f"{SNAP_LIMIT_M:g} m" in described
    r = routed_client.get(f"{path}?lat=0&lon=0&category=health&minutes=5")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "off_network"


def test_503_and_error_ids_are_described(client):
    doc = client.get("/api/openapi.json").get_json()
    assert "Retry-After" in doc["components"]["responses"]["Unavailable"]["headers"]
    assert "error_id" in doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
    for item in doc["paths"].values():
        for op in item.values():  # /api/scenario is a POST
            if op.get("parameters"):
                assert "503" in op["responses"]


@pytest.mark.parametrize(
    ("path", "method", "names"),
    [
        (
            "/api/coverage",
            "get",
            {"category", "mode", "minutes", "by", "admin_level", "hex_resolution", "gaps", "f"},
        ),
        (
            "/api/suggest",
            "get",
            {
                "category",
                "mode",
                "minutes",
                "by",
                "admin_level",
                "hex_resolution",
                "count",
                "candidates",
            },
        ),
        ("/api/scenario", "post", {"f"}),
    ],
)
def test_planning_parameters_are_described(client, path, method, names):
    from gis.coverage import MAX_COUNT, MAX_MINUTES
    from web.planning_api import SCENARIO_KEYS

    doc = client.get("/api/openapi.json").get_json()
    op = doc["paths"][path][method]
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) == names
    if "minutes" in params:
        assert params["minutes"]["schema"]["maximum"] == MAX_MINUTES
    if "count" in params:
        assert params["count"]["schema"]["maximum"] == MAX_COUNT
    if method == "post":
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert set(schema["properties"]) == SCENARIO_KEYS
