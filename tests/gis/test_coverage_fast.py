"""The fast paths of coverage analysis give the same answers as the slow reference ones.

Bounded searches on the region they can reach (:mod:`gis.coverage_local`) against scipy's
Dijkstra over the whole graph, the vectorised gap geometry against :func:`substring`, on
Helsinki and Andorra, with and without closed roads.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gis import coverage_access as acc
from gis.coverage import site_model
from gis.coverage_gaps import substring, substrings, uncovered
from gis.coverage_location import greedy
from gis.coverage_setting import load_setting
from gis.graph import reverse_graph
from gis.routing import nearest_facility_tables

#: (database fixture, mode, category, minutes).
CASES = [
    ("hel", "walk", "health", 3.0),
    ("andorra", "car", "health", 4.0),
    ("andorra", "walk", "health", 15.0),
]


def _pairs(graph, reverse, fac_edge, fac_fraction, threshold_s, space) -> dict:
    node, fac, t = acc.facility_pairs(
        graph, reverse, fac_edge, fac_fraction, threshold_s, space=space
    )
    return dict(zip(zip(node.tolist(), fac.tolist(), strict=True), t.tolist(), strict=True))


@pytest.mark.parametrize(("db", "mode", "category", "minutes"), CASES)
def test_bounded_searches_equal_whole_graph_searches(request, db, mode, category, minutes):
    setting = load_setting(request.getfixturevalue(db), mode=mode)
    frame = setting.frame(mode)
    assert 0 < frame.space.speed_mps < 1000  # a real bound, not the whole-graph fallback
    _, fac_edge, fac_fraction = setting.base_tables(mode, category)
    t_s = minutes * 60.0
    # a search from one facility runs on part of the graph, not the whole-graph fallback
    region = frame.space.near(np.asarray(frame.graph.edge_u)[fac_edge[fac_edge >= 0][:1]], t_s)
    assert region is not None and len(region) < frame.graph.n_nodes
    fast = _pairs(frame.graph, frame.reverse, fac_edge, fac_fraction, t_s, frame.space)
    slow = _pairs(frame.graph, frame.reverse, fac_edge, fac_fraction, t_s, None)
    assert len(slow) > 100
    assert fast == slow  # the same pairs, the same seconds to the bit
    # with roads closed: the busiest tenth of the segments some facility reaches
    g = frame.graph
    near = np.unique([n for n, _ in slow])
    shut = np.flatnonzero(np.isin(np.asarray(g.edge_u), near))[::10]
    closed = g.without(np.asarray(g.edge_id)[shut])
    rev = reverse_graph(closed)
    fast = _pairs(closed, rev, fac_edge, fac_fraction, t_s, frame.space)
    slow = _pairs(closed, rev, fac_edge, fac_fraction, t_s, None)
    assert fast == slow


@pytest.mark.parametrize(("db", "mode", "category", "minutes"), CASES)
def test_candidate_sets_and_choice_equal_the_reference(request, db, mode, category, minutes):
    setting = load_setting(request.getfixturevalue(db), mode=mode)
    _, model, lonlat, near, xy, _ = site_model(setting, category, mode, minutes * 60)
    slow_model = dataclasses.replace(model, space=None)
    cands = np.arange(len(lonlat))
    fast, slow = model.sets(cands), slow_model.sets(cands)
    assert sum(len(s) for s in slow) > 100
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(np.sort(a), np.sort(b))
    groups = [cands[i : i + 7] for i in range(0, len(cands), 7)]
    grouped = model.group_sets(groups)
    for grp, got in zip(groups, grouped, strict=True):
        want = np.unique(np.concatenate([slow[c] for c in grp.tolist()]))
        np.testing.assert_array_equal(np.sort(got), want)
    a, b = greedy(model, 3, xy, near), greedy(slow_model, 3, xy, near)
    assert a.sites == b.sites
    assert a.gains == pytest.approx(b.gains, rel=1e-12)


@pytest.mark.parametrize(("db", "mode", "category", "minutes"), CASES)
def test_gap_geometry_equals_one_segment_at_a_time(request, db, mode, category, minutes):
    setting = load_setting(request.getfixturevalue(db), mode=mode)
    frame = setting.frame(mode)
    g = frame.graph
    facs = setting.facilities(category)
    lonlat = np.array([[f["lon"], f["lat"]] for f in facs], dtype=float).reshape(-1, 2)
    t = nearest_facility_tables(g, lonlat, reverse=frame.reverse)
    gaps = uncovered(
        g,
        t.dist_s,
        minutes * 60.0,
        usable=frame.usable,
        fac_edge=t.fac_edge,
        fac_fraction=t.fac_fraction,
    )
    partial = (gaps.lo > 0) | (gaps.hi < 1)
    assert partial.sum() > 10  # cut pieces, not only whole segments
    coords, counts = substrings(g, gaps.edge, gaps.lo, gaps.hi)
    stops = np.cumsum(counts)
    for i, (e, lo, hi) in enumerate(
        zip(gaps.edge.tolist(), gaps.lo.tolist(), gaps.hi.tolist(), strict=True)
    ):
        want = substring(g, e, lo, hi)
        assert coords[stops[i] - counts[i] : stops[i]].tolist() == want, (e, lo, hi)
