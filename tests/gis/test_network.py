"""Network builds: staleness, rebuilds, facility refreshes, one mode at a time, the CLI."""

from __future__ import annotations

import dataclasses
import os
import threading
import time

import psycopg2
import pytest

from gis import network, router_cache, routing
from gis.db import libpq_url
from gis.network import (
    CONDITION_FACTORS,
    PROFILES,
    build_network,
    cache_root,
    network_status,
    read_manifest,
    rebuild_if_stale,
    refresh_facilities,
)
from ingest.osm import ingest_osm_file
from tests.conftest import shared_file
from tests.gis.helpers import (
    drop_routed_db,
    query,
    random_origins,
    recreate_keeping_cache,
    routed_db,
)
from tests.gis.reference import Reference, place_of


def _new_db(server_url, template_db, name, pbf="osm/helsinki.osm.pbf"):
    return routed_db(server_url, template_db, name, pbf, build=False)


@pytest.fixture
def own_db(server_url, template_db):
    """A Helsinki database the test may change; nothing built yet."""
    name = f"sigap_test_net_own_{os.getpid()}"
    url = _new_db(server_url, template_db, name)
    yield url
    drop_routed_db(server_url, url, name)


def test_stamps_detect_road_and_facility_changes(own_db):
    url = own_db
    assert not network_status(url)["built"]
    build_network(url, progress=False)
    assert not network_status(url)["stale"]
    ((sid, before),) = query(
        url,
        "SELECT id, cost_car_s FROM road_segment WHERE cost_car_s IS NOT NULL "
        "AND condition = 'baik' ORDER BY id LIMIT 1",
    )
    query(url, "UPDATE road_segment SET condition = 'rusak_berat' WHERE id = %s", (sid,))
    status = network_status(url)
    assert status["stale"] and status["roads_changed"]
    report = rebuild_if_stale(url, progress=False)
    assert report is not None and not network_status(url)["stale"]
    ((after,),) = query(url, "SELECT cost_car_s FROM road_segment WHERE id = %s", (sid,))
    factors = CONDITION_FACTORS["car"]
    assert after == pytest.approx(before * factors["baik"] / factors["rusak_berat"])
    query(url, "UPDATE office SET name = 'Puskesmas Baru' WHERE id = (SELECT min(id) FROM office)")
    status = network_status(url)
    assert status["facilities_changed"] and not status["roads_changed"]
    assert rebuild_if_stale(url, progress=False) is not None
    assert not network_status(url)["stale"]
    assert rebuild_if_stale(url, progress=False) is None
    # moving a road (same ids, nodes, length and condition) changes the road stamp too
    moved = "UPDATE road_segment SET geom = ST_Translate(geom, 0.00001, 0) WHERE id = %s"
    query(url, moved, (sid,))
    status = network_status(url)
    assert status["stale"] and status["roads_changed"] and not status["database_changed"]


def test_build_waits_for_a_road_edit_and_reads_it(own_db):
    """Reading the roads and writing the costs back are one transaction behind a table lock: a
    build that starts while an edit is open waits for it and then costs the edited road."""
    url = own_db
    ((sid,),) = query(
        url,
        "SELECT id FROM road_segment WHERE highway = 'service' "
        "AND condition <> 'tidak_dapat_dilalui' ORDER BY id LIMIT 1",
    )
    editor = psycopg2.connect(libpq_url(url))
    errors: list[BaseException] = []

    def build() -> None:
        try:
            build_network(url, progress=False)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    try:
        with editor.cursor() as cur:  # an open transaction holding the edit
            cur.execute(
                "UPDATE road_segment SET condition = 'tidak_dapat_dilalui' WHERE id = %s", (sid,)
            )
        thread = threading.Thread(target=build)
        thread.start()
        deadline = time.monotonic() + 30
        waiting = 0
        while time.monotonic() < deadline and not waiting:
            ((waiting,),) = query(
                url,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'",
            )
            time.sleep(0.05)
        assert waiting, "the build did not wait for the open road edit"
        editor.commit()
        thread.join(120)
        assert not thread.is_alive() and not errors, errors
    finally:
        editor.close()
    ((costs,),) = query(
        url,
        "SELECT ARRAY[cost_walk_s, cost_motorcycle_s, cost_car_s] FROM road_segment WHERE id = %s",
        (sid,),
    )
    assert costs == [None, None, None]
    assert not network_status(url)["stale"]


