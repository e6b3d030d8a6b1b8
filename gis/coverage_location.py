"""Where to build: the ``p`` sites that cover the most uncovered demand within T (MCLP).

The model (a maximal covering location problem, Church and ReVelle 1974):

* **demand units** are the pieces of road beyond T (:mod:`gis.coverage_gaps`) cut at area
  boundaries, each weighted by its demand (people, or metres of road) and located at its
  midpoint ``m``;
* a **candidate site** is a road point: by default every node of the mode's network where a
  segment of class tertiary or higher (:data:`CANDIDATE_CLASSES`) ends, or points given by the
  user, snapped like facilities;
* a site **covers** a unit on segment ``e`` when the unit's midpoint reaches the site within T:
  ``(1 - m) c_e + d(v_e -> site) <= T`` or, unless one-way binds, ``m c_e + d(u_e -> site)``.

**Greedy with lazy evaluation** (CELF, Leskovec et al. 2007): coverage is submodular, so a
site's gain only shrinks as sites are chosen, and a stale gain is an upper bound. Candidates
start grouped in clusters (grid cells of the projected plane): one multi-source Dijkstra from
all of a cluster's members gives, per node, the time to the *nearest* member, so the demand
it covers bounds every member's gain. The heap holds clusters and sites by bound; a cluster at
the top is opened (its members evaluated exactly), a site at the top whose gain is current is
chosen. The result is exactly the plain greedy's (ties broken by candidate order), at a fraction
of its Dijkstras. Each search runs on the part of the graph it can reach within T
(:mod:`gis.coverage_local`), nearby ones in one batch: the same answers as on the whole graph.
Greedy achieves at least ``1 - 1/e`` of the optimum; :func:`exact_mclp`
solves the same model as an integer programme (PuLP with CBC) to measure the gap.

The promised figures of each site (``newly_covered_*``) are not the model's: they are
recomputed exactly by the coverage analysis with the sites added one at a time
(:func:`gis.coverage.suggest`), so a what-if that adds the site shows the same change.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

from gis.coverage_local import Batch, Space, searches
from gis.coverage_reach import augment, min_time_to, times_to
from gis.graph import ModeGraph

logger = logging.getLogger(__name__)

#: Road classes whose nodes are default candidate sites (tertiary or higher, with links).
CANDIDATE_CLASSES: frozenset[str] = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
    }
)


@dataclass
class Demand:
    """Demand units: uncovered road pieces at their midpoints.

    Attributes
    ----------
    edge : ndarray of int64 [U]
        Segment of each unit.
    mid : ndarray of float64 [U]
        Midpoint fraction.
    weight : ndarray of float64 [U]
        Demand (people or metres).
    """

    edge: np.ndarray
    mid: np.ndarray
    weight: np.ndarray


@dataclass
class Model:
    """What the greedy and the exact solver share: units, candidates, and how to cover.

    Attributes
    ----------
    graph : ModeGraph
        The mode's graph.
    demand : Demand
        The units.
    reverse : csr_array
        The reversed graph.
    entries : (candidate, node, cost_s)
        How each candidate is entered (:func:`gis.coverage_reach.point_entries`).
    n_candidates : int
        Number of candidates.
    threshold_s : float
        T in seconds.
    space : Space, optional
        The network's space: searches run on the part of the graph they reach (the same
        answers). None: on the whole graph (the reference).
    """

    graph: ModeGraph
    demand: Demand
    reverse: csr_array
    entries: tuple[np.ndarray, np.ndarray, np.ndarray]
    n_candidates: int
    threshold_s: float
    space: Space | None = None
    _unit_u: np.ndarray = field(init=False, repr=False)
    _unit_v: np.ndarray = field(init=False, repr=False)
    _unit_cu: np.ndarray = field(init=False, repr=False)
    _unit_cv: np.ndarray = field(init=False, repr=False)
    _node_ptr: np.ndarray = field(init=False, repr=False)
    _node_units: np.ndarray = field(init=False, repr=False)
    _mark: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Precompute each unit's way out: nodes and seconds to them."""
        g, d = self.graph, self.demand
        cost = np.asarray(g.cost, dtype=float)[d.edge]
        bound = np.asarray(g.edge_oneway, dtype=bool)[d.edge] & bool(g.oneway)
        self._unit_u = np.asarray(g.edge_u)[d.edge].astype(np.int64)
        self._unit_v = np.asarray(g.edge_v)[d.edge].astype(np.int64)
        self._unit_cu = np.where(bound, np.inf, d.mid * cost)
        self._unit_cv = (1.0 - d.mid) * cost
        # node -> the units that leave through it (CSR), so a search's work follows its reach
        ends = np.concatenate([self._unit_u, self._unit_v])
        owner = np.concatenate([np.arange(len(d.edge)), np.arange(len(d.edge))])
        order = np.argsort(ends, kind="stable")
        self._node_ptr = np.concatenate(
            [[0], np.cumsum(np.bincount(ends, minlength=g.n_nodes))]
        ).astype(np.int64)
        self._node_units = owner[order]
        self._mark = np.zeros(len(d.edge), dtype=bool)

    def covered_by(self, row: np.ndarray) -> np.ndarray:
        """Give the units a row of node times covers (work in proportion to its reach).

        Parameters
        ----------
        row : ndarray [N]
            Seconds from each node to a site, or to the nearest of several (inf: beyond).

        Returns
        -------
        ndarray of int64
            Indices of the covered units, sorted.
        """
        reached = np.flatnonzero(row <= self.threshold_s)
        starts, stops = self._node_ptr[reached], self._node_ptr[reached + 1]
        counts = stops - starts
        total = int(counts.sum())
        if total == 0:
            return np.zeros(0, np.int64)
        idx = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(total)
        units = np.unique(self._node_units[idx])
        via_v = row[self._unit_v[units]] + self._unit_cv[units]
        via_u = row[self._unit_u[units]] + self._unit_cu[units]
        return units[np.minimum(via_u, via_v) <= self.threshold_s]

    def covered(self, rows: np.ndarray) -> np.ndarray:
        """Tell which units each row of node times covers.

        Parameters
        ----------
        rows : ndarray [B, N] or [N]
            Seconds from each node to a site (or to the nearest of several).

        Returns
        -------
        ndarray of bool [B, U] or [U]
            Covered units.
        """
        via_v = rows[..., self._unit_v] + self._unit_cv
        via_u = rows[..., self._unit_u] + self._unit_cu
        return np.minimum(via_u, via_v) <= self.threshold_s

    @property
    def augmented(self) -> csr_array:
        """The reversed graph with one virtual node per candidate (whole-graph searches)."""
        found = self.__dict__.get("_augmented")
        if found is None:
            found = augment(self.reverse, self.n_candidates, self.entries)
            self.__dict__["_augmented"] = found
        return found

    def sets(self, candidates: np.ndarray) -> list[np.ndarray]:
        """Give the units each candidate covers (one bounded search per candidate)."""
        candidates = np.asarray(candidates, dtype=np.int64)
        if self.space is None:
            out: list[np.ndarray] = []
            n = self.graph.n_nodes
            for _, rows in times_to(self.augmented, n, candidates, self.threshold_s):
                for row in rows:
                    out.append(self.covered_by(row))
            return out
        return self.group_sets([candidates[i : i + 1] for i in range(len(candidates))])

    def group_sets(self, groups: list[np.ndarray]) -> list[np.ndarray]:
        """Give the units within T of the nearest candidate of each group.

        Parameters
        ----------
        groups : list of ndarray of int
            Candidates per group (a group of one: that candidate's coverage).

        Returns
        -------
        list of ndarray of int64
            Covered units per group (sorted), in the order of ``groups``.
        """
        out = [np.zeros(0, np.int64)] * len(groups)
        for b in searches(self.space, self.reverse, self.entries, groups, self.threshold_s):
            for i, units in zip(b.groups.tolist(), self.covered_rows(b), strict=True):
                out[i] = units
        return out

    def covered_rows(self, batch: Batch) -> list[np.ndarray]:
        """Give the units each row of a batch of searches covers (as :meth:`covered_by`).

        Only the units at a node some row reaches within T can be covered; the rest of the
        region is not looked at.
        """
        region, rows = batch.region, batch.rows
        reached = np.flatnonzero((rows[:, :-1] <= self.threshold_s).any(axis=0))
        nodes = region.whole(reached)
        starts, stops = self._node_ptr[nodes], self._node_ptr[nodes + 1]
        counts = stops - starts
        idx = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
        mark = self._mark
        mark[self._node_units[idx]] = True
        units = np.flatnonzero(mark)
        mark[units] = False
        lu = region.local(self._unit_u[units])
        lv = region.local(self._unit_v[units])
        via_v = rows[:, lv] + self._unit_cv[units]
        via_u = rows[:, lu] + self._unit_cu[units]
        hit = np.minimum(via_u, via_v) <= self.threshold_s
        return [units[h] for h in hit]


