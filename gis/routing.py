"""Routing queries: nearest facility by travel time, k nearest, isochrones.

Everything here runs on the memory-mapped arrays of :mod:`gis.network`; the hot path never
touches PostGIS.

Snapping
--------
The origin snaps to the nearest *edge* (not node) that the mode may use, measured in a local
metric projection (:class:`SnapGrid`: a uniform grid of cells listing segment pieces, searched
ring by ring until no unseen piece can be closer, so the answer is exact, not just likely).
From the snapped point the traveller moves along that segment to its end ``v``
(cost ``(1 - f) * cost``) or, unless the segment is one-way for the mode, back to ``u``
(``f * cost``), where ``f`` is the fraction of the segment's length before the snapped point.
Points further than :data:`SNAP_LIMIT_M` from every road the mode may use are refused.

Facilities snap to the nearest node of the mode's largest strongly connected component, so a
clinic next to an isolated parking aisle is still reachable, but only within
:data:`SNAP_LIMIT_M`: a facility further from that component is off the network for the mode,
never a route's end (see :mod:`gis.network`). Origins may snap to any segment
of the mode; one on a fragment that is cut off from every facility (common at the edge of a
clipped extract) gets ``"unreachable": true`` and a message, not an error.

Isochrone polygons are the concave hull (``ratio=0.3``) of the nodes reached in time plus the
points along edges where the time runs out, thinned to about :data:`ISO_POINTS` points,
buffered (15 m walking, 30 m otherwise, more when thinned) and simplified by 2 m.

Queries
-------
* ``k = 1``: the precomputed nearest-facility table (a multi-source Dijkstra on the reversed
  graph) gives, for both ends of the snapped segment, the time to the nearest facility and
  the next hop; the route is the chain of next hops. O(route length).
* ``k > 1`` and isochrones: a bounded Dijkstra (``limit=``) from the origin. The origin is not
  a node, so the search starts at the nearer end ``s`` of the snapped segment and, for the
  duration of the call, the edge ``s -> o`` to the other end ``o`` costs only the difference
  of the two offsets: exact, with one Dijkstra instead of two. The weights are a private
  copy-on-write map and the change is made under a lock.

Keeping the cache current
-------------------------
A process's first query on a database checks the cache against the database
(:func:`gis.network.rebuild_if_stale`: database identity, cost model, road and facility
stamps) and builds or rebuilds it if needed (a one-off, a second or so for a city extract).
After that the request path never queries PostGIS: a query only checks, at most every
:data:`RELOAD_CHECK_S` seconds, whether the manifest file changed, and reloads it. A
background thread repeats the database check at most every :data:`DB_CHECK_S` seconds (one
scan of ``road_segment``, ``office`` and ``waste_bin``) and rebuilds a stale cache, so a change
the process was not told about (a build into another cache directory, a failed rebuild after an
ingest, a dropped and recreated database) is picked up within that interval; until then the
previous cache answers. Builds run under a per-database lock, so other databases' queries do
not wait for them.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra

from gis import validate
from gis.errors import NotFoundError, SigapError, UnprocessableError
from gis.network import (
    FACILITY_CATEGORIES,
    MANIFEST,
    MODES,
    NO_HOP,
    PROFILES,
    SNAP_LIMIT_M,
    Network,
    build_network,
    cache_root,
    csr_graph,
    haversine_m,
    load_network,
    read_manifest,
    rebuild_if_stale,
)
from layers.vocab import WASTE_BIN_KINDS

logger = logging.getLogger(__name__)

__all__ = [
    "MODES",
    "SNAP_LIMIT_M",
    "Router",
    "facility_categories",
    "get_router",
    "isochrone",
    "nearest",
]
#: Largest ``k`` for k-nearest.
MAX_K = 10
#: Isochrone limits: at most this many values, each in (0, MAX_MINUTES].
MAX_ISOCHRONES = 6
MAX_MINUTES = 120.0
#: Isochrone polygons are hulls of at most about this many points.
ISO_POINTS = 1500
#: How often (seconds) a query checks whether the cache was rebuilt.
RELOAD_CHECK_S = 2.0
#: How often (seconds) a background thread checks the cache against the database.
DB_CHECK_S = 30.0


def facility_categories() -> tuple[str, ...]:
    """Every category a nearest-facility query accepts: office categories, waste-bin kinds."""
    return FACILITY_CATEGORIES


# --- input validation (one rule each, in gis.validate) --------------------------------------


def validate_point(lat, lon) -> tuple[float, float]:
    """``(lat, lon)`` as floats in range, or :class:`InvalidInputError`."""
    return validate.point(lat, lon)


def validate_mode(mode) -> str:
    """One of :data:`MODES`."""
    return validate.choice(mode, "mode", MODES)


def validate_category(category) -> str:
    """One of :data:`FACILITY_CATEGORIES` (office categories, then waste-bin kinds)."""
    return validate.choice(category, "category", FACILITY_CATEGORIES)


def validate_k(k) -> int:
    """How many facilities: 1 to :data:`MAX_K`."""
    return validate.integer(k, "k", minimum=1, maximum=MAX_K)


def validate_minutes(minutes) -> list[float]:
    """Isochrone limits: 1 to :data:`MAX_ISOCHRONES` values in (0, :data:`MAX_MINUTES`]."""
    return validate.number_list(minutes, "minutes", low=0.0, high=MAX_MINUTES, most=MAX_ISOCHRONES)


# --- the per-mode query structures ----------------------------------------------------------


@dataclass
class Snap:
    """Where an origin joined the network."""

    lat: float
    lon: float
    x: float
    y: float
    distance_m: float
    edge: int  # segment index
    vertex: int  # the snapped point lies between vertex and vertex + 1 of the segment
    fraction: float  # share of the segment's length before the snapped point
    # (node, offset_s, towards_v) for each end the traveller may move to
    options: list[tuple[int, float, bool]]


class SnapGrid:
    """Exact nearest-segment search: a uniform grid of cells listing the pieces (vertex pairs)
    whose bounding box touches them, searched in rings around the query point.

    After the rings up to ``r`` are searched, every piece not yet seen lies at least
    ``r * cell + (distance from the point to its own cell's edge)`` away, so the search stops
    as soon as the best distance is below that bound: the answer is exact. Memory: a cell
    pointer per cell (about one cell per piece) and a piece id per (piece, cell) pair.

    Parameters
    ----------
    xy : ndarray [M, 2]
        Projected segment vertices (metres).
    piece : ndarray of int
        Index into ``xy`` of the first vertex of each piece; the piece ends at ``piece + 1``.
    """

    def __init__(self, xy: np.ndarray, piece: np.ndarray) -> None:
        self.xy = xy
        if len(piece) == 0:
            self.n_pieces = 0
            return
        self.n_pieces = len(piece)
        p0, p1 = xy[piece], xy[piece + 1]
        lo = np.minimum(p0, p1)
        hi = np.maximum(p0, p1)
        self.x0, self.y0 = float(lo[:, 0].min()), float(lo[:, 1].min())
        width = max(float(hi[:, 0].max()) - self.x0, 1.0)
        height = max(float(hi[:, 1].max()) - self.y0, 1.0)
        self.cell = float(np.clip(math.sqrt(width * height / len(piece)), 10.0, 1000.0))
        self.gx = int(width // self.cell) + 1
        self.gy = int(height // self.cell) + 1
        ix0 = ((lo[:, 0] - self.x0) // self.cell).astype(np.int64)
        iy0 = ((lo[:, 1] - self.y0) // self.cell).astype(np.int64)
        nx_ = ((hi[:, 0] - self.x0) // self.cell).astype(np.int64) - ix0 + 1
        ny_ = ((hi[:, 1] - self.y0) // self.cell).astype(np.int64) - iy0 + 1
        n_cells = nx_ * ny_
        owner = np.repeat(np.arange(len(piece)), n_cells)
        k = np.arange(int(n_cells.sum())) - np.repeat(np.cumsum(n_cells) - n_cells, n_cells)
        cx = ix0[owner] + k % nx_[owner]
        cy = iy0[owner] + k // nx_[owner]
        key = cy * self.gx + cx
        order = np.argsort(key, kind="stable")
        self.cell_piece = piece[owner[order]]
        counts = np.bincount(key, minlength=self.gx * self.gy)
        itype = np.int32 if len(order) < 2**31 else np.int64
        self.cell_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(itype)
        # the first rings as Python pairs, computed once (read-only, so thread-safe)
        self._ring_lists = [
            list(zip(*(a.tolist() for a in self._ring(r)), strict=True)) for r in range(3)
        ]

    @staticmethod
    def _ring(r: int) -> tuple[np.ndarray, np.ndarray]:
        """Cell offsets ``(dx, dy)`` of the square ring at Chebyshev distance ``r``."""
        if r == 0:
            return np.zeros(1, np.int64), np.zeros(1, np.int64)
        side = np.arange(-r, r + 1)
        dx = np.concatenate([side, side, np.full(2 * r - 1, -r), np.full(2 * r - 1, r)])
        dy = np.concatenate([np.full(2 * r + 1, -r), np.full(2 * r + 1, r), side[1:-1], side[1:-1]])
        return dx, dy

    def nearest(self, x: float, y: float, limit_m: float):
        """``(distance, piece, s, px, py)`` of the nearest piece within ``limit_m``, or None.

        ``s`` is the position of the nearest point along the piece (0 to 1), ``(px, py)`` the
        point itself.
        """
        if self.n_pieces == 0:
            return None
        fx = (x - self.x0) / self.cell
        fy = (y - self.y0) / self.cell
        cx, cy = math.floor(fx), math.floor(fy)
        outside = max(0.0, -fx, fx - self.gx, -fy, fy - self.gy) * self.cell
        if outside > limit_m:
            return None
        # Before ring r is searched, every unseen piece lies in a cell r or more cells away:
        # at least (r - 1) cells plus the distance from the point to its own cell's edge.
        inner = min(fx - cx, cx + 1 - fx, fy - cy, cy + 1 - fy) * self.cell
        best = None
        r = 0
        while True:
            bound = (r - 1) * self.cell + inner if r else -math.inf
            if (best is not None and best[0] <= bound) or bound > limit_m:
                break
            pieces = self._ring_pieces(cx, cy, r, x, y, best[0] if best else limit_m)
            if pieces is not None:
                cand = self._closest(pieces, x, y)
                if best is None or cand[0] < best[0]:
                    best = cand
            r += 1
        if best is None or best[0] > limit_m:
            return None
        return best

    def _ring_pieces(self, cx: int, cy: int, r: int, x: float, y: float, within: float):
        """Pieces listed in the cells of ring ``r`` that are closer than ``within``."""
        if r == 0:
            if not (0 <= cx < self.gx and 0 <= cy < self.gy):
                return None
            key = cy * self.gx + cx
            lo, hi = int(self.cell_ptr[key]), int(self.cell_ptr[key + 1])
            return self.cell_piece[lo:hi] if hi > lo else None
        if r <= 2:  # few cells: plain Python
            cell, ptr, gx = self.cell, self.cell_ptr, self.gx
            within2 = within * within
            parts = []
            for dx, dy in self._ring_lists[r]:
                ix, iy = cx + dx, cy + dy
                if not (0 <= ix < gx and 0 <= iy < self.gy):
                    continue
                left = self.x0 + ix * cell - x
                bottom = self.y0 + iy * cell - y
                gap_x = left if left > 0 else (-(left + cell) if left + cell < 0 else 0.0)
                gap_y = bottom if bottom > 0 else (-(bottom + cell) if bottom + cell < 0 else 0.0)
                if gap_x * gap_x + gap_y * gap_y >= within2:
                    continue
                key = iy * gx + ix
                lo, hi = int(ptr[key]), int(ptr[key + 1])
                if hi > lo:
                    parts.append(self.cell_piece[lo:hi])
            if not parts:
                return None
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        ring_x, ring_y = self._ring(r)
        cell_x = ring_x + cx
        cell_y = ring_y + cy
        # distance from the point to each cell's rectangle
        left_a = self.x0 + cell_x * self.cell - x
        bottom_a = self.y0 + cell_y * self.cell - y
        gap_xa = np.maximum(np.maximum(left_a, -(left_a + self.cell)), 0.0)
        gap_ya = np.maximum(np.maximum(bottom_a, -(bottom_a + self.cell)), 0.0)
        ok = (cell_x >= 0) & (cell_x < self.gx) & (cell_y >= 0) & (cell_y < self.gy)
        ok &= gap_xa * gap_xa + gap_ya * gap_ya < within * within
        if not ok.any():
            return None
        key = cell_y[ok] * self.gx + cell_x[ok]
        starts = self.cell_ptr[key].astype(np.int64)
        counts = self.cell_ptr[key + 1].astype(np.int64) - starts
        total = int(counts.sum())
        if total == 0:
            return None
        idx = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
        return self.cell_piece[idx]

    def _closest(self, pieces: np.ndarray, x: float, y: float):
        if len(pieces) <= 16:  # plain Python beats numpy's per-call overhead here
            return self._closest_few(pieces, x, y)
        p0 = self.xy[pieces]
        d = self.xy[pieces + 1] - p0
        rx = x - p0[:, 0]
        ry = y - p0[:, 1]
        dx, dy = d[:, 0], d[:, 1]
        len2 = dx * dx + dy * dy
        s = (rx * dx + ry * dy) / np.maximum(len2, 1e-12)
        np.clip(s, 0.0, 1.0, out=s)
        ex = rx - s * dx
        ey = ry - s * dy
        dist2 = ex * ex + ey * ey
        i = int(np.argmin(dist2))  # ties: the first listed, deterministic
        si = float(s[i])
        px = float(p0[i, 0]) + si * float(dx[i])
        py = float(p0[i, 1]) + si * float(dy[i])
        return math.sqrt(float(dist2[i])), int(pieces[i]), si, px, py

    def _closest_few(self, pieces: np.ndarray, x: float, y: float):
        ids = pieces.tolist()
        start = self.xy[pieces].tolist()
        end = self.xy[pieces + 1].tolist()
        best = (math.inf, -1, 0.0, 0.0, 0.0)
        for g, (x0, y0), (x1, y1) in zip(ids, start, end, strict=True):
            dx, dy = x1 - x0, y1 - y0
            len2 = dx * dx + dy * dy
            s = ((x - x0) * dx + (y - y0) * dy) / len2 if len2 > 0 else 0.0
            s = 0.0 if s < 0.0 else (1.0 if s > 1.0 else s)
            px, py = x0 + s * dx, y0 + s * dy
            d2 = (px - x) * (px - x) + (py - y) * (py - y)
            if d2 < best[0]:
                best = (d2, g, s, px, py)
        return (math.sqrt(best[0]), *best[1:])


class ModeGraph:
    """One mode's adjacency, snapping index and a lock for the one-edge weight trick."""

    def __init__(self, net: Network, mode: str) -> None:
        a = net.arrays
        self.mode = mode
        self.indptr = a[f"{mode}.indptr"]
        self.indices = a[f"{mode}.indices"]
        self.weight = a[f"{mode}.weight"]
        self.edge = a[f"{mode}.edge"]
        self.graph = csr_graph(self.indptr, self.indices, self.weight)
        self.cost = a[f"edge_cost_{mode}"]
        self.oneway = PROFILES[mode].oneway
        self.lock = threading.Lock()
        self._build_snap_index(net)

    def _build_snap_index(self, net: Network) -> None:
        a = net.arrays
        offsets = a["geom_offsets"]
        edges = np.flatnonzero(~np.isnan(self.cost))
        starts, ends = offsets[edges], offsets[edges + 1]
        counts = np.maximum(ends - starts - 1, 0)  # pieces (vertex pairs) per segment
        total = int(counts.sum())
        first = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        itype = np.int32 if len(a["geom_lonlat"]) < 2**31 else np.int64
        piece = (first + np.arange(total)).astype(itype)  # global index of a piece's 1st vertex
        self.xy, self.cum = net.geometry_xy()
        self.grid = SnapGrid(self.xy, piece)
        self.proj = net.projection()
        self.offsets = offsets
        self.lonlat = a["geom_lonlat"]
        self.edge_u = a["edge_u"]
        self.edge_v = a["edge_v"]
        self.edge_oneway = a["edge_oneway"]

    # snapping ----------------------------------------------------------------------------
    def snap(self, lat: float, lon: float, limit_m: float = SNAP_LIMIT_M) -> Snap:
        """The nearest point on a segment this mode may use (exact nearest, see module doc)."""
        proj = self.proj
        x = (lon - proj.lon0) * proj.kx
        y = (lat - proj.lat0) * proj.ky
        found = self.grid.nearest(x, y, limit_m)
        if found is None:
            raise self._too_far(limit_m)
        dist, g, s, px, py = found
        return self._make_snap(lat, lon, x, y, g, s, px, py)

    def _too_far(self, limit_m: float) -> UnprocessableError:
        msg = (
            f"The point is more than {limit_m:g} m from any road usable by {self.mode}; "
            "choose a point closer to the road network."
        )
        return UnprocessableError(msg, code="off_network", param="lat")

    def _make_snap(self, lat, lon, x, y, g, s, px, py) -> Snap:
        e = int(np.searchsorted(self.offsets, g, side="right")) - 1
        lo, hi = int(self.offsets[e]), int(self.offsets[e + 1])
        cum = self.cum
        total = float(cum[hi - 1])
        before = float(cum[g]) + s * (float(cum[g + 1]) - float(cum[g]))
        fraction = min(1.0, max(0.0, before / total)) if total > 0 else 0.0
        slon = px / self.proj.kx + self.proj.lon0
        slat = py / self.proj.ky + self.proj.lat0
        cost = float(self.cost[e])
        u, v = int(self.edge_u[e]), int(self.edge_v[e])
        options = [(v, (1.0 - fraction) * cost, True)]
        if not (self.oneway and self.edge_oneway[e]):
            options.append((u, fraction * cost, False))
            if options[1][1] < options[0][1]:
                options.reverse()
        return Snap(
            lat=slat,
            lon=slon,
            x=px,
            y=py,
            distance_m=haversine_m(float(lon), float(lat), float(slon), float(slat)),
            edge=e,
            vertex=g - lo,
            fraction=fraction,
            options=options,
        )

    # paths --------------------------------------------------------------------------------
    def hop_codes(self, nodes: np.ndarray) -> np.ndarray:
        """Signed segment code (``e`` forward, ``~e`` backward) of each hop of a node path."""
        if len(nodes) < 2:
            return np.zeros(0, np.int32)
        a, b = nodes[:-1], nodes[1:]
        starts = self.indptr[a].astype(np.int64)
        deg = self.indptr[a + 1].astype(np.int64) - starts
        idx = np.repeat(starts - np.cumsum(deg) + deg, deg) + np.arange(int(deg.sum()))
        match = self.indices[idx] == np.repeat(b, deg)
        return self.edge[idx[match]]

    def bounded(self, snap: Snap, limit_s: float, *, predecessors: bool = True):
        """Dijkstra from the snapped origin, up to ``limit_s`` seconds.

        Returns
        -------
        dist_s : ndarray [N], travel time from ``start`` (inf beyond the limit); add
            ``start[1]`` for the time from the origin (not added here: O(N) per call)
        pred : ndarray [N], predecessor node (None unless ``predecessors``)
        start : (node, offset_s, towards_v) the search started from
        virtual : (s, o) when the edge s -> o stood for "origin -> o", else None
        """
        s_node, s_off, s_dir = snap.options[0]
        virtual = None
        entry = -1
        if len(snap.options) == 2 and snap.options[1][0] != s_node:
            o_node, o_off, _ = snap.options[1]
            lo, hi = int(self.indptr[s_node]), int(self.indptr[s_node + 1])
            j = lo + int(np.searchsorted(self.indices[lo:hi], o_node))
            if j < hi and self.indices[j] == o_node and o_off - s_off < self.weight[j]:
                entry = j
                virtual = (s_node, o_node)
        with self.lock:
            if entry >= 0:
                saved = float(self.weight[entry])
                self.weight[entry] = snap.options[1][1] - s_off
            try:
                found = dijkstra(
                    self.graph,
                    directed=True,
                    indices=s_node,
                    limit=max(limit_s - s_off, 0.0),
                    return_predecessors=predecessors,
                )
            finally:
                if entry >= 0:
                    self.weight[entry] = saved
        dist, pred = found if predecessors else (found, None)
        return dist, pred, snap.options[0], virtual


# --- the router -----------------------------------------------------------------------------


class Router:
    """Queries over one loaded network cache.

    Parameters
    ----------
    net : Network
        A loaded cache (:func:`gis.network.load_network`).
    """

    def __init__(self, net: Network) -> None:
        self.net = net
        a = net.arrays
        self.offsets = a["geom_offsets"]
        self.lonlat = a["geom_lonlat"]
        self.node_lonlat = a["node_lonlat"]
        self.edge_id = a["edge_id"]
        self.edge_len = a["edge_length_m"]
        self.edge_u = a["edge_u"]
        self.edge_v = a["edge_v"]
        self._modes: dict[str, ModeGraph] = {}
        self._table_cache: dict[tuple[str, str], tuple] = {}
        self._lock = threading.Lock()

    def mode_graph(self, mode: str) -> ModeGraph:
        g = self._modes.get(mode)
        if g is None:
            with self._lock:
                g = self._modes.get(mode)
                if g is None:
                    if mode not in self.net.modes:
                        msg = f"The network has no '{mode}' mode; run 'sigap network build'."
                        raise NotFoundError(msg, param="mode")
                    g = ModeGraph(self.net, mode)
                    self._modes[mode] = g
        return g

    def _facilities(self, mode: str, category: str):
        facs = self.net.facilities.get(category)
        if not facs:
            layer = "waste bins" if category in WASTE_BIN_KINDS else "offices"
            msg = f"There are no {layer} of category '{category}' in the database."
            raise NotFoundError(msg, code="no_facilities", param="category")
        return facs

    # results ------------------------------------------------------------------------------
    def _tables(self, mode: str, category: str) -> tuple:
        key = (mode, category)
        t = self._table_cache.get(key)
        if t is None:
            a = self.net.arrays
            t = tuple(
                a[f"{mode}.{category}.{name}"] for name in ("dist", "code", "fac", "fac_node")
            )
            self._table_cache[key] = t
        return t

    def _route(self, snap: Snap, towards_v: bool, codes: list[int]) -> dict:
        """Geometry, segment ids and length of: origin -> the end of the snapped segment
        (``v`` if ``towards_v``), then the segments ``codes`` (``e`` forward, ``~e`` backward)."""
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
        coords = [[round(snap.lon, 7), round(snap.lat, 7)]]
        coords.extend(self.lonlat[idx].tolist())  # OSM coordinates: 7 decimals already
        return {
            "distance_m": round(part_m + float(self.edge_len[ends].sum()), 2),
            "route": {"type": "LineString", "coordinates": coords},
            "segment_ids": [int(self.edge_id[e])] + self.edge_id[ends].tolist(),
        }

    def _result(self, rank: int, fac: dict, time_s: float, route: dict) -> dict:
        return {
            "rank": rank,
            "facility": fac,
            "travel_time_s": round(time_s, 3),
            "distance_m": route["distance_m"],
            "route": route["route"],
            "segment_ids": route["segment_ids"],
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

    # queries ------------------------------------------------------------------------------
    def nearest_path(self, snap: Snap, mode: str, category: str):
        """The nearest facility from a snapped origin, from the precomputed table.

        Returns
        -------
        (travel_time_s, facility index, start option, segment codes), or None if unreachable.
        """
        dist, code, fac, _ = self._tables(mode, category)
        best_s = math.inf
        start = None
        for option in snap.options:
            total = option[1] + float(dist[option[0]])
            if total < best_s:
                best_s, start = total, option
        if start is None:
            return None
        node = start[0]
        edge_u, edge_v = self.edge_u, self.edge_v
        codes = []
        while (c := int(code[node])) != NO_HOP:
            codes.append(c)
            node = int(edge_v[c]) if c >= 0 else int(edge_u[~c])
        return best_s, int(fac[start[0]]), start, codes

    def nearest(self, lat: float, lon: float, *, category: str, mode: str, k: int = 1) -> dict:
        """The ``k`` facilities of ``category`` with the least travel time from the point."""
        facs = self._facilities(mode, category)
        g = self.mode_graph(mode)
        snap = g.snap(lat, lon)
        out = self._envelope(lat, lon, snap, mode, category)
        found = self.nearest_path(snap, mode, category)
        if found is None:
            out["unreachable"] = True
            out["message"] = (
                f"No {category} facility can be reached by {mode} from this point "
                "(the road network does not connect them)."
            )
            return out
        time_s, fac, start, codes = found
        if k == 1:
            route = self._route(snap, start[2], codes)
            out["results"].append(self._result(1, facs[fac], time_s, route))
            return out
        fac_node = self._tables(mode, category)[3]
        return self._k_nearest(g, snap, out, facs, fac_node, time_s, k)

    def _k_nearest(self, g, snap, out, facs, fac_node, first_s: float, k: int) -> dict:
        limit = max(2.0 * first_s, first_s + 300.0)
        valid = fac_node >= 0
        for attempt in range(4):
            if attempt == 3:
                limit = math.inf
            dist, pred, start, virtual = g.bounded(snap, limit)
            times = np.where(valid, dist[np.maximum(fac_node, 0)] + start[1], np.inf)
            if np.isfinite(times).sum() >= k or not math.isfinite(limit):
                break
            limit *= 4
        order = [int(i) for i in np.argsort(times, kind="stable")[:k] if np.isfinite(times[i])]
        for rank, i in enumerate(order, start=1):
            nodes = [int(fac_node[i])]
            while nodes[-1] != start[0]:
                nodes.append(int(pred[nodes[-1]]))
            nodes.reverse()
            begin = start
            if virtual and len(nodes) >= 2 and nodes[1] == virtual[1]:
                begin = next(o for o in snap.options if o[0] == virtual[1])
                nodes = nodes[1:]
            codes = g.hop_codes(np.asarray(nodes, dtype=np.int64)).tolist()
            route = self._route(snap, begin[2], codes)
            out["results"].append(self._result(rank, facs[i], float(times[i]), route))
        if len(order) < k:
            out["message"] = f"Only {len(order)} of the {k} asked for can be reached."
        return out

    def isochrone(self, lat: float, lon: float, *, minutes: list[float], mode: str) -> dict:
        """Areas reachable within each of ``minutes`` as a GeoJSON FeatureCollection."""
        g = self.mode_graph(mode)
        snap = g.snap(lat, lon)
        minutes = sorted(minutes, reverse=True)
        dist, _, start, _ = g.bounded(snap, minutes[0] * 60.0, predecessors=False)
        features = []
        reached_all = np.flatnonzero(np.isfinite(dist))
        for m in minutes:
            budget = m * 60.0
            reached = reached_all[dist[reached_all] <= budget - start[1]]
            geom = self._reach_polygon(g, snap, dist, reached, budget, start[1])
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

    def _reach_polygon(
        self, g: ModeGraph, snap: Snap, dist, reached, budget: float, start_s: float
    ):
        """Concave hull of the reached nodes plus the points where the budget runs out."""
        proj = g.proj
        pts = [np.array([[snap.x, snap.y]])]
        for node, off, _ in snap.options:  # along the snapped segment
            if off > 0:
                f = min(1.0, budget / off)
                end = proj.forward_xy(self.node_lonlat[[node]])[0]
                pts.append(
                    np.array([[snap.x + f * (end[0] - snap.x), snap.y + f * (end[1] - snap.y)]])
                )
        if len(reached):
            xy = proj.forward_xy(self.node_lonlat[reached])
            pts.append(xy)
            starts = g.indptr[reached].astype(np.int64)
            deg = g.indptr[reached + 1].astype(np.int64) - starts
            idx = np.repeat(starts - np.cumsum(deg) + deg, deg) + np.arange(int(deg.sum()))
            src = np.repeat(np.arange(len(reached)), deg)
            left = budget - start_s - dist[reached][src]
            with g.lock:  # another thread's bounded() may have one entry re-weighted
                w = g.weight[idx]
            cut = w > left
            if cut.any():
                frac = (left[cut] / w[cut])[:, None]
                a_xy = xy[src[cut]]
                b_xy = proj.forward_xy(self.node_lonlat[g.indices[idx[cut]]])
                pts.append(a_xy + (b_xy - a_xy) * frac)
        points = np.concatenate(pts)
        buffer_m = 15.0 if g.mode == "walk" else 30.0
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
        if len(points) >= 3:
            hull = shapely.concave_hull(multi, ratio=0.3)
        else:
            hull = multi
        poly = shapely.buffer(hull, buffer_m, quad_segs=4)
        poly = shapely.simplify(poly, 2.0)

        def to_lonlat(xy):
            lon, lat = proj.inverse(xy[:, 0], xy[:, 1])
            return np.round(np.column_stack([lon, lat]), 7)

        return shapely.transform(poly, to_lonlat)


# --- per-process cache of routers -----------------------------------------------------------


@dataclass
class _Entry:
    router: Router
    mtime_ns: int
    checked_at: float
    db_checked_at: float
    checking: bool = False


_routers: dict[Path, _Entry] = {}
#: Guards the dictionaries below (held only briefly, never during a build).
_routers_lock = threading.Lock()
#: One lock per cache root: loads and builds of one database; others' queries go on.
_db_locks: dict[Path, threading.Lock] = {}
_checks: list[threading.Thread] = []
_default_url: list[str] = []


def _resolve_url(url: str | None) -> str:
    if url:
        return url
    if not _default_url:
        from gis.db import database_url

        _default_url.append(database_url(start=False))
    return _default_url[0]


def _manifest_mtime(root: Path) -> int:
    try:
        return (root / MANIFEST).stat().st_mtime_ns
    except FileNotFoundError:
        return -1


def _db_lock(root: Path) -> threading.Lock:
    with _routers_lock:
        return _db_locks.setdefault(root, threading.Lock())


def _load(db_url: str, root: Path, *, check_db: bool) -> _Entry:
    """A fresh entry for ``root`` (caller holds its lock): checked against the database first
    when ``check_db`` (a new process, or a stale-looking cache), built when missing."""
    if check_db or read_manifest(root) is None:
        rebuild_if_stale(db_url)
    now = time.monotonic()
    mtime = _manifest_mtime(root)
    return _Entry(Router(load_network(root)), mtime, now, now)


def _refresh(db_url: str, root: Path) -> _Entry:
    """The entry for ``root``, loaded, or reloaded if the manifest changed (per-root lock)."""
    with _db_lock(root):
        entry = _routers.get(root)
        now = time.monotonic()
        if entry is not None and now - entry.checked_at < RELOAD_CHECK_S:
            return entry  # another thread refreshed it while we waited
        if entry is None:
            entry = _load(db_url, root, check_db=True)
        elif entry.mtime_ns != _manifest_mtime(root):
            checked = entry.db_checked_at
            entry = _load(db_url, root, check_db=False)
            entry.db_checked_at = checked
        else:
            entry.checked_at = now
        with _routers_lock:
            _routers[root] = entry
        return entry


def _check_database(db_url: str, root: Path, entry: _Entry) -> None:
    """Background: rebuild the cache if it no longer matches the database (see module doc).
    Requests notice a rebuild through the manifest's modification time."""
    try:
        # Not under the per-database lock: queries must not wait for the scan. A build is
        # serialised with any other by the cache's file lock.
        report = rebuild_if_stale(db_url)
        if report is not None:
            logger.info("network cache of %s was stale; rebuilt %s", root.name, report.version)
    except Exception:  # noqa: BLE001 - a background check must not kill the thread noisily
        logger.warning("checking the network cache of %s failed", root.name, exc_info=True)
    finally:
        entry.db_checked_at = time.monotonic()
        entry.checking = False


def _start_check(db_url: str, root: Path, entry: _Entry) -> None:
    with _routers_lock:
        if entry.checking:
            return
        entry.checking = True
        _checks[:] = [t for t in _checks if t.is_alive()]
        thread = threading.Thread(
            target=_check_database,
            args=(db_url, root, entry),
            name=f"sigap-network-check-{root.name}",
            daemon=True,
        )
        _checks.append(thread)
    thread.start()


def join_checks(timeout_s: float = 60.0) -> None:
    """Wait for running background database checks (tests, shutdown)."""
    with _routers_lock:
        threads = list(_checks)
    for thread in threads:
        thread.join(timeout_s)


def get_router(url: str | None = None, *, mode: str | None = None) -> Router:
    """The process's router for the database at ``url`` (default: the configured one).

    The first call checks the cache against the database and builds it if needed; later calls
    reload when the manifest changed (checked at most every :data:`RELOAD_CHECK_S` s), start a
    background database check at most every :data:`DB_CHECK_S` s, and build ``mode`` if the
    cache lacks it. Builds hold only this database's lock.
    """
    db_url = _resolve_url(url)
    root = cache_root(db_url)
    entry = _routers.get(root)
    now = time.monotonic()
    if entry is None or now - entry.checked_at >= RELOAD_CHECK_S:
        entry = _refresh(db_url, root)
    if now - entry.db_checked_at >= DB_CHECK_S and not entry.checking:
        _start_check(db_url, root, entry)
    router = entry.router
    if mode is not None and mode not in router.net.modes:
        with _db_lock(root):
            current = read_manifest(root)
            if current is None or mode not in current.get("modes", {}):
                logger.info("the network cache lacks mode %s; building it", mode)
                build_network(db_url, modes=[mode])
            entry = _load(db_url, root, check_db=False)
            with _routers_lock:
                _routers[root] = entry
            router = entry.router
    if router.net.n_nodes == 0:
        msg = (
            "The database has no road network; load one with 'sigap ingest osm FILE' "
            "and run 'sigap network build'."
        )
        raise NotFoundError(msg)
    return router


def warm_routing(url: str) -> None:
    """Load the routing network and each mode's graph now, not on a user's first request.

    Called once per gunicorn worker after it starts. A database without a road network is
    logged and left for the first query to report.
    """
    try:
        router = get_router(url)
        for mode in MODES:
            router.mode_graph(mode)
    except SigapError as exc:
        logger.warning("routing not warmed up: %s", exc)


def clear_routers() -> None:
    """Forget every loaded router (tests; after deleting a cache); waits for running checks."""
    join_checks()
    with _routers_lock:
        _routers.clear()
        _default_url.clear()


# --- the public API -------------------------------------------------------------------------


def nearest(
    lat: float, lon: float, *, category: str, mode: str, k: int = 1, url: str | None = None
) -> dict:
    """The ``k`` facilities of ``category`` reachable soonest from ``(lat, lon)`` by ``mode``.

    Parameters
    ----------
    lat, lon : float
        Origin in degrees (WGS84).
    category : str
        An office category (``health``, ``government``, ...) or a waste-bin kind.
    mode : str
        ``walk``, ``motorcycle`` or ``car``.
    k : int
        How many facilities, 1 to :data:`MAX_K`, ranked by travel time.
    url : str, optional
        Database whose network to use (default: the configured database).

    Returns
    -------
    dict
        ``origin``, ``snapped`` (with ``distance_m``), ``mode``, ``category``, ``results``
        (``rank``, ``facility``, ``travel_time_s``, ``distance_m``, ``route`` GeoJSON
        LineString, ``segment_ids``) and ``unreachable`` (+ ``message``).

    Raises
    ------
    InvalidInputError
        Bad ``lat``, ``lon``, ``category``, ``mode`` or ``k``.
    NotFoundError
        No facility of that category, or no road network in the database.
    UnprocessableError
        The point is more than :data:`SNAP_LIMIT_M` metres from any road usable by ``mode``.
    """
    lat, lon = validate_point(lat, lon)
    mode = validate_mode(mode)
    category = validate_category(category)
    k = validate_k(k)
    return get_router(url, mode=mode).nearest(lat, lon, category=category, mode=mode, k=k)


def isochrone(
    lat: float, lon: float, *, minutes: list[float], mode: str, url: str | None = None
) -> dict:
    """Everything reachable from ``(lat, lon)`` within each of ``minutes``, by ``mode``.

    Returns
    -------
    dict
        A GeoJSON FeatureCollection, one Feature per value of ``minutes`` (largest first),
        with properties ``minutes``, ``mode``, ``reachable_nodes`` and a Polygon or
        MultiPolygon in EPSG:4326.
    """
    lat, lon = validate_point(lat, lon)
    mode = validate_mode(mode)
    values = validate_minutes(minutes)
    return get_router(url, mode=mode).isochrone(lat, lon, minutes=values, mode=mode)
