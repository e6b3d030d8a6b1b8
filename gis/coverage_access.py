"""Accessibility per area: the enhanced two-step floating catchment area (E2SFCA).

Luo and Qi (2009), as PySAL's ``access`` package computes it
(``Access.enhanced_two_stage_fca``):

1. For each facility ``j`` with capacity ``S_j``: ``R_j = S_j / sum_i D_i W(t_ij)`` over the
   demand locations ``i`` that reach it within T (``R_j = 0`` when no demand does);
2. for each demand location: ``A_i = sum_j R_j W(t_ij)``.

``t_ij`` is the travel time from node ``i`` to facility ``j``'s road point, by the mode, on the
same network and with the same virtual nodes as the nearest-facility tables.

Distance decay ``W``: the stepwise Gaussian weights of Luo and Qi, on three equal zones of T:
1.00 for ``t <= T/3``, 0.68 for ``T/3 < t <= 2T/3``, 0.22 for ``2T/3 < t <= T``, 0 beyond (the
default of ``access``; its ``weights.step_fn({T/3: 1, 2T/3: 0.68, T: 0.22})``).

Demand ``D_i``: each road piece's demand (people, spread as :mod:`gis.coverage_areas`
describes; or, where not every area has a population, kilometres of road) split half to each
end node of its segment. An area's score is the demand-weighted mean of ``A`` over its pieces
(the mean of the two ends' scores for each piece): capacity per 1,000 people, or per km of road.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.sparse import csr_array

from gis.coverage_local import Space, point_searches
from gis.coverage_reach import point_entries
from gis.graph import ModeGraph

logger = logging.getLogger(__name__)

#: Weights of the three zones of T (Luo and Qi 2009).
STEP_WEIGHTS: tuple[float, float, float] = (1.0, 0.68, 0.22)


def decay(threshold_s: float) -> dict:
    """Describe the distance decay for the JSON answer.

    Parameters
    ----------
    threshold_s : float
        T in seconds.

    Returns
    -------
    dict
        ``kind`` (``step``), ``steps``: ``[[upper bound in seconds, weight], ...]``, and a
        ``reference``.
    """
    bounds = [threshold_s / 3, 2 * threshold_s / 3, threshold_s]
    return {
        "kind": "step",
        "steps": [[round(b, 3), w] for b, w in zip(bounds, STEP_WEIGHTS, strict=True)],
        "reference": "Luo and Qi (2009), E2SFCA; as PySAL access enhanced_two_stage_fca",
    }


def weight(t_s: np.ndarray, threshold_s: float) -> np.ndarray:
    """Give the decay weight of each travel time (see the module docstring)."""
    t = np.asarray(t_s, dtype=float)
    w = np.zeros(t.shape)
    w = np.where(t <= threshold_s, STEP_WEIGHTS[2], w)
    w = np.where(t <= 2 * threshold_s / 3, STEP_WEIGHTS[1], w)
    return np.where(t <= threshold_s / 3, STEP_WEIGHTS[0], w)


def facility_pairs(
    graph: ModeGraph,
    reverse: csr_array,
    fac_edge: np.ndarray,
    fac_fraction: np.ndarray,
    threshold_s: float,
    *,
    space: Space | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """List every (node, facility) pair within T: the travel time from the node to it.

    Parameters
    ----------
    graph : ModeGraph
        The mode's graph (possibly with closures).
    reverse : csr_array
        Its reversed graph.
    fac_edge, fac_fraction : ndarray [K]
        Where each facility joins the network (-1: off the network, no pairs).
    threshold_s : float
        T in seconds.
    space : Space, optional
        The network's space (:class:`gis.coverage_local.Space`): each search then runs on
        the part of the graph it can reach, with the same answer. None: on the whole graph.

    Returns
    -------
    node, facility : ndarray of int64
        The pairs, by facility, then node.
    time_s : ndarray of float64
        Seconds from the node to the facility, at most T.
    """
    entries = point_entries(graph, fac_edge, fac_fraction)
    on = np.flatnonzero(np.asarray(fac_edge) >= 0)
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for p, nodes, t in point_searches(space, reverse, entries, on, threshold_s):
        found[p] = (nodes, t)
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    order = [p for p in on.tolist() if p in found]
    per_fac = [found[p][0] for p in order]
    return (
        np.concatenate(per_fac).astype(np.int64),
        np.repeat(np.asarray(order, dtype=np.int64), [len(a) for a in per_fac]),
        np.concatenate([found[p][1] for p in order]).astype(np.float64),
    )


def e2sfca(
    node: np.ndarray,
    facility: np.ndarray,
    time_s: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    threshold_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Compute E2SFCA scores from (node, facility, time) pairs.

    Parameters
    ----------
    node, facility, time_s : ndarray [M]
        Pairs within T (:func:`facility_pairs`).
    demand : ndarray [N]
        Demand per node.
    capacity : ndarray [K]
        Capacity per facility.
    threshold_s : float
        T in seconds.

    Returns
    -------
    score : ndarray [N]
        ``A_i`` per node (capacity per unit of demand).
    ratio : ndarray [K]
        ``R_j`` per facility.
    """
    k = len(capacity)
    w = weight(time_s, threshold_s)
    demand_w = np.bincount(facility, weights=np.asarray(demand)[node] * w, minlength=k)[:k]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(demand_w > 0, np.asarray(capacity, dtype=float) / demand_w, 0.0)
    score = np.bincount(node, weights=ratio[facility] * w, minlength=len(demand))
    return score[: len(demand)], ratio


def node_demand(
    n_nodes: int, edge_u: np.ndarray, edge_v: np.ndarray, piece_edge: np.ndarray, piece_d
) -> np.ndarray:
    """Split each piece's demand half to each end node of its segment.

    Parameters
    ----------
    n_nodes : int
        ``N``.
    edge_u, edge_v : ndarray [E]
        Segment ends.
    piece_edge : ndarray [P]
        Each piece's segment.
    piece_d : ndarray [P]
        Each piece's demand.

    Returns
    -------
    ndarray [N]
        Demand per node.
    """
    half = 0.5 * np.asarray(piece_d, dtype=float)
    u = np.asarray(edge_u)[piece_edge]
    v = np.asarray(edge_v)[piece_edge]
    return np.bincount(u, weights=half, minlength=n_nodes) + np.bincount(
        v, weights=half, minlength=n_nodes
    )


def area_scores(
    score: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    piece_edge: np.ndarray,
    piece_area: np.ndarray,
    piece_d: np.ndarray,
    n_areas: int,
) -> np.ndarray:
    """Average node scores per area, weighted by each piece's demand.

    Parameters
    ----------
    score : ndarray [N]
        ``A_i`` per node.
    edge_u, edge_v : ndarray [E]
        Segment ends.
    piece_edge, piece_area : ndarray [P]
        Each piece's segment and area (-1: outside every area).
    piece_d : ndarray [P]
        Each piece's demand.
    n_areas : int
        Number of areas.

    Returns
    -------
    ndarray [A]
        The score per area (NaN where the area has no demand).
    """
    inside = piece_area >= 0
    d = np.asarray(piece_d, dtype=float)[inside]
    e = piece_edge[inside]
    a = piece_area[inside]
    s = 0.5 * (score[np.asarray(edge_u)[e]] + score[np.asarray(edge_v)[e]])
    num = np.bincount(a, weights=d * s, minlength=n_areas)[:n_areas]
    den = np.bincount(a, weights=d, minlength=n_areas)[:n_areas]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)