def build_model(
    graph: ModeGraph,
    reverse: csr_array,
    demand: Demand,
    entries: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_candidates: int,
    threshold_s: float,
    *,
    space: Space | None = None,
) -> Model:
    """Assemble the model.

    Parameters
    ----------
    graph : ModeGraph
        The mode's graph.
    reverse : csr_array
        Its reversed graph.
    demand : Demand
        The units.
    entries : (candidate, node, cost_s)
        How each candidate is entered (:func:`gis.coverage_reach.point_entries` or
        :func:`gis.coverage_reach.node_entries`).
    n_candidates : int
        Number of candidates.
    threshold_s : float
        T in seconds.
    space : Space, optional
        The network's space (:class:`gis.coverage_local.Space`); None: every search runs
        on the whole graph.

    Returns
    -------
    Model
        The model.
    """
    return Model(graph, demand, reverse, entries, n_candidates, threshold_s, space)


@dataclass
class Choice:
    """The greedy's answer.

    Attributes
    ----------
    sites : list of int
        Chosen candidates, in order.
    gains : list of float
        Each one's gain in the model (demand newly covered).
    evaluations : int
        Candidates whose coverage was computed exactly.
    cluster_searches : int
        Dijkstras run for cluster bounds.
    candidates : int
        Candidates that could cover any unit (after the reach filter).
    seconds : float
        Wall time.
    """

    sites: list[int]
    gains: list[float]
    evaluations: int
    cluster_searches: int
    candidates: int
    seconds: float


