"""Areas for coverage: administrative areas or a hexagon grid, and the road pieces in each.

Segments are **split at area boundaries** (not assigned by midpoint): each segment is cut into
the pieces that lie in each area, as fraction intervals ``[f0, f1]`` of its length, computed
with shapely in the network's local metric projection (the projection snapping uses, so the
fractions match the gap pieces of :mod:`gis.coverage_gaps`). A piece's length is its share of
the segment's ``length_m``. So the areas' road lengths add up to the network's, less the
roads outside every area, which are reported apart (``outside``). Where areas of one level
overlap (bad data), a road piece counts in each.

Where no administrative areas are loaded (the Helsinki demo has none), the areas are the
cells of Uber's **H3** hexagon grid (the ``h3`` package, not PostGIS ``ST_HexagonGrid``: the
grid is the same for every database and needs no query) that the roads touch, at a resolution
picked from the network's extent (:func:`hex_resolution`) so that there are at most a few
hundred cells.

Population
----------
An area's population (``admin_area.population``, may be NULL) is assumed to live along its
**residential roads** (``highway`` ``residential`` or ``living_street``) that the mode may use,
evenly per metre; an area with none of those spreads it evenly over every road of the mode in
it. People of an area without any road of the mode count as beyond T.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import shapely

from gis.graph import ModeGraph
from gis.snapping import LocalProjection

logger = logging.getLogger(__name__)

#: Road classes people are assumed to live along (see the module docstring).
RESIDENTIAL_CLASSES: frozenset[str] = frozenset({"residential", "living_street"})
#: Hexagon grids get at most about this many cells.
HEX_TARGET_CELLS = 400
#: H3 resolutions the automatic choice may pick.
HEX_RESOLUTIONS = range(5, 11)


@dataclass
class Areas:
    """The areas of an analysis: administrative areas of one level, or hexagons.

    Attributes
    ----------
    kind : str
        ``admin_area`` or ``hex``.
    keys : list of str
        A stable key per area: ``admin_area/<id>`` or the H3 cell.
    ids : list of int or None
        ``admin_area.id`` (None for hexagons).
    names, codes : list of str or None
        Name and area code (hexagons: None).
    levels : list of int or None
        ``admin_level`` (hexagons: None).
    population : ndarray of float64
        People (NaN: unknown).
    geoms : ndarray of shapely geometries
        The areas in longitude/latitude.
    admin_level : int or None
        The level analysed (None: every level, or hexagons).
    hex_resolution : int or None
        The H3 resolution of a hexagon grid.
    """

    kind: str
    keys: list[str]
    ids: list[int | None]
    names: list[str | None]
    codes: list[str | None]
    levels: list[int | None]
    population: np.ndarray
    geoms: np.ndarray
    admin_level: int | None = None
    hex_resolution: int | None = None

    def __len__(self) -> int:
        """Give the number of areas."""
        return len(self.keys)


@dataclass
class AreaPieces:
    """Each segment's pieces per area: ``edge`` lies in ``area`` from ``f0`` to ``f1``.

    Attributes
    ----------
    edge, area : ndarray of int64 [P]
        Segment index and area index (-1: outside every area), sorted by segment.
    f0, f1 : ndarray of float64 [P]
        Fraction interval of the segment.
    """

    edge: np.ndarray
    area: np.ndarray
    f0: np.ndarray
    f1: np.ndarray
    _by_edge: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        """Give the number of pieces."""
        return len(self.edge)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Give the arrays by name (for the on-disk cache)."""
        return {"edge": self.edge, "area": self.area, "f0": self.f0, "f1": self.f1}


def hex_resolution(lonlat: np.ndarray, target: int = HEX_TARGET_CELLS) -> int:
    """Pick the finest H3 resolution that covers the roads' extent in about ``target`` cells.

    Parameters
    ----------
    lonlat : ndarray [M, 2]
        Road vertices (degrees).
    target : int
        The most cells wanted, estimated from the bounding box.

    Returns
    -------
    int
        A resolution in :data:`HEX_RESOLUTIONS`.
    """
    import h3

    if len(lonlat) == 0:
        return HEX_RESOLUTIONS[-1]
    lo, hi = lonlat.min(axis=0), lonlat.max(axis=0)
    lat0 = math.radians(float(lo[1] + hi[1]) / 2)
    area_km2 = max(
        (float(hi[0] - lo[0]) * 111.195 * math.cos(lat0)) * (float(hi[1] - lo[1]) * 111.195),
        1e-3,
    )
    for res in reversed(HEX_RESOLUTIONS):
        if area_km2 / h3.average_hexagon_area(res, "km^2") <= target:
            return res
    return HEX_RESOLUTIONS[0]


