"""Collection routes: the travel-time matrix, the 154-TPS plan, a baseline and a second solver.

Network: the synthetic road-like grid of :func:`bench.routing.synthetic` (~100k nodes, 100 m
blocks, arterials, one-way streets, mixed road conditions), moved to be centred on Bandung's
TPS, so that all 154 TPS of the city's list (``indonesia/bandung_tps_2016.csv``, read in place)
lie on it. Mode ``truck``. Depot at the TPS' centroid, the TPA 8 km east of it.

Figures:

* the build time and array size of the network with the fourth mode (``truck``) and without;
* the travel-time matrix of 500 random locations (:func:`gis.collection_matrix.travel_matrix`:
  one Dijkstra per row over the graph with two virtual nodes per location), against
  networkx's single-source Dijkstra over the same graph (10 rows, scaled to 500);
* the plan for the 154 TPS with 10 trucks (6 m³, 8 h) under a 30 s time limit: whether it
  is valid (capacity between unloads, shift), stops served, seconds; each TPS's volume is a
  sixteenth of its daily inflow ``sampah_masuk`` (one of several rounds a day: the fleet can
  collect it all, so that the baselines below compare the same work);
* total drive time against a nearest-neighbour baseline on the same matrix and loads (each
  truck in turn goes to the nearest load that still fits, unloads at the nearest TPA when
  full); both served volumes are printed, and the ratio per m³ collected;
* OR-Tools (the routing library's reload recipe: TPA copies with slack on the capacity
  dimension, optional loads with a penalty) on the same matrix and loads, 30 s: both
  objectives (drive + service seconds, unserved loads).

Run: ``.venv/bin/python -m bench collection``.
"""

from __future__ import annotations

import csv
import math
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np

from bench._common import SHARED_DATA
from bench.routing import synthetic
from gis.collection import _Planner, plan_stops
from gis.collection_demand import Fleet, Stop
from gis.collection_matrix import travel_matrix
from gis.costs import MODES
from gis.network import Facilities, build_arrays, edge_costs, load_network, write_cache
from gis.routing import Router

MODE = "truck"
FLEET = Fleet(trucks=10, capacity_m3=6.0, shift_h=8.0)
TIME_LIMIT_S = 30.0
RNG = np.random.default_rng(20261201)
#: Collection rounds a day: each TPS's volume is its daily inflow over this.
ROUNDS = 16


def tps_stops() -> list[Stop]:
    """Bandung's 154 TPS, each with a sixteenth of its daily inflow."""
    path = SHARED_DATA / "indonesia" / "bandung_tps_2016.csv"
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        Stop(
            id=i + 1,
            source_id=r["id_tps"],
            name=r["nama_tps"],
            address=r["lokasi_tps"],
            lon=float(r["longitude"]),
            lat=float(r["latitude"]),
            demand_m3=round(float(r["sampah_masuk"]) / ROUNDS, 3),
            demand_from="sampah_masuk",
        )
        for i, r in enumerate(rows)
        if float(r["sampah_masuk"]) > 0
    ]


def fourth_mode_cost(seg, facs) -> None:
    """Build time and array bytes of the network with and without the truck mode."""
    out = {}
    for label, modes in (("3 modes", ("walk", "motorcycle", "car")), ("4 modes", MODES)):
        t0 = time.perf_counter()
        costs = {
            m: edge_costs(m, seg.highway, seg.maxspeed, seg.length_m, seg.condition) for m in modes
        }
        net = build_arrays(seg, costs, facs, progress=False)
        out[label] = (time.perf_counter() - t0, sum(a.nbytes for a in net.arrays.values()))
    (t3, b3), (t4, b4) = out["3 modes"], out["4 modes"]
    print(
        f"fourth mode (truck) on ~100k nodes, one facility category: build {t3:.2f} s -> "
        f"{t4:.2f} s ({t4 / t3:.2f}x), arrays {b3 / 1e6:.1f} MB -> {b4 / 1e6:.1f} MB "
        f"({b4 / b3:.2f}x)"
    )


def bandung_graph(cache: Path, centre: tuple[float, float]):
    """The ~100k-node synthetic grid, centred on ``centre`` (lon, lat); its truck graph."""
    seg, facs = synthetic(100_000)
    fourth_mode_cost(seg, facs)
    lonlat = seg.geom_lonlat
    lonlat[:, 0] += centre[0] - float(np.mean(lonlat[:, 0]))
    lonlat[:, 1] += centre[1] - float(np.mean(lonlat[:, 1]))
    costs = {MODE: edge_costs(MODE, seg.highway, seg.maxspeed, seg.length_m, seg.condition)}
    write_cache(cache, build_arrays(seg, costs, Facilities({}), progress=False))
    return Router(load_network(cache)).mode_graph(MODE)


