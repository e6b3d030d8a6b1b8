"""The graph of one travel mode as queries use it: :class:`ModeGraph`.

Nodes are the distinct ``u``/``v`` of ``road_segment`` (OSM node ids), numbered 0..N-1; the
adjacency is CSR arrays (:mod:`gis.csr`, whose names are importable from here too): an entry
per direction a mode may travel a segment, each with its *segment code* (``e`` for
``u -> v``, ``~e`` for ``v -> u``).

A point on a segment (:class:`gis.snapping.Snap`) is not a node. A traveller there may move
to ``v`` (always) and to ``u`` (unless ``oneway`` binds the mode), each for the share of the
segment's cost that lies between (:meth:`ModeGraph.exits`); a facility there is reached from
``u`` (always) and from ``v`` (unless ``oneway`` binds) the same way
(:meth:`ModeGraph.entries`). A move of zero length is always allowed: a point at the very end
of a one-way segment *is* at that node.

:class:`ModeGraph` holds what a query needs for one mode (adjacency, costs, the snapping grid);
:meth:`ModeGraph.without` gives the same network with some segments closed (what-if analyses),
:meth:`ModeGraph.with_costs` the same network with other travel times (road conditions changed
while the server runs, :mod:`gis.live`).

The *main component* of a mode is its largest strongly connected component
(:func:`largest_component`); a segment belongs to it when both its ends do
(:meth:`ModeGraph.in_main`). A facility whose nearest segment lies on a fragment cut off from
it also joins the network on the nearest segment of the main component
(:meth:`ModeGraph.locate_main`, :mod:`gis.tables`), as OSRM does.
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Iterable, Mapping

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from gis.costs import PROFILES
from gis.csr import (
    LAST_HOP,
    NO_HOP,
    csr_from_rows,
    csr_graph,
    largest_component,
    mode_csr,
    next_hop_codes,
)
from gis.errors import UnprocessableError
from gis.snapping import SNAP_LIMIT_M, LocalProjection, Snap, SnapGrid, haversine_m

__all__ = [
    "LAST_HOP",
    "NO_HOP",
    "PATCH_MOST",
    "ModeGraph",
    "csr_graph",
    "largest_component",
    "mode_csr",
    "next_hop_codes",
    "reverse_graph",
]

#: Per-graph values computed on first use; a derived graph (:meth:`ModeGraph.without`,
#: :meth:`ModeGraph.with_costs`) starts without them.
_DERIVED = ("_rows", "_main", "_main_mask")
#: :meth:`ModeGraph.with_costs` patches the adjacency for at most this many changed segments
#: (more: it is rebuilt, one vectorised pass).
PATCH_MOST = 64


def reverse_graph(graph: ModeGraph | csr_array) -> csr_array:
    """Transpose a mode's graph: an entry ``b -> a`` for each entry ``a -> b``.

    A Dijkstra from a set of nodes over the reversed graph gives the travel time from every
    node *to* the nearest of them (one-way streets stay right).

    Parameters
    ----------
    graph : ModeGraph or csr_array
        The forward graph (a :class:`ModeGraph`, possibly with closed segments, or its
        ``graph``).

    Returns
    -------
    csr_array
        The reversed graph, a new CSR matrix with sorted indices.
    """
    g = graph.graph if isinstance(graph, ModeGraph) else graph
    return g.T.tocsr()


class ModeGraph:
    """One mode's network as queries use it: adjacency, costs, snapping grid.

    Parameters
    ----------
    arrays : mapping of str to ndarray
        The network's arrays (:class:`gis.network_cache.Network` ``arrays``, or those a build
        is writing): segment geometry and ends, and this mode's CSR arrays and costs.
    proj : LocalProjection
        The network's projection.
    mode : str
        One of :data:`gis.costs.MODES`.

    Notes
    -----
    ``weight`` may be a private copy-on-write map: :func:`gis.reach.bounded_dijkstra` changes
    one entry for the length of a call, under ``lock``.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], proj: LocalProjection, mode: str) -> None:
        a = arrays
        self.mode = mode
        self.proj = proj
        self.indptr = a[f"{mode}.indptr"]
        self.indices = a[f"{mode}.indices"]
        self.weight = a[f"{mode}.weight"]
        self.edge = a[f"{mode}.edge"]
        self.graph = csr_graph(self.indptr, self.indices, self.weight)
        self.cost = a[f"edge_cost_{mode}"]
        self.oneway = PROFILES[mode].oneway
        self.edge_oneway = a["edge_oneway"]
        self.edge_u = a["edge_u"]
        self.edge_v = a["edge_v"]
        self.edge_id = a["edge_id"]
        self.edge_len = a["edge_length_m"]
        self.offsets = a["geom_offsets"]
        self.lonlat = a["geom_lonlat"]
        self.node_lonlat = a["node_lonlat"]
        self.xy, self.cum = a["geom_xy"], a["geom_cum_m"]
        self.lock = threading.Lock()
        #: per vertex: True where a piece must be ignored by snapping (closed segments)
        self.skip: np.ndarray | None = None
        #: road_segment ids closed in this graph (:meth:`without`)
        self.closed: frozenset[int] = frozenset()
        self._build_snap_index()

    @classmethod
    def from_network(cls, net, mode: str) -> ModeGraph:
        """Build the query structure of ``mode`` over a loaded cache.

        Parameters
        ----------
        net : gis.network_cache.Network
            A loaded (memory-mapped) network cache.
        mode : str
            A mode the cache holds.

        Returns
        -------
        ModeGraph
            The mode's graph.
        """
        return cls(net.arrays, net.projection(), mode)

    def _build_snap_index(self) -> None:
        offsets = self.offsets
        edges = np.flatnonzero(~np.isnan(self.cost))
        starts, ends = offsets[edges], offsets[edges + 1]
        counts = np.maximum(ends - starts - 1, 0)  # pieces (vertex pairs) per segment
        total = int(counts.sum())
        first = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        itype = np.int32 if len(self.lonlat) < 2**31 else np.int64
        piece = (first + np.arange(total)).astype(itype)  # global index of a piece's 1st vertex
        self.grid = SnapGrid(self.xy, piece)
        #: the costs the grid was built from: its segments are those with a finite cost here
        self.grid_cost = self.cost

    def _vertex_mask(self, edges: np.ndarray) -> np.ndarray:
        """Per vertex of the geometry: True for every vertex of the segments ``edges`` (mask)."""
        mask = np.zeros(len(self.lonlat), dtype=bool)
        e = np.flatnonzero(edges)
        counts = (self.offsets[e + 1] - self.offsets[e]).astype(np.int64)
        first = np.repeat(self.offsets[e] - np.cumsum(counts) + counts, counts)
        mask[first + np.arange(int(counts.sum()))] = True
        return mask

    # the main component ----------------------------------------------------------------------
    @property
    def main_nodes(self) -> np.ndarray:
        """Nodes of the mode's largest strongly connected component (computed once, kept)."""
        main = self.__dict__.get("_main")
        if main is None:
            main = self.__dict__["_main"] = largest_component(self.graph)
        return main

    def in_main(self, e: int) -> bool:
        """Tell whether segment ``e`` lies in the main component (both its ends do)."""
        main = self.main_nodes
        return bool(main[int(self.edge_u[e])] and main[int(self.edge_v[e])])

    def _main_skip(self) -> np.ndarray:
        """Snapping mask that leaves only the passable segments of the main component."""
        skip = self.__dict__.get("_main_mask")
        if skip is None:
            main = self.main_nodes
            outside = ~(main[np.asarray(self.edge_u)] & main[np.asarray(self.edge_v)])
            skip = self._vertex_mask(outside)
            if self.skip is not None:
                skip |= self.skip
            self.__dict__["_main_mask"] = skip
        return skip

    def locate_main(self, lat: float, lon: float, limit_m: float = SNAP_LIMIT_M) -> Snap | None:
        """Snap like :meth:`locate`, to the main component's segments only.

        Parameters
        ----------
        lat, lon : float
            The point (degrees).
        limit_m : float
            Farthest the road may be (metres).

        Returns
        -------
        Snap or None
            The road point, or None when no segment of the main component is that near.
        """
        return self._locate(lat, lon, limit_m, self._main_skip())

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.indptr) - 1

    @property
    def rows(self) -> np.ndarray:
        """The tail node of each adjacency entry (computed on first use, then kept)."""
        rows = self.__dict__.get("_rows")
        if rows is None:
            rows = np.repeat(np.arange(self.n_nodes, dtype=np.int32), np.diff(self.indptr))
            self.__dict__["_rows"] = rows
        return rows

    # closed segments -------------------------------------------------------------------------
    def without(self, segment_ids: Iterable[int]) -> ModeGraph:
        """Give this network with some segments closed (for what-if analyses).

        Closed segments carry no traffic and nothing snaps to them. The copy shares the
        snapping grid and geometry with this graph; its adjacency is new.

        Parameters
        ----------
        segment_ids : iterable of int
            ``road_segment.id`` of the segments to close (unknown ids are ignored).

        Returns
        -------
        ModeGraph
            A new graph; this one is unchanged.
        """
        ids = frozenset(int(i) for i in segment_ids) | self.closed
        closed = np.isin(np.asarray(self.edge_id), np.fromiter(ids, np.int64, len(ids)))
        g = copy.copy(self)
        for key in _DERIVED:
            g.__dict__.pop(key, None)
        g.closed = ids
        g.lock = threading.Lock()
        seg = np.where(self.edge >= 0, self.edge, ~np.asarray(self.edge))
        keep = ~closed[seg]
        rows = self.rows[keep]
        g.indptr, g.indices, g.weight, g.edge = csr_from_rows(
            self.n_nodes,
            rows,
            np.asarray(self.indices)[keep],
            np.array(self.weight, dtype=np.float64)[keep],
            np.asarray(self.edge)[keep],
        )
        g.graph = csr_graph(g.indptr, g.indices, g.weight)
        g.cost = np.where(closed, np.nan, self.cost)
        skip = self._vertex_mask(closed)
        if self.skip is not None:
            skip |= self.skip
        g.skip = skip
        return g

    def with_costs(self, cost_s: np.ndarray) -> ModeGraph:
        """Give this network with other travel times per segment (road conditions changed).

        The adjacency is rebuilt (:func:`mode_csr`); the snapping grid is shared when every
        passable segment is already in it (segments that became impassable are masked), and
        rebuilt otherwise. The main component is kept when the same segments are passable.

        Parameters
        ----------
        cost_s : ndarray of float [E]
            Seconds per segment for this mode (NaN: impassable), e.g. the cache's
            ``edge_cost_<mode>`` with some entries changed.

        Returns
        -------
        ModeGraph
            A new graph; this one is unchanged.
        """
        cost = np.asarray(cost_s, dtype=np.float64)
        g = copy.copy(self)
        for key in _DERIVED:
            g.__dict__.pop(key, None)
        g.lock = threading.Lock()
        patched = self._patched_csr(cost)
        if patched is None:
            oneway = np.asarray(self.edge_oneway) if self.oneway else np.zeros(len(cost), bool)
            patched = mode_csr(
                self.n_nodes, np.asarray(self.edge_u), np.asarray(self.edge_v), cost, oneway
            )
        g.indptr, g.indices, g.weight, g.edge = patched
        g.graph = csr_graph(g.indptr, g.indices, g.weight)
        g.cost = cost
        passable = ~np.isnan(cost)
        in_grid = ~np.isnan(np.asarray(self.grid_cost))
        if (passable & ~in_grid).any():
            g.skip = None
            g._build_snap_index()
        else:
            closed = in_grid & ~passable
            g.skip = self._vertex_mask(closed) if closed.any() else None
        if "_main" in self.__dict__ and self._same_main(g):
            g.__dict__["_main"] = self.__dict__["_main"]
        return g

    def _same_main(self, g: ModeGraph) -> bool:
        """Tell cheaply whether ``g`` (this graph, other costs) has the same main component.

        True when the same segments pass, or when some only closed and each closed entry
        ``a -> b`` of the main component can still be bypassed (``b`` stays reachable from
        ``a``, found by a short bounded search: then every cycle through it can be rerouted).
        """
        was = ~np.isnan(np.asarray(self.cost))
        now = ~np.isnan(np.asarray(g.cost))
        if (now & ~was).any():
            return False  # opened: the main component may grow
        closed = np.flatnonzero(was & ~now)
        if len(closed) > PATCH_MOST:
            return False
        main = self.main_nodes
        for e in closed.tolist():
            u, v = int(self.edge_u[e]), int(self.edge_v[e])
            if u == v or not (main[u] and main[v]):
                continue  # not in the main component: its removal cannot split it
            for a, b in [(u, v)] if self.binds_oneway(e) else [(u, v), (v, u)]:
                limit = 60.0 + 10.0 * float(self.cost[e])
                reach = dijkstra(g.graph, directed=True, indices=a, limit=limit)
                if not np.isfinite(reach[b]):
                    return False
        return True

    def _patched_csr(self, cost: np.ndarray):
        """Give the adjacency for ``cost`` by patching this one, or None to rebuild it.

        A few changed segments (at most :data:`PATCH_MOST`) with no parallel segment: their
        entries get the new weight, or are dropped when the segment closes. A segment that
        opens, or one with a parallel twin (the merge keeps the cheaper), needs a rebuild.
        """
        old = np.asarray(self.cost)
        changed = np.flatnonzero(~((old == cost) | (np.isnan(old) & np.isnan(cost))))
        if len(changed) > PATCH_MOST:
            return None
        eu, ev = np.asarray(self.edge_u), np.asarray(self.edge_v)
        indptr, indices = self.indptr, self.indices
        weight = np.array(self.weight, dtype=np.float64)
        drop = []
        for e in changed.tolist():
            u, v = int(eu[e]), int(ev[e])
            if u == v:
                continue  # a loop has no entry
            if np.count_nonzero(((eu == u) & (ev == v)) | ((eu == v) & (ev == u))) > 1:
                return None
            ways = [(u, v)] if self.binds_oneway(e) else [(u, v), (v, u)]
            for a, b in ways:
                lo, hi = int(indptr[a]), int(indptr[a + 1])
                j = lo + int(np.searchsorted(indices[lo:hi], b))
                found = j < hi and int(indices[j]) == b
                if not found:
                    if not np.isnan(cost[e]):
                        return None  # opens: a new entry
                elif np.isnan(cost[e]):
                    drop.append(j)
                else:
                    weight[j] = cost[e]
        if not drop:
            return indptr, indices, weight, self.edge
        keep = np.ones(len(weight), dtype=bool)
        keep[drop] = False
        return csr_from_rows(
            self.n_nodes,
            self.rows[keep],
            np.asarray(indices)[keep],
            weight[keep],
            np.asarray(self.edge)[keep],
        )

    # snapping --------------------------------------------------------------------------------
    def snap(self, lat: float, lon: float, limit_m: float = SNAP_LIMIT_M) -> Snap:
        """Snap a point to the nearest point of a segment this mode may use.

        Parameters
        ----------
        lat, lon : float
            The point (degrees).
        limit_m : float
            Farthest the road may be (metres).

        Returns
        -------
        Snap
            The road point, with the ends a traveller may move to (:meth:`exits`).

        Raises
        ------
        UnprocessableError
            No usable segment within ``limit_m`` (code ``off_network``).
        """
        found = self.locate(lat, lon, limit_m)
        if found is None:
            msg = (
                f"The point is more than {limit_m:g} m from any road usable by {self.mode}; "
                "choose a point closer to the road network."
            )
            raise UnprocessableError(msg, code="off_network", param="lat")
        return found

    def locate(self, lat: float, lon: float, limit_m: float = SNAP_LIMIT_M) -> Snap | None:
        """Snap like :meth:`snap`, but give None when no road is within ``limit_m``.

        Parameters
        ----------
        lat, lon : float
            The point (degrees).
        limit_m : float
            Farthest the road may be (metres).

        Returns
        -------
        Snap or None
            The road point, or None.
        """
        return self._locate(lat, lon, limit_m, self.skip)

    def _locate(self, lat: float, lon: float, limit_m: float, skip) -> Snap | None:
        proj = self.proj
        x = (lon - proj.lon0) * proj.kx
        y = (lat - proj.lat0) * proj.ky
        found = self.grid.nearest_piece(x, y, limit_m, skip)
        if found is None:
            return None
        _, g, s, px, py = found
        e = int(np.searchsorted(self.offsets, g, side="right")) - 1
        lo, hi = int(self.offsets[e]), int(self.offsets[e + 1])
        cum = self.cum
        total = float(cum[hi - 1])
        if s >= 1.0 and g + 2 == hi:  # the segment's last vertex: exactly its end
            fraction = 1.0
        elif total > 0:
            before = float(cum[g]) + s * (float(cum[g + 1]) - float(cum[g]))
            fraction = min(1.0, max(0.0, before / total))
        else:
            fraction = 0.0
        slon = px / proj.kx + proj.lon0
        slat = py / proj.ky + proj.lat0
        return Snap(
            lat=slat,
            lon=slon,
            x=px,
            y=py,
            distance_m=haversine_m(float(lon), float(lat), float(slon), float(slat)),
            edge=e,
            vertex=g - lo,
            fraction=fraction,
            options=self.exits(e, fraction),
        )

    def binds_oneway(self, e: int) -> bool:
        """Tell whether segment ``e`` may only be travelled ``u -> v`` by this mode."""
        return bool(self.oneway and self.edge_oneway[e])

    def exits(self, e: int, fraction: float) -> list[tuple[int, float, bool]]:
        """List where a traveller at ``fraction`` of segment ``e`` may go first.

        Parameters
        ----------
        e : int
            Segment index.
        fraction : float
            Position along it (0 at ``u``, 1 at ``v``).

        Returns
        -------
        list of (node, offset_s, towards_v)
            ``v`` for ``(1 - fraction) * cost`` seconds and, unless one-way binds (or the
            point is at ``u`` itself), ``u`` for ``fraction * cost``; cheapest first.
        """
        cost = float(self.cost[e])
        options = [(int(self.edge_v[e]), (1.0 - fraction) * cost, True)]
        if fraction == 0.0 or not self.binds_oneway(e):
            options.append((int(self.edge_u[e]), fraction * cost, False))
            if options[1][1] < options[0][1]:
                options.reverse()
        return options

    def entries(self, e: int, fraction: float) -> list[tuple[int, float, bool]]:
        """List the ends from which a point at ``fraction`` of segment ``e`` is reached.

        Parameters
        ----------
        e : int
            Segment index.
        fraction : float
            Position along it (0 at ``u``, 1 at ``v``).

        Returns
        -------
        list of (node, cost_s, from_u)
            ``u`` for ``fraction * cost`` seconds (travelling ``u -> v``) and, unless one-way
            binds (or the point is at ``v`` itself), ``v`` for ``(1 - fraction) * cost``.
        """
        cost = float(self.cost[e])
        out = [(int(self.edge_u[e]), fraction * cost, True)]
        if fraction == 1.0 or not self.binds_oneway(e):
            out.append((int(self.edge_v[e]), (1.0 - fraction) * cost, False))
        return out

    def along_s(self, e: int, start: float, end: float) -> float:
        """Seconds from ``start`` to ``end`` (fractions) along segment ``e``, inf if forbidden.

        Parameters
        ----------
        e : int
            Segment index.
        start, end : float
            Fractions of the segment's length.

        Returns
        -------
        float
            ``|end - start| * cost``; inf when that is backwards on a segment one-way binds.
        """
        if end < start and self.binds_oneway(e):
            return math.inf
        return abs(end - start) * float(self.cost[e])

    # paths -----------------------------------------------------------------------------------
    def hop_codes(self, nodes: np.ndarray) -> np.ndarray:
        """Give the segment code (``e`` forward, ``~e`` backward) of each hop of a node path.

        Parameters
        ----------
        nodes : ndarray of int
            Consecutive nodes joined by entries of the graph.

        Returns
        -------
        ndarray of int32
            One code per hop (``len(nodes) - 1``).
        """
        if len(nodes) < 2:
            return np.zeros(0, np.int32)
        a, b = nodes[:-1], nodes[1:]
        starts = self.indptr[a].astype(np.int64)
        deg = self.indptr[a + 1].astype(np.int64) - starts
        idx = np.repeat(starts - np.cumsum(deg) + deg, deg) + np.arange(int(deg.sum()))
        match = self.indices[idx] == np.repeat(b, deg)
        return self.edge[idx[match]]
