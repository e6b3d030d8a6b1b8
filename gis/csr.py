"""CSR adjacency arrays of one travel mode: building, components and next-hop codes.

Nodes are numbered 0..N-1. Each segment the mode may pass gives an entry ``u -> v`` and,
unless ``oneway`` binds the mode, an entry ``v -> u`` (:func:`mode_csr`); parallel entries keep
the cheapest. Each entry carries a *segment code*: the segment index ``e`` when travelled
``u -> v``, ``~e`` when ``v -> u``. :mod:`gis.graph` builds the per-mode query structure on
these arrays.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components

#: ``code`` of a node with no next hop towards a facility (none is reachable).
NO_HOP = np.iinfo(np.int32).min
#: ``code`` of a node whose next hop is the last one: along the facility's own segment to the
#: facility's point on it.
LAST_HOP = NO_HOP + 1


def mode_csr(
    n_nodes: int, edge_u: np.ndarray, edge_v: np.ndarray, cost_s: np.ndarray, oneway: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Build the forward adjacency of one mode as CSR arrays.

    Each passable segment gives ``u -> v``, and ``v -> u`` unless ``oneway`` is true for it.
    Parallel edges keep the cheapest; self-loops are dropped (never on a shortest path).

    Parameters
    ----------
    n_nodes : int
        Number of nodes.
    edge_u, edge_v : ndarray of int
        End nodes of each segment.
    cost_s : ndarray of float
        Travel time of each segment (seconds); NaN where the mode may not pass.
    oneway : ndarray of bool
        Whether each segment may only be travelled ``u -> v`` by this mode.

    Returns
    -------
    indptr : ndarray, int32 or int64 [n_nodes + 1]
        Row pointers.
    indices : ndarray, int32
        Head node of each entry, sorted within each row.
    weight : ndarray, float64
        Travel time of each entry in seconds.
    edge : ndarray, int32
        Segment code of each entry: ``e`` when travelled ``u -> v``, ``~e`` when ``v -> u``.
    """
    ok = ~np.isnan(cost_s) & (edge_u != edge_v)
    e = np.flatnonzero(ok)
    two = e[~oneway[e]]
    rows = np.concatenate([edge_u[e], edge_v[two]])
    cols = np.concatenate([edge_v[e], edge_u[two]])
    weight = np.concatenate([cost_s[e], cost_s[two]])
    code = np.concatenate([e, ~two]).astype(np.int32)
    order = np.lexsort((weight, cols, rows))
    rows, cols, weight, code = rows[order], cols[order], weight[order], code[order]
    keep = np.ones(len(rows), dtype=bool)
    keep[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    rows, cols, weight, code = rows[keep], cols[keep], weight[keep], code[keep]
    return csr_from_rows(n_nodes, rows, cols.astype(np.int32), weight.astype(np.float64), code)


def csr_from_rows(n_nodes: int, rows, cols, weight, code):
    """Give the CSR arrays ``(indptr, indices, weight, code)`` of entries sorted by row.

    Parameters
    ----------
    n_nodes : int
        Number of nodes.
    rows, cols, weight, code : ndarray
        Per entry (sorted by ``rows``, then ``cols``): tail node, head node, seconds and
        segment code.

    Returns
    -------
    tuple of ndarray
        ``indptr`` (int32, or int64 for very large graphs), then ``cols``, ``weight`` and
        ``code`` as given.
    """
    counts = np.bincount(rows, minlength=n_nodes)
    itype = np.int32 if len(rows) < 2**31 else np.int64
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(itype)
    return indptr, cols, weight, code


def csr_graph(indptr: np.ndarray, indices: np.ndarray, weight: np.ndarray) -> csr_array:
    """Wrap CSR arrays as a scipy graph, without copying them.

    Parameters
    ----------
    indptr, indices, weight : ndarray
        CSR arrays as made by :func:`mode_csr`.

    Returns
    -------
    csr_array
        A square ``N x N`` sparse matrix; entry ``(a, b)`` is the travel time of ``a -> b``.
    """
    n = len(indptr) - 1
    return csr_array((weight, indices, indptr), shape=(n, n), copy=False)


def largest_component(graph: csr_array) -> np.ndarray:
    """Find the nodes of the largest strongly connected component that has an edge.

    Parameters
    ----------
    graph : csr_array
        A mode's forward graph.

    Returns
    -------
    ndarray of bool [N]
        True for the nodes of that component.
    """
    n = graph.shape[0]
    if graph.nnz == 0:
        return np.zeros(n, dtype=bool)
    _, labels = connected_components(graph, directed=True, connection="strong")
    has_edge = (np.diff(graph.indptr) > 0) | (np.bincount(graph.indices, minlength=n) > 0)
    sizes = np.bincount(labels[has_edge])
    return (labels == int(np.argmax(sizes))) & has_edge


def next_hop_codes(
    indptr: np.ndarray,
    indices: np.ndarray,
    edge: np.ndarray,
    next_node: np.ndarray,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Give the segment code of each node's next hop ``n -> next_node[n]``.

    One vectorised pass over the forward adjacency: the entry is unique because parallel
    edges were merged.

    Parameters
    ----------
    indptr, indices, edge : ndarray
        The forward adjacency (:func:`mode_csr`).
    next_node : ndarray of int [N]
        The next node of each node (anything that is not a node, e.g. -9999: none).
    rows : ndarray of int, optional
        The row (tail node) of each entry, when the caller has it (:attr:`ModeGraph.rows`).

    Returns
    -------
    ndarray of int32 [N]
        Segment code of the hop (as in :func:`mode_csr`), :data:`NO_HOP` where there is none.
    """
    n = len(indptr) - 1
    row = np.repeat(np.arange(n, dtype=np.int32), np.diff(indptr)) if rows is None else rows
    hit = indices == next_node[row]
    code = np.full(n, NO_HOP, np.int32)
    code[row[hit]] = edge[hit]
    return code
