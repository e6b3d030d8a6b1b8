"""An independent routing reference: networkx over the columns read back from PostGIS.

It reads only the database: ``road_segment`` (``u``, ``v``, ``oneway``, ``length_m``, the
``cost_<mode>_s`` the build wrote, the geometry) and the facility tables. Both ends of a route
are placed the way a user places them, by PostGIS, not by SIGAP's code: on the nearest segment
the mode may use (geography distance), at the position ``ST_LineLocatePoint`` gives in the
point's UTM zone. Each end is a virtual node: the origin leaves through ``v`` for
``(1 - f) * cost`` or, unless one-way binds the mode (motorcycle, car), through ``u`` for
``f * cost``; a facility is reached from ``u`` for ``t * cost`` or, unless one-way binds, from
``v`` for ``(1 - t) * cost``; a move of zero length is always allowed. An origin and a
facility on the same segment are also joined directly by the piece between them, if one-way
allows it. Then networkx's Dijkstra.

Facilities on cut-off fragments: a facility whose segment is not in the mode's largest strongly
connected component (networkx's ``strongly_connected_components`` of the mode's graph; a
segment is in it when both its ends are) also gets a second virtual node, on the nearest
segment of that component within the snap limit (PostGIS again), as OSRM does.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import networkx as nx
from psycopg2 import sql

from tests.conftest import query

ONEWAY_MODES = frozenset({"motorcycle", "car"})
#: The documented snap limit (``gis.snapping.SNAP_LIMIT_M``), restated.
SNAP_LIMIT_M = 1000.0
WASTE_KINDS = ("waste_basket", "waste_disposal", "recycling")


def cost_column(mode: str) -> sql.Identifier:
    return sql.Identifier(f"cost_{mode}_s")


def utm_srid(lon: float) -> int:
    return 32600 + int((lon + 180) // 6) + 1


@dataclass(frozen=True)
class Place:
    """A point placed on a segment by PostGIS."""

    segment_id: int
    fraction: float
    distance_m: float
    lon: float  # the road point
    lat: float


class Reference:
    """One mode's network as networkx sees it, from PostGIS columns only."""

    def __init__(self, url: str, mode: str) -> None:
        self.url, self.mode = url, mode
        rows = query(
            url,
            sql.SQL(
                "SELECT id, u, v, oneway, {}, length_m, "
                "ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)), "
                "ST_X(ST_EndPoint(geom)), ST_Y(ST_EndPoint(geom)) FROM road_segment"
            ).format(cost_column(mode)),
        )
        self.seg: dict[int, tuple] = {}
        self.coord: dict[int, tuple[float, float]] = {}
        self.graph = nx.DiGraph()
        for sid, u, v, oneway, cost, length, x0, y0, x1, y1 in rows:
            self.seg[sid] = (u, v, oneway, cost, length)
            self.coord[u] = (x0, y0)
            self.coord[v] = (x1, y1)
            if cost is None or u == v:
                continue
            self._add(self.graph, u, v, cost)
            if not self.binds(sid):
                self._add(self.graph, v, u, cost)
        self._facilities: dict[str, dict[int, Place]] = {}
        self._second: dict[str, dict[int, Place]] = {}
        self._with_facilities: dict[str, nx.DiGraph] = {}
        self._main: set | None = None
        #: how many near-ties :meth:`settle_tie` settled
        self.ties = 0
        #: closed segments (:meth:`closed`): nothing is placed on them
        self.excluded: list[int] = []

    @staticmethod
    def _add(g: nx.DiGraph, a, b, cost: float) -> None:
        if not g.has_edge(a, b) or g[a][b]["weight"] > cost:
            g.add_edge(a, b, weight=cost)

    def binds(self, sid: int) -> bool:
        """Does one-way bind this mode on segment ``sid``?"""
        return self.mode in ONEWAY_MODES and bool(self.seg[sid][2])

    def allowed(self, sid: int, a, b) -> bool:
        """May this mode travel segment ``sid`` from node ``a`` to node ``b``?"""
        u, v, _, cost, _ = self.seg[sid]
        if cost is None:
            return False
        if (a, b) == (u, v):
            return True
        return (a, b) == (v, u) and not self.binds(sid)

    # the main component ------------------------------------------------------------------
    def main_nodes(self) -> set:
        """The nodes of the mode's largest strongly connected component."""
        if self._main is None:
            comps = list(nx.strongly_connected_components(self.graph))
            self._main = max(comps, key=len) if comps else set()
        return self._main

    def in_main(self, sid: int) -> bool:
        """Is segment ``sid`` in the main component (both its ends are)?"""
        u, v = self.seg[sid][:2]
        main = self.main_nodes()
        return u in main and v in main

    def main_segments(self) -> list[int]:
        """Passable segments of the main component."""
        return [s for s, row in self.seg.items() if row[3] is not None and self.in_main(s)]

    def second_place(self, place: Place, lon: float, lat: float) -> Place | None:
        """The second virtual node of a facility at ``(lon, lat)`` first placed at ``place``:
        None when ``place`` is in the main component, else the nearest main-component
        segment's position (None beyond the snap limit)."""
        if self.in_main(place.segment_id):
            return None
        return self.place([(lon, lat)], only=self.main_segments())[0]

    # placing points ----------------------------------------------------------------------
    def place(
        self, points: list[tuple[float, float]], only: list[int] | None = None
    ) -> list[Place | None]:
        """PostGIS's nearest usable segment and position for each ``(lon, lat)``; None when
        no usable segment is within the snap limit. ``only``: consider these segments
        only."""
        if not points:
            return []
        lons = [float(p[0]) for p in points]
        lats = [float(p[1]) for p in points]
        srid = utm_srid(sum(lons) / len(lons))
        rows = query(
            self.url,
            sql.SQL(
                "SELECT p.i, s.id, s.d, ST_LineLocatePoint(ST_Transform(s.geom, %(srid)s), "
                "  ST_Transform(p.pt, %(srid)s)) "
                "FROM (SELECT i, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS pt FROM "
                "      unnest(%(lons)s::float8[], %(lats)s::float8[]) WITH ORDINALITY "
                "      AS t(lon, lat, i)) p "
                "CROSS JOIN LATERAL (SELECT id, geom, ST_Distance(geom::geography, "
                "  p.pt::geography) AS d FROM road_segment WHERE {} IS NOT NULL "
                "  AND NOT id = ANY(%(excluded)s) AND (%(all)s OR id = ANY(%(only)s)) "
                "  ORDER BY d, id LIMIT 1) s ORDER BY p.i"
            ).format(cost_column(self.mode)),
            {
                "srid": srid,
                "lons": lons,
                "lats": lats,
                "excluded": self.excluded,
                "all": only is None,
                "only": list(only or []),
            },
        )
        out: list[Place | None] = [None] * len(points)
        ids = [r[1] for r in rows]
        fractions = [r[3] for r in rows]
        road = query(
            self.url,
            "SELECT i, ST_X(pt), ST_Y(pt) FROM (SELECT t.i, ST_Transform(ST_LineInterpolatePoint("
            "  (SELECT ST_Transform(geom, %s) FROM road_segment WHERE id = t.sid), t.f), 4326) "
            "  AS pt FROM unnest(%s::bigint[], %s::float8[]) WITH ORDINALITY AS t(sid, f, i)) q",
            (srid, ids, fractions),
        )
        point_of = {i: (x, y) for i, x, y in road}
        for k, (i, sid, dist, frac) in enumerate(rows):
            if dist <= SNAP_LIMIT_M:
                length = self.seg[sid][4]
                # a position within a millimetre of an end is that end
                f = 0.0 if frac * length < 1e-3 else (1.0 if (1 - frac) * length < 1e-3 else frac)
                x, y = point_of[k + 1]
                out[i - 1] = Place(sid, f, dist, x, y)
        return out

    def place_on(self, segment_id: int, lon: float, lat: float) -> Place:
        """PostGIS's position of ``(lon, lat)`` on a given segment (for near-ties)."""
        srid = utm_srid(lon)
        ((dist, frac, x, y),) = query(
            self.url,
            "WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS pt), "
            "s AS (SELECT geom, ST_LineLocatePoint(ST_Transform(geom, %(srid)s), "
            "  ST_Transform((SELECT pt FROM p), %(srid)s)) AS f FROM road_segment "
            "  WHERE id = %(sid)s) "
            "SELECT ST_Distance(s.geom::geography, (SELECT pt FROM p)::geography), s.f, "
            "ST_X(q.pt), ST_Y(q.pt) FROM s, LATERAL (SELECT ST_Transform(ST_LineInterpolatePoint("
            "ST_Transform(s.geom, %(srid)s), s.f), 4326) AS pt) q",
            {"lon": lon, "lat": lat, "srid": srid, "sid": segment_id},
        )
        length = self.seg[segment_id][4]
        f = 0.0 if frac * length < 1e-3 else (1.0 if (1 - frac) * length < 1e-3 else frac)
        return Place(segment_id, f, dist, x, y)

    def settle_tie(self, place: Place, segment_id: int, lon: float, lat: float) -> Place:
        """``place``, or, when SIGAP chose ``segment_id`` instead and that segment is as near
        as PostGIS's choice (within 0.5 m: a tie the two distance computations break
        differently), the point placed on ``segment_id``. Another segment fails the test."""
        if segment_id == place.segment_id:
            return place
        other = self.place_on(segment_id, lon, lat)
        assert other.distance_m - place.distance_m < 0.5, (place, other)
        self.ties += 1
        return other

    def align_facilities(
        self,
        category: str,
        segment_of: dict[int, int],
        second_segment_of: dict[int, int] | None = None,
    ) -> None:
        """Settle ties between SIGAP's and PostGIS's segment of each facility
        (``segment_of``: facility id -> SIGAP's segment id; ``second_segment_of``: the same
        for second virtual nodes) with :meth:`settle_tie`."""
        sites = self._sites(category)
        placed = self.facilities(category)
        for fid, sid in segment_of.items():
            if fid in placed:
                placed[fid] = self.settle_tie(placed[fid], sid, *sites[fid])
        self._second.pop(category, None)
        second = self.second_places(category)
        for fid, sid in (second_segment_of or {}).items():
            if fid in second:
                second[fid] = self.settle_tie(second[fid], sid, *sites[fid])
        self._with_facilities.pop(category, None)

    def _sites(self, category: str) -> dict[int, tuple[float, float]]:
        """Facility id -> ``(lon, lat)`` of the facilities of ``category``."""
        if category in WASTE_KINDS:
            rows = query(
                self.url,
                "SELECT id, ST_X(geom), ST_Y(geom) FROM waste_bin WHERE kind = %s ORDER BY id",
                (category,),
            )
        else:
            rows = query(
                self.url,
                "SELECT id, ST_X(geom), ST_Y(geom) FROM office WHERE category = %s ORDER BY id",
                (category,),
            )
        return {fid: (lon, lat) for fid, lon, lat in rows}

    def facilities(self, category: str) -> dict[int, Place]:
        """Facility id -> where it joins this mode's network (those within the snap limit)."""
        if category not in self._facilities:
            sites = self._sites(category)
            places = self.place(list(sites.values()))
            self._facilities[category] = {
                fid: p for fid, p in zip(sites, places, strict=True) if p is not None
            }
        return self._facilities[category]

    def second_places(self, category: str) -> dict[int, Place]:
        """Facility id -> its second virtual node, for facilities first placed on a segment
        outside the main component (and with a main-component segment within the limit)."""
        if category not in self._second:
            sites = self._sites(category)
            second = {}
            for fid, p in self.facilities(category).items():
                q = self.second_place(p, *sites[fid])
                if q is not None:
                    second[fid] = q
            self._second[category] = second
        return self._second[category]

    def facility_places(self, category: str) -> dict[int, list[Place]]:
        """Facility id -> every virtual node of it (one, or two for a cut-off one)."""
        second = self.second_places(category)
        return {
            fid: [p] + ([second[fid]] if fid in second else [])
            for fid, p in self.facilities(category).items()
        }

    # the virtual nodes -------------------------------------------------------------------
    def exits(self, p: Place) -> list[tuple[int, float]]:
        u, v, _, cost, _ = self.seg[p.segment_id]
        out = [(v, (1 - p.fraction) * cost)]
        if not self.binds(p.segment_id) or p.fraction == 0.0:
            out.append((u, p.fraction * cost))
        return out

    def entries(self, p: Place) -> list[tuple[int, float]]:
        u, v, _, cost, _ = self.seg[p.segment_id]
        out = [(u, p.fraction * cost)]
        if not self.binds(p.segment_id) or p.fraction == 1.0:
            out.append((v, (1 - p.fraction) * cost))
        return out

    def along(self, sid: int, start: float, end: float) -> float:
        """Seconds from fraction ``start`` to ``end`` of segment ``sid`` (inf: forbidden)."""
        if end < start and self.binds(sid):
            return math.inf
        return abs(end - start) * self.seg[sid][3]

    def _graph_with(self, category: str) -> nx.DiGraph:
        if category not in self._with_facilities:
            g = self.graph.copy()
            for fid, places in self.facility_places(category).items():
                for p in places:
                    for node, cost in self.entries(p):
                        self._add(g, node, ("F", fid), cost)
            self._with_facilities[category] = g
        return self._with_facilities[category]

    def times_from(self, origin: Place, category: str) -> dict[int, float]:
        """Seconds from the origin to each facility of ``category`` it can reach."""
        g = self._graph_with(category)
        for node, cost in self.exits(origin):
            self._add(g, "O", node, cost)
        for fid, places in self.facility_places(category).items():
            for p in places:
                if p.segment_id == origin.segment_id:
                    direct = self.along(p.segment_id, origin.fraction, p.fraction)
                    if math.isfinite(direct):
                        self._add(g, "O", ("F", fid), direct)
        try:
            lengths = nx.single_source_dijkstra_path_length(g, "O", weight="weight")
        finally:
            g.remove_node("O")
        return {n[1]: t for n, t in lengths.items() if isinstance(n, tuple)}

    def node_times_to(
        self, places: list[Place], sites: list[tuple[float, float]] | None = None
    ) -> dict:
        """Seconds from every node to the nearest of ``places`` (facilities at those points).

        With ``sites`` (each place's facility ``(lon, lat)``), a place outside the main
        component also gets its second virtual node (:meth:`second_place`)."""
        g = self.graph.reverse(copy=True)
        for i, p in enumerate(places):
            extra = self.second_place(p, *sites[i]) if sites is not None else None
            for q in [p] + ([extra] if extra is not None else []):
                for node, cost in self.entries(q):
                    self._add(g, ("F", i), node, cost)
        sources = {("F", i) for i in range(len(places))}
        lengths = nx.multi_source_dijkstra_path_length(g, sources, weight="weight")
        return {n: t for n, t in lengths.items() if not isinstance(n, tuple)}

    def closed(self, segment_ids) -> Reference:
        """This reference with the segments ``segment_ids`` closed (no traffic)."""
        closed = {int(i) for i in segment_ids}
        other = copy.copy(self)
        other.excluded = sorted(closed | set(self.excluded))
        other.seg = {
            sid: (s if sid not in closed else (*s[:3], None, s[4])) for sid, s in self.seg.items()
        }
        other.graph = nx.DiGraph()
        for sid, (u, v, _, cost, _) in other.seg.items():
            if cost is None or u == v:
                continue
            self._add(other.graph, u, v, cost)
            if not other.binds(sid):
                self._add(other.graph, v, u, cost)
        other._facilities, other._with_facilities, other._second = {}, {}, {}
        other._main = None
        return other

    def node_times_from(self, origin: Place) -> dict:
        """Seconds from the origin to every node it can reach (no facilities)."""
        g = self.graph
        for node, cost in self.exits(origin):
            self._add(g, "O", node, cost)
        try:
            lengths = nx.single_source_dijkstra_path_length(g, "O", weight="weight")
        finally:
            g.remove_node("O")
        lengths.pop("O", None)
        return lengths


def place_of(snapped: dict) -> Place:
    """Our own snap (``snapped`` or ``facility_snap`` of a result) as a :class:`Place`."""
    return Place(
        int(snapped["segment_id"]),
        float(snapped["fraction"]),
        float(snapped["distance_m"]),
        float(snapped["lon"]),
        float(snapped["lat"]),
    )