def reachable_candidates(model: Model, cand_nodes: np.ndarray) -> np.ndarray:
    """Keep the candidates some unit can reach within T (one multi-source Dijkstra).

    Parameters
    ----------
    model : Model
        The model.
    cand_nodes : ndarray of int [C]
        A node next to each candidate (its entry node).

    Returns
    -------
    ndarray of int
        Indices of the candidates worth evaluating.
    """
    if len(model.demand.edge) == 0:
        return np.zeros(0, np.int64)
    mark = np.zeros(model.graph.n_nodes, dtype=bool)
    mark[model._unit_u] = True
    mark[model._unit_v] = True
    starts = np.flatnonzero(mark)
    g = model.graph.graph
    dist = dijkstra(g, directed=True, indices=starts, limit=model.threshold_s, min_only=True)
    return np.flatnonzero(np.isfinite(dist[np.asarray(cand_nodes, dtype=np.int64)]))


def greedy(
    model: Model,
    count: int,
    cand_xy: np.ndarray,
    cand_nodes: np.ndarray,
    *,
    cell_m: float | None = None,
) -> Choice:
    """Choose ``count`` sites greedily with lazy evaluation (see the module docstring).

    Parameters
    ----------
    model : Model
        The model.
    count : int
        How many sites.
    cand_xy : ndarray [C, 2]
        Each candidate in the network's projection (metres), for the clusters.
    cand_nodes : ndarray of int [C]
        A node next to each candidate (for the reach filter).
    cell_m : float, optional
        Cluster cell size (default: about a third of the distance T covers at the median
        speed of the network).

    Returns
    -------
    Choice
        The sites and their gains in the model.
    """
    t0 = time.perf_counter()
    w = model.demand.weight.astype(float).copy()
    live = reachable_candidates(model, cand_nodes)
    if cell_m is None:
        g = model.graph
        cost = np.asarray(g.cost, dtype=float)
        ok = np.isfinite(cost) & (cost > 0)
        speed = float(np.median(np.asarray(g.edge_len)[ok] / cost[ok])) if ok.any() else 10.0
        cell_m = max(50.0, model.threshold_s * speed / 3)
    key = np.floor(np.asarray(cand_xy, dtype=float)[live] / cell_m).astype(np.int64)
    clusters: dict[tuple[int, int], list[int]] = {}
    for c, (kx, ky) in zip(live.tolist(), key.tolist(), strict=True):
        clusters.setdefault((kx, ky), []).append(c)
    n = model.graph.n_nodes
    sets: dict[tuple[int, int], np.ndarray] = {}  # (kind, id) -> covered units
    heap: list[tuple[float, int, int, int, int]] = []  # (-value, kind, order, id, stamp)
    members: list[list[int]] = list(clusters.values())
    searches = 0
    if model.space is None:
        first = []
        for group in members:
            if len(group) == 1:
                first.extend(_sets_of(model, group))
            else:
                dist = min_time_to(model.augmented, n, np.asarray(group), model.threshold_s)
                first.append(model.covered_by(dist))
    else:
        first = model.group_sets([np.asarray(group, dtype=np.int64) for group in members])
    for cid, (group, s) in enumerate(zip(members, first, strict=True)):
        if len(group) == 1:
            sets[(1, group[0])] = s
            heapq.heappush(heap, (-float(w[s].sum()), 1, group[0], group[0], 0))
        else:
            searches += 1
            sets[(0, cid)] = s
            heapq.heappush(heap, (-float(w[s].sum()), 0, min(group), cid, 0))
    evaluations = sum(1 for k in sets if k[0] == 1)
    chosen: list[int] = []
    gains: list[float] = []
    stamp = 0
    # a cluster's last known bound, to open the next most promising ones along with one
    bound = np.full(len(members), -np.inf)
    opened = np.zeros(len(members), dtype=bool)
    for cid, group in enumerate(members):
        if len(group) > 1:
            bound[cid] = float(w[sets[(0, cid)]].sum())
    while heap and len(chosen) < count:
        neg, kind, order, ident, at = heapq.heappop(heap)
        if kind == 0 and opened[ident]:
            continue
        s = sets[(kind, ident)]
        value = float(w[s].sum())
        if at != stamp or value != -neg:
            heapq.heappush(heap, (-value, kind, order, ident, stamp))
            if kind == 0:
                bound[ident] = value
            continue
        if value <= 0:
            break
        if kind == 0:  # open the cluster (and the next most promising): members exactly
            opening = _to_open(ident, value, bound, opened, members)
            opened[opening] = True
            group = [c for cid in opening.tolist() for c in members[cid]]
            for c, cs in zip(group, _sets_of(model, group), strict=True):
                sets[(1, c)] = cs
                heapq.heappush(heap, (-float(w[cs].sum()), 1, c, c, stamp))
            evaluations += len(group)
            continue
        chosen.append(ident)
        gains.append(value)
        w[s] = 0.0
        stamp += 1
    return Choice(
        sites=chosen,
        gains=gains,
        evaluations=evaluations,
        cluster_searches=searches,
        candidates=len(live),
        seconds=time.perf_counter() - t0,
    )


