"""Travel times changed while a process runs: patch a loaded router, no rebuild.

When road conditions change (:mod:`gis.road_conditions`), a query process re-reads the
segments changed since its cache was built and gives its router new costs
(:func:`live_costs`, :func:`apply_costs`). Per mode whose costs changed:

* the adjacency is the cache's, patched where costs differ from it
  (:meth:`gis.graph.ModeGraph.with_costs`: new weights, dropped entries for closed segments;
  rebuilt in one vectorised pass for many changes or a segment the cache lacks); the
  snapping grid is shared, with segments that became impassable masked;
* costs back to those the cache was built with (every report cleared) give back the cache's
  own graph and tables, with nothing recomputed;
* a nearest-facility table is recomputed (:func:`gis.tables.tables_for_snaps`) only when the
  change can affect it (:func:`table_affected`), and the others are kept:

  - a facility's road points move (a segment closed or opened where facilities snap, or the
    main component changed), or a facility lies on a changed segment;
  - a segment got slower or closed and some node's next hop runs along it (only those nodes'
    times can grow, and they all pass through it);
  - a segment got faster or opened and it now gives its tail a shorter way,
    ``cost + dist[head] < dist[tail]`` for a direction the mode may travel (if no node
    improves through any such segment alone, none improves at all: take the improved node
    nearest its facility on a new shortest path; its next hop must be one of them).

The result is a new :class:`gis.router.Router` over the same memory-mapped cache; the caller
swaps it in (:mod:`gis.router_cache`), so queries never wait. Unchanged modes share their
graph and tables with the old router.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import breadth_first_order, dijkstra

from gis.graph import LAST_HOP, NO_HOP, ModeGraph, reverse_graph
from gis.network_cache import Network
from gis.router import Router
from gis.tables import (
    FacilityTables,
    facility_entries,
    facility_lonlat,
    snap_facilities,
    tables_for_snaps,
)

#: Snapped-point arrays of :class:`gis.tables.FacilityTables`.
_SNAP_ARRAYS = tuple(
    f"{p}{n}" for p in ("fac_", "fac2_") for n in ("edge", "vertex", "fraction", "lonlat", "snap_m")
)


@dataclass
class LiveUpdate:
    """What :func:`apply_costs` did.

    Attributes
    ----------
    router : Router
        The router with the new costs (the old one is left as it was).
    changed : dict of str to int
        Per mode, how many segments' costs changed.
    tables : list of (str, str)
        The ``(mode, category)`` tables recomputed; the others were kept.
    seconds : float
        Wall time.
    """

    router: Router
    changed: dict[str, int] = field(default_factory=dict)
    tables: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


def live_costs(net: Network, ids: np.ndarray, costs: dict[str, np.ndarray]) -> dict:
    """Give the cache's costs per mode with segments ``ids`` set to ``costs``.

    Parameters
    ----------
    net : Network
        The loaded cache (its ``edge_cost_<mode>`` arrays are not modified).
    ids : ndarray of int
        ``road_segment.id`` of the changed segments; ids the cache lacks (segments added
        since it was built) are ignored.
    costs : dict of str to ndarray
        Per mode, their seconds (NaN: impassable), aligned with ``ids``.

    Returns
    -------
    dict of str to ndarray
        Per mode of the cache, every segment's seconds.
    """
    edge_id = np.asarray(net.arrays["edge_id"])
    ids = np.asarray(ids, dtype=np.int64)
    pos = np.searchsorted(edge_id, ids)
    ok = pos < len(edge_id)
    ok[ok] = edge_id[pos[ok]] == ids[ok]
    out = {}
    for mode in net.modes:
        cost = np.array(net.arrays[f"edge_cost_{mode}"], dtype=np.float64)
        if mode in costs and ok.any():
            cost[pos[ok]] = np.asarray(costs[mode], dtype=np.float64)[ok]
        out[mode] = cost
    return out


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


def table_affected(old: ModeGraph, new: ModeGraph, t: FacilityTables, changed: np.ndarray) -> bool:
    """Tell whether the change of costs on segments ``changed`` can change table ``t``.

    See :func:`_how_affected` (this is its yes or no).

    Parameters
    ----------
    old, new : ModeGraph
        The mode's graph before and after (same segments, other costs).
    t : FacilityTables
        The table computed on ``old``.
    changed : ndarray of int
        Segment indices whose cost differs.

    Returns
    -------
    bool
        False only when ``t`` is still exact on ``new`` (the rules are in the module
        docstring; facility road points are compared by the caller).
    """
    return _how_affected(old, new, t, changed) is not None


def _how_affected(
    old: ModeGraph, new: ModeGraph, t: FacilityTables, changed: np.ndarray
) -> str | np.ndarray | None:
    """Say how the change of costs on segments ``changed`` affects table ``t``.

    Returns
    -------
    None, ndarray or str
        None: not at all. An array of segment codes: only through entries that got slower or
        closed (the codes of those entries that next hops use; :func:`repair_slower` can
        mend the table). ``"full"``: otherwise (recompute it).
    """
    if np.isin(np.asarray(t.fac_edge), changed).any():
        return "full"
    if np.isin(np.asarray(t.fac2_edge), changed).any():
        return "full"
    c_old = np.asarray(old.cost)[changed]
    c_new = np.asarray(new.cost)[changed]
    was, now = ~np.isnan(c_old), ~np.isnan(c_new)
    slower = changed[(was & ~now) | (was & now & (c_new > c_old))]
    used = None
    if len(slower):
        codes = np.concatenate([slower, ~slower]).astype(np.int32)
        hit = np.isin(np.asarray(t.code), codes)
        if hit.any():
            used = np.unique(np.asarray(t.code)[hit])
    faster_mask = now & (~was | (c_new < c_old))
    faster = changed[faster_mask]
    if len(faster):
        dist = np.asarray(t.dist_s, dtype=np.float64)
        u = np.asarray(new.edge_u)[faster]
        v = np.asarray(new.edge_v)[faster]
        c = c_new[faster_mask]
        real = u != v  # a loop is never on a shortest path
        tol_u = 1e-4 + 1e-6 * np.where(np.isfinite(dist[u]), dist[u], 0.0)
        if (real & (dist[v] + c < dist[u] - tol_u)).any():
            return "full"
        both_ways = real & ~(new.oneway & np.asarray(new.edge_oneway)[faster])
        tol_v = 1e-4 + 1e-6 * np.where(np.isfinite(dist[v]), dist[v], 0.0)
        if (both_ways & (dist[u] + c < dist[v] - tol_v)).any():
            return "full"
    return used


def _unreachable(t: FacilityTables, nodes: np.ndarray) -> FacilityTables:
    """``t`` with ``nodes`` reaching no facility."""
    dist = np.array(t.dist_s, dtype=np.float32)
    code = np.array(t.code, dtype=np.int32)
    facility = np.array(t.facility, dtype=np.int32)
    dist[nodes], code[nodes], facility[nodes] = np.inf, NO_HOP, -1
    return dataclasses.replace(t, dist_s=dist, code=code, facility=facility)


#: :func:`repair_slower` gives up (the caller recomputes) when more than this share of the
#: nodes must be settled again.
REPAIR_MOST = 0.3


def repair_slower(new: ModeGraph, t: FacilityTables, codes: np.ndarray) -> FacilityTables | None:
    """Mend a nearest-facility table after some entries got slower or closed.

    Only the nodes whose chain of next hops runs through one of those entries can change
    (nothing got faster, no facility moved); every other node keeps its time, facility and
    next hop. Those nodes are settled again by one multi-source Dijkstra over the part of
    the reversed graph among them, seeded with the best way out of it: an entry to a node
    outside (its kept time added) or a facility's own entry.

    Parameters
    ----------
    new : ModeGraph
        The mode's graph with the new costs.
    t : FacilityTables
        The table computed before (same facility road points).
    codes : ndarray of int32
        Codes of the entries that got slower or closed and that some next hop uses.

    Returns
    -------
    FacilityTables or None
        The mended table; None when more than :data:`REPAIR_MOST` of the nodes are affected
        (recomputing is then as fast).
    """
    n = new.n_nodes
    code = np.asarray(t.code)
    eu, ev = np.asarray(new.edge_u), np.asarray(new.edge_v)
    hop = (code != NO_HOP) & (code != LAST_HOP)
    nxt = np.full(n, -1, np.int64)
    c = code[hop]
    nxt[hop] = np.where(c >= 0, ev[np.maximum(c, 0)], eu[np.maximum(~c, 0)])
    seeds = np.flatnonzero(hop & np.isin(code, codes))
    # the affected nodes: the seeds and every node whose chain of next hops reaches one
    child = np.flatnonzero(nxt >= 0)
    tree = csr_array(
        (
            np.ones(len(child) + len(seeds)),
            (np.concatenate([nxt[child], np.full(len(seeds), n)]), np.concatenate([child, seeds])),
        ),
        shape=(n + 1, n + 1),
    )
    order = breadth_first_order(tree, n, directed=True, return_predecessors=False)
    nodes = np.sort(order[order < n])
    m = len(nodes)
    if m > REPAIR_MOST * n:
        return None
    inside = np.zeros(n, dtype=bool)
    inside[nodes] = True
    local = np.full(n, -1, np.int64)
    local[nodes] = np.arange(m)
    dist_old = np.asarray(t.dist_s, dtype=np.float64)
    facility_old = np.asarray(t.facility)
    # every forward entry out of an affected node
    indptr, indices, weight = new.indptr, np.asarray(new.indices), np.asarray(new.weight)
    starts = np.asarray(indptr)[nodes].astype(np.int64)
    deg = np.asarray(indptr)[nodes + 1].astype(np.int64) - starts
    idx = np.repeat(starts - np.cumsum(deg) + deg, deg) + np.arange(int(deg.sum()))
    tail = np.repeat(nodes, deg)
    head = indices[idx]
    w = weight[idx]
    # seeds: the best way out of the affected part, per node (an entry to a kept node, or a
    # facility's own entry)
    out = ~inside[head] & np.isfinite(dist_old[head])
    seed_node = tail[out]
    seed_cost = w[out] + dist_old[head[out]]
    seed_next = head[out]
    seed_fac = facility_old[head[out]]
    fac, fnode, fcost = facility_entries(
        new,
        np.asarray(t.fac_edge),
        np.asarray(t.fac_fraction),
        np.asarray(t.fac2_edge),
        np.asarray(t.fac2_fraction),
    )
    at = inside[fnode]
    seed_node = np.concatenate([seed_node, fnode[at]])
    seed_cost = np.concatenate([seed_cost, fcost[at]])
    seed_next = np.concatenate([seed_next, np.full(int(at.sum()), -1)])
    seed_fac = np.concatenate([seed_fac, fac[at]])
    best = np.lexsort((seed_cost, seed_node))
    first = np.ones(len(best), dtype=bool)
    first[1:] = seed_node[best][1:] != seed_node[best][:-1]
    pick = best[first]
    s_node, s_cost = seed_node[pick], seed_cost[pick]
    s_next, s_fac = seed_next[pick], seed_fac[pick]
    k = len(pick)
    if k == 0:  # cut off from every facility now
        return _unreachable(t, nodes)
    # the reversed graph among the affected nodes, plus one virtual node per seeded node
    both = inside[head]
    rows = np.concatenate([local[head[both]], m + np.arange(k)])
    cols = np.concatenate([local[tail[both]], local[s_node]])
    data = np.concatenate([w[both], s_cost])
    sub = csr_array((data, (rows, cols)), shape=(m + k, m + k))
    d, pred, src = dijkstra(
        sub, directed=True, indices=np.arange(m, m + k), min_only=True, return_predecessors=True
    )
    d, pred, src = d[:m], pred[:m], src[:m]
    reached = np.isfinite(d)
    seeded = reached & (pred >= m)
    root = np.where(reached, src - m, 0)
    next_node = np.where(
        seeded, s_next[np.clip(pred - m, 0, k - 1)], nodes[np.clip(pred, 0, m - 1)]
    )
    last = seeded & (next_node < 0)
    dist = np.array(t.dist_s, dtype=np.float32)
    facility = np.array(t.facility, dtype=np.int32)
    new_code = np.array(code, dtype=np.int32)
    dist[nodes] = np.where(reached, d, np.inf).astype(np.float32)
    facility[nodes] = np.where(reached, s_fac[root], -1)
    hops = np.full(m, NO_HOP, np.int32)
    hops[last] = LAST_HOP
    via = reached & ~last
    if via.any():
        # the entry code of each remaining hop node -> next_node
        ends = next_node[via]
        sel = np.repeat(via, deg)
        match = head[sel] == np.repeat(ends, deg[via])
        hops[np.flatnonzero(via)] = np.asarray(new.edge)[idx[sel][match]]
    new_code[nodes] = hops
    return dataclasses.replace(t, dist_s=dist, code=new_code, facility=facility)


def _snaps_of(t: FacilityTables) -> dict[str, np.ndarray]:
    return {name: np.asarray(getattr(t, name)) for name in _SNAP_ARRAYS}


def _snaps_equal(a: dict[str, np.ndarray], t: FacilityTables) -> bool:
    return all(
        np.array_equal(a[name], np.asarray(getattr(t, name)), equal_nan=True)
        for name in _SNAP_ARRAYS
    )


@dataclass
class _Passable:
    """How the passable segments and the main component changed (masks over segments)."""

    closed: np.ndarray
    opened: np.ndarray
    left_main: np.ndarray
    joined_main: np.ndarray

    @classmethod
    def between(cls, old: ModeGraph, new: ModeGraph) -> _Passable:
        was = ~np.isnan(np.asarray(old.cost))
        now = ~np.isnan(np.asarray(new.cost))
        u, v = np.asarray(old.edge_u), np.asarray(old.edge_v)
        main_old = was & old.main_nodes[u] & old.main_nodes[v]
        main_new = now & new.main_nodes[u] & new.main_nodes[v]
        return cls(was & ~now, ~was & now, main_old & ~main_new, ~main_old & main_new)


def _distance_m(g: ModeGraph, edges: np.ndarray, xy: np.ndarray) -> np.ndarray | None:
    """Distance from each point to the nearest piece of the segments ``edges`` (mask).

    None when that would take too much memory (the caller then re-snaps every point).
    """
    e = np.flatnonzero(edges)
    if not len(e):
        return np.full(len(xy), np.inf)
    offsets = np.asarray(g.offsets)
    counts = np.maximum(offsets[e + 1] - offsets[e] - 1, 0)
    total = int(counts.sum())
    if total * max(len(xy), 1) > 4_000_000:
        return None
    first = np.repeat(offsets[e] - np.cumsum(counts) + counts, counts) + np.arange(total)
    p0, p1 = np.asarray(g.xy)[first], np.asarray(g.xy)[first + 1]
    d = p1 - p0
    len2 = np.maximum((d * d).sum(axis=1), 1e-12)
    r = xy[:, None, :] - p0[None, :, :]
    s = np.clip((r * d[None]).sum(axis=2) / len2[None], 0.0, 1.0)
    gap = r - s[..., None] * d[None]
    return np.sqrt((gap * gap).sum(axis=2)).min(axis=1) if total else np.full(len(xy), np.inf)


def _needs_snap(new: ModeGraph, t: FacilityTables, xy: np.ndarray, change: _Passable) -> np.ndarray:
    """Tell which facilities' road points the change of passable segments can move.

    A road point moves only when its segment closed (or, for a second point, left the main
    component), when the first point's segment joined or left the main component (a second
    point appears or goes), or when a segment that opened (joined the main component) is
    nearer than the first (second) point.
    """
    from gis.snapping import SNAP_LIMIT_M

    first, second = np.asarray(t.fac_edge), np.asarray(t.fac2_edge)
    k = len(first)
    need = np.zeros(k, dtype=bool)
    on = first >= 0
    need[on] |= change.closed[first[on]] | change.left_main[first[on]]
    need[on] |= change.joined_main[first[on]]
    has2 = second >= 0
    need[has2] |= change.closed[second[has2]] | change.left_main[second[has2]]
    reach = np.where(on, np.asarray(t.fac_snap_m), SNAP_LIMIT_M)
    near = _distance_m(new, change.opened, xy)
    if near is None:
        return np.ones(k, dtype=bool)
    need |= near <= reach
    outside = on & ~(
        new.main_nodes[np.asarray(new.edge_u)[np.maximum(first, 0)]]
        & new.main_nodes[np.asarray(new.edge_v)[np.maximum(first, 0)]]
    )
    if outside.any() and change.joined_main.any():
        reach2 = np.where(has2, np.asarray(t.fac2_snap_m), SNAP_LIMIT_M)
        near2 = _distance_m(new, change.joined_main, xy)
        if near2 is None:
            return np.ones(k, dtype=bool)
        need |= outside & (near2 <= reach2)
    return need


def _resnapped(new: ModeGraph, t: FacilityTables, lonlat: np.ndarray, change: _Passable):
    """Give the facilities' road points on ``new`` (re-snapping those the change can move)."""
    xy = new.proj.forward_xy(lonlat)
    need = _needs_snap(new, t, xy, change)
    snaps = {name: np.array(getattr(t, name)) for name in _SNAP_ARRAYS}
    if need.any():
        fresh = snap_facilities(new, lonlat[need])
        for name in _SNAP_ARRAYS:
            snaps[name][need] = fresh[name]
    return snaps


