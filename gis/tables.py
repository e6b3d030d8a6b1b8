"""Nearest-facility tables: for every node of a mode, the facility reachable soonest.

A facility joins a mode's network the way an origin does (:mod:`gis.snapping`): at the nearest
point of the nearest segment the mode may use, within :data:`gis.snapping.SNAP_LIMIT_M`.
That point is a *virtual node* (OSRM calls it a phantom node): it is reached from the
segment's ``u`` for ``fraction * cost`` seconds and, unless one-way binds the mode, from ``v``
for ``(1 - fraction) * cost`` (:meth:`gis.graph.ModeGraph.entries`). A facility further from
every usable segment is off the mode's network: no route ends there.

The table is one multi-source Dijkstra (``scipy.sparse.csgraph.dijkstra`` with
``min_only=True``) over the reversed graph (:func:`gis.graph.reverse_graph`) with one virtual
node appended per facility, whose 1 or 2 entries lead to the segment's ends. It gives, for
every node, the time to the nearest facility, which facility that is, and the next hop on the
way: a segment code, or :data:`gis.graph.LAST_HOP` when the next hop is the part of the
facility's own segment that leads to it.

Facilities on cut-off fragments
-------------------------------
In clipped extracts and real data a facility's nearest road can be a fragment cut off from the
rest (a service road or parking aisle joined to nothing): from there it could be reached from
nowhere. As OSRM does, a facility whose segment is not in the mode's main component
(:meth:`gis.graph.ModeGraph.in_main`) *also* joins the network on the nearest segment of the
main component within the snap limit: a second virtual node of the same facility
(``fac2_*``; ``fac2_edge`` -1 where there is none). A route ends at whichever of the two is
reached sooner.

:func:`nearest_facility_tables` computes the tables for any set of points (what-if scenarios)
and, with ``closed_segments``, on the network with some roads closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from gis.graph import LAST_HOP, ModeGraph, next_hop_codes, reverse_graph

#: File-name suffix of each array of :class:`FacilityTables` in the cache.
TABLE_ARRAYS: dict[str, str] = {
    "dist_s": "dist",
    "code": "code",
    "facility": "fac",
    "fac_edge": "fac_edge",
    "fac_vertex": "fac_vertex",
    "fac_fraction": "fac_fraction",
    "fac_lonlat": "fac_lonlat",
    "fac_snap_m": "fac_snap_m",
    "fac2_edge": "fac2_edge",
    "fac2_vertex": "fac2_vertex",
    "fac2_fraction": "fac2_fraction",
    "fac2_lonlat": "fac2_lonlat",
    "fac2_snap_m": "fac2_snap_m",
}
#: A facility's road point as plain numbers: ``(edge, vertex, fraction, lon, lat, snap_m)``.
Point = tuple[int, int, float, float, float, float]


@dataclass
class FacilityTables:
    """The nearest-facility table of one mode and one set of facilities.

    Per node (``N``): ``dist_s``, ``code`` and ``facility``. Per facility (``K``, in the
    order given): where it joins the network.

    Attributes
    ----------
    dist_s : ndarray of float32 [N]
        Seconds from the node to its nearest facility (inf: none can be reached).
    code : ndarray of int32 [N]
        The next hop from the node towards it: a segment code (``e`` forward, ``~e``
        backward), :data:`gis.graph.LAST_HOP` (along the facility's own segment to it) or
        :data:`gis.graph.NO_HOP` (none reachable).
    facility : ndarray of int32 [N]
        Index of that facility (-1: none reachable).
    fac_edge : ndarray of int32 [K]
        Segment each facility joins the network on (-1: off the network).
    fac_vertex : ndarray of int32 [K]
        The road point lies between this vertex of the segment and the next.
    fac_fraction : ndarray of float64 [K]
        Position of the road point along the segment (0 at ``u``, 1 at ``v``).
    fac_lonlat : ndarray of float64 [K, 2]
        The road point (degrees).
    fac_snap_m : ndarray of float64 [K]
        Straight distance from the road point to the facility (metres).
    fac2_edge, fac2_vertex, fac2_fraction, fac2_lonlat, fac2_snap_m : ndarray [K]
        The second road point of a facility whose first lies on a fragment cut off from the
        main component (see the module docstring); ``fac2_edge`` -1 where there is none.
        Default: none.
    """

    dist_s: np.ndarray
    code: np.ndarray
    facility: np.ndarray
    fac_edge: np.ndarray
    fac_vertex: np.ndarray
    fac_fraction: np.ndarray
    fac_lonlat: np.ndarray
    fac_snap_m: np.ndarray
    fac2_edge: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    fac2_vertex: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    fac2_fraction: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fac2_lonlat: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    fac2_snap_m: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _by_edge: dict[int, list[tuple[int, Point]]] | None = field(
        default=None, repr=False, compare=False
    )
    _points: list[list[Point]] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Give every facility "no second point" when none were given."""
        k = len(self.fac_edge)
        if len(self.fac2_edge) != k:  # none given: no facility has a second point
            none = _no_points(k, "fac2_")
            self.fac2_edge, self.fac2_vertex = none["fac2_edge"], none["fac2_vertex"]
            self.fac2_fraction, self.fac2_lonlat = none["fac2_fraction"], none["fac2_lonlat"]
            self.fac2_snap_m = none["fac2_snap_m"]

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Name each array for the cache: ``<prefix>.<suffix>`` (see :data:`TABLE_ARRAYS`).

        Parameters
        ----------
        prefix : str
            ``<mode>.<category>``.

        Returns
        -------
        dict of str to ndarray
            File name (without ``.npy``) to array.
        """
        return {f"{prefix}.{suffix}": getattr(self, name) for name, suffix in TABLE_ARRAYS.items()}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> FacilityTables:
        """Read the tables named ``<prefix>.<suffix>`` from a cache's arrays.

        Parameters
        ----------
        arrays : mapping of str to ndarray
            A loaded cache's arrays.
        prefix : str
            ``<mode>.<category>``.

        Returns
        -------
        FacilityTables
            The tables (sharing the arrays, not copying them).
        """
        named: dict[str, Any] = {n: arrays[f"{prefix}.{sfx}"] for n, sfx in TABLE_ARRAYS.items()}
        return cls(**named)

    @property
    def on_network(self) -> np.ndarray:
        """Boolean mask of the facilities that joined the network."""
        return np.asarray(self.fac_edge) >= 0

    def _point_lists(self) -> list[list[Point]]:
        points = self._points
        if points is None:
            first = _as_points(self, "fac_")
            second = _as_points(self, "fac2_")
            points = [[p] if q[0] < 0 else [p, q] for p, q in zip(first, second, strict=True)]
            self._points = points
        return points

    def point(self, i: int) -> Point:
        """Give facility ``i``'s (first) road point as plain numbers (fast on the query path).

        Returns
        -------
        tuple
            ``(edge, vertex, fraction, lon, lat, snap_m)``; ``edge`` -1 off the network.
        """
        return self._point_lists()[i][0]

    def points(self, i: int) -> list[Point]:
        """Give every road point of facility ``i``: the first, and a second if it has one.

        Returns
        -------
        list of tuple
            One or two ``(edge, vertex, fraction, lon, lat, snap_m)``.
        """
        return self._point_lists()[i]

    def points_on_edge(self, e: int) -> list[tuple[int, Point]]:
        """List ``(facility, road point)`` for every road point on segment ``e``."""
        by_edge = self._by_edge
        if by_edge is None:
            by_edge = {}
            for i, pts in enumerate(self._point_lists()):
                for p in pts:
                    if p[0] >= 0:
                        by_edge.setdefault(p[0], []).append((i, p))
            self._by_edge = by_edge
        return by_edge.get(e, [])

    def on_edge(self, e: int) -> list[int]:
        """List the facilities with a road point on segment ``e``."""
        return [i for i, _ in self.points_on_edge(e)]


_POINT_FIELDS = ("edge", "vertex", "fraction", "lonlat", "snap_m")


def _as_points(t: FacilityTables, prefix: str) -> list[Point]:
    arr = {name: np.asarray(getattr(t, prefix + name)) for name in _POINT_FIELDS}
    return list(
        zip(
            arr["edge"].tolist(),
            arr["vertex"].tolist(),
            arr["fraction"].tolist(),
            arr["lonlat"][:, 0].tolist(),
            arr["lonlat"][:, 1].tolist(),
            arr["snap_m"].tolist(),
            strict=True,
        )
    )


def _no_points(k: int, prefix: str) -> dict[str, np.ndarray]:
    return {
        f"{prefix}edge": np.full(k, -1, np.int32),
        f"{prefix}vertex": np.zeros(k, np.int32),
        f"{prefix}fraction": np.zeros(k, np.float64),
        f"{prefix}lonlat": np.full((k, 2), np.nan),
        f"{prefix}snap_m": np.full(k, np.nan),
    }


def facility_lonlat(facilities: list[dict]) -> np.ndarray:
    """Give the ``[K, 2]`` longitudes and latitudes of facilities' JSON (``lon``, ``lat``)."""
    return np.array([[f["lon"], f["lat"]] for f in facilities], dtype=float).reshape(-1, 2)


def snap_facilities(graph: ModeGraph, fac_lonlat: np.ndarray) -> dict[str, np.ndarray]:
    """Snap facilities onto the segments of a mode (the way origins snap).

    Parameters
    ----------
    graph : ModeGraph
        The mode's graph (closed segments are skipped).
    fac_lonlat : ndarray [K, 2]
        Facility coordinates (degrees).

    Returns
    -------
    dict of str to ndarray
        ``fac_edge``, ``fac_vertex``, ``fac_fraction``, ``fac_lonlat``, ``fac_snap_m`` and
        the same with ``fac2_`` as in :class:`FacilityTables` (``fac_edge`` -1 for a facility
        off the network, ``fac2_edge`` -1 where there is no second point).

    Notes
    -----
    A facility whose segment is not in the main component also gets a second road point on
    the nearest segment of the main component within the snap limit (module docstring).
    """
    k = len(fac_lonlat)
    out = _no_points(k, "fac_") | _no_points(k, "fac2_")
    for i, (lon, lat) in enumerate(np.asarray(fac_lonlat, dtype=float).tolist()):
        snap = graph.locate(lat, lon)
        if snap is None:
            continue
        _put(out, "fac_", i, snap)
        if not graph.in_main(snap.edge):
            second = graph.locate_main(lat, lon)
            if second is not None:
                _put(out, "fac2_", i, second)
    return out


def _put(out: dict[str, np.ndarray], prefix: str, i: int, snap) -> None:
    out[f"{prefix}edge"][i] = snap.edge
    out[f"{prefix}vertex"][i] = snap.vertex
    out[f"{prefix}fraction"][i] = snap.fraction
    out[f"{prefix}lonlat"][i] = (snap.lon, snap.lat)
    out[f"{prefix}snap_m"][i] = snap.distance_m


def facility_entries(
    graph: ModeGraph,
    fac_edge: np.ndarray,
    fac_fraction: np.ndarray,
    fac2_edge: np.ndarray | None = None,
    fac2_fraction: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """List the entries of every facility's virtual node(s): ``(facility, node, cost_s)``.

    Parameters
    ----------
    graph : ModeGraph
        The mode's graph.
    fac_edge, fac_fraction : ndarray
        Where each facility joins the network (:func:`snap_facilities`).
    fac2_edge, fac2_fraction : ndarray, optional
        Each facility's second road point, if any (``fac2_edge`` -1: none).

    Returns
    -------
    facility, node : ndarray of int32
        Facility index and the segment end it is reached from, grouped by facility.
    cost_s : ndarray of float64
        Seconds from that end to the facility (the cheaper way when there are two).
    """
    k = len(fac_edge)
    if fac2_edge is None or fac2_fraction is None:
        fac2_edge, fac2_fraction = np.full(k, -1), np.zeros(k)
    fac, node, cost = [], [], []
    rows = zip(
        fac_edge.tolist(),
        fac_fraction.tolist(),
        fac2_edge.tolist(),
        fac2_fraction.tolist(),
        strict=True,
    )
    for i, (e, t, e2, t2) in enumerate(rows):
        if e < 0:
            continue
        best: dict[int, float] = {}
        ways = graph.entries(e, t) + (graph.entries(e2, t2) if e2 >= 0 else [])
        for n, c, _ in ways:
            best[n] = min(c, best.get(n, np.inf))  # a loop, or two points: the cheaper way
        for n, c in best.items():
            fac.append(i)
            node.append(n)
            cost.append(c)
    return (
        np.asarray(fac, dtype=np.int32),
        np.asarray(node, dtype=np.int32),
        np.asarray(cost, dtype=np.float64),
    )


def nearest_table(
    reverse: csr_array, entry_fac: np.ndarray, entry_node: np.ndarray, entry_cost: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run one multi-source Dijkstra from the facilities' virtual nodes.

    Parameters
    ----------
    reverse : csr_array
        The mode's reversed graph (:func:`gis.graph.reverse_graph`), ``N x N``.
    entry_fac, entry_node, entry_cost : ndarray
        The virtual nodes' entries (:func:`facility_entries`), grouped by facility.

    Returns
    -------
    dist_s : ndarray of float64 [N]
        Seconds from each node to the nearest facility (inf: none reachable).
    next_node : ndarray of int32 [N]
        The next node on the way (-9999 where the next hop is the last, or none).
    facility : ndarray of int32 [N]
        Index of the nearest facility (-1: none reachable).
    last : ndarray of bool [N]
        Whether the next hop is the last: along the facility's segment to it.
    """
    n = reverse.shape[0]
    if len(entry_fac) == 0:
        return (
            np.full(n, np.inf),
            np.full(n, -9999, np.int32),
            np.full(n, -1, np.int32),
            np.zeros(n, bool),
        )
    facs, counts = np.unique(entry_fac, return_counts=True)  # sorted: grouped order
    k = len(facs)
    itype = reverse.indptr.dtype
    indptr = np.concatenate([reverse.indptr, reverse.indptr[-1] + np.cumsum(counts)]).astype(itype)
    indices = np.concatenate([reverse.indices, entry_node.astype(reverse.indices.dtype)])
    data = np.concatenate([reverse.data, entry_cost])
    augmented = csr_array((data, indices, indptr), shape=(n + k, n + k), copy=False)
    dist, pred, src = dijkstra(
        augmented,
        directed=True,
        indices=np.arange(n, n + k),
        min_only=True,
        return_predecessors=True,
    )
    dist, pred, src = dist[:n], pred[:n], src[:n]
    facility = np.where(src >= n, facs[np.clip(src - n, 0, k - 1)], -1).astype(np.int32)
    last = pred >= n
    next_node = np.where(last, -9999, pred).astype(np.int32)
    return dist, next_node, facility, last


def nearest_facility_tables(
    graph: ModeGraph,
    fac_lonlat: np.ndarray,
    *,
    closed_segments: Iterable[int] | None = None,
    reverse: csr_array | None = None,
) -> FacilityTables:
    """Compute which facility is nearest by travel time from every node of a mode.

    Facilities join the network at their projection on the nearest usable segment (see the
    module docstring); the tables hold, per node, the time to the nearest one, which one, and
    the next hop towards it.

    Parameters
    ----------
    graph : ModeGraph
        The mode's graph, e.g. ``get_router(url).mode_graph("car")``.
    fac_lonlat : ndarray [K, 2]
        Facility coordinates (degrees): the database's facilities, or any other set of
        points (a what-if scenario).
    closed_segments : iterable of int, optional
        ``road_segment.id`` of segments to treat as closed: no traffic, nothing snaps there.
    reverse : csr_array, optional
        ``reverse_graph(graph)`` when the caller has it already (it is the same for every
        set of facilities of a mode); ignored with ``closed_segments``.

    Returns
    -------
    FacilityTables
        The tables; ``facility`` indexes ``fac_lonlat``.
    """
    if closed_segments is not None:
        graph = graph.without(closed_segments)
        reverse = None
    if reverse is None:
        reverse = reverse_graph(graph)
    return tables_for_snaps(graph, snap_facilities(graph, fac_lonlat), reverse)


def tables_for_snaps(
    graph: ModeGraph, snaps: dict[str, np.ndarray], reverse: csr_array | None = None
) -> FacilityTables:
    """Compute the nearest-facility tables of facilities already snapped onto ``graph``.

    Parameters
    ----------
    graph : ModeGraph
        The mode's graph.
    snaps : dict of str to ndarray
        :func:`snap_facilities` of the facilities on ``graph``.
    reverse : csr_array, optional
        ``reverse_graph(graph)``, when the caller has it.

    Returns
    -------
    FacilityTables
        The tables.
    """
    if reverse is None:
        reverse = reverse_graph(graph)
    entries = facility_entries(
        graph, snaps["fac_edge"], snaps["fac_fraction"], snaps["fac2_edge"], snaps["fac2_fraction"]
    )
    dist, next_node, facility, last = nearest_table(reverse, *entries)
    code = next_hop_codes(graph.indptr, graph.indices, graph.edge, next_node, graph.rows)
    code[last] = LAST_HOP
    points: dict[str, Any] = snaps
    return FacilityTables(dist_s=dist.astype(np.float32), code=code, facility=facility, **points)
