"""Road reports change road conditions: set and restore (migration 0006's functions), exact
restores of overlapping changes, newer inspections kept, roles, costs, and routers that follow
the changes without a rebuild."""

from __future__ import annotations

import itertools
import math
import os
import threading
import time

import psycopg2.errors
import pytest
from sqlalchemy.engine import make_url

from gis import network_keeper, routing
from gis.costs import edge_costs
from gis.errors import InvalidInputError, NotFoundError
from gis.network import (
    cache_root,
    network_status,
    read_manifest,
    restore_road_condition,
    set_road_condition,
)
from gis.network_data import transaction
from gis.road_conditions import (
    ConditionListener,
    NotAllowedError,
    condition_seq,
    write_segment_costs,
)
from tests.gis.helpers import check_route, drop_routed_db, query, random_origins, routed_db
from tests.gis.reference import Reference, place_of

#: The issue's bound: a road report shows in routes within this many seconds.
LIVE_S = 2.0


def _as(url: str, role: str) -> str:
    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def roads(server_url, template_db):
    """Helsinki with its network built, changed by the tests of this module (each one puts
    back what it changed)."""
    name = f"sigap_test_roadcond_{os.getpid()}"
    url = routed_db(server_url, template_db, name, "osm/helsinki.osm.pbf")
    yield url
    drop_routed_db(server_url, url, name)


@pytest.fixture
def staff(roads):
    return _as(roads, "sigap_staff")


def _state(url: str, sid: int) -> tuple[str, str]:
    ((condition, source),) = query(
        url, "SELECT condition, condition_source FROM road_segment WHERE id = %s", (sid,)
    )
    return condition, source


def _segments(url: str, n: int, offset: int = 0) -> list[int]:
    rows = query(
        url,
        "SELECT id FROM road_segment WHERE highway = 'residential' ORDER BY id LIMIT %s OFFSET %s",
        (n, offset),
    )
    return [sid for (sid,) in rows]


def test_set_then_restore_puts_the_road_back(roads, staff):
    a, b = _segments(roads, 2)
    before = {sid: _state(roads, sid) for sid in (a, b)}
    change = set_road_condition(
        staff, [b, a, a], "rusak_berat", source="laporan", note="K-7F3A: lubang besar"
    )
    assert _state(roads, a) == _state(roads, b) == ("rusak_berat", "laporan")
    rows = query(
        roads,
        "SELECT segment_id, previous_condition, previous_source, state FROM "
        "road_condition_change_segment WHERE change_id = %s ORDER BY segment_id",
        (change,),
    )
    assert rows == [(sid, *before[sid], "active") for sid in sorted((a, b))]
    ((note, by),) = query(
        roads, "SELECT note, created_by FROM road_condition_change WHERE id = %s", (change,)
    )
    assert note == "K-7F3A: lubang besar" and by == "sigap_staff"
    restore_road_condition(staff, change)
    assert {sid: _state(roads, sid) for sid in (a, b)} == before
    ((restored_by,),) = query(
        roads, "SELECT restored_by FROM road_condition_change WHERE id = %s", (change,)
    )
    assert restored_by == "sigap_staff"
    restore_road_condition(staff, change)  # again: nothing to do
    assert {sid: _state(roads, sid) for sid in (a, b)} == before


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_overlapping_changes_restore_exactly_in_any_order(roads, staff, order):
    """Three changes on one segment (and others on neighbours); whatever order they are
    restored in, the segment shows the newest change still active, and at the end exactly
    what it had before."""
    s, t, w = _segments(roads, 3, offset=10)
    before = {sid: _state(roads, sid) for sid in (s, t, w)}
    plan = [([s], "rusak_ringan"), ([s, t], "rusak_berat"), ([s, w], "tidak_dapat_dilalui")]
    changes = [
        set_road_condition(staff, ids, c, source=f"laporan-{i}") for i, (ids, c) in enumerate(plan)
    ]
    active = [True, True, True]
    for k in order:
        restore_road_condition(staff, changes[k])
        active[k] = False
        for sid in (s, t, w):
            newest = [i for i in range(3) if active[i] and sid in plan[i][0]]
            want = (plan[newest[-1]][1], f"laporan-{newest[-1]}") if newest else before[sid]
            assert _state(roads, sid) == want, (order, k, sid)