def hex_areas(lonlat: np.ndarray, resolution: int | None = None) -> Areas:
    """Build the H3 cells that road vertices fall in, with their neighbours.

    The neighbours are included so that a segment crossing a cell without a vertex in it
    still has a cell; cells no road reaches are dropped later (:func:`drop_empty`).

    Parameters
    ----------
    lonlat : ndarray [M, 2]
        Road vertices (degrees).
    resolution : int, optional
        H3 resolution (default: :func:`hex_resolution`).

    Returns
    -------
    Areas
        ``kind`` ``hex``, keyed by cell, no population.
    """
    import h3

    res = hex_resolution(lonlat) if resolution is None else int(resolution)
    # one vertex per ~10 m grid cell is plenty to find the cells
    pts = np.unique(np.round(np.asarray(lonlat, dtype=float), 4), axis=0)
    cells: set[str] = set()
    for lon, lat in pts.tolist():
        cells.add(h3.latlng_to_cell(lat, lon, res))
    ring = set()
    for cell in cells:
        ring.update(h3.grid_disk(cell, 1))
    keys = sorted(ring)
    geoms = np.array(
        [shapely.Polygon([(lon, lat) for lat, lon in h3.cell_to_boundary(k)]) for k in keys],
        dtype=object,
    )
    n = len(keys)
    return Areas(
        kind="hex",
        keys=keys,
        ids=[None] * n,
        names=[None] * n,
        codes=[None] * n,
        levels=[None] * n,
        population=np.full(n, np.nan),
        geoms=geoms,
        hex_resolution=res,
    )


def segment_lines(graph: ModeGraph, proj: LocalProjection) -> np.ndarray:
    """Build every segment as a shapely LineString in the local projection (metres)."""
    offsets = np.asarray(graph.offsets, dtype=np.int64)
    counts = np.diff(offsets)
    xy = np.asarray(graph.xy, dtype=float)
    index = np.repeat(np.arange(len(counts)), counts)
    return shapely.linestrings(xy, indices=index)


