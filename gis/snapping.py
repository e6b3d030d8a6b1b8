"""Snapping: where a point joins the road network, and the plane geometry it needs.

A point (an origin, or a facility) joins a mode's network at the nearest point of the nearest
segment that the mode may use (not the nearest node), measured in a local metric projection
(:class:`LocalProjection`). :class:`SnapGrid` finds it exactly: a uniform grid of cells listing
segment pieces, searched ring by ring until no unseen piece can be closer. Points further than
:data:`SNAP_LIMIT_M` from every usable segment are off the network.

Where a snapped point may go from there, or be reached from, is the graph's business
(:meth:`gis.graph.ModeGraph.snap`, :meth:`gis.graph.ModeGraph.exits`,
:meth:`gis.graph.ModeGraph.entries`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_M = 6_371_008.8
#: Origins and facilities further than this from every road the mode may use are off the
#: network (metres): an origin is refused, a facility is left out of that mode's tables.
SNAP_LIMIT_M = 1000.0


class LocalProjection:
    """Equirectangular projection around ``(lat0, lon0)``: metres, accurate at city scale.

    Distortion grows with distance from ``lat0`` (about 0.3 % at 100 km north or south);
    distances that are reported to users are computed on the sphere instead.

    Parameters
    ----------
    lat0, lon0 : float
        Centre of the projection (degrees).
    """

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0 = float(lat0)
        self.lon0 = float(lon0)
        self.kx = EARTH_RADIUS_M * math.cos(math.radians(self.lat0)) * math.pi / 180.0
        self.ky = EARTH_RADIUS_M * math.pi / 180.0

    def forward(self, lon, lat):
        """Project longitudes and latitudes (degrees) to ``(x, y)`` in metres."""
        return (np.asarray(lon) - self.lon0) * self.kx, (np.asarray(lat) - self.lat0) * self.ky

    def inverse(self, x, y):
        """Unproject ``(x, y)`` in metres to ``(lon, lat)`` in degrees."""
        return np.asarray(x) / self.kx + self.lon0, np.asarray(y) / self.ky + self.lat0

    def forward_xy(self, lonlat: np.ndarray) -> np.ndarray:
        """Project an ``[N, 2]`` array of ``(lon, lat)`` to ``[N, 2]`` metres."""
        out = np.empty(lonlat.shape, dtype=float)
        out[:, 0] = (lonlat[:, 0] - self.lon0) * self.kx
        out[:, 1] = (lonlat[:, 1] - self.lat0) * self.ky
        return out


def haversine_m(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres between ``(lon1, lat1)`` and ``(lon2, lat2)``.

    Vectorised over arrays; plain floats take a faster scalar path.
    """
    if all(type(v) is float for v in (lon1, lat1, lon2, lat2)):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        h = (
            math.sin((p2 - p1) / 2) ** 2
            + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
        )
        return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(h, 1.0)))
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def projected_geometry(
    proj: LocalProjection, lonlat: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Project segment vertices and measure how far along its segment each lies.

    Parameters
    ----------
    proj : LocalProjection
        The network's projection.
    lonlat : ndarray [M, 2]
        Every segment's vertices, segment after segment.
    offsets : ndarray [E + 1]
        Index in ``lonlat`` of each segment's first vertex.

    Returns
    -------
    xy : ndarray [M, 2]
        Vertices in metres.
    cum_m : ndarray [M]
        Distance of each vertex from its segment's first vertex (metres).
    """
    xy = proj.forward_xy(lonlat)
    step = np.zeros(len(xy))
    if len(xy) > 1:
        step[1:] = np.hypot(*np.diff(xy, axis=0).T)
    starts = offsets[:-1]
    counts = np.diff(offsets)
    step[starts[counts > 0]] = 0.0
    cum = np.cumsum(step)
    cum -= np.repeat(cum[starts[counts > 0]], counts[counts > 0])
    return xy, cum


@dataclass
class Snap:
    """Where a point joined a mode's network: a position along one segment.

    Attributes
    ----------
    lat, lon : float
        The snapped point on the road (degrees).
    x, y : float
        The same point in the network's local projection (metres).
    distance_m : float
        Great-circle distance from the point that was snapped to the road point (metres).
    edge : int
        Segment index (row of the cache's ``edge_*`` arrays).
    vertex : int
        The road point lies between vertex ``vertex`` and ``vertex + 1`` of the segment.
    fraction : float
        Share of the segment's length before the road point (0 at ``u``, 1 at ``v``).
    options : list of (node, offset_s, towards_v)
        For an origin: each end of the segment a traveller may move to, with the seconds it
        takes, cheapest first (:meth:`gis.graph.ModeGraph.exits`).
    """

    lat: float
    lon: float
    x: float
    y: float
    distance_m: float
    edge: int
    vertex: int
    fraction: float
    options: list[tuple[int, float, bool]]


class SnapGrid:
    """Exact nearest-segment search over a uniform grid of cells.

    Each cell lists the pieces (vertex pairs) whose bounding box touches it; a search visits
    the cells in rings around the query point. After the rings up to ``r`` are searched,
    every piece not yet seen lies at least ``r * cell + (distance from the point to its own
    cell's edge)`` away, so the search stops as soon as the best distance is below that
    bound: the answer is exact. Memory: a cell pointer per cell (about one cell per piece)
    and a piece id per (piece, cell) pair.

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

    def nearest_piece(self, x: float, y: float, limit_m: float, skip: np.ndarray | None = None):
        """Find the nearest piece within ``limit_m`` of ``(x, y)``.

        Parameters
        ----------
        x, y : float
            The point, in the grid's projection (metres).
        limit_m : float
            Search radius (metres).
        skip : ndarray of bool, optional
            Per vertex of ``xy``: True for the first vertex of a piece that must be ignored
            (a closed road).

        Returns
        -------
        tuple or None
            ``(distance_m, piece, s, px, py)``: the piece (index of its first vertex), the
            position ``s`` of the nearest point along it (0 to 1) and that point; None when no
            piece is within ``limit_m``.
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
            if pieces is not None and skip is not None:
                pieces = pieces[~skip[pieces]]
            if pieces is not None and len(pieces):
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