def test_a_newer_field_inspection_is_not_clobbered_by_a_restore(roads, staff):
    s, t = _segments(roads, 2, offset=20)
    before_t = _state(roads, t)
    first = set_road_condition(staff, [s, t], "rusak_berat", source="laporan")
    # a field inspection of s, loaded later by the owner (ingest)
    query(
        roads,
        "UPDATE road_segment SET condition = 'sedang', condition_source = 'inspeksi', "
        "inspected_at = now() WHERE id = %s",
        (s,),
    )
    second = set_road_condition(staff, [s], "tidak_dapat_dilalui", source="banjir")
    restore_road_condition(staff, second)
    assert _state(roads, s) == ("sedang", "inspeksi")  # back to the inspection, not before it
    restore_road_condition(staff, first)
    assert _state(roads, s) == ("sedang", "inspeksi")
    assert _state(roads, t) == before_t  # the other segment of the change is restored
    states = dict(
        query(
            roads,
            "SELECT change_id, state FROM road_condition_change_segment WHERE segment_id = %s",
            (s,),
        )
    )
    assert states == {first: "superseded", second: "restored"}
    # and an inspection after the newest change: the restore leaves it too
    third = set_road_condition(staff, [s], "rusak_ringan", source="laporan")
    query(
        roads,
        "UPDATE road_segment SET condition = 'baik', condition_source = 'inspeksi', "
        "inspected_at = now() WHERE id = %s",
        (s,),
    )
    restore_road_condition(staff, third)
    assert _state(roads, s) == ("baik", "inspeksi")
    query(  # put the OSM condition back for the other tests
        roads,
        "UPDATE road_segment SET condition = 'unknown', condition_source = 'osm', "
        "inspected_at = NULL WHERE id = %s",
        (s,),
    )


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "param"),
    [
        (([1], "rusak"), {"source": "laporan"}, InvalidInputError, "condition"),
        (([1], "unknown"), {"source": "laporan"}, InvalidInputError, "condition"),
        (([1], "rusak_berat"), {"source": ""}, InvalidInputError, "source"),
        (([1], "rusak_berat"), {"source": "osm"}, InvalidInputError, "source"),
        (([1], "rusak_berat"), {"source": "x" * 25}, InvalidInputError, "source"),
        (([1], "rusak_berat"), {"source": "a", "note": "x" * 4001}, InvalidInputError, "note"),
        (([], "rusak_berat"), {"source": "laporan"}, InvalidInputError, "segment_ids"),
        ((["1"], "rusak_berat"), {"source": "laporan"}, InvalidInputError, "segment_ids"),
        ((1, "rusak_berat"), {"source": "laporan"}, InvalidInputError, "segment_ids"),
        (([1, 987654321, 987654320], "baik"), {"source": "laporan"}, NotFoundError, "segment_ids"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(roads, staff, args, kwargs, error, param):
    before = query(roads, "SELECT count(*) FROM road_condition_change")
    state = _state(roads, 1)
    with pytest.raises(error) as info:
        set_road_condition(staff, *args, **kwargs)
    assert info.value.param == param
    if error is NotFoundError:
        assert "987654320, 987654321" in info.value.message
    assert query(roads, "SELECT count(*) FROM road_condition_change") == before
    assert _state(roads, 1) == state


def test_restoring_an_unknown_change_is_not_found(roads, staff):
    with pytest.raises(NotFoundError, match="No road condition change with id 987654"):
        restore_road_condition(staff, 987654)
    with pytest.raises(InvalidInputError):
        restore_road_condition(staff, "1")  # type: ignore[arg-type]


def test_only_staff_change_conditions_and_only_through_the_functions(roads, staff):
    web = _as(roads, "sigap_web")
    (sid,) = _segments(roads, 1, offset=30)
    with pytest.raises(NotAllowedError):
        set_road_condition(web, [sid], "rusak_berat", source="laporan")
    for statement in (
        "UPDATE road_segment SET condition = 'baik' WHERE id = 1",
        "INSERT INTO road_condition_change (condition, source, created_by) "
        "VALUES ('baik', 'x', 'x')",
        "UPDATE road_condition_change_segment SET state = 'restored'",
    ):
        for url in (web, staff):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                query(url, statement)
    # the web role reads which segments changed (its routers follow them), not the notes
    assert query(web, "SELECT count(*) FROM road_condition_change_segment")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        query(web, "SELECT note FROM road_condition_change")
    change = set_road_condition(staff, [sid], "rusak_berat", source="laporan")
    with pytest.raises(NotAllowedError):
        restore_road_condition(web, change)
    restore_road_condition(staff, change)


def test_a_change_is_notified_and_its_costs_written_by_the_owner(roads, staff):
    (sid,) = _segments(roads, 1, offset=40)
    ((highway, maxspeed, length, old_car),) = query(
        roads,
        "SELECT highway, maxspeed, length_m, cost_car_s FROM road_segment WHERE id = %s",
        (sid,),
    )
    listener = ConditionListener(_as(roads, "sigap_web"))
    try:
        assert listener.poll() is True  # just connected: "maybe missed something"
        assert listener.poll() is False
        with transaction(roads) as cur:
            seq = condition_seq(cur)
        change = set_road_condition(staff, [sid], "rusak_berat", source="laporan")
        deadline = time.monotonic() + 5
        while not listener.poll():
            assert time.monotonic() < deadline, "no notification"
            time.sleep(0.02)
        assert write_segment_costs(roads, seq) > seq
        ((car, walk),) = query(
            roads, "SELECT cost_car_s, cost_walk_s FROM road_segment WHERE id = %s", (sid,)
        )
        want = edge_costs("car", [highway], [maxspeed], [length], ["rusak_berat"])[0]
        assert car == pytest.approx(want) and car > old_car
        assert walk == pytest.approx(
            edge_costs("walk", [highway], [maxspeed], [length], ["rusak_berat"])[0]
        )
        with transaction(roads) as cur:
            seq = condition_seq(cur)
        set_road_condition(staff, [sid], "tidak_dapat_dilalui", source="banjir")
        write_segment_costs(roads, seq)
        assert query(roads, "SELECT cost_car_s FROM road_segment WHERE id = %s", (sid,)) == [
            (None,)
        ]
    finally:
        listener.close()
    restore_road_condition(staff, change + 1)  # the second change of this test
    restore_road_condition(staff, change)
    write_segment_costs(roads, 0)
    assert query(roads, "SELECT cost_car_s FROM road_segment WHERE id = %s", (sid,)) == [
        (pytest.approx(old_car),)
    ]


def _best(url: str, lat: float, lon: float) -> dict:
    return routing.nearest_facilities(lat, lon, category="health", mode="car", url=url)


def _wait_for(predicate, timeout_s: float, what: str) -> float:
    t0 = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout_s:
            pytest.fail(f"not within {timeout_s} s: {what}")
        time.sleep(0.02)


def test_a_router_follows_changes_without_a_rebuild(roads, staff):
    """In this process, as the web role: a segment of the best car route is closed, the
    router routes around it within 2 s (no rebuild: the cache version stays), in the time
    networkx gives on the cost columns the owner wrote; restored, the old route is back."""
    web = _as(roads, "sigap_web")
    routing.clear_routers()
    ref = Reference(roads, "car")
    for lat, lon in random_origins(ref, 30, 5):
        before = _best(web, lat, lon)
        if before["results"] and len(before["results"][0]["segment_ids"]) >= 5:
            break
    else:
        pytest.fail("no car route of five or more segments in Helsinki")
    version = routing.get_router(web).net.version
    ids = before["results"][0]["segment_ids"]
    origin = place_of(before["snapped"])
    ends = {ids[0], ids[-1]}
    cut = next(
        s
        for s in ids[1:-1]
        if s not in ends
        and min(ref.closed([s]).times_from(origin, "health").values(), default=math.inf) < math.inf
    )
    with transaction(roads) as cur:
        seq = condition_seq(cur)
    change = set_road_condition(staff, [cut], "tidak_dapat_dilalui", source="laporan")
    took = _wait_for(
        lambda: cut not in _best(web, lat, lon)["results"][0]["segment_ids"],
        LIVE_S,
        "the route avoids the closed segment",
    )
    assert routing.get_router(web).net.version == version  # no rebuild was needed
    write_segment_costs(roads, seq)  # what the owner's keeper does
    after = _best(web, lat, lon)
    closed = Reference(roads, "car")
    assert closed.seg[cut][3] is None
    place = closed.settle_tie(place_of(after["snapped"]), after["snapped"]["segment_id"], lon, lat)
    assert after["results"][0]["travel_time_s"] == pytest.approx(
        min(closed.times_from(place, "health").values()), abs=0.5
    )
    check_route(closed, after["results"][0], after["snapped"])
    restore_road_condition(staff, change)
    _wait_for(
        lambda: _best(web, lat, lon)["results"][0]["segment_ids"] == ids,
        LIVE_S,
        "the old route is back",
    )
    assert _best(web, lat, lon)["results"][0]["travel_time_s"] == pytest.approx(
        before["results"][0]["travel_time_s"], abs=1e-3
    )
    print(f"road report to route, in process: {took * 1e3:.0f} ms")
    write_segment_costs(roads, 0)
    routing.clear_routers()


def test_the_keeper_writes_costs_and_rebuilds_in_the_background(roads, staff, monkeypatch):
    monkeypatch.setattr(network_keeper, "REBUILD_DELAY_S", 0.2)
    root = cache_root(roads)
    (sid,) = _segments(roads, 1, offset=50)
    stop = threading.Event()
    keeper = threading.Thread(
        target=network_keeper.keep_network_current, args=(roads, stop), daemon=True
    )
    keeper.start()
    try:
        time.sleep(0.5)  # listening
        version = read_manifest(root)["version"]
        change = set_road_condition(staff, [sid], "tidak_dapat_dilalui", source="banjir")
        _wait_for(
            lambda: (
                query(roads, "SELECT cost_car_s FROM road_segment WHERE id = %s", (sid,))
                == [(None,)]
            ),
            5.0,
            "the keeper writes the costs",
        )
        _wait_for(
            lambda: (
                read_manifest(root)["version"] != version and not network_status(roads)["stale"]
            ),
            60.0,
            "the keeper rebuilds the cache",
        )
        with transaction(roads) as cur:
            assert read_manifest(root)["condition_seq"] == condition_seq(cur)
        restore_road_condition(staff, change)
        _wait_for(
            lambda: (
                query(roads, "SELECT cost_car_s FROM road_segment WHERE id = %s", (sid,))
                != [(None,)]
            ),
            5.0,
            "the keeper writes the costs back",
        )
    finally:
        stop.set()
        keeper.join(30)
    assert not keeper.is_alive()
