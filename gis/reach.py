"""What can be reached from a point: bounded Dijkstra, and the polygons of reach (isochrones).

Bounded Dijkstra
----------------
:func:`bounded_dijkstra` runs scipy's Dijkstra with ``limit=`` from a snapped point. The point
is not a node, so the search starts at the nearer end ``s`` of its segment and, for the length
of the call, the entry ``s -> o`` to the other end ``o`` costs only the difference of the two
offsets: exact, with one Dijkstra instead of two. The weights are a private copy-on-write map
and the change is made under the graph's lock.

Reach polygons
--------------
:func:`reach_polygon` is the concave hull (``ratio=0.3``) of the nodes reached in time plus the
points along edges where the time runs out, thinned to about :data:`ISO_POINTS` points,
buffered (15 m walking, 30 m otherwise, more when thinned) and simplified by 2 m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra

from gis.graph import ModeGraph
from gis.snapping import Snap

#: Reach polygons are hulls of at most about this many points.
ISO_POINTS = 1500


@dataclass
class BoundedSearch:
    """The result of :func:`bounded_dijkstra`.

    Attributes
    ----------
    dist_s : ndarray of float64 [N]
        Seconds from the start node ``start[0]`` (inf beyond the limit). Add ``start[1]`` for
        the time from the snapped point (not added here: that is O(N) per call).
    pred : ndarray of int32 [N] or None
        Predecessor of each node on its shortest path (None unless asked for).
    start : (node, offset_s, towards_v)
        The snapped point's exit the search started from.
    virtual : (s, o) or None
        When set, the entry ``s -> o`` stood for "snapped point -> o" during the search: a
        path whose second node is ``o`` left the point through ``o``, not through ``s``.
    other : (node, offset_s, towards_v) or None
        The snap's other exit, if it has one.
    """

    dist_s: np.ndarray
    pred: np.ndarray | None
    start: tuple[int, float, bool]
    virtual: tuple[int, int] | None
    other: tuple[int, float, bool] | None = None

    def time_s(self, nodes) -> np.ndarray:
        """Seconds from the snapped point to ``nodes`` (inf where not reached)."""
        return self.dist_s[nodes] + self.start[1]

    def path(self, node: int) -> tuple[list[int], tuple[int, float, bool]]:
        """Give the node path from the snapped point to a reached ``node``.

        Parameters
        ----------
        node : int
            A node with a finite :attr:`dist_s` (search run with predecessors).

        Returns
        -------
        nodes : list of int
            The nodes, from the end of the snapped segment the path leaves by to ``node``.
        exit : (node, offset_s, towards_v)
            That end, one of the snap's :attr:`gis.snapping.Snap.options`.
        """
        if self.pred is None:
            msg = "the search was run without predecessors"
            raise ValueError(msg)
        nodes = [int(node)]
        while nodes[-1] != self.start[0]:
            nodes.append(int(self.pred[nodes[-1]]))
        nodes.reverse()
        if self.virtual is not None and len(nodes) >= 2 and nodes[1] == self.virtual[1]:
            assert self.other is not None  # a virtual entry needs the other exit
            return nodes[1:], self.other
        return nodes, self.start


def bounded_dijkstra(
    graph: ModeGraph, snap: Snap, limit_s: float, *, predecessors: bool = True
) -> BoundedSearch:
    """Run Dijkstra from a snapped point, up to ``limit_s`` seconds.

    Parameters
    ----------
    graph : ModeGraph
        The mode's graph (possibly with closed segments).
    snap : Snap
        The starting point (:meth:`gis.graph.ModeGraph.snap`).
    limit_s : float
        Nodes further than this from the point are not settled (inf).
    predecessors : bool
        Also return the shortest-path tree.

    Returns
    -------
    BoundedSearch
        Distances (from the start node), predecessors, the start and the virtual entry.
    """
    s_node, s_off, _ = snap.options[0]
    virtual = None
    entry = -1
    if len(snap.options) == 2 and snap.options[1][0] != s_node:
        o_node, o_off, _ = snap.options[1]
        lo, hi = int(graph.indptr[s_node]), int(graph.indptr[s_node + 1])
        j = lo + int(np.searchsorted(graph.indices[lo:hi], o_node))
        if j < hi and graph.indices[j] == o_node and o_off - s_off < graph.weight[j]:
            entry = j
            virtual = (s_node, o_node)
    with graph.lock:
        if entry >= 0:
            saved = float(graph.weight[entry])
            graph.weight[entry] = snap.options[1][1] - s_off
        try:
            found = dijkstra(
                graph.graph,
                directed=True,
                indices=s_node,
                limit=max(limit_s - s_off, 0.0),
                return_predecessors=predecessors,
            )
        finally:
            if entry >= 0:
                graph.weight[entry] = saved
    dist, pred = found if predecessors else (found, None)
    other = snap.options[1] if len(snap.options) == 2 else None
    return BoundedSearch(dist, pred, snap.options[0], virtual, other)


def reach_polygon(
    graph: ModeGraph,
    snap: Snap,
    dist_s: np.ndarray,
    budget_s: float,
    start_s: float,
    reached: np.ndarray | None = None,
) -> shapely.Geometry:
    """Draw the area reachable within ``budget_s`` seconds of a snapped point.

    Parameters
    ----------
    graph : ModeGraph
        The mode's graph the search ran on.
    snap : Snap
        The starting point.
    dist_s : ndarray [N]
        Seconds from the start node (:attr:`BoundedSearch.dist_s`), searched at least as far
        as ``budget_s``.
    budget_s : float
        The travel time (seconds).
    start_s : float
        Seconds from the point to the start node (:attr:`BoundedSearch.start` ``[1]``).
    reached : ndarray of int, optional
        The nodes within ``budget_s`` of the point, when the caller has them.

    Returns
    -------
    shapely.Geometry
        A Polygon or MultiPolygon in longitude/latitude (EPSG:4326), coordinates rounded to
        7 decimals.
    """
    proj = graph.proj
    node_lonlat = graph.node_lonlat
    if reached is None:
        reached = np.flatnonzero(dist_s <= budget_s - start_s)
    pts = [np.array([[snap.x, snap.y]])]
    for node, off, _ in snap.options:  # along the snapped segment
        if off > 0:
            f = min(1.0, budget_s / off)
            end = proj.forward_xy(node_lonlat[[node]])[0]
            pts.append(np.array([[snap.x + f * (end[0] - snap.x), snap.y + f * (end[1] - snap.y)]]))
    if len(reached):
        xy = proj.forward_xy(node_lonlat[reached])
        pts.append(xy)
        starts = graph.indptr[reached].astype(np.int64)
        deg = graph.indptr[reached + 1].astype(np.int64) - starts
        idx = np.repeat(starts - np.cumsum(deg) + deg, deg) + np.arange(int(deg.sum()))
        src = np.repeat(np.arange(len(reached)), deg)
        left = budget_s - start_s - dist_s[reached][src]
        with graph.lock:  # another thread's bounded_dijkstra may have one entry re-weighted
            w = graph.weight[idx]
        cut = w > left
        if cut.any():
            frac = (left[cut] / w[cut])[:, None]
            a_xy = xy[src[cut]]
            b_xy = proj.forward_xy(node_lonlat[graph.indices[idx[cut]]])
            pts.append(a_xy + (b_xy - a_xy) * frac)
    points = np.concatenate(pts)
    buffer_m = 15.0 if graph.mode == "walk" else 30.0
    # Thin the points to one per cell of a grid sized for ~ISO_POINTS cells, so the hull
    # stays fast; the buffer grows to cover every dropped point (within a cell diagonal).
    lo, hi = points.min(axis=0), points.max(axis=0)
    cell = math.sqrt(max(float((hi - lo).prod()), 1.0) / ISO_POINTS)
    if cell > buffer_m / 1.5 and len(points) > ISO_POINTS:
        key = np.floor((points - lo) / cell).astype(np.int64)
        _, keep = np.unique(
            key[:, 0] * (int((hi - lo)[1] // cell) + 2) + key[:, 1], return_index=True
        )
        points = points[keep]
        buffer_m = 1.5 * cell + 3.0
    multi = shapely.multipoints(points)
    hull = shapely.concave_hull(multi, ratio=0.3) if len(points) >= 3 else multi
    poly = shapely.buffer(hull, buffer_m, quad_segs=4)
    poly = shapely.simplify(poly, 2.0)

    def to_lonlat(xy):
        lon, lat = proj.inverse(xy[:, 0], xy[:, 1])
        return np.round(np.column_stack([lon, lat]), 7)

    return shapely.transform(poly, to_lonlat)
