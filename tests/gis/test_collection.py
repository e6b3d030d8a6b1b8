"""Collection routes on Buahbatu with Bandung's own TPS list (tests/gis/collection_fixtures.py).

Legs are checked against an independent reference: networkx over ``road_segment.cost_truck_s``
read back from PostGIS, with both ends placed by PostGIS (tests/gis/reference.py).
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from gis import routing
from gis.collection import plan_collection
from gis.collection_demand import DEFAULT_FLEET, Fleet, fleet_from, read_fill_file
from gis.costs import PROFILES, PUBLIC_MODES, edge_costs
from gis.errors import InvalidInputError
from gis.network import build_network
from tests.conftest import query
from tests.gis.collection_fixtures import FOOTWAY_BIN, box_tps, write_fill
from tests.gis.reference import Reference


@pytest.fixture(scope="session")
def day_fill(buahbatu, tmp_path_factory):
    """A fill file for the 22 TPS in the box: a tenth of each one's daily inflow, at most 5 m³."""
    rows = box_tps(buahbatu)
    assert len(rows) == 22  # the data's README: 22 of the 154 lie inside the network's box
    path = tmp_path_factory.mktemp("fill") / "fill.csv"
    return write_fill(path, [(sid, round(min(5.0, m / 10), 2)) for _, sid, m in rows])


#: Largest |ours - reference| of a leg (seconds): both search between the same road points
#: (PostGIS places them in UTM, SIGAP in its local projection: centimetres apart).
AGREE_S = 0.05
FLEET = Fleet(trucks=2, capacity_m3=6.0, shift_h=4.0)


@pytest.fixture(scope="session")
def plan(buahbatu, day_fill):
    return plan_collection(
        buahbatu, fleet=FLEET, fill=read_fill_file(day_fill), time_limit_s=20, seed=7,
        no_improvement=300, progress=False,
    )  # fmt: skip


# --- the truck mode -----------------------------------------------------------------------


def test_truck_is_a_row_of_the_cost_table_not_offered_to_citizens():
    assert "truck" in PROFILES and "truck" not in PUBLIC_MODES
    hw = ["residential", "living_street", "footway", "track", "primary", "residential"]
    cond = ["baik", "baik", "baik", "baik", "baik", "rusak_berat"]
    length = np.full(6, 100.0)
    truck = edge_costs("truck", hw, [None] * 6, length, cond)
    car = edge_costs("car", hw, [None] * 6, length, cond)
    assert np.isnan(truck[1:4]).all() and not np.isnan(car[1]) and not np.isnan(car[3])
    assert truck[0] > car[0] and truck[4] > car[4]  # slower than a car
    # rusak berat costs a truck a larger multiple than a car
    assert truck[5] / truck[0] > car[5] / car[0]
    closed = edge_costs("truck", ["primary"], [None], np.array([50.0]), ["tidak_dapat_dilalui"])
    assert np.isnan(closed).all()


def test_footway_lane_is_walkable_but_not_drivable_by_truck(buahbatu):
    ((walk, truck),) = query(
        buahbatu, "SELECT cost_walk_s, cost_truck_s FROM road_segment WHERE source_id='footway'"
    )
    assert walk is not None and truck is None


# --- a valid plan ---------------------------------------------------------------------------


def test_every_stop_served_once_or_reported(plan, buahbatu):
    demand = {sid: min(5.0, round(m / 10, 2)) for _, sid, m in box_tps(buahbatu)}
    collected: dict[str, float] = {}
    for truck in plan["trucks"]:
        for v in truck["visits"]:
            if v["kind"] == "stop":
                collected[v["source_id"]] = collected.get(v["source_id"], 0) + v["volume_m3"]
    missing = {u["source_id"]: u["volume_m3"] for u in plan["unserved"]}
    for sid, want in demand.items():
        got = collected.get(sid, 0.0) + missing.get(sid, 0.0)
        assert got == pytest.approx(want, abs=1e-6), sid
    assert set(collected) <= set(demand)  # only the day's stops
    assert plan["totals"]["stops"] == 22
    # no stop visited twice (each is below the capacity: one load)
    for truck in plan["trucks"]:
        ids = [v["id"] for v in truck["visits"] if v["kind"] == "stop"]
        assert len(ids) == len(set(ids))
    assert plan["totals"]["stops_served"] >= 10


def test_load_never_over_capacity_and_shift_respected(plan):
    for truck in plan["trucks"]:
        if not truck["visits"]:
            continue
        load = 0.0
        for v in truck["visits"]:
            if v["kind"] == "stop":
                load += v["volume_m3"]
            elif v["kind"] == "unload":
                assert v["unloaded_m3"] == pytest.approx(load)
                load = 0.0
            assert v["load_m3"] == pytest.approx(load, abs=1e-6)
            assert load <= FLEET.capacity_m3 + 1e-9
        assert truck["visits"][0]["kind"] == truck["visits"][-1]["kind"] == "depot"
        assert truck["visits"][-2]["kind"] == "unload"  # the last trip is unloaded
        assert truck["shift_used_s"] <= FLEET.shift_s + 1e-6


