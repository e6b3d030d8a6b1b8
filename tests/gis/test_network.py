"""Network build: costs per mode, write-back to PostGIS, the memory-mapped cache, staleness.

Expected values come from the cost model as the issue and :mod:`gis.network`'s docstring state
it (class speeds, maxspeed, one-way, condition factors), recomputed here row by row, and from
networkx over the columns read back from PostGIS.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
import time

import networkx as nx
import numpy as np
import psycopg2
import pytest
from psycopg2 import sql

from gis import network, routing
from gis.db import libpq_url
from gis.network import (
    CONDITION_FACTORS,
    MODES,
    PROFILES,
    build_network,
    cache_root,
    database_key,
    edge_costs,
    load_network,
    network_status,
    parse_maxspeed_kph,
    read_manifest,
    rebuild_if_stale,
)
from ingest.osm import ingest_osm_file
from tests.conftest import shared_file
from tests.gis.helpers import drop_routed_db, query, recreate_keeping_cache, routed_db


def _new_db(server_url, template_db, name, pbf="osm/helsinki.osm.pbf"):
    return routed_db(server_url, template_db, name, pbf, build=False)


@pytest.fixture(scope="module")
def built(server_url, template_db):
    """Helsinki, ingested and built with every mode; not modified by its users."""
    name = f"sigap_test_net_{os.getpid()}"
    url = _new_db(server_url, template_db, name)
    build_network(url, progress=False)
    yield url
    drop_routed_db(server_url, url, name)


@pytest.fixture
def own_db(server_url, template_db):
    """A Helsinki database the test may change; nothing built yet."""
    name = f"sigap_test_net_own_{os.getpid()}"
    url = _new_db(server_url, template_db, name)
    yield url
    drop_routed_db(server_url, url, name)


# --- the cost model -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kph"),
    [
        ("50", 50.0),
        ("30 mph", 30 * 1.609344),
        ("50;30", 30.0),
        ("80 km/h", 80.0),
        ("walk", 6.0),
        ("RU:urban", None),
        ("none", None),
        ("signals", None),
        ("0", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_maxspeed(raw, kph):
    got = parse_maxspeed_kph(raw)
    assert got == (None if kph is None else pytest.approx(kph))


def test_mode_access_and_conditions():
    highway = ["footway", "path", "steps", "motorway", "residential", "residential", "residential"]
    maxspeed = [None] * 7
    condition = ["baik"] * 5 + ["rusak_berat", "tidak_dapat_dilalui"]
    length = np.full(7, 100.0)
    walk, moto, car = (edge_costs(m, highway, maxspeed, length, condition) for m in MODES)
    # footway and steps: walking only; path: walking and motorcycle (gang), not cars
    assert not math.isnan(walk[0]) and math.isnan(moto[0]) and math.isnan(car[0])
    assert not math.isnan(walk[1]) and not math.isnan(moto[1]) and math.isnan(car[1])
    assert not math.isnan(walk[2]) and math.isnan(moto[2]) and math.isnan(car[2])
    assert walk[2] > walk[0]  # steps are slower than a footway
    # motorways: cars only (motorcycles are banned from Indonesian toll roads)
    assert math.isnan(walk[3]) and math.isnan(moto[3]) and not math.isnan(car[3])
    # rusak berat is much slower; tidak dapat dilalui is gone for every mode
    assert car[5] >= 2 * car[4] and moto[5] >= 2 * moto[4] and walk[5] > walk[4]
    assert all(math.isnan(c[6]) for c in (walk, moto, car))
    # walking: 100 m at the documented walking speed
    assert walk[0] == pytest.approx(100 / (PROFILES["walk"].speeds_kph["footway"] / 3.6))


def test_maxspeed_is_used_and_capped_for_vehicles_not_walking():
    highway = ["primary", "primary", "primary"]
    maxspeed = ["80", "300", None]
    length = np.full(3, 1000.0)
    cond = ["baik"] * 3
    car = edge_costs("car", highway, maxspeed, length, cond)
    assert car[0] == pytest.approx(1000 / (80 / 3.6))
    assert car[1] == pytest.approx(1000 / (PROFILES["car"].max_speed_kph / 3.6))
    assert car[2] == pytest.approx(1000 / (PROFILES["car"].speeds_kph["primary"] / 3.6))
    walk = edge_costs("walk", highway, maxspeed, length, cond)
    assert walk[0] == walk[1] == walk[2]


def _expected_cost(mode, highway, maxspeed, length_m, condition):
    """The documented cost model, restated row by row."""
    p = PROFILES[mode]
    if highway not in p.speeds_kph:
        return None
    factor = CONDITION_FACTORS[mode].get(condition, 1.0)
    if factor is None:
        return None
    speed = p.speeds_kph[highway]
    if p.use_maxspeed and parse_maxspeed_kph(maxspeed):
        speed = parse_maxspeed_kph(maxspeed)
    speed = min(speed, p.max_speed_kph)
    return max(length_m / (speed / 3.6) / factor, 0.001)


def test_costs_written_back_follow_the_model(built):
    rows = query(
        built,
        "SELECT highway, maxspeed, length_m, condition, oneway, cost_walk_s, cost_motorcycle_s, "
        "cost_car_s FROM road_segment",
    )
    assert len(rows) == 4671
    for highway, maxspeed, length, condition, _, *costs in rows:
        for mode, got in zip(MODES, costs, strict=True):
            want = _expected_cost(mode, highway, maxspeed, length, condition)
            if want is None:
                assert got is None, (mode, highway, condition)
            else:
                assert got == pytest.approx(want, rel=1e-9), (mode, highway, maxspeed)
    counts = query(
        built,
        "SELECT count(cost_walk_s), count(cost_motorcycle_s), count(cost_car_s), "
        "count(*) FILTER (WHERE highway = 'footway' AND cost_car_s IS NOT NULL) "
        "FROM road_segment",
    )[0]
    assert counts[0] > counts[1] > counts[2] > 0 and counts[3] == 0


# --- the cached arrays ----------------------------------------------------------------------


def _db_edges(url: str, mode: str) -> dict[tuple[int, int], float]:
    """Directed edges of a mode from the database columns: (u, v) -> cheapest cost."""
    rows = query(
        url,
        sql.SQL("SELECT u, v, oneway, {} FROM road_segment WHERE {} IS NOT NULL").format(
            sql.Identifier(f"cost_{mode}_s"), sql.Identifier(f"cost_{mode}_s")
        ),
    )
    out: dict[tuple[int, int], float] = {}
    for u, v, oneway, cost in rows:
        if u == v:
            continue
        pairs = [(u, v)] if (oneway and mode != "walk") else [(u, v), (v, u)]
        for pair in pairs:
            out[pair] = min(out.get(pair, math.inf), cost)
    return out


@pytest.mark.parametrize("mode", MODES)
def test_adjacency_equals_the_database_edges(built, mode):
    net = load_network(cache_root(built))
    a = net.arrays
    osm = a["node_osm_id"]
    indptr, indices, weight = a[f"{mode}.indptr"], a[f"{mode}.indices"], a[f"{mode}.weight"]
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    ours = {
        (int(osm[r]), int(osm[c])): float(w) for r, c, w in zip(rows, indices, weight, strict=True)
    }
    want = _db_edges(built, mode)
    assert ours.keys() == want.keys()
    assert all(ours[k] == pytest.approx(want[k], rel=1e-12) for k in want)
    # segment codes point at a segment joining the same nodes, in the travelled direction
    code = a[f"{mode}.edge"]
    e = np.where(code >= 0, code, ~code)
    tail = np.where(code >= 0, a["edge_u"][e], a["edge_v"][e])
    head = np.where(code >= 0, a["edge_v"][e], a["edge_u"][e])
    assert np.array_equal(tail, rows) and np.array_equal(head, indices)


@pytest.mark.parametrize("mode", MODES)
def test_nearest_table_equals_networkx_multi_source(built, mode):
    net = load_network(cache_root(built))
    a = net.arrays
    osm = a["node_osm_id"]
    graph = nx.DiGraph()
    for (u, v), w in _db_edges(built, mode).items():
        graph.add_edge(u, v, weight=w)
    fac_osm = {int(osm[n]) for n in a[f"{mode}.health.fac_node"] if n >= 0}
    dist = nx.multi_source_dijkstra_path_length(graph.reverse(copy=False), fac_osm)
    table = a[f"{mode}.health.dist"]
    finite = np.flatnonzero(np.isfinite(table))
    assert {int(osm[i]) for i in finite} == {n for n in dist if n in set(osm.tolist())}
    for i in finite:
        assert table[i] == pytest.approx(dist[int(osm[i])], rel=1e-6)  # stored as float32
    # facilities sit on the largest strongly connected component of the mode
    main = max(nx.strongly_connected_components(graph), key=len)
    assert fac_osm <= main


def test_cache_is_memory_mapped_and_keyed_by_database(built, server_url):
    root = cache_root(built)
    manifest = read_manifest(root)
    assert manifest and set(manifest["modes"]) == set(MODES)
    assert (root / manifest["version"] / "car.indptr.npy").is_file()
    net = load_network(root)
    indptr = net.arrays["car.indptr"]
    assert not indptr.flags.writeable  # a read-only map shared by every process
    assert isinstance(indptr.base, np.memmap) or type(indptr.base).__name__ == "mmap"
    weight = net.arrays["car.weight"]
    original = float(weight[0])
    weight[0] = original + 1.0  # copy-on-write: private to this process
    again = load_network(root, writable_weights=False)
    assert float(again.arrays["car.weight"][0]) == original
    # keys: one cache per database, never shared, no credentials in the path
    other = built.rsplit("/", 1)[0] + "/some_other_db"
    assert database_key(other) != database_key(built)
    with_password = built.replace("postgres@", "postgres:s3cret@")
    assert database_key(with_password) == database_key(built)
    assert "s3cret" not in str(cache_root(with_password))


# --- staleness and rebuilds -----------------------------------------------------------------


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
    res = routing.nearest(60.1699, 24.9384, category="health", mode="car", url=url)
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
        assert routing.nearest(*hel_point, category="health", mode="car", url=url)["results"]
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
        monkeypatch.setattr(routing, "RELOAD_CHECK_S", 0.0)
        monkeypatch.setattr(routing, "DB_CHECK_S", 0.0)
        routing.get_router(url)
        routing.join_checks()
        res = routing.nearest(lat, lon, category="health", mode="car", url=url)
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
        res = routing.nearest(*hel_point, category="health", mode="car", url=url)
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
    res = routing.nearest(60.1699, 24.9384, category="health", mode="car", url=url)
    assert res["results"]
    assert set(read_manifest(cache_root(url))["modes"]) == {"walk", "car"}
    ((n,),) = query(url, "SELECT count(cost_car_s) FROM road_segment")
    assert n > 0


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
