"""Coverage gaps: which parts of a mode's road network are more than T from a facility.

Everything here works on arrays: a mode's graph (:class:`gis.graph.ModeGraph`) and the time
of every node to its nearest facility (``FacilityTables.dist_s``, :mod:`gis.tables`).

Nodes
-----
A node belongs to the mode's network when a segment the mode may use (cost not NaN) ends
there. It is *beyond T* when its time to the nearest facility is above T, or infinite (a
fragment no facility can be reached from).

Partial segments
----------------
A point at fraction ``f`` of segment ``e`` (``0`` at ``u``, ``1`` at ``v``; cost ``c``
seconds) reaches a facility by leaving through ``v`` in ``(1 - f) * c + t_v`` seconds or,
unless one-way binds the mode, through ``u`` in ``f * c + t_u``, or directly along the
segment to a facility whose road point lies on it (``|p - f| * c``; one-way: only forwards).
That is exactly how an origin snapped onto the segment is routed (:mod:`gis.router`). The
*covered* part of a segment is the set of points whose best time is at most T: an interval
from each end, and one around each facility on it. The rest is *beyond T*, with its length
in metres (fraction of ``length_m``), so a segment half beyond T counts for half its length,
and the gap layer draws only that part. A segment's piece beyond T has a worst time (the
largest time of its points: exact, the maximum of a minimum of linear functions); the gap
layer colours pieces by ``worst - T`` ("how far beyond").

What-if closures: a closed segment (usable at baseline, closed in the scenario) counts as
wholly beyond T and keeps its length in the total, so shares stay comparable with the
baseline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from gis.graph import ModeGraph

logger = logging.getLogger(__name__)

#: Gap-layer bands: upper bounds (seconds beyond T) of each colour class; the last class is
#: everything further, and unreachable pieces have their own class.
BAND_LIMITS_S: tuple[float, ...] = (300.0, 900.0, 1800.0)


@dataclass
class Gaps:
    """The pieces of segments beyond T.

    Attributes
    ----------
    edge : ndarray of int64 [G]
        Segment index of each piece (sorted by segment, then position).
    lo, hi : ndarray of float64 [G]
        The piece runs from fraction ``lo`` to ``hi`` of its segment.
    worst_s : ndarray of float64 [G]
        The largest time to the nearest facility of a point of the piece (inf: none can be
        reached; closed segments are inf too).
    closed : ndarray of bool [G]
        The piece is a segment closed by the scenario.
    """

    edge: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    worst_s: np.ndarray
    closed: np.ndarray

    def __len__(self) -> int:
        """Give the number of pieces."""
        return len(self.edge)

    def length_m(self, edge_len_m: np.ndarray) -> np.ndarray:
        """Give each piece's length in metres, from its segment's ``length_m``."""
        return (self.hi - self.lo) * np.asarray(edge_len_m)[self.edge]


def usable_edges(graph: ModeGraph) -> np.ndarray:
    """Give the mask of segments the mode may use (cost not NaN)."""
    return ~np.isnan(np.asarray(graph.cost, dtype=float))


def network_nodes(graph: ModeGraph, usable: np.ndarray) -> np.ndarray:
    """Give the mask of nodes that end a segment in ``usable`` (the mode's network)."""
    mask = np.zeros(graph.n_nodes, dtype=bool)
    mask[np.asarray(graph.edge_u)[usable]] = True
    mask[np.asarray(graph.edge_v)[usable]] = True
    return mask


def node_counts(dist_s: np.ndarray, nodes: np.ndarray, threshold_s: float) -> dict[str, int]:
    """Count the network's nodes, those beyond T and those that reach no facility.

    Parameters
    ----------
    dist_s : ndarray [N]
        Seconds from each node to its nearest facility (inf: none reachable).
    nodes : ndarray of bool [N]
        The mode's network (:func:`network_nodes`).
    threshold_s : float
        T in seconds.

    Returns
    -------
    dict
        ``nodes``, ``nodes_beyond`` (time above T, unreachable included) and
        ``nodes_unreachable``.
    """
    d = np.asarray(dist_s, dtype=np.float64)[nodes]
    return {
        "nodes": int(nodes.sum()),
        "nodes_beyond": int((d > threshold_s).sum()),
        "nodes_unreachable": int(np.isinf(d).sum()),
    }


@dataclass
class OpenEdges:
    """The open segments of a graph and what :func:`uncovered` needs of each (kept per mode).

    Attributes
    ----------
    edges : ndarray of int64
        Segments of the mode's network that are open in the graph.
    cost : ndarray of float64
        Their cost (seconds).
    u, v : ndarray of int64
        Their ends.
    bound : ndarray of bool
        Whether one-way binds the mode on them.
    open : ndarray of bool [E]
        The mask of ``edges``.
    """

    edges: np.ndarray
    cost: np.ndarray
    u: np.ndarray
    v: np.ndarray
    bound: np.ndarray
    open: np.ndarray

    @classmethod
    def of(cls, graph: ModeGraph, usable: np.ndarray) -> OpenEdges:
        """Collect the open segments of ``graph`` among the ``usable`` ones."""
        cost_now = np.asarray(graph.cost, dtype=np.float64)
        open_ = usable & ~np.isnan(cost_now)
        edges = np.flatnonzero(open_)
        return cls(
            edges=edges,
            cost=cost_now[edges],
            u=np.asarray(graph.edge_u)[edges].astype(np.int64),
            v=np.asarray(graph.edge_v)[edges].astype(np.int64),
            bound=np.asarray(graph.edge_oneway, dtype=bool)[edges] & bool(graph.oneway),
            open=open_,
        )


def uncovered(
    graph: ModeGraph,
    dist_s: np.ndarray,
    threshold_s: float,
    *,
    usable: np.ndarray,
    fac_edge: np.ndarray | None = None,
    fac_fraction: np.ndarray | None = None,
    closed: np.ndarray | None = None,
    open_edges: OpenEdges | None = None,
) -> Gaps:
    """Find the pieces of segments beyond T (see the module docstring for the rule).

    Parameters
    ----------
    graph : ModeGraph
        The mode's graph the times were computed on (possibly with closed segments).
    dist_s : ndarray [N]
        Seconds from each node to its nearest facility.
    threshold_s : float
        T in seconds.
    usable : ndarray of bool [E]
        The segments of the mode's network at baseline (:func:`usable_edges` of the graph
        without closures).
    fac_edge, fac_fraction : ndarray [K], optional
        Where each facility joins the network (``FacilityTables``); -1: off the network.
    closed : ndarray of bool [E], optional
        Segments closed by a scenario: wholly beyond T.
    open_edges : OpenEdges, optional
        ``OpenEdges.of(graph, usable)``, when the caller keeps it.

    Returns
    -------
    Gaps
        The pieces, ordered by segment and position.
    """
    oe = OpenEdges.of(graph, usable) if open_edges is None else open_edges
    open_ = oe.open
    if closed is None:
        closed = usable & ~open_
    edges, c, bound = oe.edges, oe.cost, oe.bound
    d = np.asarray(dist_s, dtype=np.float64)
    t_u = d[oe.u]
    t_v = d[oe.v]
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(bound, 0.0, np.clip((threshold_s - t_u) / c, 0.0, 1.0))
        b = np.clip((threshold_s - t_v) / c, 0.0, 1.0)
    a = np.nan_to_num(a, nan=0.0)
    b = np.nan_to_num(b, nan=0.0)
    lo, hi = a, 1.0 - b
    keep = hi > lo
    with_fac = np.zeros(len(graph.edge_u), dtype=bool)
    fac_on: dict[int, list[float]] = {}
    if fac_edge is not None and fac_fraction is not None:
        fe = np.asarray(fac_edge)
        on = fe >= 0
        on[on] = open_[fe[on]]
        for e, p in zip(fe[on].tolist(), np.asarray(fac_fraction)[on].tolist(), strict=True):
            fac_on.setdefault(int(e), []).append(float(p))
        with_fac[fe[on]] = True
    plain = np.flatnonzero(keep & ~with_fac[edges])
    # worst time of the middle piece: the peak of min(t_u + f c, t_v + (1 - f) c)
    cp, tu, tv, lp, hp, bp = c[plain], t_u[plain], t_v[plain], lo[plain], hi[plain], bound[plain]
    with np.errstate(invalid="ignore"):
        peak = np.clip((cp + tv - tu) / (2 * cp), lp, hp)
        worst = np.minimum(np.where(bp, np.inf, tu + peak * cp), tv + (1 - peak) * cp)
    worst = np.where(np.isnan(worst), np.inf, worst)
    parts = [(edges[plain], lp, hp, worst, np.zeros(len(plain), bool))]
    if fac_on:
        special = np.flatnonzero(with_fac[edges])
        rows = [
            _pieces_with_facilities(
                int(edges[i]),
                float(c[i]),
                float(t_u[i]),
                float(t_v[i]),
                bool(bound[i]),
                fac_on[int(edges[i])],
                threshold_s,
            )
            for i in special
        ]
        flat = [r for rs in rows for r in rs]
        if flat:
            arr = np.array(flat, dtype=np.float64)
            parts.append(
                (
                    arr[:, 0].astype(np.int64),
                    arr[:, 1],
                    arr[:, 2],
                    arr[:, 3],
                    np.zeros(len(arr), bool),
                )
            )
    shut = np.flatnonzero(closed)
    if len(shut):
        n = len(shut)
        parts.append((shut, np.zeros(n), np.ones(n), np.full(n, np.inf), np.ones(n, bool)))
    edge = np.concatenate([p[0] for p in parts]).astype(np.int64)
    order: slice | np.ndarray
    if len(parts) == 1:
        order = slice(None)
    else:
        # each part is ordered by segment and position, and no segment is in two parts
        order = np.argsort(edge, kind="stable")
    return Gaps(
        edge=edge[order],
        lo=np.concatenate([p[1] for p in parts])[order],
        hi=np.concatenate([p[2] for p in parts])[order],
        worst_s=np.concatenate([p[3] for p in parts])[order],
        closed=np.concatenate([p[4] for p in parts])[order],
    )


def _pieces_with_facilities(
    e: int, c: float, t_u: float, t_v: float, bound: bool, fac: list[float], threshold_s: float
) -> list[tuple[int, float, float, float]]:
    """Find the pieces beyond T of one segment with facilities on it (exact; few such)."""
    r = threshold_s / c
    covered = [(1 - (threshold_s - t_v) / c, np.inf)]
    if not bound:
        covered.append((-np.inf, (threshold_s - t_u) / c))
    for p in fac:
        covered.append((p - r, p) if bound else (p - r, p + r))
    # clipped to the segment first: a span past an end (lo > 1) covers nothing of it
    clipped = ((max(0.0, lo), min(1.0, hi)) for lo, hi in covered)
    spans = sorted((lo, hi) for lo, hi in clipped if hi >= lo)
    gaps: list[tuple[float, float]] = []
    pos = 0.0
    for lo, hi in spans:
        if lo > pos:
            gaps.append((pos, lo))
        pos = max(pos, hi)
    if pos < 1.0:
        gaps.append((pos, 1.0))

    def time_at(f: float) -> float:
        best = t_v + (1 - f) * c
        if not bound:
            best = min(best, t_u + f * c)
        for p in fac:
            if not bound or f <= p:
                best = min(best, abs(p - f) * c)
        return best

    # the time is piecewise linear: its maximum is at an end or where two lines cross
    lines = [(t_v + c, -c)] + ([] if bound else [(t_u, c)])
    for p in fac:
        lines += [(p * c, -c), (-p * c, c)]
    out = []
    for lo, hi in gaps:
        if hi - lo <= 1e-12:
            continue
        cands = [lo, hi, *fac]
        for i, (a1, s1) in enumerate(lines):
            for a2, s2 in lines[i + 1 :]:
                if s1 != s2 and np.isfinite(a1) and np.isfinite(a2):
                    cands.append((a2 - a1) / (s1 - s2))
        eps = (hi - lo) * 1e-9
        worst = max(time_at(min(max(f, lo + eps), hi - eps)) for f in cands)
        out.append((e, lo, hi, worst))
    return out


def bands(threshold_s: float) -> list[dict]:
    """Describe the gap layer's colour classes (seconds beyond T), for the legend.

    Parameters
    ----------
    threshold_s : float
        T in seconds (not used by the limits; kept for the labels' context).

    Returns
    -------
    list of dict
        ``band`` (index), ``from_s`` and ``to_s`` beyond T (``to_s`` None for the last
        finite class), and ``unreachable`` for the last class.
    """
    out: list[dict] = []
    low = 0.0
    for i, high in enumerate(BAND_LIMITS_S):
        out.append({"band": i, "from_s": low, "to_s": high, "unreachable": False})
        low = high
    out.append({"band": len(BAND_LIMITS_S), "from_s": low, "to_s": None, "unreachable": False})
    out.append({"band": len(BAND_LIMITS_S) + 1, "from_s": None, "to_s": None, "unreachable": True})
    return out


def band_of(excess_s: np.ndarray) -> np.ndarray:
    """Give each piece's band index from its seconds beyond T (inf: unreachable)."""
    excess = np.asarray(excess_s, dtype=float)
    idx = np.searchsorted(np.asarray(BAND_LIMITS_S), excess, side="left")
    return np.where(np.isinf(excess), len(BAND_LIMITS_S) + 1, idx).astype(int)


def substring(graph: ModeGraph, e: int, lo: float, hi: float) -> list[list[float]]:
    """Give the part of segment ``e`` from fraction ``lo`` to ``hi`` as lon/lat coordinates.

    Fractions are of the segment's projected length (as snapping measures them).

    Parameters
    ----------
    graph : ModeGraph
        Any graph of the network (geometry is shared).
    e : int
        Segment index.
    lo, hi : float
        Fractions, ``0 <= lo < hi <= 1``.

    Returns
    -------
    list of [lon, lat]
        At least two points, rounded to 7 decimals.
    """
    start, stop = int(graph.offsets[e]), int(graph.offsets[e + 1])
    cum = np.asarray(graph.cum[start:stop], dtype=float)
    pts = np.asarray(graph.lonlat[start:stop], dtype=float)
    total = cum[-1] if len(cum) else 0.0
    if total <= 0 or len(pts) < 2:
        return np.round(pts[[0, -1]], 7).tolist()
    at = np.array([lo, hi]) * total
    x = np.interp(at, cum, pts[:, 0])
    y = np.interp(at, cum, pts[:, 1])
    inner = (cum > at[0]) & (cum < at[1])
    coords = np.vstack([[x[0], y[0]], pts[inner], [x[1], y[1]]])
    return np.round(coords, 7).tolist()


def _interp(x: np.ndarray, j: np.ndarray, last: np.ndarray, cum, val) -> np.ndarray:
    """``np.interp`` of each ``x`` on its own polyline, bit for bit (numpy's C loop).

    ``j`` is the last vertex with ``cum[j] <= x`` and ``last`` the polyline's last vertex.
    """
    jn = np.minimum(j + 1, last)
    xj, xn, yj, yn = cum[j], cum[jn], val[j], val[jn]
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (yn - yj) / (xn - xj)
        out = slope * (x - xj) + yj
        nan = np.isnan(out)
        if nan.any():
            again = slope * (x - xn) + yn
            out = np.where(nan, np.where(np.isnan(again) & (yj == yn), yj, again), out)
    return np.where((j == last) | (xj == x), yj, out)


def _last_at_most(cum: np.ndarray, start: np.ndarray, stop: np.ndarray, x: np.ndarray):
    """Per polyline ``cum[start:stop]``, the last index ``j`` with ``cum[j] <= x``."""
    lo, hi = start.copy(), stop.copy()
    for _ in range(int(np.max(stop - start, initial=1)).bit_length() + 1):
        active = lo < hi
        mid = (lo + hi) // 2
        le = cum[np.minimum(mid, len(cum) - 1)] <= x
        lo = np.where(active & le, mid + 1, lo)
        hi = np.where(active & ~le, mid, hi)
    return np.maximum(lo - 1, start)


def substrings(
    graph: ModeGraph, edge: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cut many segments at once, as :func:`substring` does one (the same coordinates).

    Parameters
    ----------
    graph : ModeGraph
        Any graph of the network.
    edge : ndarray of int [G]
        Segment of each piece.
    lo, hi : ndarray [G]
        Fractions.

    Returns
    -------
    coords : ndarray [M, 2]
        Every piece's lon/lat coordinates, one after the other, rounded to 7 decimals.
    counts : ndarray of int64 [G]
        Coordinates per piece (at least 2).
    """
    offsets = np.asarray(graph.offsets, dtype=np.int64)
    edge = np.asarray(edge, dtype=np.int64)
    start, stop = offsets[edge], offsets[edge + 1]
    last = stop - 1
    cum = np.asarray(graph.cum, dtype=float)
    pts = np.asarray(graph.lonlat, dtype=float)
    total = cum[last]
    plain = (total <= 0) | (stop - start < 2)
    at0, at1 = lo * total, hi * total
    ends = []
    for at in (at0, at1):
        j = _last_at_most(cum, start, stop, at)
        ends.append(
            np.column_stack(
                [_interp(at, j, last, cum, pts[:, 0]), _interp(at, j, last, cum, pts[:, 1])]
            )
        )
    ends[0] = np.where(plain[:, None], pts[start], ends[0])
    ends[1] = np.where(plain[:, None], pts[last], ends[1])
    # the vertices strictly inside each piece
    n_v = stop - start
    vid = np.repeat(start - np.cumsum(n_v) + n_v, n_v) + np.arange(int(n_v.sum()))
    owner = np.repeat(np.arange(len(edge)), n_v)
    inner = (cum[vid] > at0[owner]) & (cum[vid] < at1[owner]) & ~plain[owner]
    vid, owner = vid[inner], owner[inner]
    n_in = np.bincount(owner, minlength=len(edge))
    counts = n_in + 2
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    coords = np.empty((int(counts.sum()), 2))
    coords[first] = ends[0]
    coords[first + counts - 1] = ends[1]
    slot = np.repeat(first + 1 - np.concatenate([[0], np.cumsum(n_in)[:-1]]), n_in)
    coords[slot + np.arange(len(vid))] = pts[vid]
    return np.round(coords, 7), counts


def gap_features(
    graph: ModeGraph, gaps: Gaps, threshold_s: float, edge_len_m: np.ndarray
) -> list[dict]:
    """Turn the pieces beyond T into GeoJSON features (the gap layer).

    Parameters
    ----------
    graph : ModeGraph
        The mode's graph (for geometry and segment ids).
    gaps : Gaps
        The pieces (:func:`uncovered`).
    threshold_s : float
        T in seconds.
    edge_len_m : ndarray [E]
        Segment lengths in metres.

    Returns
    -------
    list of dict
        LineString features with ``segment_id``, ``from_fraction``, ``to_fraction``,
        ``length_m``, ``worst_time_s`` (None: unreachable), ``excess_s`` (None:
        unreachable), ``unreachable``, ``closed`` and ``band`` (:func:`bands`).
    """
    excess = gaps.worst_s - threshold_s
    band = band_of(excess).tolist()
    ids = np.asarray(graph.edge_id)[gaps.edge].tolist()
    coords, counts = substrings(graph, gaps.edge, gaps.lo, gaps.hi)
    flat = coords.tolist()
    stops = np.cumsum(counts).tolist()
    finite = np.isfinite(gaps.worst_s)
    # rounded as arrays (numpy rounds the scaled value: off by one in the last digit kept from
    # Python's round in rare halfway cases); None where unreachable
    worst = np.round(np.where(finite, gaps.worst_s, 0.0), 1).tolist()
    over = np.round(np.where(finite, excess, 0.0), 1).tolist()
    out = []
    rows = zip(
        np.round(gaps.lo, 6).tolist(),
        np.round(gaps.hi, 6).tolist(),
        worst,
        over,
        finite.tolist(),
        gaps.closed.tolist(),
        ids,
        np.round(gaps.length_m(edge_len_m), 2).tolist(),
        band,
        stops,
        counts.tolist(),
        strict=True,
    )
    for lo, hi, w, x, ok, closed, sid, length, b, stop, n in rows:
        out.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": flat[stop - n : stop]},
                "properties": {
                    "segment_id": sid,
                    "from_fraction": lo,
                    "to_fraction": hi,
                    "length_m": length,
                    "worst_time_s": w if ok else None,
                    "excess_s": x if ok else None,
                    "unreachable": not ok,
                    "closed": closed,
                    "band": b,
                },
            }
        )
    return out
