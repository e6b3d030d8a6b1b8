"""One coverage analysis on arrays: from node times to the numbers per area and the gap layer.

:class:`Frame` holds what does not change between analyses of one mode and one set of areas
(the graph, the road pieces per area, where people live); :func:`analyse` takes the times of
one set of facilities (the stored ones, or a scenario's) and gives an :class:`Analysis`;
:meth:`Analysis.to_json` the answer's JSON. The rules are documented where they live:
partial segments in :mod:`gis.coverage_gaps`, areas and population in
:mod:`gis.coverage_areas`, accessibility in :mod:`gis.coverage_access`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_array

from gis import coverage_access as access
from gis.coverage_areas import RESIDENTIAL_CLASSES, AreaPieces, Areas, piece_demand
from gis.coverage_gaps import (
    Gaps,
    bands,
    gap_features,
    network_nodes,
    node_counts,
    uncovered,
    usable_edges,
)
from gis.graph import ModeGraph, reverse_graph

logger = logging.getLogger(__name__)


@dataclass
class Frame:
    """The fixed inputs of analyses of one mode over one set of areas.

    Attributes
    ----------
    graph : ModeGraph
        The mode's graph (no closures).
    reverse : csr_array
        Its reversed graph.
    usable : ndarray of bool [E]
        Segments of the mode's network.
    nodes : ndarray of bool [N]
        Nodes of the mode's network.
    edge_len : ndarray [E]
        Segment lengths (metres).
    areas : Areas
        The areas.
    pieces : AreaPieces
        Road pieces per area.
    piece_len : ndarray [P]
        Each piece's length (metres).
    people_per_m : ndarray [P]
        Population density along each piece.
    residential_m : ndarray [A]
        Residential road of the mode per area (metres).
    roadless : ndarray of bool [A]
        Areas with people and no road of the mode.
    demand_unit : str
        ``people`` when every area has a population, else ``road_km``.
    """

    graph: ModeGraph
    reverse: csr_array
    usable: np.ndarray
    nodes: np.ndarray
    edge_len: np.ndarray
    areas: Areas
    pieces: AreaPieces
    piece_len: np.ndarray
    people_per_m: np.ndarray
    residential_m: np.ndarray
    roadless: np.ndarray
    demand_unit: str

    @property
    def piece_demand(self) -> np.ndarray:
        """Each piece's demand in :attr:`demand_unit` (0 off the mode's network)."""
        ok = self.usable[self.pieces.edge]
        if self.demand_unit == "people":
            return np.where(ok, self.people_per_m * self.piece_len, 0.0)
        return np.where(ok, self.piece_len / 1000.0, 0.0)


def make_frame(graph: ModeGraph, areas: Areas, pieces: AreaPieces, classes: np.ndarray) -> Frame:
    """Build the fixed inputs of one mode (see :class:`Frame`).

    Parameters
    ----------
    graph : ModeGraph
        The mode's graph.
    areas : Areas
        The areas.
    pieces : AreaPieces
        Road pieces per area (:func:`gis.coverage_areas.split_edges`).
    classes : ndarray of object [E]
        Each segment's ``highway`` class.

    Returns
    -------
    Frame
        The frame.
    """
    usable = usable_edges(graph)
    edge_len = np.asarray(graph.edge_len, dtype=float)
    residential = np.isin(np.asarray(classes, dtype=object), list(RESIDENTIAL_CLASSES))
    per_m, res_m, roadless = piece_demand(areas, pieces, edge_len, usable, residential)
    pop = np.asarray(areas.population, dtype=float)
    unit = "people" if len(pop) and np.isfinite(pop).all() else "road_km"
    return Frame(
        graph=graph,
        reverse=reverse_graph(graph),
        usable=usable,
        nodes=network_nodes(graph, usable),
        edge_len=edge_len,
        areas=areas,
        pieces=pieces,
        piece_len=(pieces.f1 - pieces.f0) * edge_len[pieces.edge],
        people_per_m=per_m,
        residential_m=res_m,
        roadless=roadless,
        demand_unit=unit,
    )


@dataclass
class Units:
    """Pieces beyond T cut at area boundaries: the demand units of site choice.

    Attributes
    ----------
    edge, area : ndarray of int64 [U]
        Segment and area (-1 outside every area).
    lo, hi : ndarray of float64 [U]
        Fraction interval.
    length_m, people : ndarray [U]
        Length and estimated people on it.
    """

    edge: np.ndarray
    area: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    length_m: np.ndarray
    people: np.ndarray


def overlap_units(frame: Frame, gaps: Gaps) -> Units:
    """Intersect the pieces beyond T with the area pieces, segment by segment."""
    p = frame.pieces
    g_start = np.searchsorted(gaps.edge, p.edge, side="left")
    g_stop = np.searchsorted(gaps.edge, p.edge, side="right")
    counts = g_stop - g_start
    total = int(counts.sum())
    ip = np.repeat(np.arange(len(p)), counts)
    ig = np.repeat(g_start, counts) + (
        np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    lo = np.maximum(p.f0[ip], gaps.lo[ig])
    hi = np.minimum(p.f1[ip], gaps.hi[ig])
    keep = (hi > lo) & frame.usable[p.edge[ip]]
    ip, lo, hi = ip[keep], lo[keep], hi[keep]
    edge = p.edge[ip]
    length = (hi - lo) * frame.edge_len[edge]
    return Units(edge, p.area[ip], lo, hi, length, length * frame.people_per_m[ip])


@dataclass
class Analysis:
    """The arrays of one analysis (see :func:`analyse`)."""

    frame: Frame
    graph: ModeGraph
    threshold_s: float
    dist_s: np.ndarray
    gaps: Gaps
    units: Units
    counts: dict
    area_road_m: np.ndarray
    area_beyond_m: np.ndarray
    area_people_beyond: np.ndarray
    outside_road_m: float
    outside_beyond_m: float
    accessibility: np.ndarray | None

    @property
    def road_length_m(self) -> float:
        """Length of the mode's network (metres)."""
        return float(self.frame.edge_len[self.frame.usable].sum())

    @property
    def beyond_m(self) -> float:
        """Length of road beyond T (metres)."""
        return float(self.gaps.length_m(self.frame.edge_len).sum())

    def summary(self) -> dict:
        """Give the network-wide figures (see :func:`gis.coverage.coverage`)."""
        total = self.road_length_m
        beyond = self.beyond_m
        c = self.counts
        pop = np.asarray(self.frame.areas.population, dtype=float)
        known = np.isfinite(pop)
        out = {
            **c,
            "share_nodes_beyond": round(c["nodes_beyond"] / c["nodes"], 6) if c["nodes"] else 0.0,
            "road_length_m": round(total, 1),
            "road_length_beyond_m": round(beyond, 1),
            "share_length_beyond": round(beyond / total, 6) if total > 0 else 0.0,
            "population": None,
            "population_beyond": None,
        }
        if known.any():
            out["population"] = int(pop[known].sum())
            out["population_beyond"] = round(float(self.area_people_beyond[known].sum()), 1)
        return out

    def area_rows(self) -> list[dict]:
        """Give one row per area: lengths, shares, people and accessibility."""
        a = self.frame.areas
        pop = np.asarray(a.population, dtype=float)
        rows = []
        for i in range(len(a)):
            road, beyond = float(self.area_road_m[i]), float(self.area_beyond_m[i])
            known = bool(np.isfinite(pop[i]))
            acc = None
            if self.accessibility is not None and np.isfinite(self.accessibility[i]):
                acc = round(float(self.accessibility[i]), 6)
            rows.append(
                {
                    "key": a.keys[i],
                    "id": a.ids[i],
                    "name": a.names[i],
                    "code": a.codes[i],
                    "admin_level": a.levels[i],
                    "road_length_m": round(road, 1),
                    "road_length_beyond_m": round(beyond, 1),
                    "share_beyond": round(beyond / road, 6) if road > 0 else None,
                    "population": int(pop[i]) if known else None,
                    "population_beyond": round(float(self.area_people_beyond[i]), 1)
                    if known
                    else None,
                    "residential_road_m": round(float(self.frame.residential_m[i]), 1),
                    "accessibility": acc,
                }
            )
        return rows

    def outside(self) -> dict:
        """Give the roads outside every area: length and length beyond T."""
        return {
            "road_length_m": round(self.outside_road_m, 1),
            "road_length_beyond_m": round(self.outside_beyond_m, 1),
        }

    def gap_layer(self) -> dict:
        """Give the gap layer as a GeoJSON FeatureCollection."""
        feats = gap_features(self.graph, self.gaps, self.threshold_s, self.frame.edge_len)
        return {"type": "FeatureCollection", "features": feats}