def apply_costs(router: Router, costs: dict[str, np.ndarray]) -> LiveUpdate:
    """Give a router over the same cache with other travel times (road conditions changed).

    Parameters
    ----------
    router : Router
        The router in use (its graphs and tables are not modified).
    costs : dict of str to ndarray
        Per mode, every segment's seconds (:func:`live_costs`).

    Returns
    -------
    LiveUpdate
        The new router and what changed.
    """
    t0 = time.perf_counter()
    graphs: dict[str, ModeGraph] = {}
    tables: dict[tuple[str, str], FacilityTables] = {}
    update = LiveUpdate(router)
    for mode, cost in costs.items():
        if mode not in router.net.modes:
            continue
        old = router.mode_graph(mode)
        new_cost = np.asarray(cost, dtype=np.float64)
        changed = np.flatnonzero(~_same(np.asarray(old.cost, dtype=np.float64), new_cost))
        if not len(changed):
            continue
        update.changed[mode] = len(changed)
        base = router.base_graph(mode)
        if np.all(_same(np.asarray(base.cost, dtype=np.float64), new_cost)):
            # back to the costs the cache was built with: its own graph and tables
            graphs[mode] = base
            for category, facs in router.net.facilities.items():
                if facs:
                    prefix = f"{mode}.{category}"
                    tables[(mode, category)] = FacilityTables.from_arrays(router.net.arrays, prefix)
            continue
        new = base.with_costs(new_cost)  # patched from the cache's graph: few changes
        graphs[mode] = new
        opened_or_closed = bool(
            (np.isnan(np.asarray(old.cost)[changed]) != np.isnan(new_cost[changed])).any()
        )
        change = _Passable.between(old, new) if opened_or_closed else None
        reverse = None
        for category, facs in router.net.facilities.items():
            if not facs:
                continue
            t = router.tables(mode, category)
            snaps = None
            if change is not None:
                snaps = _resnapped(new, t, facility_lonlat(facs), change)
            moved = snaps is not None and not _snaps_equal(snaps, t)
            how = "full" if moved else _how_affected(old, new, t, changed)
            if how is None:
                continue
            mended = None if isinstance(how, str) else repair_slower(new, t, how)
            if mended is None:
                if reverse is None:
                    reverse = reverse_graph(new)
                mended = tables_for_snaps(new, snaps or _snaps_of(t), reverse)
            tables[(mode, category)] = mended
            update.tables.append((mode, category))
    if graphs:
        update.router = router.replaced(graphs, tables)
    update.seconds = time.perf_counter() - t0
    return update