def test_cost_model_change_marks_the_cache_stale(own_db, monkeypatch):
    url = own_db
    build_network(url, progress=False)
    assert not network_status(url)["stale"]
    rows = (
        "FROM road_segment WHERE highway = 'service' AND maxspeed IS NULL "
        "AND length_m > 1 ORDER BY id"  # well above MIN_COST_S
    )
    before = query(url, f"SELECT id, cost_car_s {rows}")
    assert before
    # half the default service-road speed for cars: the hash of the cost model changes
    car = PROFILES["car"]
    half = car.speeds_kph | {"service": car.speeds_kph["service"] / 2}
    slower = dataclasses.replace(car, speeds_kph=half)
    old_hash = network.cost_model_hash()
    monkeypatch.setitem(network.PROFILES, "car", slower)
    assert network.cost_model_hash() != old_hash
    status = network_status(url)
    assert status["stale"] and status["model_changed"] and not status["built"]
    assert read_manifest(cache_root(url)) is None  # a cache of another model is not used
    # a new process's first query rebuilds with the current model
    routing.clear_routers()
    res = routing.nearest_facilities(60.1699, 24.9384, category="health", mode="car", url=url)
    assert res["results"]
    assert not network_status(url)["stale"]
    after = dict(query(url, f"SELECT id, cost_car_s {rows}"))
    for sid, cost in before:  # half the speed: twice the time (the NULLs stay NULL)
        assert after[sid] == (None if cost is None else pytest.approx(2 * cost, rel=1e-9))


def test_recreated_database_does_not_use_the_old_cache(server_url, template_db, monkeypatch):
    name = f"sigap_test_net_recreate_{os.getpid()}"
    url = routed_db(server_url, template_db, name, "osm/helsinki.osm.pbf")
    root = cache_root(url)
    hel_point = (60.1699, 24.9384)
    try:
        routing.clear_routers()
        assert routing.nearest_facilities(*hel_point, category="health", mode="car", url=url)[
            "results"
        ]
        old = read_manifest(root)
        # Same name, other data (Andorra); the Helsinki cache stays on disk under the same key.
        recreate_keeping_cache(server_url, url, name, template_db)
        ingest_osm_file(
            shared_file("osm/andorra.osm.pbf"), url, progress=False, refresh_network=False
        )
        assert read_manifest(root)["version"] == old["version"]
        status = network_status(url)
        assert status["stale"] and status["database_changed"]
        ((lat, lon),) = query(
            url,
            "SELECT ST_Y(ST_StartPoint(geom)), ST_X(ST_StartPoint(geom)) FROM road_segment "
            "WHERE highway = 'residential' ORDER BY id LIMIT 1",
        )
        # A running process: its background check (forced due now) replaces the cache; the
        # next query uses the new one.
        monkeypatch.setattr(router_cache, "RELOAD_CHECK_S", 0.0)
        monkeypatch.setattr(router_cache, "DB_CHECK_S", 0.0)
        routing.get_router(url)
        routing.join_checks()
        res = routing.nearest_facilities(lat, lon, category="health", mode="car", url=url)
        assert res["results"]
        new = read_manifest(root)
        assert new["stamps"]["database"] != old["stamps"]["database"]
        assert not network_status(url)["stale"]
        fac = res["results"][0]["facility"]
        (db_fac,) = query(
            url,
            "SELECT name, round(ST_Y(geom)::numeric, 7), round(ST_X(geom)::numeric, 7) "
            "FROM office WHERE id = %s",
            (fac["id"],),
        )
        assert db_fac[0] == fac["name"]
        assert (float(db_fac[1]), float(db_fac[2])) == pytest.approx((fac["lat"], fac["lon"]))
        ids = res["results"][0]["segment_ids"]
        ((found,),) = query(url, "SELECT count(*) FROM road_segment WHERE id = ANY(%s)", (ids,))
        assert found == len(set(ids))
        # A new process on a recreated database (Helsinki again, Andorra's cache on disk):
        # its first query checks and rebuilds before answering.
        recreate_keeping_cache(server_url, url, name, template_db)
        ingest_osm_file(shared_file("osm/helsinki.osm.pbf"), url, progress=False)
        routing.clear_routers()
        res = routing.nearest_facilities(*hel_point, category="health", mode="car", url=url)
        assert res["results"] and res["snapped"]["distance_m"] < 100
        assert not network_status(url)["stale"]
    finally:
        drop_routed_db(server_url, url, name)