def test_times_and_totals_are_sums_of_the_legs(plan):
    for truck in plan["trucks"]:
        visits, legs = truck["visits"], truck["legs"]
        if not visits:
            continue
        assert len(legs) == len(visits) - 1
        for leg in legs:
            a, b = visits[leg["from"]], visits[leg["to"]]
            assert b["arrival_s"] == pytest.approx(a["departure_s"] + leg["time_s"], abs=1e-3)
        assert truck["drive_time_s"] == pytest.approx(sum(x["time_s"] for x in legs))
        assert truck["distance_m"] == pytest.approx(sum(x["distance_m"] for x in legs), abs=0.05)
        vol = sum(v.get("volume_m3", 0) for v in visits if v["kind"] == "stop")
        assert truck["volume_m3"] == pytest.approx(vol)
        assert len(truck["route"]["coordinates"]) == len(legs)
    t = plan["totals"]
    assert t["drive_time_s"] == pytest.approx(sum(x["drive_time_s"] for x in plan["trucks"]))
    assert t["volume_m3"] == pytest.approx(sum(x["volume_m3"] for x in plan["trucks"]))


def _ref_places(ref: Reference, lon: float, lat: float, sigap_segment: int):
    (p,) = ref.place([(lon, lat)])
    assert p is not None
    second = ref.second_place(p, lon, lat)
    if sigap_segment not in (p.segment_id, getattr(second, "segment_id", None)):
        p = ref.settle_tie(p, sigap_segment, lon, lat)  # an exact tie, broken differently
    return [p] + ([second] if second else [])


def _ref_time(ref: Reference, a: list, b: list) -> float:
    g = ref.graph
    try:
        for p in a:
            for node, cost in ref.exits(p):
                ref._add(g, "O", node, cost)
        for q in b:
            for node, cost in ref.entries(q):
                ref._add(g, node, "T", cost)
        for p in a:
            for q in b:
                if p.segment_id == q.segment_id:
                    direct = ref.along(p.segment_id, p.fraction, q.fraction)
                    if math.isfinite(direct):
                        ref._add(g, "O", "T", direct)
        return nx.dijkstra_path_length(g, "O", "T", weight="weight")
    finally:
        for n in ("O", "T"):
            if n in g:
                g.remove_node(n)


def test_every_leg_is_the_routing_engines_time(plan, buahbatu):
    ref = Reference(buahbatu, "truck")
    checked = 0
    for truck in plan["trucks"]:
        visits, route = truck["visits"], truck["route"]["coordinates"]
        for k, leg in enumerate(truck["legs"]):
            a, b = visits[leg["from"]], visits[leg["to"]]
            if (a["lon"], a["lat"]) == (b["lon"], b["lat"]):
                assert leg["time_s"] == 0
                continue
            ids, line = leg["segment_ids"], route[k]
            # PostGIS places the leg's two road points (where the truck stops) on their
            # segments: the reference then searches its own graph between them
            want = _ref_time(
                ref,
                _ref_places(ref, *line[0], ids[0]),
                _ref_places(ref, *line[-1], ids[-1]),
            )
            assert leg["time_s"] == pytest.approx(want, abs=AGREE_S)
            # the geometry runs from road point to road point along the segments it names
            assert leg["segment_ids"][0] in ref.seg and leg["segment_ids"][-1] in ref.seg
            checked += 1
    assert checked >= 10


def test_same_inputs_and_seed_give_the_same_plan(plan, buahbatu, day_fill):
    again = plan_collection(
        buahbatu, fleet=FLEET, fill=read_fill_file(day_fill), time_limit_s=20, seed=7,
        no_improvement=300, progress=False,
    )  # fmt: skip
    assert plan["solver"]["stopped_by"] == "no_improvement"
    key = [[(v["kind"], v["id"]) for v in t["visits"]] for t in plan["trucks"]]
    assert key == [[(v["kind"], v["id"]) for v in t["visits"]] for t in again["trucks"]]


# --- unserved stops -----------------------------------------------------------------------


def test_footway_stop_is_unserved_with_its_reason(buahbatu):
    p = plan_collection(buahbatu, fleet=FLEET, time_limit_s=5, no_improvement=50, progress=False)
    (gang,) = [u for u in p["unserved"] if u["name"] == FOOTWAY_BIN]
    assert gang["reason"] == "no_truck_road"
    assert "truck" in gang["message"] and "m away" in gang["message"]
    served = {v["id"] for t in p["trucks"] for v in t["visits"] if v["kind"] == "stop"}
    assert gang["stop_id"] not in served
    # Bandung's TPS outside the box are reported too, never dropped silently
    assert p["totals"]["stops"] == 155
    assert p["totals"]["stops_unserved"] + p["totals"]["stops_served"] >= 155


