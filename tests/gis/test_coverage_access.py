"""E2SFCA accessibility: the travel times against networkx, the scores against PySAL access."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gis import coverage_access as acc
from gis.coverage_setting import load_setting
from gis.network import cache_root, load_network

MODE, CATEGORY, T_S = "walk", "health", 600.0


@pytest.fixture(scope="module")
def setup(hel, refs):
    setting = load_setting(hel, mode=MODE)
    frame = setting.frame(MODE)
    _, fac_edge, fac_fraction = setting.base_tables(MODE, CATEGORY)
    node, fac, t = acc.facility_pairs(frame.graph, frame.reverse, fac_edge, fac_fraction, T_S)
    g = frame.graph
    demand = acc.node_demand(g.n_nodes, g.edge_u, g.edge_v, frame.pieces.edge, frame.piece_demand)
    net = load_network(cache_root(hel), writable_weights=False)
    return setting, frame, (node, fac, t), demand, net, refs(hel, MODE), fac_edge


def test_pairs_within_t_equal_networkx(setup):
    setting, frame, (node, fac, t), _, net, ref, fac_edge = setup
    facs = setting.facilities(CATEGORY)
    osm = np.asarray(net.arrays["node_osm_id"])
    edge_id = np.asarray(net.arrays["edge_id"])
    ours_seg = {
        int(f["id"]): int(edge_id[e]) for f, e in zip(facs, fac_edge, strict=True) if e >= 0
    }
    ref.align_facilities(CATEGORY, ours_seg)
    placed = ref.facilities(CATEGORY)
    got = {
        (int(osm[n]), int(facs[j]["id"])): float(s) for n, j, s in zip(node, fac, t, strict=True)
    }
    assert len(got) > 100
    for fid, place in placed.items():
        times = ref.node_times_to([place])
        for n, s in times.items():
            key = (n, fid)
            # PostGIS places facilities in UTM, SIGAP in its local projection: a few cm apart
            if s <= T_S - 0.05:
                assert got[key] == pytest.approx(s, abs=0.05)
            elif s > T_S + 0.05:
                assert key not in got


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_scores_equal_pysal_access(setup):
    from access import Access, weights

    _, _, (node, fac, t), demand, _, _, _ = setup
    k = int(fac.max()) + 1
    capacity = np.arange(1, k + 1, dtype=float)  # unequal capacities, to catch a mix-up
    ours, _ = acc.e2sfca(node, fac, t, demand, capacity, T_S)
    has = np.flatnonzero(demand > 0)
    demand_df = pd.DataFrame({"node": has, "demand": demand[has]})
    supply_df = pd.DataFrame({"fac": np.arange(k), "capacity": capacity})
    cost_df = pd.DataFrame({"node": node, "fac": fac, "time": t})
    model = Access(
        demand_df=demand_df,
        demand_index="node",
        demand_value="demand",
        supply_df=supply_df,
        supply_index="fac",
        supply_value="capacity",
        cost_df=cost_df,
        cost_origin="node",
        cost_dest="fac",
        cost_name="time",
    )
    step = weights.step_fn({T_S / 3: 1.0, 2 * T_S / 3: 0.68, T_S: 0.22})
    theirs = model.enhanced_two_stage_fca(name="e2", max_cost=T_S, weight_fn=step)["e2_capacity"]
    theirs = theirs.fillna(0.0)
    assert (theirs > 0).sum() > 50
    for n, value in theirs.items():
        assert ours[int(n)] == pytest.approx(value, rel=1e-9, abs=1e-15)


def test_area_scores_are_demand_weighted_means(setup):
    _, frame, (node, fac, t), demand, _, _, _ = setup
    score, ratio = acc.e2sfca(node, fac, t, demand, np.ones(int(fac.max()) + 1), T_S)
    p = frame.pieces
    per_area = acc.area_scores(
        score,
        frame.graph.edge_u,
        frame.graph.edge_v,
        p.edge,
        p.area,
        frame.piece_demand,
        len(frame.areas),
    )
    a = int(np.nanargmax(per_area))
    mine = (p.area == a) & (frame.piece_demand > 0)
    u, v = frame.graph.edge_u[p.edge[mine]], frame.graph.edge_v[p.edge[mine]]
    want = np.average(0.5 * (score[u] + score[v]), weights=frame.piece_demand[mine])
    assert per_area[a] == pytest.approx(want, rel=1e-9)
    # the supply is all used up: sum_i D_i A_i = sum_j S_j over facilities that reach demand
    reached = np.unique(fac[demand[node] > 0])
    assert float((demand * score).sum()) == pytest.approx(len(reached), rel=1e-9)
    assert all(math.isfinite(r) for r in ratio)


def test_decay_is_the_documented_step_function():
    t = np.array([0, 199.9, 200, 200.1, 400, 400.1, 600, 600.1])
    assert acc.weight(t, 600).tolist() == [1, 1, 1, 0.68, 0.68, 0.22, 0.22, 0]
