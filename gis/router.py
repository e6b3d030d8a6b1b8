"""Routing queries over one loaded network cache: nearest facilities and isochrones.

Everything here runs on the memory-mapped arrays of :mod:`gis.network_cache`; the hot path
never touches PostGIS.

Both ends of a route are points on segments, not nodes (:mod:`gis.snapping`, :mod:`gis.graph`):
the origin leaves its segment through ``v`` or, unless one-way binds the mode, ``u``; the
facility is reached along its own segment from ``u`` or, unless one-way binds, from ``v``.
``travel_time_s`` and ``distance_m`` include both part-segments, and the route's LineString
runs from the origin's road point to the facility's road point (``facility_snap``). An origin
and a facility on the same segment also get the direct piece of it between them, when that is
allowed (one-way) and shortest.

* ``k = 1``: the precomputed nearest-facility table (:mod:`gis.tables`) gives, for both ends
  of the origin's segment, the time to the nearest facility and the next hop; the route is the
  chain of next hops, ending with the part of the facility's segment. O(route length).
  A facility on a fragment cut off from the main component also has a road point on the main
  component (:mod:`gis.tables`): a route ends at whichever point it reaches first, and
  ``facility_snap`` is that point.
* ``k > 1``: a bounded Dijkstra from the origin (:func:`gis.reach.bounded_dijkstra`), widened
  until ``k`` facilities are within its limit; each facility's time is the best of its entries.
* Isochrones: the same bounded Dijkstra, and :func:`gis.reach.reach_polygon`.

An origin on a fragment cut off from every facility (common at the edge of a clipped extract)
gets ``"unreachable": true`` and a message, not an error.
"""

from __future__ import annotations

import json
import math
import threading

import numpy as np
import shapely

from gis.errors import NotFoundError
from gis.graph import LAST_HOP, NO_HOP, ModeGraph
from gis.network_cache import Network
from gis.reach import BoundedSearch, bounded_dijkstra, reach_polygon
from gis.snapping import Snap
from gis.tables import FacilityTables, Point
from layers.registry import facility_layers