def bench_matrix(graph) -> None:
    a = graph.node_lonlat
    lo, hi = np.min(a, axis=0), np.max(a, axis=0)
    pts = RNG.uniform(lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo), (500, 2))
    t0 = time.perf_counter()
    m = travel_matrix(graph, pts, progress=False)
    ours_s = time.perf_counter() - t0
    g = nx.DiGraph()
    coo = graph.graph.tocoo()
    edges = zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
    g.add_weighted_edges_from(edges)
    sources = RNG.choice(graph.n_nodes, 10, replace=False)
    t0 = time.perf_counter()
    for s in sources.tolist():
        nx.single_source_dijkstra_path_length(g, s, weight="weight")
    nx_s = (time.perf_counter() - t0) * 50
    finite = np.isfinite(m.time_s).mean()
    print(
        f"matrix 500 x 500 on {graph.n_nodes:,} nodes: ours {ours_s:.2f} s (target <= 2 s; "
        f"{finite:.1%} of pairs connected); networkx single-source x 500 (from 10 rows) "
        f"{nx_s:.1f} s; ratio {nx_s / ours_s:.1f}x"
    )


def check_valid(plan: dict, fleet: Fleet) -> bool:
    """Capacity between unloads, the shift, and every load served once or unserved."""
    for t in plan["trucks"]:
        load = 0.0
        for v in t["visits"]:
            if v["kind"] == "stop":
                load += v["volume_m3"]
            elif v["kind"] == "unload":
                load = 0.0
            if load > fleet.capacity_m3 + 1e-9:
                return False
        if t["shift_used_s"] > fleet.shift_s + 1e-6:
            return False
    return True


def nearest_neighbour(p: _Planner) -> tuple[float, float]:
    """Drive seconds and m³ of the greedy baseline on the planner's matrix and loads."""
    f = p.fleet
    loads, _ = p._screen()
    sites = p._sites_ok()
    t = p.t
    end = int(sites[np.argmin(t[sites, 0])])
    service, unload = f.service_min * 60, f.unload_min * 60
    left = list(range(len(loads)))
    drive = volume = 0.0
    for _ in range(f.trucks):
        cur, clock, load = 0, 0.0, 0.0
        while True:
            best, best_t = None, math.inf
            for i in left:
                ld = loads[i]
                loc = p.loc(ld.stop)
                if load + ld.volume_m3 > f.capacity_m3 + 1e-9:
                    continue
                finish = t[loc, end] + unload + t[end, 0]
                if clock + t[cur, loc] + service + finish > f.shift_s:
                    continue
                if t[cur, loc] < best_t:
                    best, best_t = i, t[cur, loc]
            if best is None:
                if load > 0 and any(
                    loads[i].volume_m3 + load > f.capacity_m3 for i in left
                ):  # full: unload at the nearest TPA and try again
                    tpa = int(sites[np.argmin(t[cur, sites])])
                    if clock + t[cur, tpa] + unload + t[tpa, end] + t[end, 0] <= f.shift_s:
                        drive += t[cur, tpa]
                        clock += t[cur, tpa] + unload
                        cur, load = tpa, 0.0
                        continue
                break
            ld = loads[best]
            loc = p.loc(ld.stop)
            drive += t[cur, loc]
            clock += t[cur, loc] + service
            cur, load = loc, load + ld.volume_m3
            volume += ld.volume_m3
            left.remove(best)
        if cur != 0:
            drive += t[cur, end] + t[end, 0]
    return drive, volume