#: When a cluster is opened, clusters whose last known bound is at least this share of its
#: bound are opened in the same batch of searches (most of them would be opened next).
OPEN_SHARE = 0.95
#: At most this many candidates are opened in one batch.
OPEN_MOST = 64


def _to_open(ident: int, value: float, bound, opened, members) -> np.ndarray:
    """Pick the clusters to open with ``ident``: the most promising not yet opened."""
    near = np.flatnonzero(~opened & (bound >= OPEN_SHARE * value))
    near = near[near != ident][np.argsort(-bound[near[near != ident]], kind="stable")]
    out = [ident]
    size = len(members[ident])
    for cid in near.tolist():
        size += len(members[cid])
        if size > OPEN_MOST:
            break
        out.append(cid)
    return np.asarray(out, dtype=np.int64)


def _sets_of(model: Model, group: list[int]) -> list[np.ndarray]:
    return model.sets(np.asarray(group, dtype=np.int64))


def plain_greedy(sets: list[np.ndarray], weights: np.ndarray, count: int) -> list[int]:
    """Choose sites by the plain greedy rule (every gain recomputed each round).

    For tests: :func:`greedy` must choose the same sites.

    Parameters
    ----------
    sets : list of ndarray
        Units covered by each candidate.
    weights : ndarray [U]
        Demand of each unit.
    count : int
        How many sites.

    Returns
    -------
    list of int
        Chosen candidates.
    """
    w = np.asarray(weights, dtype=float).copy()
    chosen: list[int] = []
    for _ in range(count):
        gains = np.array([w[s].sum() for s in sets])
        if not len(gains) or gains.max() <= 0:
            break
        best = int(np.argmax(gains))
        chosen.append(best)
        w[sets[best]] = 0.0
    return chosen


