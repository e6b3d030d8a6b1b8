"""``/api/nearest`` and ``/api/isochrone`` on a Helsinki copy with the network built."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import Point, shape

from gis import routing
from gis.routing import nearest_facilities

ORIGIN = (60.1700, 24.9440)  # lat, lon: central Helsinki, on the network


@pytest.mark.parametrize("mode", ["walk", "motorcycle", "car"])
def test_nearest_is_the_same_json_as_the_library(routed_client, routed_db, mode):
    lat, lon = ORIGIN
    r = routed_client.get(f"/api/nearest?lat={lat}&lon={lon}&category=health&mode={mode}&k=3")
    assert r.status_code == 200
    assert r.mimetype == "application/json"
    got = r.get_json()
    direct = nearest_facilities(lat, lon, category="health", mode=mode, k=3, url=routed_db)
    assert got == json.loads(json.dumps(direct))
    assert got["mode"] == mode and got["category"] == "health"
    times = [res["travel_time_s"] for res in got["results"]]
    assert times == sorted(times) and len(times) == 3


def test_nearest_route_runs_from_origin_to_the_facility(routed_client, db_rows):
    lat, lon = ORIGIN
    got = routed_client.get(f"/api/nearest?lat={lat}&lon={lon}&category=post&mode=walk").get_json()
    best = got["results"][0]
    health = {r[0] for r in db_rows("SELECT id FROM office WHERE category = 'post'")}
    assert best["facility"]["id"] in health
    line = shape(best["route"])
    start = Point(line.coords[0])
    end = Point(line.coords[-1])
    snapped = Point(got["snapped"]["lon"], got["snapped"]["lat"])
    facility = Point(best["facility"]["lon"], best["facility"]["lat"])
    assert start.distance(snapped) < 1e-6
    assert end.distance(facility) < 0.002  # the facility's own network node, within ~100 m
    # k=1 must agree with the best of the k-nearest search
    many = routed_client.get(
        f"/api/nearest?lat={lat}&lon={lon}&category=post&mode=walk&k=2"
    ).get_json()
    assert many["results"][0]["facility"]["id"] == best["facility"]["id"]
    assert many["results"][0]["travel_time_s"] == pytest.approx(best["travel_time_s"], rel=1e-6)


def test_nearest_off_the_network_is_422(routed_client):
    r = routed_client.get("/api/nearest?lat=0&lon=0&category=health&mode=walk")
    assert r.status_code == 422
    assert r.get_json()["error"]["code"]


def test_isochrone_bands(routed_client, routed_db):
    lat, lon = ORIGIN
    r = routed_client.get(f"/api/isochrone?lat={lat}&lon={lon}&minutes=3,6&mode=walk")
    assert r.status_code == 200
    assert r.mimetype == "application/geo+json"
    fc = r.get_json()
    direct = routing.isochrone(lat, lon, minutes=[3, 6], mode="walk", url=routed_db)
    assert fc == json.loads(json.dumps(direct))
    by_minutes = {f["properties"]["minutes"]: shape(f["geometry"]) for f in fc["features"]}
    assert set(by_minutes) == {3.0, 6.0}
    assert by_minutes[6.0].area > by_minutes[3.0].area
    assert by_minutes[3.0].distance(Point(lon, lat)) < 0.001  # the origin is ~40 m off a road


def test_the_web_role_reads_the_network_but_never_builds_it(own_db, caplog):
    """No network built yet: the web role may not write the costs a build writes, so the
    request gets 503 (retry later) and the log says what the owner must run; nothing is
    written."""
    import logging

    from tests.conftest import query
    from tests.web.conftest import forget_database, helsinki_copy, web_app

    url = helsinki_copy(own_db("unbuilt"))
    client = web_app(url).test_client()
    with caplog.at_level(logging.ERROR, logger="web.api"):
        r = client.get("/api/nearest?lat=60.17&lon=24.944&category=health&mode=walk")
    assert r.status_code == 503
    assert r.get_json()["error"]["code"] == "unavailable"
    assert r.headers["Retry-After"] == "30"
    assert "sigap network build" in caplog.text
    assert query(url, "SELECT count(*) FROM road_segment WHERE cost_walk_s IS NOT NULL") == [(0,)]
    forget_database(url)