def split_edges(graph: ModeGraph, areas: Areas) -> AreaPieces:
    """Cut every segment into its pieces per area (see the module docstring).

    Parameters
    ----------
    graph : ModeGraph
        Any mode's graph of the network (geometry and projection are shared).
    areas : Areas
        The areas, in longitude/latitude.

    Returns
    -------
    AreaPieces
        Pieces of every segment; the parts in no area have ``area`` -1.
    """
    proj = graph.proj
    lines = segment_lines(graph, proj)
    n_edges = len(lines)

    def to_xy(coords: np.ndarray) -> np.ndarray:
        x, y = proj.forward(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    polys = shapely.transform(np.asarray(areas.geoms, dtype=object), to_xy)
    polys = shapely.make_valid(polys)
    shapely.prepare(polys)
    tree = shapely.STRtree(polys)
    pair_line, pair_area = tree.query(lines, predicate="intersects")
    inside = shapely.contains_properly(polys[pair_area], lines[pair_line])
    edges = [pair_line[inside]]
    area_idx = [pair_area[inside]]
    f0 = [np.zeros(int(inside.sum()))]
    f1 = [np.ones(int(inside.sum()))]
    cross_l, cross_a = pair_line[~inside], pair_area[~inside]
    if len(cross_l):
        parts = shapely.intersection(lines[cross_l], polys[cross_a])
        flat, owner = shapely.get_parts(parts, return_index=True)
        flat_lines = []
        flat_owner = []
        for geom, o in zip(flat.tolist(), owner.tolist(), strict=True):
            if geom.geom_type == "LineString" and geom.length > 0:
                flat_lines.append(geom)
                flat_owner.append(o)
            elif geom.geom_type in ("MultiLineString", "GeometryCollection"):
                for g in geom.geoms:
                    if g.geom_type == "LineString" and g.length > 0:
                        flat_lines.append(g)
                        flat_owner.append(o)
        if flat_lines:
            pieces = np.array(flat_lines, dtype=object)
            own = np.asarray(flat_owner, dtype=np.int64)
            base = lines[cross_l[own]]
            a = shapely.line_locate_point(base, shapely.get_point(pieces, 0), normalized=True)
            b = shapely.line_locate_point(base, shapely.get_point(pieces, -1), normalized=True)
            edges.append(cross_l[own])
            area_idx.append(cross_a[own])
            f0.append(np.minimum(a, b))
            f1.append(np.maximum(a, b))
    edge = np.concatenate(edges).astype(np.int64)
    area = np.concatenate(area_idx).astype(np.int64)
    lo = np.concatenate(f0)
    hi = np.concatenate(f1)
    keep = hi > lo
    edge, area, lo, hi = edge[keep], area[keep], lo[keep], hi[keep]
    edge, area, lo, hi = _with_outside(n_edges, edge, area, lo, hi)
    order = np.lexsort((lo, edge))
    return AreaPieces(edge[order], area[order], lo[order], hi[order])


def _with_outside(n_edges: int, edge, area, lo, hi):
    """Add the parts of segments in no area, as pieces of area -1."""
    order = np.lexsort((lo, edge))
    e, a0, a1 = edge[order], lo[order], hi[order]
    out_e, out_lo, out_hi = [], [], []
    # Python over the segments that are not wholly inside one area, vectorised for the rest
    whole = np.zeros(n_edges, dtype=bool)
    full = (a0 <= 1e-9) & (a1 >= 1 - 1e-9)
    whole[e[full]] = True
    partial = np.setdiff1d(np.unique(e), np.flatnonzero(whole))
    starts = np.searchsorted(e, partial, side="left")
    stops = np.searchsorted(e, partial, side="right")
    for seg, s, t in zip(partial.tolist(), starts.tolist(), stops.tolist(), strict=True):
        pos = 0.0
        for lo_, hi_ in sorted(zip(a0[s:t].tolist(), a1[s:t].tolist(), strict=True)):
            if lo_ > pos + 1e-9:
                out_e.append(seg)
                out_lo.append(pos)
                out_hi.append(lo_)
            pos = max(pos, hi_)
        if pos < 1 - 1e-9:
            out_e.append(seg)
            out_lo.append(pos)
            out_hi.append(1.0)
    untouched = np.flatnonzero(~np.isin(np.arange(n_edges), e))
    out_e.extend(untouched.tolist())
    out_lo.extend([0.0] * len(untouched))
    out_hi.extend([1.0] * len(untouched))
    n = len(out_e)
    return (
        np.concatenate([edge, np.asarray(out_e, dtype=np.int64)]),
        np.concatenate([area, np.full(n, -1, dtype=np.int64)]),
        np.concatenate([lo, np.asarray(out_lo, dtype=float)]),
        np.concatenate([hi, np.asarray(out_hi, dtype=float)]),
    )


def drop_empty(areas: Areas, pieces: AreaPieces) -> tuple[Areas, AreaPieces]:
    """Drop hexagons no road reaches; renumber the pieces (administrative areas stay).

    Parameters
    ----------
    areas : Areas
        The areas.
    pieces : AreaPieces
        Their pieces.

    Returns
    -------
    (Areas, AreaPieces)
        Hexagons with at least one piece; other areas unchanged.
    """
    if areas.kind != "hex":
        return areas, pieces
    used = np.unique(pieces.area[pieces.area >= 0])
    remap = np.full(len(areas) + 1, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    keep = used.tolist()
    new = Areas(
        kind=areas.kind,
        keys=[areas.keys[i] for i in keep],
        ids=[areas.ids[i] for i in keep],
        names=[areas.names[i] for i in keep],
        codes=[areas.codes[i] for i in keep],
        levels=[areas.levels[i] for i in keep],
        population=areas.population[used],
        geoms=areas.geoms[used],
        admin_level=areas.admin_level,
        hex_resolution=areas.hex_resolution,
    )
    area = np.where(pieces.area >= 0, remap[np.maximum(pieces.area, 0)], -1)
    return new, AreaPieces(pieces.edge, area, pieces.f0, pieces.f1)


def piece_demand(
    areas: Areas,
    pieces: AreaPieces,
    edge_len_m: np.ndarray,
    usable: np.ndarray,
    residential: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spread each area's population over its pieces (see the module docstring).

    Parameters
    ----------
    areas : Areas
        The areas (population NaN where unknown).
    pieces : AreaPieces
        The pieces per area.
    edge_len_m : ndarray [E]
        Segment lengths (metres).
    usable : ndarray of bool [E]
        Segments of the mode's network.
    residential : ndarray of bool [E]
        Segments of a residential class (:data:`RESIDENTIAL_CLASSES`).

    Returns
    -------
    people_per_m : ndarray [P]
        People per metre of each piece (0 where the area has no population or the piece
        carries none).
    residential_m : ndarray [A]
        Residential road of the mode per area (metres).
    roadless : ndarray of bool [A]
        Areas with a population and no road of the mode.
    """
    n = len(areas)
    length = (pieces.f1 - pieces.f0) * np.asarray(edge_len_m)[pieces.edge]
    ok = usable[pieces.edge] & (pieces.area >= 0)
    res = ok & residential[pieces.edge]
    a = np.maximum(pieces.area, 0)
    res_m = np.bincount(a[res], weights=length[res], minlength=n)[:n]
    all_m = np.bincount(a[ok], weights=length[ok], minlength=n)[:n]
    pop = np.nan_to_num(np.asarray(areas.population, dtype=float), nan=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        dens_res = np.where(res_m > 0, pop / res_m, 0.0)
        dens_all = np.where((res_m == 0) & (all_m > 0), pop / all_m, 0.0)
    per_m = np.where(res, dens_res[a], 0.0) + np.where(ok & ~res, dens_all[a], 0.0)
    roadless = (pop > 0) & (all_m == 0)
    return per_m, res_m, roadless
