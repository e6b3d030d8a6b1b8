"""Bounded searches on the part of the network they can reach: exact, at a fraction of the cost.

scipy's Dijkstra initialises arrays of the whole graph's size on every call, and with several
sources it returns a dense row per source, so a search that settles a few thousand nodes of a
million-node graph costs as much as a full one. Coverage analysis runs many such searches (one
per facility for accessibility, one per candidate site or cluster of sites for site choice),
each bounded by T. Here each runs on the **induced subgraph of the nodes it can reach**.

The speed bound
---------------
:class:`Space` measures, once per graph, the fastest straight-line speed of any entry of the
adjacency: ``speed = max |xy_a - xy_b| / seconds(a -> b)`` in the network's local projection
(the same one snapping uses). By the triangle inequality, every node of a path of at most
``T`` seconds from node ``a`` lies within ``speed * T`` metres of ``a``. So a search bounded by
``T`` that starts from the entry nodes of some road points settles exactly the same nodes, at
exactly the same times (the same sums of the same weights, in the same order), on the
subgraph induced by the nodes within that radius of those entry nodes as on the whole graph.
The region taken is a rectangle of grid cells around them (a superset). Closing roads only
removes entries, so the bound of a mode's graph holds for every scenario of it. An entry that
costs nothing between two distinct points makes the speed infinite: then every search runs on
the whole graph, as before.

Results come back sparse: ``(nodes, seconds)`` of the nodes within the limit.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from gis.graph import ModeGraph

logger = logging.getLogger(__name__)

#: Relative slack on the speed bound (rounding of the weights' sums and of the distances).
SLACK = 1e-9
#: Grid cells of the node index: at least this size (metres) ...
MIN_CELL_M = 100.0
#: ... and at most about this many along the longer side of the network's extent.
MAX_CELLS_PER_SIDE = 1024
#: A region above this share of the graph is searched on the whole graph instead.
WHOLE_SHARE = 0.6


@dataclass
class Region:
    """The nodes a batch of bounded searches may reach, and their induced subgraph.

    Attributes
    ----------
    nodes : ndarray of int64 [n]
        Node indices of the whole graph, sorted (local node ``i`` is ``nodes[i]``); None: the
        whole graph.
    graph : csr_array
        The induced subgraph, ``n x n``.
    """

    nodes: np.ndarray | None
    graph: csr_array

    def local(self, node: np.ndarray) -> np.ndarray:
        """Give the local index of whole-graph nodes (-1 where outside the region)."""
        node = np.asarray(node, dtype=np.int64)
        if self.nodes is None:
            return node
        pos = np.searchsorted(self.nodes, node)
        pos = np.minimum(pos, max(len(self.nodes) - 1, 0))
        if len(self.nodes) == 0:
            return np.full(len(node), -1, np.int64)
        return np.where(self.nodes[pos] == node, pos, -1)

    def whole(self, local: np.ndarray) -> np.ndarray:
        """Give the whole-graph index of local nodes."""
        return local if self.nodes is None else self.nodes[local]


class Space:
    """Node positions, the speed bound and a grid index of one mode's network.

    Parameters
    ----------
    graph : ModeGraph
        The mode's graph without closures (the bound then holds for every closure).
    """

    def __init__(self, graph: ModeGraph) -> None:
        self.n_nodes = graph.n_nodes
        xy = graph.proj.forward_xy(np.asarray(graph.node_lonlat, dtype=float))
        self.xy = xy
        rows = np.asarray(graph.rows, dtype=np.int64)
        cols = np.asarray(graph.indices, dtype=np.int64)
        w = np.asarray(graph.weight, dtype=float)
        d = np.hypot(xy[rows, 0] - xy[cols, 0], xy[rows, 1] - xy[cols, 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(d > 0, d / w, 0.0)
        self.speed_mps = float(ratio.max()) if len(ratio) else 0.0
        if not math.isfinite(self.speed_mps):
            logger.info("an entry costs nothing over a distance: searches use the whole graph")
        self._index(xy)
        self._scratch = threading.local()

    def _index(self, xy: np.ndarray) -> None:
        if len(xy) == 0:
            self.lo = np.zeros(2)
            self.cell_m = MIN_CELL_M
            self.shape = (1, 1)
            self.order = np.zeros(0, np.int64)
            self.start = np.zeros(2, np.int64)
            return
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        extent = float((hi - lo).max())
        self.lo = lo
        self.cell_m = max(MIN_CELL_M, extent / MAX_CELLS_PER_SIDE)
        nx_, ny = (np.floor((hi - lo) / self.cell_m).astype(np.int64) + 1).tolist()
        self.shape = (nx_, ny)
        cx, cy = self.cells(xy)
        key = cy * nx_ + cx
        self.order = np.argsort(key, kind="stable").astype(np.int64)
        counts = np.bincount(key, minlength=nx_ * ny)
        self.start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def cells(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Give the grid cell ``(cx, cy)`` of projected points (clipped to the grid)."""
        c = np.floor((np.asarray(xy, dtype=float) - self.lo) / self.cell_m).astype(np.int64)
        cx = np.clip(c[:, 0], 0, self.shape[0] - 1)
        cy = np.clip(c[:, 1], 0, self.shape[1] - 1)
        return cx, cy

    def radius_m(self, limit_s: float) -> float:
        """Give how far (metres, straight) a path of ``limit_s`` seconds may lead."""
        return self.speed_mps * limit_s * (1 + SLACK) + 1e-6

    def near(self, nodes: np.ndarray, limit_s: float) -> np.ndarray | None:
        """Give the nodes that paths of at most ``limit_s`` from or to ``nodes`` may touch.

        Parameters
        ----------
        nodes : ndarray of int
            Start nodes.
        limit_s : float
            Seconds.

        Returns
        -------
        ndarray of int64 or None
            Sorted node indices (a superset: whole grid cells), or None when that would be
            most of the graph (or the speed bound is infinite).
        """
        r = self.radius_m(limit_s)
        if not math.isfinite(r) or len(nodes) == 0:
            return None if len(nodes) else np.zeros(0, np.int64)
        pts = self.xy[np.asarray(nodes, dtype=np.int64)]
        lo = np.floor((pts.min(axis=0) - r - self.lo) / self.cell_m).astype(np.int64)
        hi = np.floor((pts.max(axis=0) + r - self.lo) / self.cell_m).astype(np.int64)
        x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
        x1, y1 = min(int(hi[0]), self.shape[0] - 1), min(int(hi[1]), self.shape[1] - 1)
        rows = np.arange(y0, y1 + 1, dtype=np.int64) * self.shape[0]
        a = self.start[rows + x0]
        b = self.start[rows + x1 + 1]
        total = int((b - a).sum())
        if total > WHOLE_SHARE * self.n_nodes:
            return None
        counts = b - a
        idx = np.repeat(a - np.cumsum(counts) + counts, counts) + np.arange(total)
        return np.sort(self.order[idx])

    def region(self, graph: csr_array, nodes: np.ndarray, limit_s: float) -> Region:
        """Give the induced subgraph of ``graph`` that searches from ``nodes`` may use.

        Parameters
        ----------
        graph : csr_array
            The graph searched (forward or reversed; a scenario's with roads closed).
        nodes : ndarray of int
            The searches' start nodes.
        limit_s : float
            Their bound in seconds.

        Returns
        -------
        Region
            The region (the whole graph when :meth:`near` says so).
        """
        keep = self.near(nodes, limit_s)
        if keep is None:
            return Region(None, graph)
        return Region(keep, self.induced(graph, keep))

    def induced(self, graph: csr_array, nodes: np.ndarray) -> csr_array:
        """Give the subgraph of ``graph`` induced by sorted ``nodes`` (renumbered 0..n-1)."""
        local = getattr(self._scratch, "local", None)
        if local is None or len(local) != graph.shape[0]:
            local = np.full(graph.shape[0], -1, np.int64)
            self._scratch.local = local
        n = len(nodes)
        local[nodes] = np.arange(n)
        try:
            indptr = graph.indptr
            starts = indptr[nodes].astype(np.int64)
            counts = indptr[nodes + 1].astype(np.int64) - starts
            total = int(counts.sum())
            idx = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
            cols = local[graph.indices[idx]]
            ok = cols >= 0
            row = np.repeat(np.arange(n), counts)[ok]
        finally:
            local[nodes] = -1
        new_ptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n))])
        return csr_array(
            (np.asarray(graph.data)[idx[ok]], cols[ok].astype(np.int32), new_ptr.astype(np.int32)),
            shape=(n, n),
            copy=False,
        )