def analyse(
    frame: Frame,
    dist_s: np.ndarray,
    threshold_s: float,
    *,
    fac_edge: np.ndarray,
    fac_fraction: np.ndarray,
    graph: ModeGraph | None = None,
    capacity: np.ndarray | None = None,
    accessibility: bool = True,
) -> Analysis:
    """Analyse coverage for one set of facilities.

    Parameters
    ----------
    frame : Frame
        The fixed inputs.
    dist_s : ndarray [N]
        Seconds from each node to the nearest facility (``FacilityTables.dist_s``).
    threshold_s : float
        T in seconds.
    fac_edge, fac_fraction : ndarray [K]
        Where each facility joins the network.
    graph : ModeGraph, optional
        The graph the times were computed on (a scenario's, with closures); default the
        frame's.
    capacity : ndarray [K], optional
        Facility capacities for the accessibility score (default 1 each).
    accessibility : bool
        Compute the E2SFCA score per area.

    Returns
    -------
    Analysis
        Its arrays; :meth:`Analysis.summary`, :meth:`Analysis.area_rows`,
        :meth:`Analysis.gap_layer` give the JSON.
    """
    g = frame.graph if graph is None else graph
    gaps = uncovered(
        g, dist_s, threshold_s, usable=frame.usable, fac_edge=fac_edge, fac_fraction=fac_fraction
    )
    units = overlap_units(frame, gaps)
    n_areas = len(frame.areas)
    p = frame.pieces
    ok = frame.usable[p.edge]
    inside = ok & (p.area >= 0)
    area_road = np.bincount(p.area[inside], weights=frame.piece_len[inside], minlength=n_areas)
    u_in = units.area >= 0
    area_beyond = np.bincount(units.area[u_in], weights=units.length_m[u_in], minlength=n_areas)
    people = np.bincount(units.area[u_in], weights=units.people[u_in], minlength=n_areas)
    pop = np.nan_to_num(np.asarray(frame.areas.population, dtype=float), nan=0.0)
    people = people[:n_areas] + np.where(frame.roadless, pop, 0.0)
    out_road = float(frame.piece_len[ok & (p.area < 0)].sum())
    out_beyond = float(units.length_m[~u_in].sum())
    acc = None
    if accessibility and n_areas:
        acc = _accessibility(frame, g, fac_edge, fac_fraction, threshold_s, capacity)
    return Analysis(
        frame=frame,
        graph=g,
        threshold_s=threshold_s,
        dist_s=dist_s,
        gaps=gaps,
        units=units,
        counts=node_counts(dist_s, frame.nodes, threshold_s),
        area_road_m=area_road[:n_areas],
        area_beyond_m=area_beyond[:n_areas],
        area_people_beyond=people,
        outside_road_m=out_road,
        outside_beyond_m=out_beyond,
        accessibility=acc,
    )


def _accessibility(frame, graph, fac_edge, fac_fraction, threshold_s, capacity) -> np.ndarray:
    k = len(fac_edge)
    cap = np.ones(k) if capacity is None else np.asarray(capacity, dtype=float)
    reverse = frame.reverse if graph is frame.graph else reverse_graph(graph)
    node, fac, t = access.facility_pairs(graph, reverse, fac_edge, fac_fraction, threshold_s)
    d = frame.piece_demand
    p = frame.pieces
    g = frame.graph
    demand = access.node_demand(g.n_nodes, g.edge_u, g.edge_v, p.edge, d)
    score, _ = access.e2sfca(node, fac, t, demand, cap, threshold_s)
    per_area = access.area_scores(score, g.edge_u, g.edge_v, p.edge, p.area, d, len(frame.areas))
    return per_area * (1000.0 if frame.demand_unit == "people" else 1.0)


def accessibility_unit(demand_unit: str) -> str:
    """Name the unit of the accessibility score."""
    if demand_unit == "people":
        return "capacity per 1,000 people"
    return "capacity per km of road"


def legend(threshold_s: float) -> list[dict]:
    """Give the gap layer's bands (:func:`gis.coverage_gaps.bands`)."""
    return bands(threshold_s)
