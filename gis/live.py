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

import time
from dataclasses import dataclass, field

import numpy as np

from gis.graph import ModeGraph, reverse_graph
from gis.network_cache import Network
from gis.router import Router
from gis.tables import FacilityTables, facility_lonlat, snap_facilities, tables_for_snaps

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
    if np.isin(np.asarray(t.fac_edge), changed).any():
        return True
    if np.isin(np.asarray(t.fac2_edge), changed).any():
        return True
    c_old = np.asarray(old.cost)[changed]
    c_new = np.asarray(new.cost)[changed]
    was, now = ~np.isnan(c_old), ~np.isnan(c_new)
    slower = changed[(was & ~now) | (was & now & (c_new > c_old))]
    if len(slower):
        codes = np.concatenate([slower, ~slower]).astype(np.int32)
        if np.isin(np.asarray(t.code), codes).any():
            return True
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
            return True
        both_ways = real & ~(new.oneway & np.asarray(new.edge_oneway)[faster])
        tol_v = 1e-4 + 1e-6 * np.where(np.isfinite(dist[v]), dist[v], 0.0)
        if (both_ways & (dist[u] + c < dist[v] - tol_v)).any():
            return True
    return False


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
            if moved or table_affected(old, new, t, changed):
                if reverse is None:
                    reverse = reverse_graph(new)
                tables[(mode, category)] = tables_for_snaps(new, snaps or _snaps_of(t), reverse)
                update.tables.append((mode, category))
    if graphs:
        update.router = router.replaced(graphs, tables)
    update.seconds = time.perf_counter() - t0
    return update