def test_closing_a_road_on_a_route_changes_the_plan(plan, buahbatu, day_fill):
    legs = [leg for t in plan["trucks"] for leg in t["legs"] if len(leg["segment_ids"]) > 4]
    leg = max(legs, key=lambda x: len(x["segment_ids"]))
    closed = leg["segment_ids"][len(leg["segment_ids"]) // 2]
    (before,) = query(buahbatu, "SELECT condition FROM road_segment WHERE id = %s", (closed,))
    query(
        buahbatu,
        "UPDATE road_segment SET condition = 'tidak_dapat_dilalui' WHERE id = %s",
        (closed,),
    )
    try:
        build_network(buahbatu, progress=False)
        routing.clear_routers()
        after = plan_collection(
            buahbatu, fleet=FLEET, fill=read_fill_file(day_fill), time_limit_s=20, seed=7,
            no_improvement=300, progress=False,
        )  # fmt: skip
    finally:
        query(buahbatu, "UPDATE road_segment SET condition = %s WHERE id = %s", (before[0], closed))
        build_network(buahbatu, progress=False)
        routing.clear_routers()
    used = {s for t in after["trucks"] for x in t["legs"] for s in x["segment_ids"]}
    assert closed not in used
    assert after["totals"]["drive_time_s"] != plan["totals"]["drive_time_s"]


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "param"),
    [
        ({"trucks": 0}, "trucks"),
        ({"trucks": "two"}, "trucks"),
        ({"capacity_m3": 0}, "capacity_m3"),
        ({"capacity_m3": -3}, "capacity_m3"),
        ({"shift_h": 30}, "shift_h"),
        ({"start_time": "25:00"}, "start_time"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_fleet_settings_name_the_parameter(values, param):
    with pytest.raises(InvalidInputError) as err:
        fleet_from(values)
    assert err.value.param == param and param in str(err.value)


def test_fleet_defaults_are_the_documented_ones():
    assert (DEFAULT_FLEET.capacity_m3, DEFAULT_FLEET.shift_h) == (6.0, 8.0)
    assert fleet_from({"trucks": "4", "capacity_m3": "8"}) == Fleet(trucks=4, capacity_m3=8.0)


def test_fill_file_with_unknown_ids_lists_them(buahbatu, tmp_path):
    path = write_fill(tmp_path / "f.csv", [("TU001", 2), ("NOPE1", 1), ("NOPE2", 3)])
    with pytest.raises(InvalidInputError) as err:
        plan_collection(buahbatu, fleet=FLEET, fill=read_fill_file(path), progress=False)
    assert "NOPE1" in str(err.value) and "NOPE2" in str(err.value)
    assert "TU001" not in str(err.value)


def test_fill_file_bad_value_names_file_row_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,fill_level\nTU001,0.5\nTU002,1.7\n")
    with pytest.raises(InvalidInputError) as err:
        read_fill_file(path)
    assert str(path) in str(err.value) and "row 2" in str(err.value)
    assert "fill_level" in str(err.value)


def test_depot_off_the_truck_network_is_refused(buahbatu):
    query(
        buahbatu,
        "INSERT INTO depot (source, source_id, name, geom) VALUES ('test', 'far', 'Jauh', "
        "ST_SetSRID(ST_MakePoint(107.70, -6.90), 4326))",
    )
    try:
        (far,) = query(buahbatu, "SELECT id FROM depot WHERE source_id = 'far'")
        fleet = Fleet(trucks=1, depot_id=far[0])
        with pytest.raises(InvalidInputError) as err:
            plan_collection(buahbatu, fleet=fleet, progress=False)
        assert err.value.param == "depot_id" and "truck" in str(err.value)
    finally:
        query(buahbatu, "DELETE FROM depot WHERE source_id = 'far'")


def test_matrix_search_bound_changes_no_entry(buahbatu):
    from scipy.sparse.csgraph import dijkstra

    from gis.collection_matrix import travel_matrix

    g = routing.get_router(buahbatu).mode_graph("truck")
    rng = np.random.default_rng(3)
    pts = rng.uniform([107.640, -6.970], [107.670, -6.930], (40, 2))
    m = travel_matrix(g, pts, progress=False)
    n, size = g.n_nodes, len(pts)
    full = dijkstra(m._augmented_graph(), directed=True, indices=n + np.arange(size))
    full = full[:, n + size :]
    np.fill_diagonal(full, 0.0)
    on = np.flatnonzero(m.on_network())
    assert len(on) > 30
    got, want = m.time_s[np.ix_(on, on)], full[np.ix_(on, on)]
    assert np.array_equal(np.isinf(got), np.isinf(want))
    assert np.allclose(got[np.isfinite(got)], want[np.isfinite(want)])
