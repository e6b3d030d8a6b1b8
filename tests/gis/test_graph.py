"""Per-mode graphs: CSR adjacency against the database's edges, the rules at a snapped point,
closed segments."""

from __future__ import annotations

import math

import numpy as np
import pytest
from psycopg2 import sql
from scipy.sparse.csgraph import dijkstra

from gis.graph import ModeGraph, reverse_graph
from gis.network import MODES, cache_root, load_network
from tests.conftest import query


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
def test_adjacency_equals_the_database_edges(hel, mode):
    net = load_network(cache_root(hel))
    a = net.arrays
    osm = a["node_osm_id"]
    indptr, indices, weight = a[f"{mode}.indptr"], a[f"{mode}.indices"], a[f"{mode}.weight"]
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    ours = {
        (int(osm[r]), int(osm[c])): float(w) for r, c, w in zip(rows, indices, weight, strict=True)
    }
    want = _db_edges(hel, mode)
    assert ours.keys() == want.keys()
    assert all(ours[k] == pytest.approx(want[k], rel=1e-12) for k in want)
    # segment codes point at a segment joining the same nodes, in the travelled direction
    code = a[f"{mode}.edge"]
    e = np.where(code >= 0, code, ~code)
    tail = np.where(code >= 0, a["edge_u"][e], a["edge_v"][e])
    head = np.where(code >= 0, a["edge_v"][e], a["edge_u"][e])
    assert np.array_equal(tail, rows) and np.array_equal(head, indices)


def _graph(url: str, mode: str) -> ModeGraph:
    return ModeGraph.from_network(load_network(cache_root(url), writable_weights=False), mode)


def _segment(url: str, mode: str, *, oneway: bool, min_m: float) -> tuple[int, float, float]:
    """The first segment ``mode`` may use (one-way only if ``oneway``), at least ``min_m``
    long and not a loop: its id and the coordinates of its middle."""
    ((sid, lat, lon),) = query(
        url,
        sql.SQL(
            "SELECT id, ST_Y(ST_LineInterpolatePoint(geom, 0.5)), "
            "ST_X(ST_LineInterpolatePoint(geom, 0.5)) FROM road_segment WHERE {} IS NOT NULL "
            "AND (oneway OR NOT %s) AND u <> v AND length_m > %s ORDER BY id LIMIT 1"
        ).format(sql.Identifier(f"cost_{mode}_s")),
        (oneway, min_m),
    )
    return sid, lat, lon


def test_exits_and_entries_follow_oneway(hel):
    sid, _, _ = _segment(hel, "car", oneway=True, min_m=20)
    (cost_car, cost_walk) = query(
        hel, "SELECT cost_car_s, cost_walk_s FROM road_segment WHERE id = %s", (sid,)
    )[0]
    car, walk = _graph(hel, "car"), _graph(hel, "walk")
    e = int(np.searchsorted(car.edge_id, sid))
    u, v = int(car.edge_u[e]), int(car.edge_v[e])
    # a car mid-segment leaves only forwards, and reaches a point there only from u
    assert car.exits(e, 0.3) == [(v, pytest.approx(0.7 * cost_car), True)]
    assert car.entries(e, 0.3) == [(u, pytest.approx(0.3 * cost_car), True)]
    assert car.along_s(e, 0.5, 0.2) == math.inf
    assert car.along_s(e, 0.2, 0.5) == pytest.approx(0.3 * cost_car)
    # at an end, a move of zero length is no breach of one-way
    assert (u, 0.0, False) in car.exits(e, 0.0)
    assert (v, 0.0, False) in car.entries(e, 1.0)
    # walking ignores one-way
    assert {n for n, _, _ in walk.exits(e, 0.3)} == {u, v}
    assert {n for n, _, _ in walk.entries(e, 0.3)} == {u, v}
    assert walk.along_s(e, 0.5, 0.2) == pytest.approx(0.3 * cost_walk)


@pytest.mark.parametrize("mode", MODES)
def test_closed_segments_leave_the_graph_and_the_snapping(hel, mode):
    g = _graph(hel, mode)
    sid, lat, lon = _segment(hel, mode, oneway=False, min_m=30)
    assert g.snap(lat, lon).edge == int(np.searchsorted(g.edge_id, sid))
    closed = g.without([sid])
    e = int(np.searchsorted(g.edge_id, sid))
    code = np.asarray(closed.edge)
    assert not np.isin(code, [e, ~e]).any()
    assert np.isin(np.asarray(g.edge), [e, ~e]).any()  # the original keeps it
    assert closed.graph.nnz < g.graph.nnz
    assert closed.snap(lat, lon).edge != e  # nothing snaps to a closed road
    # the rest of the graph is unchanged: Dijkstra agrees where the segment is not used
    rows = np.repeat(np.arange(g.n_nodes), np.diff(g.indptr))
    keep = ~np.isin(np.asarray(g.edge), [e, ~e])
    assert np.array_equal(rows[keep], np.repeat(np.arange(g.n_nodes), np.diff(closed.indptr)))
    assert np.array_equal(np.asarray(g.indices)[keep], np.asarray(closed.indices))
    rev = reverse_graph(closed)
    assert (rev != closed.graph.T).nnz == 0
    start = int(g.edge_u[e])
    d_open = dijkstra(g.graph, indices=start)
    d_closed = dijkstra(closed.graph, indices=start)
    assert (d_closed >= d_open - 1e-9).all()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [3, 200])
def test_other_costs_give_the_adjacency_a_rebuild_would(hel, mode, n):
    """``with_costs`` patches the cache's adjacency for a few changes (dropping closed
    segments' entries) and rebuilds it for many or for a segment that opens: either way the
    same arrays as ``mode_csr`` of the new costs, and the same main component and snaps."""
    from gis.graph import mode_csr

    net = load_network(cache_root(hel))
    g = ModeGraph.from_network(net, mode)
    rng = np.random.default_rng(n)
    cost = np.array(g.cost, dtype=float)
    passable = np.flatnonzero(np.isfinite(cost))
    pick = rng.choice(passable, n, replace=False)
    cost[pick[: n // 3 + 1]] = np.nan  # closed
    cost[pick[n // 3 + 1 :]] *= rng.uniform(0.3, 3.0, len(pick) - n // 3 - 1)
    for new_cost, opened in ((cost, False), (np.where(np.isnan(cost), 5.0, cost), True)):
        if opened:  # open what was closed, starting from the closed graph
            g = g.with_costs(cost)
        h = g.with_costs(new_cost)
        oneway = np.asarray(g.edge_oneway) if g.oneway else np.zeros(len(new_cost), bool)
        want = mode_csr(g.n_nodes, np.asarray(g.edge_u), np.asarray(g.edge_v), new_cost, oneway)
        for got, expected in zip((h.indptr, h.indices, h.weight, h.edge), want, strict=True):
            np.testing.assert_array_equal(np.asarray(got), expected)
        fresh = {**net.arrays, f"edge_cost_{mode}": new_cost}
        for name, arr in zip(("indptr", "indices", "weight", "edge"), want, strict=True):
            fresh[f"{mode}.{name}"] = arr
        other = ModeGraph(fresh, net.projection(), mode)
        np.testing.assert_array_equal(h.main_nodes, other.main_nodes)
        for lat, lon in ((60.1699, 24.9384), (60.165, 24.95), (60.172, 24.93)):
            a, b = h.locate(lat, lon), other.locate(lat, lon)
            assert (a.edge, round(a.fraction, 9)) == (b.edge, round(b.fraction, 9))
