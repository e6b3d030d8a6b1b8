"""The fixed inputs of coverage analyses of one mode over one set of areas.

:class:`Frame` holds what does not change between analyses of one mode and one set of areas
(the graph, the road pieces per area, where people live), and what the analyses derive from
that alone, computed once so that an analysis only does the work that depends on the
facilities: the open segments (:class:`gis.coverage_gaps.OpenEdges`), the network's space for
bounded searches (:class:`gis.coverage_local.Space`), the demand per node and the weights of
the accessibility score per area, the road per area, and which segments lie wholly in one
area (the gap pieces of those are demand units as they are).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_array

from gis import coverage_access as access
from gis.coverage_areas import RESIDENTIAL_CLASSES, AreaPieces, Areas, piece_demand
from gis.coverage_gaps import OpenEdges, network_nodes, usable_edges
from gis.coverage_local import Space
from gis.graph import ModeGraph, reverse_graph

logger = logging.getLogger(__name__)


@dataclass
class AreaWeights:
    """What the accessibility score per area needs of the pieces in an area.

    Attributes
    ----------
    u, v : ndarray of int64 [Q]
        End nodes of each piece's segment (pieces inside an area).
    area : ndarray of int64 [Q]
        The area.
    demand : ndarray [Q]
        The piece's demand.
    total : ndarray [A]
        Demand per area.
    """

    u: np.ndarray
    v: np.ndarray
    area: np.ndarray
    demand: np.ndarray
    total: np.ndarray

    def scores(self, node_score: np.ndarray) -> np.ndarray:
        """Average node scores per area, as :func:`gis.coverage_access.area_scores`."""
        n = len(self.total)
        s = 0.5 * (node_score[self.u] + node_score[self.v])
        num = np.bincount(self.area, weights=self.demand * s, minlength=n)[:n]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.total > 0, num / self.total, np.nan)


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
    open_edges : OpenEdges
        The graph's open segments.
    space : Space
        The network's space (bounded searches on the part of the graph they reach).
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
    open_edges: OpenEdges
    space: Space
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def piece_demand(self) -> np.ndarray:
        """Each piece's demand in :attr:`demand_unit` (0 off the mode's network)."""
        d = self._cache.get("piece_demand")
        if d is None:
            ok = self.usable[self.pieces.edge]
            if self.demand_unit == "people":
                d = np.where(ok, self.people_per_m * self.piece_len, 0.0)
            else:
                d = np.where(ok, self.piece_len / 1000.0, 0.0)
            self._cache["piece_demand"] = d
        return d

    @property
    def road_length_m(self) -> float:
        """Length of the mode's network (metres)."""
        found = self._cache.get("road_length_m")
        if found is None:
            found = self._cache["road_length_m"] = float(self.edge_len[self.usable].sum())
        return found

    @property
    def node_demand(self) -> np.ndarray:
        """The accessibility score's demand per node (:func:`gis.coverage_access.node_demand`)."""
        d = self._cache.get("node_demand")
        if d is None:
            g, p = self.graph, self.pieces
            d = access.node_demand(g.n_nodes, g.edge_u, g.edge_v, p.edge, self.piece_demand)
            self._cache["node_demand"] = d
        return d

    @property
    def area_weights(self) -> AreaWeights:
        """The accessibility score's weights per area (:class:`AreaWeights`)."""
        w = self._cache.get("area_weights")
        if w is None:
            p = self.pieces
            inside = p.area >= 0
            e = p.edge[inside]
            a = p.area[inside]
            d = np.asarray(self.piece_demand, dtype=float)[inside]
            n = len(self.areas)
            w = AreaWeights(
                u=np.asarray(self.graph.edge_u)[e].astype(np.int64),
                v=np.asarray(self.graph.edge_v)[e].astype(np.int64),
                area=a,
                demand=d,
                total=np.bincount(a, weights=d, minlength=n)[:n],
            )
            self._cache["area_weights"] = w
        return w

    @property
    def road_per_area(self) -> tuple[np.ndarray, float]:
        """The mode's road per area and outside every area (metres)."""
        found = self._cache.get("road_per_area")
        if found is None:
            n = len(self.areas)
            p = self.pieces
            ok = self.usable[p.edge]
            inside = ok & (p.area >= 0)
            road = np.bincount(p.area[inside], weights=self.piece_len[inside], minlength=n)
            found = (road[:n], float(self.piece_len[ok & (p.area < 0)].sum()))
            self._cache["road_per_area"] = found
        return found

    @property
    def whole_piece(self) -> np.ndarray:
        """Per segment: the index of its only piece when that covers it whole, else -1."""
        found = self._cache.get("whole_piece")
        if found is None:
            p = self.pieces
            n_edges = len(self.edge_len)
            count = np.bincount(p.edge, minlength=n_edges)
            whole = (p.f0 == 0.0) & (p.f1 == 1.0) & (count[p.edge] == 1)
            found = np.full(n_edges, -1, np.int64)
            found[p.edge[whole]] = np.flatnonzero(whole)
            self._cache["whole_piece"] = found
        return found


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
        open_edges=OpenEdges.of(graph, usable),
        space=Space(graph),
    )