def local_graph(
    region: Region,
    entries: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_points: int,
    group_sizes: np.ndarray,
    group_points: np.ndarray,
) -> csr_array:
    """Give a region's graph with virtual nodes for road points and for groups of them.

    Point ``k`` becomes local node ``n + k``, entered (on the reversed graph: left) through
    its entries; group ``j`` becomes node ``n + n_points + j`` with an entry of 0 s to each
    of its points, so a search from it gives the time to the nearest of them.

    Parameters
    ----------
    region : Region
        The region.
    entries : (point, node, cost_s)
        Entries of points ``0 .. n_points - 1`` (whole-graph nodes), grouped by point; those
        outside the region are dropped (they cannot lead anywhere within the bound).
    n_points : int
        Number of points.
    group_sizes : ndarray of int
        Points per group.
    group_points : ndarray of int
        The groups' points, one group after the other.

    Returns
    -------
    csr_array
        The region's graph and the virtual nodes, square.
    """
    g = region.graph
    n = g.shape[0]
    point, node, cost = entries
    loc = region.local(node)
    ok = loc >= 0
    point = np.asarray(point)[ok]
    counts = np.concatenate([np.bincount(point, minlength=n_points)[:n_points], group_sizes])
    indices = np.concatenate([g.indices, loc[ok], n + np.asarray(group_points, dtype=np.int64)])
    data = np.concatenate([g.data, np.asarray(cost, dtype=float)[ok], np.zeros(len(group_points))])
    indptr = np.concatenate([g.indptr, g.indptr[-1] + np.cumsum(counts)])
    m = n + n_points + len(group_sizes)
    itype = np.int32 if indptr[-1] < 2**31 and m < 2**31 else np.int64
    return csr_array((data, indices.astype(itype), indptr.astype(itype)), shape=(m, m), copy=False)


