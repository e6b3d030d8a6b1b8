"""The public routing API: validation, the per-process router cache, warming, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gis import router_cache, routing
from gis.errors import InvalidInputError, NotFoundError, UnprocessableError
from gis.network import MODES, build_network, drop_cache, network_status
from tests.gis.helpers import drop_routed_db, query, random_origins, routed_db
from tests.gis.reference import Reference

SIGAP = str(Path(sys.executable).with_name("sigap"))


def _long_car_route(url: str, ref: Reference):
    for lat, lon in random_origins(ref, 40, 11):
        routing.clear_routers()
        res = routing.nearest_facilities(lat, lon, category="health", mode="car", url=url)
        if res["results"] and len(res["results"][0]["segment_ids"]) >= 6:
            return lat, lon, res
    pytest.fail("no car route with six or more segments in Helsinki")


def test_queries_reload_a_rebuilt_cache(hel_mutable, monkeypatch):
    url = hel_mutable
    ref = Reference(url, "car")
    lat, lon, before = _long_car_route(url, ref)
    monkeypatch.setattr(router_cache, "RELOAD_CHECK_S", 0.0)
    routing.nearest_facilities(lat, lon, category="health", mode="car", url=url)
    cut = before["results"][0]["segment_ids"][2]
    query(url, "UPDATE road_segment SET condition = 'tidak_dapat_dilalui' WHERE id = %s", (cut,))
    build_network(url, progress=False)
    # no clear_routers(): the router notices the new manifest by itself
    after = routing.nearest_facilities(lat, lon, category="health", mode="car", url=url)
    assert cut not in after["results"][0]["segment_ids"]


def test_facility_far_from_the_roads_is_off_the_network(server_url, template_db, monkeypatch):
    name = f"sigap_test_route_far_{os.getpid()}"
    url = routed_db(server_url, template_db, name, "osm/helsinki.osm.pbf", build=False)
    try:
        # 0.05 degrees (~5.6 km) north of the northernmost road vertex
        ((lat, lon),) = query(
            url,
            "SELECT ST_YMax(ST_Extent(geom)) + 0.05, ST_X(ST_Centroid(ST_Extent(geom))) "
            "FROM road_segment",
        )
        query(url, "DELETE FROM office WHERE category = 'court'")
        ids = {}
        for category in ("court", "health"):
            ((ids[category],),) = query(
                url,
                "INSERT INTO office (source, source_id, category, name, kind, geom) VALUES "
                "('test', %s, %s, 'Far away', 'test', ST_SetSRID(ST_MakePoint(%s, %s), 4326)) "
                "RETURNING id",
                (f"far-{category}", category, lon, lat),
            )
        ((road_m,),) = query(
            url,
            "SELECT min(ST_Distance(geom::geography, "
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography)) FROM road_segment",
            (lon, lat),
        )
        assert road_m > 3 * routing.SNAP_LIMIT_M
        from click.testing import CliRunner

        from cli import main
        from gis.settings import get_settings

        monkeypatch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(main, ["network", "build", "--no-progress"])
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        assert "Off the car network (over 1000 m from its roads): " in result.output
        report = build_network(url, progress=False)
        for mode in MODES:  # reported, per mode and category
            assert report.off_network[mode]["court"] == [ids["court"]]
            assert ids["health"] in report.off_network[mode]["health"]
        routing.clear_routers()
        for mode in MODES:
            res = routing.nearest_facilities(60.1699, 24.9384, category="court", mode=mode, url=url)
            assert res["unreachable"] and not res["results"]
            res = routing.nearest_facilities(
                60.1699, 24.9384, category="health", mode=mode, k=10, url=url
            )
            assert res["results"]
            assert ids["health"] not in {r["facility"]["id"] for r in res["results"]}
            best = routing.nearest_facilities(
                60.1699, 24.9384, category="health", mode=mode, url=url
            )
            assert best["results"][0]["facility"]["id"] != ids["health"]
    finally:
        drop_routed_db(server_url, url, name)


def test_first_query_builds_a_missing_network(server_url, template_db):
    name = f"sigap_test_route_lazy_{os.getpid()}"
    url = routed_db(server_url, template_db, name, "osm/helsinki.osm.pbf", build=False)
    try:
        assert not network_status(url)["built"]
        res = routing.nearest_facilities(60.1699, 24.9384, category="health", mode="car", url=url)
        assert res["results"]
        assert network_status(url)["built"]
        (n,) = query(url, "SELECT count(*) FROM road_segment WHERE cost_car_s IS NOT NULL")[0]
        assert n > 0
    finally:
        drop_routed_db(server_url, url, name)


def test_empty_database_is_not_found(fresh_db):
    try:
        with pytest.raises(NotFoundError, match="no road network"):
            routing.nearest_facilities(60.17, 24.94, category="health", mode="car", url=fresh_db)
    finally:
        drop_cache(fresh_db)
        routing.clear_routers()


@pytest.mark.parametrize(
    ("kwargs", "error", "param"),
    [
        ({"lat": "abc"}, InvalidInputError, "lat"),
        ({"lat": 91}, InvalidInputError, "lat"),
        ({"lat": float("nan")}, InvalidInputError, "lat"),
        ({"lon": -181}, InvalidInputError, "lon"),
        ({"lon": None}, InvalidInputError, "lon"),
        ({"category": "puskesmas"}, InvalidInputError, "category"),
        ({"mode": "bicycle"}, InvalidInputError, "mode"),
        ({"k": 0}, InvalidInputError, "k"),
        ({"k": 11}, InvalidInputError, "k"),
        ({"k": 2.5}, InvalidInputError, "k"),
        ({"category": "police"}, NotFoundError, "category"),
        ({"lat": 60.0, "lon": 25.5}, UnprocessableError, "lat"),
    ],
)
def test_nearest_bad_input(hel, kwargs, error, param):
    args = {"lat": 60.1699, "lon": 24.9384, "category": "health", "mode": "car", "k": 1}
    args.update(kwargs)
    lat, lon = args.pop("lat"), args.pop("lon")
    with pytest.raises(error) as info:
        routing.nearest_facilities(lat, lon, url=hel, **args)
    assert info.value.param == param
    assert info.value.message


@pytest.mark.parametrize(
    ("minutes", "ok"),
    [([5], True), ([], False), (["x"], False), ([0], False), ([-5], False), ([1e6], False)],
)
def test_isochrone_minutes_validation(hel, minutes, ok):
    if ok:
        assert routing.isochrone(60.1699, 24.9384, minutes=minutes, mode="walk", url=hel)
    else:
        with pytest.raises(InvalidInputError) as info:
            routing.isochrone(60.1699, 24.9384, minutes=minutes, mode="walk", url=hel)
        assert info.value.param == "minutes"


def _cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([SIGAP, *args], capture_output=True, text=True, env=env, timeout=120)


def _isolated_car_point(url: str) -> tuple[float, float]:
    """The middle of a car segment from which no health facility can be reached, and which
    is the nearest car segment to that point."""
    ref = Reference(url, "car")
    facilities = ref.facilities("health")
    reach = ref.node_times_to(list(facilities.values()))
    on_segments = {p.segment_id for p in facilities.values()}
    for sid, (u, v, _, cost, length) in sorted(ref.seg.items()):
        if cost is None or length <= 10 or u in reach or v in reach or sid in on_segments:
            continue
        ((lat, lon),) = query(
            url,
            "SELECT ST_Y(ST_LineInterpolatePoint(geom, 0.5)), "
            "ST_X(ST_LineInterpolatePoint(geom, 0.5)) FROM road_segment WHERE id = %s",
            (sid,),
        )
        if ref.place([(lon, lat)])[0].segment_id == sid:
            return lat, lon
    pytest.fail("Helsinki has no isolated car segment to test 'cannot be reached'")


@pytest.fixture
def cli_runner(hel, monkeypatch):
    """Invoke ``sigap`` in-process against the Helsinki test database."""
    from click.testing import CliRunner

    from cli import main
    from gis.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", hel)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(main, list(args))
    get_settings.cache_clear()


CLI_ERRORS = [
    (["nearest", "abc", "24.9", "--category", "health"], "lat"),
    (["nearest", "95", "24.9", "--category", "health"], "lat"),
    (["nearest", "60.17", "250", "--category", "health"], "lon"),
    (["nearest", "60.17", "24.94", "--category", "puskesmas"], "category"),
    (["nearest", "60.17", "24.94", "--category", "health", "--mode", "becak"], "mode"),
    (["nearest", "60.17", "24.94", "--category", "health", "--k", "50"], "'k'"),
    (["nearest", "60.17", "24.94", "--category", "health", "--k", "two"], "'k'"),
    (["nearest", "60.17", "24.94", "--category", "police"], "police"),
    (["nearest", "-6.2", "106.8", "--category", "health"], "from any road"),
    (["isochrone", "60.17", "24.94", "--minutes", "soon"], "minutes"),
    (["isochrone", "60.17", "24.94", "--minutes", "500"], "minutes"),
    (["isochrone", "60.17", "24.94", "--minutes", "5", "--mode", "plane"], "mode"),
]


@pytest.mark.parametrize(("args", "needle"), CLI_ERRORS)
def test_cli_errors_are_one_line_without_traceback(cli_runner, args, needle):
    result = cli_runner(*args)
    assert result.exit_code == 1, (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and needle in lines[0], (args, result.stderr)


def test_cli_binary_error_exit_code(hel):
    proc = _cli(hel, "nearest", "-6.2", "106.8", "--category", "health", "--mode", "car")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.startswith("Error:") and "from any road" in proc.stderr


def test_cli_json_is_the_api_shape_and_unreachable_is_an_answer(hel):
    proc = _cli(
        hel,
        "nearest",
        "60.1699",
        "24.9384",
        "--category",
        "health",
        "--mode",
        "motorcycle",
        "--k",
        "3",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data == routing.nearest_facilities(
        60.1699, 24.9384, category="health", mode="motorcycle", k=3, url=hel
    )
    assert set(data) >= {"origin", "snapped", "mode", "category", "results", "unreachable"}
    assert set(data["results"][0]["facility"]) == {
        "id",
        "layer",
        "name",
        "category",
        "kind",
        "lat",
        "lon",
    }
    lat, lon = _isolated_car_point(hel)
    proc = _cli(
        hel, "nearest", str(lat), str(lon), "--category", "health", "--mode", "car", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["unreachable"] is True and data["results"] == [] and data["message"]
    proc = _cli(hel, "isochrone", "60.1699", "24.9384", "--minutes", "5", "10", "--json")
    assert proc.returncode == 0, proc.stderr
    fc = json.loads(proc.stdout)
    assert [f["properties"]["minutes"] for f in fc["features"]] == [10, 5]


def test_result_json_gives_both_snaps(hel):
    res = routing.nearest_facilities(60.1699, 24.9384, category="health", mode="walk", url=hel)
    assert set(res) == {"origin", "snapped", "mode", "category", "results", "unreachable"}
    assert set(res["snapped"]) == {"lat", "lon", "distance_m", "segment_id", "fraction"}
    (best,) = res["results"]
    assert set(best) == {
        "rank",
        "facility",
        "travel_time_s",
        "distance_m",
        "route",
        "segment_ids",
        "facility_snap",
    }
    snap = best["facility_snap"]
    assert set(snap) == {"lat", "lon", "distance_m", "segment_id", "fraction"}
    assert 0.0 <= snap["fraction"] <= 1.0 and snap["distance_m"] <= routing.SNAP_LIMIT_M
    assert best["route"]["coordinates"][-1] == [snap["lon"], snap["lat"]]
    ((d,),) = query(
        hel,
        "SELECT ST_Distance(ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography)",
        (snap["lon"], snap["lat"], best["facility"]["lon"], best["facility"]["lat"]),
    )
    assert snap["distance_m"] == pytest.approx(d, rel=0.01, abs=0.05)
    assert json.loads(json.dumps(res)) == res


def test_warm_routing_loads_every_mode(hel):
    routing.clear_routers()
    routing.warm_routing(hel)
    router = routing.get_router(hel)
    assert set(router._modes) == set(MODES)


def test_warm_routing_of_an_empty_database_only_logs(fresh_db, caplog):
    try:
        routing.warm_routing(fresh_db)
        assert "routing not warmed up" in caplog.text
    finally:
        drop_cache(fresh_db)
        routing.clear_routers()


def test_a_read_only_router_never_builds_and_logs_a_stale_cache_once(hel_mutable, caplog):
    """The web role's routers: the database changes behind the cache; the background check
    logs one line (no traceback, no build attempt) and the last good cache keeps answering;
    a later check does not log again. Without a cache they raise InsufficientPrivilege (the
    web answers 503)."""
    import logging

    import psycopg2.errors
    from sqlalchemy.engine import make_url

    from gis import router_cache
    from gis.network import cache_root, read_manifest

    url = hel_mutable
    web = make_url(url).set(username="sigap_web").render_as_string(hide_password=False)
    routing.clear_routers()
    before = routing.nearest_facilities(60.1699, 24.9384, category="health", mode="car", url=web)
    version = read_manifest(cache_root(url))["version"]
    query(url, "UPDATE road_segment SET maxspeed = '5' WHERE highway = 'primary'")  # as owner
    entry = router_cache._routers[cache_root(web)]
    assert entry.read_only
    with caplog.at_level(logging.INFO, logger="gis"):
        for _ in range(2):
            entry.db_checked_at = -1e9  # the check is due
            routing.get_router(web)
            routing.join_checks()
    stale = [r for r in caplog.records if "older than the database" in r.getMessage()]
    assert len(stale) == 1 and stale[0].exc_info is None
    assert "Traceback" not in caplog.text
    assert read_manifest(cache_root(url))["version"] == version  # nothing was built
    again = routing.nearest_facilities(60.1699, 24.9384, category="health", mode="car", url=web)
    assert again == before
    routing.clear_routers()
    drop_cache(url)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="sigap network build"):
        routing.get_router(web)
    routing.clear_routers()
