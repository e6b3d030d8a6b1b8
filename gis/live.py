"""Travel times changed while a process runs: patch a loaded router, no rebuild.

When road conditions change (:mod:`gis.road_conditions`), a query process re-reads the
segments changed since its cache was built and gives its router new costs
(:func:`live_costs`, :func:`apply_costs`). Per mode whose costs changed:

* the adjacency is rebuilt from the new costs (:meth:`gis.graph.ModeGraph.with_costs`, one
  vectorised pass); the snapping grid is shared, with segments that became impassable
  masked (rebuilt only when a segment the grid lacks became passable);
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
        new = old.with_costs(new_cost)
        graphs[mode] = new
        opened_or_closed = bool(
            (np.isnan(np.asarray(old.cost)[changed]) != np.isnan(new_cost[changed])).any()
        )
        reverse = None
        for category, facs in router.net.facilities.items():
            if not facs:
                continue
            t = router.tables(mode, category)
            snaps = snap_facilities(new, facility_lonlat(facs)) if opened_or_closed else None
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
