"""Travel-time matrices between points on a mode's network, and the road path of one leg.

Collection planning (:mod:`gis.collection`) needs the truck's time between every pair of its
locations (stops, depots, disposal sites). Each location joins the network the way a facility
does (:func:`gis.tables.snap_facilities`: at its projection on the nearest usable segment, with
a second road point on the main component when that segment is on a cut-off fragment), so a
leg starts and ends on the road, never at a junction.

The graph gets two virtual nodes per location (OSRM's phantom nodes, as in
:mod:`gis.tables`):

* a *source* ``N + i`` with an entry to each end of its segment the truck may drive to
  (:meth:`gis.graph.ModeGraph.exits`: ``v`` for ``(1 - fraction) * cost``, ``u`` for
  ``fraction * cost`` unless one-way binds);
* a *target* ``N + L + j`` entered from each end it is reached from
  (:func:`gis.tables.facility_entries`).

Sources have no way in and targets no way out, so no path passes *through* a location. Two
locations on the same segment also get the direct piece between them, when one-way allows it.
Row ``i`` of the matrix is then one Dijkstra from source ``i`` (``scipy.sparse.csgraph``),
read at the targets: rows are computed in blocks of :data:`ROW_BLOCK`, so memory stays at
``ROW_BLOCK x (N + 2L)`` floats. Each search stops at an exact bound, ``d(i, hub) +
max_j d(hub, j)`` with the first location as the hub (two extra searches): locations that lie
in a part of a larger network search only about that part.

:meth:`TravelMatrix.leg` walks one leg's predecessors and stitches its geometry from the
segments' own vertices (the same way :class:`gis.router.Router` draws a route), so a plan's
map and its distances come from the routing engine's paths.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra
from tqdm import tqdm

from gis.graph import ModeGraph
from gis.tables import Point, facility_entries, snap_facilities

logger = logging.getLogger(__name__)

#: Matrix rows computed per Dijkstra call (memory: ``ROW_BLOCK * (N + 2L) * 8`` bytes).
ROW_BLOCK = 32


@dataclass
class Leg:
    """One leg between two locations along the roads.

    Attributes
    ----------
    time_s : float
        Travel time (seconds), the matrix entry.
    distance_m : float
        Length along the roads (metres).
    coordinates : list of [lon, lat]
        The path, from the first location's road point to the second's.
    segment_ids : list of int
        ``road_segment.id`` of every segment driven, in order (the part-segments at both ends
        included).
    """

    time_s: float
    distance_m: float
    coordinates: list[list[float]]
    segment_ids: list[int]


@dataclass
class TravelMatrix:
    """Travel times between locations on one mode's network.

    Attributes
    ----------
    graph : ModeGraph
        The graph it was computed on (a live router's, with road conditions applied).
    time_s : ndarray of float64 [L, L]
        Seconds from location ``i`` to ``j`` (inf: no route; 0 on the diagonal).
    snaps : dict of str to ndarray
        Where each location joined the network (:func:`gis.tables.snap_facilities`):
        ``fac_edge`` (-1: no usable segment within the snap limit), ``fac_snap_m``, ...
    """

    graph: ModeGraph
    time_s: np.ndarray
    snaps: dict[str, np.ndarray]
    _augmented: csr_array | None = field(default=None, repr=False)
    _direct: dict[tuple[int, int], tuple[float, Point, Point]] = field(
        default_factory=dict, repr=False
    )

    @property
    def size(self) -> int:
        """The number of locations."""
        return int(self.time_s.shape[0])

    def on_network(self) -> np.ndarray:
        """Boolean mask of the locations that joined the network."""
        return np.asarray(self.snaps["fac_edge"]) >= 0

    def snap_m(self) -> np.ndarray:
        """Straight distance from each location to its road point (metres; nan off it)."""
        return np.asarray(self.snaps["fac_snap_m"], dtype=float)

    def points(self, i: int) -> list[Point]:
        """Give location ``i``'s road points (one, or two on a cut-off fragment)."""
        s = self.snaps
        out: list[Point] = []
        for p in ("fac_", "fac2_"):
            e = int(s[f"{p}edge"][i])
            if e >= 0:
                lon, lat = (float(v) for v in s[f"{p}lonlat"][i])
                out.append(
                    (
                        e,
                        int(s[f"{p}vertex"][i]),
                        float(s[f"{p}fraction"][i]),
                        lon,
                        lat,
                        float(s[f"{p}snap_m"][i]),
                    )
                )
        return out

    def leg(self, i: int, j: int) -> Leg:
        """Give the road path from location ``i`` to location ``j``.

        Parameters
        ----------
        i, j : int
            Locations (rows of :attr:`time_s`), with a finite time between them.

        Returns
        -------
        Leg
            Time, distance, geometry and segments. Its ``time_s`` is the matrix entry.

        Raises
        ------
        ValueError
            No route from ``i`` to ``j``.
        """
        t = float(self.time_s[i, j])
        if not math.isfinite(t):
            msg = f"no route from location {i} to location {j}"
            raise ValueError(msg)
        if i == j:
            p = self.points(i)[0]
            coords = [[round(p[3], 7), round(p[4], 7)]]
            return Leg(0.0, 0.0, coords, [])
        g = self.graph
        n, size = g.n_nodes, self.size
        aug = self._augmented_graph()
        limit = t * (1 + 1e-9) + 1e-6  # the leg's own time: a small search
        _, pred = dijkstra(aug, directed=True, indices=n + i, return_predecessors=True, limit=limit)
        path = [n + size + j]
        while path[-1] != n + i:
            path.append(int(pred[path[-1]]))
        path.reverse()
        if len(path) == 2:  # the direct piece of a shared segment
            _, a, b = self._direct[(i, j)]
            return Leg(t, *_piece(g, a, b))
        nodes = path[1:-1]
        start = _pick_exit(g, self.points(i), nodes[0])
        end = _pick_entry(g, self.points(j), nodes[-1])
        codes = g.hop_codes(np.asarray(nodes, dtype=np.int64)).tolist()
        return Leg(t, *_stitch(g, start, codes, end))

    def _augmented_graph(self) -> csr_array:
        if self._augmented is None:
            self._augmented, self._direct = _augment(self.graph, self)
        return self._augmented


def travel_matrix(
    graph: ModeGraph, lonlat: np.ndarray, *, progress: bool | None = None
) -> TravelMatrix:
    """Compute the travel times between every pair of points on ``graph``.

    Parameters
    ----------
    graph : ModeGraph
        The mode's graph (``get_router(url).mode_graph("truck")``: road conditions applied).
    lonlat : ndarray [L, 2]
        The locations (degrees).
    progress : bool, optional
        Show a progress bar; default only on a terminal.

    Returns
    -------
    TravelMatrix
        Times (inf where there is no route, and in every row and column of a location that
        did not join the network).
    """
    lonlat = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    size = len(lonlat)
    m = TravelMatrix(graph, np.full((size, size), np.inf), snap_facilities(graph, lonlat))
    if size == 0:
        return m
    aug = m._augmented_graph()
    n = graph.n_nodes
    rows = np.flatnonzero(m.on_network())
    limits = _row_limits(aug, n, size, rows)
    rows = rows[np.argsort(limits[rows], kind="stable")]
    disable = None if progress is None else not progress
    with tqdm(total=len(rows), desc="Travel-time matrix", unit="row", disable=disable) as bar:
        for lo in range(0, len(rows), ROW_BLOCK):
            block = rows[lo : lo + ROW_BLOCK]
            limit = float(np.max(limits[block]))
            dist = dijkstra(aug, directed=True, indices=n + block, limit=limit)
            m.time_s[block] = dist[:, n + size :]
            bar.update(len(block))
    np.fill_diagonal(m.time_s, 0.0)
    off = ~m.on_network()
    m.time_s[off, :] = np.inf
    m.time_s[:, off] = np.inf
    m.time_s[off, off] = 0.0
    return m


def _row_limits(aug: csr_array, n: int, size: int, rows: np.ndarray) -> np.ndarray:
    """Give each row an exact search limit, ``d(i, hub) + max_j d(hub, j)`` (module doc).

    Every ``d(i, j) <= d(i, hub) + d(hub, j)``, so a Dijkstra from ``i`` bounded there settles
    every location it can reach. Clustered locations (a city's TPS in a larger network) then
    search only their part of the graph. inf (no limit) where the bound does not hold: a
    location the hub cannot reach, or one that cannot reach the hub.
    """
    limits = np.full(size, np.inf)
    if len(rows) < 8:  # two extra searches are not worth it
        return limits
    hub = int(rows[0])
    from_hub = dijkstra(aug, directed=True, indices=n + hub)[n + size + rows]
    if not np.all(np.isfinite(from_hub)):
        return limits
    to_hub = dijkstra(aug.T.tocsr(), directed=True, indices=n + size + hub)[n + rows]
    bound = to_hub + float(np.max(from_hub))
    limits[rows] = np.where(np.isfinite(bound), bound * (1 + 1e-9) + 1e-6, np.inf)
    return limits


def _augment(
    g: ModeGraph, m: TravelMatrix
) -> tuple[csr_array, dict[tuple[int, int], tuple[float, Point, Point]]]:
    """Build the graph with a source and a target node per location (module docstring)."""
    n, size = g.n_nodes, m.size
    s = m.snaps
    rows: list[int] = []
    cols: list[int] = []
    cost: list[float] = []
    by_edge: dict[int, list[tuple[int, Point]]] = {}
    for i in range(size):
        best: dict[int, float] = {}
        for p in m.points(i):
            by_edge.setdefault(p[0], []).append((i, p))
            for nd, c, _ in g.exits(p[0], p[2]):
                best[nd] = min(c, best.get(nd, math.inf))
        for nd, c in best.items():
            rows.append(n + i)
            cols.append(nd)
            cost.append(c)
    fac, entry_node, c_in = facility_entries(
        g, s["fac_edge"], s["fac_fraction"], s["fac2_edge"], s["fac2_fraction"]
    )
    rows.extend(entry_node.tolist())
    cols.extend((n + size + fac).tolist())
    cost.extend(c_in.tolist())
    direct: dict[tuple[int, int], tuple[float, Point, Point]] = {}
    for e, here in by_edge.items():
        for i, a in here:
            for j, b in here:
                if i == j:
                    continue
                c = g.along_s(e, a[2], b[2])
                if math.isfinite(c) and c < direct.get((i, j), (math.inf,))[0]:
                    direct[(i, j)] = (c, a, b)
    for (i, j), (c, _, _) in direct.items():
        rows.append(n + i)
        cols.append(n + size + j)
        cost.append(c)
    total = n + 2 * size
    all_rows = np.concatenate([np.asarray(g.rows, dtype=np.int64), np.asarray(rows, np.int64)])
    all_cols = np.concatenate([np.asarray(g.indices, dtype=np.int64), np.asarray(cols, np.int64)])
    all_cost = np.concatenate([np.asarray(g.weight, dtype=np.float64), np.asarray(cost)])
    order = np.argsort(all_rows, kind="stable")
    indptr = np.searchsorted(all_rows[order], np.arange(total + 1)).astype(np.int64)
    aug = csr_array(
        (all_cost[order], all_cols[order].astype(np.int32), indptr),
        shape=(total, total),
        copy=False,
    )
    return aug, direct


def _pick_exit(g: ModeGraph, points: list[Point], node: int) -> tuple[Point, bool]:
    """Find the road point and direction by which a leg leaving it reaches ``node``."""
    best: tuple[float, Point, bool] | None = None
    for p in points:
        for nd, c, towards_v in g.exits(p[0], p[2]):
            if nd == node and (best is None or c < best[0]):
                best = (c, p, towards_v)
    assert best is not None, "the path's first node is an exit of the start"
    return best[1], best[2]


def _pick_entry(g: ModeGraph, points: list[Point], node: int) -> tuple[Point, bool]:
    """Find the road point and side (from ``u``) by which a leg reaches it from ``node``."""
    best: tuple[float, Point, bool] | None = None
    for p in points:
        for nd, c, from_u in g.entries(p[0], p[2]):
            if nd == node and (best is None or c < best[0]):
                best = (c, p, from_u)
    assert best is not None, "the path's last node is an entry of the end"
    return best[1], best[2]


def _edge_coords(g: ModeGraph, e: int) -> tuple[int, int]:
    return int(g.offsets[e]), int(g.offsets[e + 1])


def _stitch(
    g: ModeGraph, start: tuple[Point, bool], codes: list[int], end: tuple[Point, bool]
) -> tuple[float, list[list[float]], list[int]]:
    """Distance, coordinates and segment ids: start point -> segments ``codes`` -> end point."""
    (se, sv, sf, slon, slat, _), towards_v = start
    lo, hi = _edge_coords(g, se)
    if towards_v:
        idx = list(range(lo + sv + 1, hi))
        dist = (1.0 - sf) * float(g.edge_len[se])
    else:
        idx = list(range(lo + sv, lo - 1, -1))
        dist = sf * float(g.edge_len[se])
    edges = [c if c >= 0 else ~c for c in codes]
    for c, e in zip(codes, edges, strict=True):
        first, last = _edge_coords(g, e)
        idx.extend(range(first + 1, last) if c >= 0 else range(last - 2, first - 1, -1))
        dist += float(g.edge_len[e])
    (fe, fv, ff, flon, flat, _), from_u = end
    flo, fhi = _edge_coords(g, fe)
    if from_u:
        idx.extend(range(flo + 1, flo + fv + 1))
        dist += ff * float(g.edge_len[fe])
    else:
        idx.extend(range(fhi - 2, flo + fv, -1))
        dist += (1.0 - ff) * float(g.edge_len[fe])
    coords = [[round(slon, 7), round(slat, 7)]]
    coords.extend(np.asarray(g.lonlat)[idx].tolist())
    coords.append([round(flon, 7), round(flat, 7)])
    ids = [int(g.edge_id[se]), *(int(g.edge_id[e]) for e in edges), int(g.edge_id[fe])]
    return round(dist, 2), _dedupe(coords), ids


def _piece(g: ModeGraph, a: Point, b: Point) -> tuple[float, list[list[float]], list[int]]:
    """Distance, coordinates and segment id of the piece of one segment from ``a`` to ``b``."""
    e, av, af, alon, alat, _ = a
    _, bv, bf, blon, blat, _ = b
    lo = int(g.offsets[e])
    idx = range(lo + av + 1, lo + bv + 1) if bf >= af else range(lo + av, lo + bv, -1)
    coords = [[round(alon, 7), round(alat, 7)]]
    coords.extend(np.asarray(g.lonlat)[list(idx)].tolist())
    coords.append([round(blon, 7), round(blat, 7)])
    return round(abs(bf - af) * float(g.edge_len[e]), 2), _dedupe(coords), [int(g.edge_id[e])]


def _dedupe(coords: list[list[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for c in coords:
        if not out or abs(out[-1][0] - c[0]) > 1e-9 or abs(out[-1][1] - c[1]) > 1e-9:
            out.append(c)
    if len(out) == 1:
        out.append(list(out[0]))
    return out