def exact_mclp(
    sets: list[np.ndarray], weights: np.ndarray, count: int, *, time_limit_s: float = 60.0
) -> dict:
    """Solve the maximal covering location problem exactly (PuLP with CBC).

    Maximise ``sum_u w_u y_u`` subject to ``y_u <= sum_{c covers u} x_c``,
    ``sum_c x_c = count`` (at most the number of candidates), ``x`` binary, ``0 <= y <= 1``.

    Parameters
    ----------
    sets : list of ndarray
        Units covered by each candidate.
    weights : ndarray [U]
        Demand of each unit.
    count : int
        How many sites.
    time_limit_s : float
        CBC's time limit; past it the best solution found is returned.

    Returns
    -------
    dict
        ``sites``, ``objective``, ``status`` (PuLP's word for the solution: ``Optimal
        Solution Found``, ``Solution Found`` when stopped by the time limit, ...),
        ``optimal`` (bool), ``bound`` (an upper bound on the optimum: the optimum when it was
        proven, else the smaller of the LP relaxation's value and the sum of the ``count``
        largest single gains) and ``seconds``.
    """
    import pulp

    t0 = time.perf_counter()
    w = np.asarray(weights, dtype=float)
    covering: dict[int, list[int]] = {}
    for c, s in enumerate(sets):
        for u in s.tolist():
            covering.setdefault(u, []).append(c)
    units = sorted(u for u in covering if w[u] > 0)
    cands = sorted({c for u in units for c in covering[u]})

    def solve(relax: bool):
        prob = pulp.LpProblem("mclp", pulp.LpMaximize)
        cat = "Continuous" if relax else "Binary"
        var = prob.add_variable if hasattr(prob, "add_variable") else pulp.LpVariable
        x = {c: var(f"x{c}", 0, 1, cat=cat) for c in cands}
        y = {u: var(f"y{u}", 0, 1) for u in units}
        prob += pulp.lpSum(float(w[u]) * y[u] for u in units)
        for u in units:
            prob += y[u] <= pulp.lpSum(x[c] for c in covering[u])
        prob += pulp.lpSum(x.values()) == min(count, len(cands))
        with warnings.catch_warnings():
            # PuLP 3.3, the last release for Python 3.11, announces that PuLP 4 moves the
            # bundled CBC to an extra; the bundled one is what runs here
            warnings.filterwarnings("ignore", "PULP_CBC_CMD is deprecated", DeprecationWarning)
            solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s)
        prob.solve(solver)
        return prob, x

    if not units:
        return {
            "sites": [],
            "objective": 0.0,
            "status": "Optimal Solution Found",
            "optimal": True,
            "bound": 0.0,
            "seconds": time.perf_counter() - t0,
        }
    prob, x = solve(relax=False)
    sites = [c for c in cands if (x[c].value() or 0) > 0.5]
    covered = np.zeros(len(w), dtype=bool)
    for c in sites:
        covered[sets[c]] = True
    objective = float(w[covered].sum())
    # CBC stopped by its time limit still reports status 1; the solution's status tells
    status = pulp.LpSolution[prob.sol_status]
    optimal = prob.sol_status == pulp.LpSolutionOptimal and math.isclose(
        float(pulp.value(prob.objective) or 0.0), objective, rel_tol=1e-6
    )
    # an upper bound on the optimum: the optimum itself, else the p largest single gains
    # (coverage is subadditive), tightened by the LP relaxation when it solves in time
    gains = np.sort([float(w[s].sum()) for s in sets])[::-1]
    bound = objective if optimal else float(gains[:count].sum())
    if not optimal:
        lp, _ = solve(relax=True)
        if pulp.LpStatus[lp.status] == "Optimal":
            bound = min(bound, float(pulp.value(lp.objective) or bound))
    return {
        "sites": sites,
        "objective": objective,
        "status": status,
        "optimal": optimal,
        "bound": bound,
        "seconds": time.perf_counter() - t0,
    }