class Router:
    """Queries over one loaded network cache.

    Parameters
    ----------
    net : Network
        A loaded cache (:func:`gis.network_cache.load_network`).
    """

    def __init__(self, net: Network) -> None:
        self.net = net
        a = net.arrays
        self.offsets = a["geom_offsets"]
        self.lonlat = a["geom_lonlat"]
        self.edge_id = a["edge_id"]
        self.edge_len = a["edge_length_m"]
        self.edge_u = a["edge_u"]
        self.edge_v = a["edge_v"]
        self._modes: dict[str, ModeGraph] = {}
        #: the graphs of the cache as built (shared with replaced routers)
        self._base: dict[str, ModeGraph] = {}
        self._tables: dict[tuple[str, str], FacilityTables] = {}
        self._entries: dict[tuple[str, str], list[tuple[np.ndarray, ...]]] = {}
        self._lock = threading.Lock()

    def replaced(
        self, graphs: dict[str, ModeGraph], tables: dict[tuple[str, str], FacilityTables]
    ) -> Router:
        """Give a router over the same cache with some graphs and tables replaced.

        Road conditions changed while the process runs (:mod:`gis.live`); this router is
        left as it was, and the new one shares everything else with it.

        Parameters
        ----------
        graphs : dict of str to ModeGraph
            Per mode, its new graph.
        tables : dict of (str, str) to FacilityTables
            Per ``(mode, category)``, its new tables.

        Returns
        -------
        Router
            The new router.
        """
        new = Router(self.net)
        new._modes = {**self._modes, **graphs}
        new._base = self._base
        new._tables = {**self._tables, **tables}
        return new

    def base_graph(self, mode: str) -> ModeGraph:
        """Give ``mode``'s graph as the cache holds it, before any live cost change.

        Parameters
        ----------
        mode : str
            A mode the cache holds.

        Returns
        -------
        ModeGraph
            The graph (built once per process and shared by every router of this cache).
        """
        g = self._base.get(mode)
        if g is None:
            g = self._base.setdefault(mode, ModeGraph.from_network(self.net, mode))
        return g

    @property
    def loaded_modes(self) -> list[str]:
        """The modes whose graph this router has built so far."""
        return list(self._modes)

    def mode_graph(self, mode: str) -> ModeGraph:
        """Give the query structure of ``mode`` (built once per process, on first use).

        Parameters
        ----------
        mode : str
            A mode the cache holds.

        Returns
        -------
        ModeGraph
            The mode's graph.

        Raises
        ------
        NotFoundError
            The cache has no such mode.
        """
        g = self._modes.get(mode)
        if g is None:
            with self._lock:
                g = self._modes.get(mode)
                if g is None:
                    if mode not in self.net.modes:
                        msg = f"The network has no '{mode}' mode; run 'sigap network build'."
                        raise NotFoundError(msg, param="mode")
                    g = self.base_graph(mode)
                    self._modes[mode] = g
        return g

    def facilities(self, category: str) -> list[dict]:
        """List the facilities of ``category`` (their index is their index in the tables).

        Parameters
        ----------
        category : str
            A facility category.

        Returns
        -------
        list of dict
            The facilities' JSON.

        Raises
        ------
        NotFoundError
            There are none (code ``no_facilities``).
        """
        facs = self.net.facilities.get(category)
        if not facs:
            layer = next(
                (s.title("en").lower() for s in facility_layers() if category in s.classes),
                "facilities",
            )
            msg = f"There are no {layer} of category '{category}' in the database."
            raise NotFoundError(msg, code="no_facilities", param="category")
        return facs

    def tables(self, mode: str, category: str) -> FacilityTables:
        """Give the precomputed nearest-facility tables of ``mode`` and ``category``.

        Parameters
        ----------
        mode, category : str
            A mode and a category the cache holds.

        Returns
        -------
        FacilityTables
            The tables (memory-mapped).
        """
        key = (mode, category)
        t = self._tables.get(key)
        if t is None:
            t = FacilityTables.from_arrays(self.net.arrays, f"{mode}.{category}")
            self._tables[key] = t
        return t

    def _entry_arrays(self, g: ModeGraph, category: str) -> list[tuple[np.ndarray, ...]]:
        """Give per road point (first, second) and facility ``(u, cost, v, cost)`` entries.

        A cost is inf where there is no such entry.
        """
        key = (g.mode, category)
        found = self._entries.get(key)
        if found is None:
            t = self.tables(g.mode, category)
            k = len(t.fac_edge)
            found = []
            for edges, fractions in ((t.fac_edge, t.fac_fraction), (t.fac2_edge, t.fac2_fraction)):
                out: tuple[np.ndarray, ...] = (np.zeros(k, np.int64), np.full(k, np.inf))
                out += (np.zeros(k, np.int64), np.full(k, np.inf))
                for i in np.flatnonzero(np.asarray(edges) >= 0):
                    for node, cost, from_u in g.entries(int(edges[i]), float(fractions[i])):
                        j = 0 if from_u else 2
                        out[j][i], out[j + 1][i] = node, cost
                found.append(out)
            self._entries[key] = found
        return found

    # building results ------------------------------------------------------------------------
    def _route(
        self,
        snap: Snap,
        towards_v: bool,
        codes: list[int],
        point: Point,
        from_u: bool,
    ) -> dict:
        """Geometry, segment ids and length of a route.

        Origin -> the end of the snapped segment (``v`` if ``towards_v``), the segments
        ``codes`` (``e`` forward, ``~e`` backward), then along the segment of the facility's
        road point ``point`` from its ``u`` (``from_u``) or ``v`` to that point.
        """
        e = snap.edge
        lo, hi = int(self.offsets[e]), int(self.offsets[e + 1])
        if towards_v:
            idx = list(range(lo + snap.vertex + 1, hi))
            part_m = (1.0 - snap.fraction) * float(self.edge_len[e])
        else:
            idx = list(range(lo + snap.vertex, lo - 1, -1))
            part_m = snap.fraction * float(self.edge_len[e])
        edges = [c if c >= 0 else ~c for c in codes]
        ends = np.array(edges, dtype=np.int64)
        starts = self.offsets[ends].tolist()
        stops = self.offsets[ends + 1].tolist()
        for c, first, last in zip(codes, starts, stops, strict=True):
            # skip each segment's first vertex: it is the previous one's last
            idx.extend(range(first + 1, last) if c >= 0 else range(last - 2, first - 1, -1))
        fe, fv, ft, flon, flat, _ = point
        flo, fhi = int(self.offsets[fe]), int(self.offsets[fe + 1])
        if from_u:
            idx.extend(range(flo + 1, flo + fv + 1))
            end_m = ft * float(self.edge_len[fe])
        else:
            idx.extend(range(fhi - 2, flo + fv, -1))
            end_m = (1.0 - ft) * float(self.edge_len[fe])
        coords = [[round(snap.lon, 7), round(snap.lat, 7)]]
        coords.extend(self.lonlat[idx].tolist())  # OSM coordinates: 7 decimals already
        coords.append([round(flon, 7), round(flat, 7)])
        _drop_repeated_ends(coords)
        return {
            "distance_m": round(part_m + float(self.edge_len[ends].sum()) + end_m, 2),
            "route": {"type": "LineString", "coordinates": coords},
            "segment_ids": [
                int(self.edge_id[e]),
                *self.edge_id[ends].tolist(),
                int(self.edge_id[fe]),
            ],
        }

    def _direct_route(self, snap: Snap, point: Point) -> dict:
        """Give the piece of the origin's segment between the origin and a road point on it."""
        e = snap.edge
        lo = int(self.offsets[e])
        _, fv, ft, flon, flat, _ = point
        if ft >= snap.fraction:
            idx = range(lo + snap.vertex + 1, lo + fv + 1)
        else:
            idx = range(lo + snap.vertex, lo + fv, -1)
        coords = [[round(snap.lon, 7), round(snap.lat, 7)]]
        coords.extend(self.lonlat[list(idx)].tolist())
        coords.append([round(flon, 7), round(flat, 7)])
        _drop_repeated_ends(coords)
        return {
            "distance_m": round(abs(ft - snap.fraction) * float(self.edge_len[e]), 2),
            "route": {"type": "LineString", "coordinates": coords},
            "segment_ids": [int(self.edge_id[e])],
        }

    def _result(self, rank: int, fac: dict, time_s: float, route: dict, point: Point) -> dict:
        e, _, fraction, lon, lat, snap_m = point
        return {
            "rank": rank,
            "facility": fac,
            "travel_time_s": round(time_s, 3),
            "distance_m": route["distance_m"],
            "route": route["route"],
            "segment_ids": route["segment_ids"],
            "facility_snap": {
                "lat": round(lat, 7),
                "lon": round(lon, 7),
                "distance_m": round(snap_m, 2),
                "segment_id": int(self.edge_id[e]),
                "fraction": fraction,
            },
        }

    def _envelope(self, lat, lon, snap: Snap, mode: str, category: str) -> dict:
        return {
            "origin": {"lat": lat, "lon": lon},
            "snapped": {
                "lat": round(snap.lat, 7),
                "lon": round(snap.lon, 7),
                "distance_m": round(snap.distance_m, 2),
                "segment_id": int(self.edge_id[snap.edge]),
                "fraction": snap.fraction,
            },
            "mode": mode,
            "category": category,
            "results": [],
            "unreachable": False,
        }

    # queries ---------------------------------------------------------------------------------
    def best_from_table(self, snap: Snap, mode: str, category: str):
        """Find the nearest facility from a snapped origin with the precomputed table.

        Parameters
        ----------
        snap : Snap
            The origin (:meth:`gis.graph.ModeGraph.snap`).
        mode, category : str
            A mode and a category the cache holds.

        Returns
        -------
        tuple or None
            ``(travel_time_s, facility index, route, point)``: ``route`` is
            ``(exit, codes, from_u)`` for a route through the network, or None for the direct
            piece of the origin's segment; ``point`` is the facility's road point the route
            ends at (:meth:`gis.tables.FacilityTables.points`). None when no facility can be
            reached.
        """
        t = self.tables(mode, category)
        dist = t.dist_s
        best_s = math.inf
        start = None
        for option in snap.options:
            total = option[1] + float(dist[option[0]])
            if total < best_s:
                best_s, start = total, option
        direct = None
        on_edge = t.points_on_edge(snap.edge)
        if on_edge:
            g = self.mode_graph(mode)
            for i, p in on_edge:
                along = g.along_s(snap.edge, snap.fraction, p[2])
                if along < best_s:
                    best_s, direct = along, (i, p)
        if direct is not None:
            return best_s, direct[0], None, direct[1]
        if start is None:
            return None
        node = start[0]
        code = t.code
        edge_u, edge_v = self.edge_u, self.edge_v
        codes = []
        while (c := int(code[node])) != LAST_HOP:
            if c == NO_HOP:  # cannot happen for a node with a finite time
                return None
            codes.append(c)
            node = int(edge_v[c]) if c >= 0 else int(edge_u[~c])
        fac = int(t.facility[start[0]])
        point, from_u = self._last_hop(mode, t, fac, node)
        return best_s, fac, (start, codes, from_u), point

    def _last_hop(self, mode: str, t: FacilityTables, fac: int, node: int) -> tuple[Point, bool]:
        """Give the road point of facility ``fac`` entered from ``node``, and whether from ``u``.

        With two road points (or a loop segment), the cheaper entry from ``node``.
        """
        points = t.points(fac)
        if len(points) == 1:
            e = points[0][0]
            u, v = int(self.edge_u[e]), int(self.edge_v[e])
            if u != v:
                return points[0], node == u
        g = self.mode_graph(mode)  # a loop, or two road points: the cheapest entry from node
        ways = [(w[1], w[2], p) for p in points for w in g.entries(p[0], p[2]) if w[0] == node]
        cost, from_u, point = min(ways, key=lambda w: w[0])
        return point, from_u

    def rank_facilities(
        self, lat: float, lon: float, *, category: str, mode: str, k: int = 1
    ) -> dict:
        """Rank the ``k`` facilities of ``category`` with the least travel time from a point.

        Parameters
        ----------
        lat, lon : float
            The origin (degrees), already validated.
        category, mode : str
            Already validated.
        k : int
            How many facilities.

        Returns
        -------
        dict
            The JSON of :func:`gis.routing.nearest_facilities`.
        """
        facs = self.facilities(category)
        g = self.mode_graph(mode)
        snap = g.snap(lat, lon)
        out = self._envelope(lat, lon, snap, mode, category)
        found = self.best_from_table(snap, mode, category)
        if found is None:
            out["unreachable"] = True
            out["message"] = (
                f"No {category} facility can be reached by {mode} from this point "
                "(the road network does not connect them)."
            )
            return out
        time_s, fac, how, point = found
        if k == 1:
            if how is None:
                route = self._direct_route(snap, point)
            else:
                start, codes, from_u = how
                route = self._route(snap, start[2], codes, point, from_u)
            out["results"].append(self._result(1, facs[fac], time_s, route, point))
            return out
        return self._k_nearest(g, snap, out, facs, category, time_s, k)

    def _k_nearest(
        self, g: ModeGraph, snap: Snap, out: dict, facs: list, category: str, first_s, k: int
    ) -> dict:
        t = self.tables(g.mode, category)
        slots = self._entry_arrays(g, category)  # first and second road points
        direct = np.full(len(facs), np.inf)
        direct_point: dict[int, Point] = {}
        for i, p in t.points_on_edge(snap.edge):
            along = g.along_s(snap.edge, snap.fraction, p[2])
            if along < direct[i]:
                direct[i], direct_point[i] = along, p
        limit = max(2.0 * first_s, first_s + 300.0)
        search: BoundedSearch | None = None
        for attempt in range(4):
            if attempt == 3:
                limit = math.inf
            search = bounded_dijkstra(g, snap, limit)
            # per facility: direct, then (slot 0 via u, via v, slot 1 via u, via v)
            ways = [direct]
            for u_node, u_cost, v_node, v_cost in slots:
                ways += [search.time_s(u_node) + u_cost, search.time_s(v_node) + v_cost]
            stacked = np.vstack(ways)
            times = stacked.min(axis=0)
            if (times <= limit).sum() >= k or not math.isfinite(limit):
                break
            limit *= 4
        assert search is not None
        best_way = stacked.argmin(axis=0)
        order = [int(i) for i in np.argsort(times, kind="stable")[:k] if np.isfinite(times[i])]
        for rank, i in enumerate(order, start=1):
            way = int(best_way[i])
            if way == 0:
                point = direct_point[i]
                route = self._direct_route(snap, point)
            else:
                slot, from_u = divmod(way - 1, 2)[0], (way - 1) % 2 == 0
                u_node, _, v_node, _ = slots[slot]
                point = t.points(i)[slot]
                nodes, exit_ = search.path(int(u_node[i] if from_u else v_node[i]))
                codes = g.hop_codes(np.asarray(nodes, dtype=np.int64)).tolist()
                route = self._route(snap, exit_[2], codes, point, from_u)
            out["results"].append(self._result(rank, facs[i], float(times[i]), route, point))
        if len(order) < k:
            out["message"] = f"Only {len(order)} of the {k} asked for can be reached."
        return out

    def isochrone(self, lat: float, lon: float, *, minutes: list[float], mode: str) -> dict:
        """Give the areas reachable within each of ``minutes`` as a GeoJSON FeatureCollection.

        Parameters
        ----------
        lat, lon : float
            The origin (degrees), already validated.
        minutes : list of float
            Travel times, already validated.
        mode : str
            Already validated.

        Returns
        -------
        dict
            The JSON of :func:`gis.routing.isochrone`.
        """
        g = self.mode_graph(mode)
        snap = g.snap(lat, lon)
        minutes = sorted(minutes, reverse=True)
        search = bounded_dijkstra(g, snap, minutes[0] * 60.0, predecessors=False)
        dist, start_s = search.dist_s, search.start[1]
        features = []
        reached_all = np.flatnonzero(np.isfinite(dist))
        for m in minutes:
            budget = m * 60.0
            reached = reached_all[dist[reached_all] <= budget - start_s]
            geom = reach_polygon(g, snap, dist, budget, start_s, reached)
            features.append(
                {
                    "type": "Feature",
                    "properties": {"minutes": m, "mode": mode, "reachable_nodes": len(reached)},
                    "geometry": json.loads(shapely.to_geojson(geom)),
                }
            )
        return {
            "type": "FeatureCollection",
            "features": features,
            "origin": {"lat": lat, "lon": lon},
            "snapped": {
                "lat": round(snap.lat, 7),
                "lon": round(snap.lon, 7),
                "distance_m": round(snap.distance_m, 2),
            },
            "mode": mode,
        }


def _drop_repeated_ends(coords: list[list[float]]) -> None:
    """Drop a vertex that repeats the first or last point (a road point on a vertex)."""

    def same(a: list[float], b: list[float]) -> bool:
        return abs(a[0] - b[0]) <= 1.5e-7 and abs(a[1] - b[1]) <= 1.5e-7

    if len(coords) > 2 and same(coords[-1], coords[-2]):
        del coords[-2]
    if len(coords) > 2 and same(coords[0], coords[1]):
        del coords[1]
