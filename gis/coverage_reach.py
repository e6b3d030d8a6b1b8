"""Travel times *to* given points within T: the shared step of accessibility and site choice.

A point on the road (a facility, a candidate site) is a virtual node, exactly as in the
nearest-facility tables (:mod:`gis.tables`): reached from its segment's ``u`` for
``fraction * cost`` seconds and, unless one-way binds the mode, from ``v`` for
``(1 - fraction) * cost`` (:meth:`gis.graph.ModeGraph.entries`). Appending one such node per
point to the reversed graph, a bounded Dijkstra from a virtual node gives the time from every
node to that point, up to the limit. :func:`times_to` runs those Dijkstras in small batches
(scipy gives a dense row per source).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from gis.graph import ModeGraph

#: Sources per scipy call (each returns a dense row of the graph's size).
BATCH = 16


def point_entries(
    graph: ModeGraph, edge: np.ndarray, fraction: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """List how each road point is entered: ``(point, node, cost_s)`` rows.

    Parameters
    ----------
    graph : ModeGraph
        The mode's graph.
    edge, fraction : ndarray [K]
        Each point's segment (-1: not on the network, no rows) and position on it.

    Returns
    -------
    point, node : ndarray of int64
        Point index and a segment end it is reached from, grouped by point.
    cost_s : ndarray of float64
        Seconds from that end to the point.
    """
    pts, nodes, costs = [], [], []
    for i, (e, t) in enumerate(
        zip(np.asarray(edge).tolist(), np.asarray(fraction).tolist(), strict=True)
    ):
        if e < 0:
            continue
        best: dict[int, float] = {}
        for n, c, _ in graph.entries(int(e), float(t)):
            best[n] = min(c, best.get(n, np.inf))
        for n, c in best.items():
            pts.append(i)
            nodes.append(n)
            costs.append(c)
    return (
        np.asarray(pts, dtype=np.int64),
        np.asarray(nodes, dtype=np.int64),
        np.asarray(costs, dtype=np.float64),
    )


def node_entries(nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries of points that are network nodes themselves (cost 0)."""
    nodes = np.asarray(nodes, dtype=np.int64)
    return np.arange(len(nodes), dtype=np.int64), nodes, np.zeros(len(nodes))


def augment(reverse: csr_array, n_points: int, entries) -> csr_array:
    """Append one virtual node per point to a reversed graph (rows ``N .. N + K - 1``).

    Parameters
    ----------
    reverse : csr_array
        The mode's reversed graph, ``N x N``.
    n_points : int
        ``K``, the number of points.
    entries : (point, node, cost_s)
        As :func:`point_entries` gives them (grouped by point).

    Returns
    -------
    csr_array
        ``(N + K) x (N + K)``; point ``k``'s virtual node is ``N + k``.
    """
    point, node, cost = entries
    n = reverse.shape[0]
    counts = np.bincount(point, minlength=n_points)[:n_points]
    itype = np.int64 if reverse.nnz + len(point) >= 2**31 else np.int32
    indptr = np.concatenate([reverse.indptr, reverse.indptr[-1] + np.cumsum(counts)]).astype(itype)
    order = np.argsort(point, kind="stable")
    indices = np.concatenate([reverse.indices, node[order]]).astype(itype)
    data = np.concatenate([reverse.data, cost[order]])
    return csr_array((data, indices, indptr), shape=(n + n_points, n + n_points), copy=False)


def times_to(
    augmented: csr_array, n_nodes: int, points: np.ndarray, limit_s: float, batch: int = BATCH
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Give, point by point, the time from every node to it, up to ``limit_s``.

    Parameters
    ----------
    augmented : csr_array
        The reversed graph with the points' virtual nodes (:func:`augment`).
    n_nodes : int
        ``N``, the number of real nodes.
    points : ndarray of int
        The points (indices ``k``; their virtual nodes are ``N + k``).
    limit_s : float
        Farthest time (seconds).
    batch : int
        Points per scipy call.

    Yields
    ------
    (points, rows)
        A batch of point indices and their rows ``[len(points), N]`` of seconds (inf beyond
        the limit).
    """
    points = np.asarray(points, dtype=np.int64)
    for start in range(0, len(points), batch):
        chunk = points[start : start + batch]
        rows = dijkstra(augmented, directed=True, indices=n_nodes + chunk, limit=limit_s)
        yield chunk, np.atleast_2d(rows)[:, :n_nodes]


def min_time_to(
    augmented: csr_array, n_nodes: int, points: np.ndarray, limit_s: float
) -> np.ndarray:
    """Give the time from every node to the nearest of ``points``, up to ``limit_s``.

    Parameters
    ----------
    augmented : csr_array
        The reversed graph with the points' virtual nodes (:func:`augment`).
    n_nodes : int
        ``N``.
    points : ndarray of int
        Point indices.
    limit_s : float
        Farthest time (seconds).

    Returns
    -------
    ndarray [N]
        Seconds (inf beyond the limit or where none can be reached).
    """
    if len(points) == 0:
        return np.full(n_nodes, np.inf)
    dist = dijkstra(
        augmented,
        directed=True,
        indices=n_nodes + np.asarray(points, dtype=np.int64),
        limit=limit_s,
        min_only=True,
    )
    return dist[:n_nodes]