def ortools_plan(p: _Planner, time_limit_s: float) -> tuple[int, int, float, float]:
    """OR-Tools' reload recipe on the same matrix and loads: objective, unserved loads,
    drive seconds, m³ collected."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    f = p.fleet
    loads, _ = p._screen()
    sites = p._sites_ok()
    cap = int(round(f.capacity_m3 * 1000))
    per_truck = max(1, math.ceil(sum(ld.volume_m3 for ld in loads) / f.capacity_m3 / f.trucks))
    reload_locs = [int(s) for s in sites for _ in range(f.trucks * (per_truck + 1))]
    # node 0: depot; then reload copies; then loads
    locs = [0, *reload_locs, *(p.loc(ld.stop) for ld in loads)]
    demand = [0] + [-cap] * len(reload_locs) + [int(round(ld.volume_m3 * 1000)) for ld in loads]
    service = (
        [0] + [int(f.unload_min * 60)] * len(reload_locs) + [int(f.service_min * 60)] * len(loads)
    )
    big = 10**7
    tt = np.where(np.isfinite(p.t), np.ceil(p.t), big).astype(np.int64)
    manager = pywrapcp.RoutingIndexManager(len(locs), f.trucks, 0)
    routing = pywrapcp.RoutingModel(manager)

    def travel(i, j):
        a, b = manager.IndexToNode(i), manager.IndexToNode(j)
        return int(tt[locs[a], locs[b]]) + service[a]

    cb = routing.RegisterTransitCallback(travel)
    routing.SetArcCostEvaluatorOfAllVehicles(cb)
    routing.AddDimension(cb, 0, int(f.shift_s), True, "time")
    dem = routing.RegisterUnaryTransitCallback(lambda i: demand[manager.IndexToNode(i)])
    routing.AddDimensionWithVehicleCapacity(dem, cap, [cap] * f.trucks, True, "load")
    load_dim = routing.GetDimensionOrDie("load")
    first_reload, first_load = 1, 1 + len(reload_locs)
    for node in range(first_reload, first_load):
        index = manager.NodeToIndex(node)
        routing.AddDisjunction([index], 0)
        load_dim.SlackVar(index).SetRange(0, cap)
    for node in range(first_load, len(locs)):
        index = manager.NodeToIndex(node)
        routing.AddDisjunction([index], int(f.shift_s * 10))
        load_dim.SlackVar(index).SetValue(0)
    for v in range(f.trucks):  # end empty: the last trip is unloaded
        load_dim.CumulVar(routing.End(v)).SetValue(0)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(time_limit_s * 1000))
    sol = routing.SolveWithParameters(params)
    if sol is None:
        return -1, len(loads), math.nan, 0.0
    unserved = 0
    volume = 0.0
    for node in range(first_load, len(locs)):
        index = manager.NodeToIndex(node)
        if sol.Value(routing.NextVar(index)) == index:
            unserved += 1
        else:
            volume += loads[node - first_load].volume_m3
    drive = 0.0
    for v in range(f.trucks):
        i = routing.Start(v)
        while not routing.IsEnd(i):
            j = sol.Value(routing.NextVar(i))
            drive += float(tt[locs[manager.IndexToNode(i)], locs[manager.IndexToNode(j)]])
            i = j
    served_obj = sol.ObjectiveValue() - unserved * int(f.shift_s * 10)
    return int(served_obj), unserved, drive, volume


def main() -> None:
    stops = tps_stops()
    lon = float(np.mean([s.lon for s in stops]))
    lat = float(np.mean([s.lat for s in stops]))
    with tempfile.TemporaryDirectory(prefix="sigap-bench-coll-") as tmp:
        t0 = time.perf_counter()
        graph = bandung_graph(Path(tmp), (lon, lat))
        print(f"(synthetic ~100k-node grid over Bandung built in {time.perf_counter() - t0:.1f} s)")
        bench_matrix(graph)
        depot = {"id": 1, "name": "Pool", "address": None, "lon": lon, "lat": lat}
        tpa_lon = lon + 8000 / (111_195 * math.cos(math.radians(lat)))
        sites = [{"id": 1, "name": "TPA", "address": None, "lon": tpa_lon, "lat": lat}]
        t0 = time.perf_counter()
        plan = plan_stops(
            graph,
            fleet=FLEET,
            depot=depot,
            sites=sites,
            stops=stops,
            time_limit_s=TIME_LIMIT_S,
            seed=1,
            no_improvement=10**9,  # the whole time limit: as OR-Tools gets
            progress=False,
        )
        wall = time.perf_counter() - t0
        tot, sol = plan["totals"], plan["solver"]
        print(
            f"plan: {len(stops)} TPS ({sol['loads']} loads), {FLEET.trucks} trucks, limit "
            f"{TIME_LIMIT_S:g} s: valid={check_valid(plan, FLEET)}, {tot['stops_served']} TPS "
            f"served, {tot['volume_m3']:.1f} m3 collected, {tot['unserved_m3']:.1f} m3 left; "
            f"solver {sol['seconds']:.1f} s ({sol['stopped_by']}, {sol['iterations']} "
            f"iterations), matrix {sol['matrix_s']:.2f} s, total {wall:.1f} s"
        )
        lonlat = np.array(
            [[lon, lat], [tpa_lon, lat]] + [[s.lon, s.lat] for s in stops], dtype=float
        )
        planner = _Planner(FLEET, depot, sites, stops, travel_matrix(graph, lonlat))
        nn_drive, nn_volume = nearest_neighbour(planner)
        ours_drive, ours_volume = tot["drive_time_s"], tot["volume_m3"]
        print(
            f"drive time: PyVRP {ours_drive / 3600:.2f} h for {ours_volume:.1f} m3; "
            f"nearest-neighbour {nn_drive / 3600:.2f} h for {nn_volume:.1f} m3; ratio "
            f"{ours_drive / nn_drive:.3f} ({1 - ours_drive / nn_drive:+.1%} shorter); per m3 "
            f"{(ours_drive / ours_volume) / (nn_drive / nn_volume):.3f} "
            f"({1 - (ours_drive / ours_volume) / (nn_drive / nn_volume):+.1%} shorter)"
        )
        t0 = time.perf_counter()
        ort_obj, ort_unserved, ort_drive, ort_volume = ortools_plan(planner, TIME_LIMIT_S)
        print(
            f"second solver OR-Tools ({time.perf_counter() - t0:.1f} s): objective "
            f"{ort_obj} s (drive + service + unloading of served loads), {ort_unserved} loads "
            f"unserved, {ort_volume:.1f} m3, drive {ort_drive / 3600:.2f} h; PyVRP objective "
            f"{sol['objective_s']} s (the same, up to the last TPA), "
            f"{sol['loads'] - _served_loads(plan)} loads unserved, {ours_volume:.1f} m3, "
            f"drive {ours_drive / 3600:.2f} h"
        )


def _served_loads(plan: dict) -> int:
    return sum(1 for t in plan["trucks"] for v in t["visits"] if v["kind"] == "stop")