@dataclass
class Batch:
    """One scipy call of :func:`searches`: some groups, their region and their rows.

    Attributes
    ----------
    groups : ndarray of int64 [B]
        Indices of the groups searched (into the ``groups`` given).
    region : Region
        The region they were searched on.
    rows : ndarray [B, n + 1]
        Seconds from each of the region's ``n`` nodes to the group's nearest point (inf
        beyond the bound), and a last column of inf: indexed by :meth:`Region.local`, a node
        outside the region (-1) reads inf.
    """

    groups: np.ndarray
    region: Region
    rows: np.ndarray

    def sparse(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Give each group's reached nodes: ``(group, whole-graph nodes sorted, seconds)``."""
        for grp, row in zip(self.groups.tolist(), self.rows, strict=True):
            hit = np.flatnonzero(row[:-1] != np.inf)
            yield grp, self.region.whole(hit), row[hit]


#: Sources per scipy call, at most.
BATCH = 64
#: Tiles are sized to hold about this many searches (and are at least two radii wide).
TILE_ITEMS = 16
#: ... and at least this many search radii wide.
TILE_RADII = 2.0


def searches(
    space: Space | None,
    graph: csr_array,
    entries: tuple[np.ndarray, np.ndarray, np.ndarray],
    groups: list[np.ndarray],
    limit_s: float,
    *,
    batch: int = BATCH,
) -> Iterator[Batch]:
    """Search from groups of road points, up to ``limit_s``: the time to each group's nearest.

    Groups are searched in batches of nearby ones, each on its region (see the module
    docstring); a group of one point is a search from that point.

    Parameters
    ----------
    space : Space or None
        The network's space (None: search the whole graph, the reference).
    graph : csr_array
        The reversed graph (times *to* the points), possibly with roads closed.
    entries : (point, node, cost_s)
        How each point is entered (:func:`gis.coverage_reach.point_entries`), grouped by
        point.
    groups : list of ndarray of int
        Point indices per group (points without entries count for nothing; a group without
        any point with entries is left out).
    limit_s : float
        The bound (seconds).
    batch : int
        Groups per scipy call.

    Yields
    ------
    Batch
        Groups, their region and their rows, in an order of their own (spatial).
    """
    point, node, cost = (np.asarray(a) for a in entries)
    sizes = np.asarray([len(grp) for grp in groups], dtype=np.int64)
    flat = np.concatenate([np.asarray(grp, dtype=np.int64) for grp in groups] + [[]]).astype(
        np.int64
    )
    n_all = max(int(point.max()) + 1 if len(point) else 0, int(flat.max(initial=-1)) + 1)
    ptr = np.concatenate([[0], np.cumsum(np.bincount(point, minlength=n_all))]).astype(np.int64)
    gid = np.repeat(np.arange(len(groups)), sizes)
    has = ptr[flat + 1] > ptr[flat]  # points without entries count for nothing
    flat, gid = flat[has], gid[has]
    size = np.bincount(gid, minlength=len(groups))
    start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    live = np.flatnonzero(size > 0)
    if len(live) == 0:
        return
    first = node[ptr[flat[start[live]]]]
    for part in _tiles(space, first, live, limit_s, batch):
        c = size[part]
        midx = _ranges(start[part], c)
        pts, inv = np.unique(flat[midx], return_inverse=True)
        counts = ptr[pts + 1] - ptr[pts]
        idx = _ranges(ptr[pts], counts)
        nodes = node[idx]
        region = Region(None, graph) if space is None else space.region(graph, nodes, limit_s)
        k = len(pts)
        multi = c > 1
        in_multi = np.repeat(multi, c)
        g = local_graph(
            region,
            (np.repeat(np.arange(k), counts), nodes, cost[idx]),
            k,
            c[multi],
            inv[in_multi],
        )
        n = region.graph.shape[0]
        first_local = inv[np.concatenate([[0], np.cumsum(c)[:-1]]).astype(np.int64)]
        src = np.where(multi, n + k + np.cumsum(multi) - 1, n + first_local)
        rows = np.atleast_2d(dijkstra(g, directed=True, indices=src, limit=limit_s))
        rows[:, n] = np.inf  # the sentinel column: local index -1 (outside the region)
        yield Batch(part, region, rows[:, : n + 1])


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenate the index ranges ``starts[i] .. starts[i] + counts[i] - 1``."""
    starts = np.asarray(starts, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    return np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))


def point_searches(
    space: Space | None,
    graph: csr_array,
    entries: tuple[np.ndarray, np.ndarray, np.ndarray],
    points: np.ndarray,
    limit_s: float,
    *,
    batch: int = BATCH,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Search from each road point, up to ``limit_s`` (:func:`searches` of one point each).

    Yields
    ------
    (point, nodes, seconds)
        For each point with entries, in an order of their own: the whole-graph nodes within
        ``limit_s`` of it (sorted) and their times.
    """
    points = np.asarray(points, dtype=np.int64)
    groups = [points[i : i + 1] for i in range(len(points))]
    for b in searches(space, graph, entries, groups, limit_s, batch=batch):
        for grp, nodes, t in b.sparse():
            yield int(points[grp]), nodes, t


def _tiles(
    space: Space | None, first: np.ndarray, items: np.ndarray, limit_s: float, batch: int
) -> Iterator[np.ndarray]:
    """Group items by square tiles, ``batch`` at most per group, in the tiles' order.

    A tile holds about :data:`TILE_ITEMS` items and is at least :data:`TILE_RADII` search
    radii wide.
    """
    r = space.radius_m(limit_s) if space is not None else math.inf
    if space is None or not math.isfinite(r):
        for s in range(0, len(items), batch):
            yield items[s : s + batch]
        return
    xy = space.xy[first]
    span = np.maximum(xy.max(axis=0) - xy.min(axis=0), space.cell_m)
    side = max(TILE_RADII * r, math.sqrt(float(span[0] * span[1]) / len(items) * TILE_ITEMS))
    cx, cy = space.cells(xy)
    f = max(1, int(side // space.cell_m))
    tx, ty = cx // f, cy // f
    order = np.lexsort((items, tx, ty))
    key = (ty * (space.shape[0] // f + 1) + tx)[order]
    cut = np.flatnonzero(np.diff(key)) + 1
    for part in np.split(order, cut):
        for s in range(0, len(part), batch):
            yield items[part[s : s + batch]]