def test_build_one_mode_then_a_query_builds_the_rest(own_db):
    url = own_db
    build_network(url, modes="walk", progress=False)
    counts = query(url, "SELECT count(cost_walk_s), count(cost_car_s) FROM road_segment")[0]
    assert counts[0] > 0 and counts[1] == 0
    assert list(read_manifest(cache_root(url))["modes"]) == ["walk"]
    res = routing.nearest_facilities(60.1699, 24.9384, category="health", mode="car", url=url)
    assert res["results"]
    assert set(read_manifest(cache_root(url))["modes"]) == {"walk", "car"}
    ((n,),) = query(url, "SELECT count(cost_car_s) FROM road_segment")
    assert n > 0


def _route_for(url: str, lat: float, lon: float, mode: str, category: str = "health") -> dict:
    routing.clear_routers()
    return routing.nearest_facilities(lat, lon, category=category, mode=mode, url=url)


def test_facility_change_refreshes_the_table(hel_mutable):
    url = hel_mutable
    ref = Reference(url, "walk")
    lat, lon = random_origins(ref, 1, 5)[0]
    before = _route_for(url, lat, lon, "walk", "fire")
    # A new fire station at the snapped point's segment end: now the nearest.
    node = ref.seg[before["snapped"]["segment_id"]][1]
    x, y = ref.coord[node]
    query(
        url,
        "INSERT INTO office (source, source_id, category, name, kind, geom) VALUES "
        "('test', 'new-fire', 'fire', 'Pos Damkar Baru', 'amenity=fire_station', "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
        (x, y),
    )
    status = network_status(url)
    assert status["facilities_changed"] and not status["roads_changed"]
    refresh_facilities(url, progress=False)
    assert not network_status(url)["stale"]
    after = _route_for(url, lat, lon, "walk", "fire")
    best = after["results"][0]
    assert best["facility"]["name"] == "Pos Damkar Baru"
    assert best["travel_time_s"] < before["results"][0]["travel_time_s"]
    assert best["facility_snap"]["distance_m"] < 0.5  # it stands on the road
    want = Reference(url, "walk").times_from(place_of(after["snapped"]), "fire")
    assert best["travel_time_s"] == pytest.approx(min(want.values()), abs=0.5)


def test_cli_build_and_ingest_refresh(own_db, monkeypatch):
    from click.testing import CliRunner

    from cli import main
    from gis.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", own_db)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(main, ["network", "build", "--no-progress"])
        assert result.exit_code == 0, result.output
        assert "walk, motorcycle, car" in result.output
        assert not network_status(own_db)["stale"]
        version = read_manifest(cache_root(own_db))["version"]
        # ingesting more data into a database with a built network refreshes it
        result = runner.invoke(
            main, ["ingest", "osm", str(shared_file("osm/krems.osm.gz")), "--no-progress"]
        )
        assert result.exit_code == 0, result.output
        assert "Routing network rebuilt" in result.output
        assert read_manifest(cache_root(own_db))["version"] != version
        assert not network_status(own_db)["stale"]
        result = runner.invoke(main, ["network", "build", "--mode", "bus"])
        assert result.exit_code == 2 and "bus" in result.output
    finally:
        get_settings.cache_clear()
