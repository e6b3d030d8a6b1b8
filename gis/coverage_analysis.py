"""One coverage analysis on arrays: from node times to the numbers per area and the gap layer.

:class:`gis.coverage_frame.Frame` holds what does not change between analyses of one mode and
one set of areas (the graph, the road pieces per area, where people live); :func:`analyse`
takes the times of one set of facilities (the stored ones, or a scenario's) and gives an
:class:`Analysis`, whose methods give the answer's JSON. The rules are documented where they live:
partial segments in :mod:`gis.coverage_gaps`, areas and population in
:mod:`gis.coverage_areas`, accessibility in :mod:`gis.coverage_access`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from gis import coverage_access as access
from gis.coverage_frame import Frame, make_frame
from gis.coverage_gaps import Gaps, bands, gap_features, node_counts, uncovered
from gis.graph import ModeGraph, reverse_graph

logger = logging.getLogger(__name__)

__all__ = ["Analysis", "Frame", "Units", "analyse", "make_frame", "overlap_units"]


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
    """Intersect the pieces beyond T with the area pieces, segment by segment.

    A gap piece on a segment that lies wholly in one area (most of them) is a unit as it is;
    the others are cut at the area pieces. The units come ordered by segment, then area
    piece, then position.
    """
    whole = frame.whole_piece[gaps.edge]
    simple = whole >= 0
    if simple.all():
        ip, lo, hi = whole, gaps.lo, gaps.hi
        edge = gaps.edge
    else:
        s_ip, s_lo, s_hi = whole[simple], gaps.lo[simple], gaps.hi[simple]
        c_ip, c_lo, c_hi = _cut(frame, gaps.edge[~simple], gaps.lo[~simple], gaps.hi[~simple])
        p_edge = frame.pieces.edge
        edge = np.concatenate([p_edge[s_ip], p_edge[c_ip]])
        order = np.argsort(edge, kind="stable")  # no segment is in both parts
        edge = edge[order]
        ip = np.concatenate([s_ip, c_ip])[order]
        lo = np.concatenate([s_lo, c_lo])[order]
        hi = np.concatenate([s_hi, c_hi])[order]
    length = (hi - lo) * frame.edge_len[edge]
    return Units(edge, frame.pieces.area[ip], lo, hi, length, length * frame.people_per_m[ip])


def _cut(frame: Frame, g_edge: np.ndarray, g_lo: np.ndarray, g_hi: np.ndarray):
    """Cut gap pieces (sorted by segment) at the area pieces of their segments."""
    p = frame.pieces
    segs = np.unique(g_edge)
    p_start = np.searchsorted(p.edge, segs, side="left")
    p_stop = np.searchsorted(p.edge, segs, side="right")
    pc = p_stop - p_start
    pid = np.repeat(p_start - np.cumsum(pc) + pc, pc) + np.arange(int(pc.sum()))
    g_start = np.searchsorted(g_edge, p.edge[pid], side="left")
    g_stop = np.searchsorted(g_edge, p.edge[pid], side="right")
    counts = g_stop - g_start
    total = int(counts.sum())
    ip = np.repeat(pid, counts)
    ig = np.repeat(g_start, counts) + (
        np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    lo = np.maximum(p.f0[ip], g_lo[ig])
    hi = np.minimum(p.f1[ip], g_hi[ig])
    keep = (hi > lo) & frame.usable[p.edge[ip]]
    return ip[keep], lo[keep], hi[keep]


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
        return self.frame.road_length_m

    @property
    def beyond_m(self) -> float:
        """Length of road beyond T (metres)."""
        found = self.__dict__.get("_beyond_m")
        if found is None:
            found = self.__dict__["_beyond_m"] = float(
                self.gaps.length_m(self.frame.edge_len).sum()
            )
        return found

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
    reverse=None,
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
    reverse : csr_array, optional
        The reversed ``graph``, when the caller has it.

    Returns
    -------
    Analysis
        Its arrays; :meth:`Analysis.summary`, :meth:`Analysis.area_rows`,
        :meth:`Analysis.gap_layer` give the JSON.
    """
    g = frame.graph if graph is None else graph
    gaps = uncovered(
        g,
        dist_s,
        threshold_s,
        usable=frame.usable,
        fac_edge=fac_edge,
        fac_fraction=fac_fraction,
        open_edges=frame.open_edges if g is frame.graph else None,
    )
    units = overlap_units(frame, gaps)
    n_areas = len(frame.areas)
    area_road, out_road = frame.road_per_area
    u_in = units.area >= 0
    area_beyond = np.bincount(units.area[u_in], weights=units.length_m[u_in], minlength=n_areas)
    people = np.bincount(units.area[u_in], weights=units.people[u_in], minlength=n_areas)
    pop = np.nan_to_num(np.asarray(frame.areas.population, dtype=float), nan=0.0)
    people = people[:n_areas] + np.where(frame.roadless, pop, 0.0)
    out_beyond = float(units.length_m[~u_in].sum())
    acc = None
    if accessibility and n_areas:
        if reverse is None:
            reverse = frame.reverse if g is frame.graph else reverse_graph(g)
        acc = _accessibility(frame, g, reverse, fac_edge, fac_fraction, threshold_s, capacity)
    return Analysis(
        frame=frame,
        graph=g,
        threshold_s=threshold_s,
        dist_s=dist_s,
        gaps=gaps,
        units=units,
        counts=node_counts(dist_s, frame.nodes, threshold_s),
        area_road_m=area_road,
        area_beyond_m=area_beyond[:n_areas],
        area_people_beyond=people,
        outside_road_m=out_road,
        outside_beyond_m=out_beyond,
        accessibility=acc,
    )


def _accessibility(
    frame: Frame, graph, reverse, fac_edge, fac_fraction, threshold_s, capacity
) -> np.ndarray:
    k = len(fac_edge)
    cap = np.ones(k) if capacity is None else np.asarray(capacity, dtype=float)
    node, fac, t = access.facility_pairs(
        graph, reverse, fac_edge, fac_fraction, threshold_s, space=frame.space
    )
    score, _ = access.e2sfca(node, fac, t, frame.node_demand, cap, threshold_s)
    per_area = frame.area_weights.scores(score)
    return per_area * (1000.0 if frame.demand_unit == "people" else 1.0)


def accessibility_unit(demand_unit: str) -> str:
    """Name the unit of the accessibility score."""
    if demand_unit == "people":
        return "capacity per 1,000 people"
    return "capacity per km of road"


def legend(threshold_s: float) -> list[dict]:
    """Give the gap layer's bands (:func:`gis.coverage_gaps.bands`)."""
    return bands(threshold_s)
