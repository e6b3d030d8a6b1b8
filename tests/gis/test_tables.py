"""Nearest-facility tables against networkx multi-source Dijkstra with virtual facility nodes."""

from __future__ import annotations

import numpy as np
import pytest

from gis.graph import LAST_HOP, NO_HOP, ModeGraph
from gis.network import MODES, cache_root, load_network
from gis.tables import FacilityTables, nearest_facility_tables
from tests.gis.helpers import random_origins
from tests.gis.reference import Place


def _places(g: ModeGraph, t: FacilityTables) -> list[Place]:
    """The tables' own facility positions (second road points included), as reference
    places."""
    return [
        Place(int(g.edge_id[e]), float(f), 0.0, float(lon), float(lat))
        for i in range(len(t.fac_edge))
        for e, _, f, lon, lat, _ in t.points(i)
        if e >= 0
    ]


def _compare(net, t: FacilityTables, want: dict, abs_s: float) -> None:
    """``t.dist_s`` equals ``want`` (OSM node id -> seconds) on every node."""
    osm = np.asarray(net.arrays["node_osm_id"])
    finite = np.flatnonzero(np.isfinite(t.dist_s))
    assert {int(osm[i]) for i in finite} == set(want)
    for i in finite:
        assert float(t.dist_s[i]) == pytest.approx(want[int(osm[i])], rel=1e-6, abs=abs_s)


@pytest.fixture
def net(hel):
    """Helsinki's loaded network cache."""
    return load_network(cache_root(hel), writable_weights=False)


@pytest.mark.parametrize("mode", MODES)
def test_table_equals_networkx_with_virtual_facility_nodes(hel, refs, net, mode):
    g = ModeGraph.from_network(net, mode)
    t = FacilityTables.from_arrays(net.arrays, f"{mode}.health")
    ref = refs(hel, mode)
    _compare(net, t, ref.node_times_to(_places(g, t)), abs_s=1e-3)
    # the chain of next hops from a node adds up to its time and ends on the facility's segment
    for node in np.flatnonzero(np.isfinite(t.dist_s))[::97]:
        fac = int(t.facility[node])
        total, n = 0.0, int(node)
        while (c := int(t.code[n])) != LAST_HOP:
            assert c != NO_HOP
            e = c if c >= 0 else ~c
            total += float(g.cost[e])
            n = int(g.edge_v[e]) if c >= 0 else int(g.edge_u[e])
        ways = [w for p in t.points(fac) for w in g.entries(p[0], p[2])]
        assert n in {m for m, _, _ in ways}
        assert total + min(c for m, c, _ in ways if m == n) == pytest.approx(
            float(t.dist_s[node]), rel=1e-6, abs=1e-3
        )


@pytest.mark.parametrize("mode", ["walk", "car"])
def test_tables_for_any_facility_points(hel, refs, net, mode):
    """A what-if scenario: facilities at points of our choosing, placed as a user would."""
    g = ModeGraph.from_network(net, mode)
    ref = refs(hel, mode)
    sites = random_origins(ref, 6, 31, max_m=150)
    lonlat = np.array([[lon, lat] for lat, lon in sites])
    t = nearest_facility_tables(g, lonlat)
    assert t.on_network.all() and len(t.fac_edge) == len(sites)
    places = ref.place([tuple(p) for p in lonlat])
    # our positions are PostGIS's (on the same segment, or a near-tie settled)
    places = [
        ref.settle_tie(p, int(g.edge_id[e]), lon, lat)
        for p, e, (lon, lat) in zip(places, t.fac_edge, lonlat, strict=True)
    ]
    _compare(net, t, ref.node_times_to(places, [tuple(p) for p in lonlat]), abs_s=0.5)


@pytest.mark.parametrize("mode", ["walk", "car"])
def test_tables_with_closed_segments(hel, refs, net, mode):
    g = ModeGraph.from_network(net, mode)
    t = FacilityTables.from_arrays(net.arrays, f"{mode}.health")
    lonlat = np.array([[f["lon"], f["lat"]] for f in net.facilities["health"]])
    # close the ten busiest segments: those most nodes' next hop runs along
    code = np.asarray(t.code)
    hops = code[(code != NO_HOP) & (code != LAST_HOP)]
    busiest = np.bincount(np.where(hops >= 0, hops, ~hops)).argsort()[::-1][:10]
    closed_ids = [int(g.edge_id[e]) for e in busiest]
    closed = nearest_facility_tables(g, lonlat, closed_segments=closed_ids)
    assert not np.isin(closed.fac_edge, busiest).any()
    worse = np.asarray(closed.dist_s) > np.asarray(t.dist_s) + 1e-3
    assert worse.any()
    assert (np.asarray(closed.dist_s) >= np.asarray(t.dist_s) - 1e-3).all()
    ref = refs(hel, mode).closed(closed_ids)
    places = ref.place([tuple(p) for p in lonlat])
    kept = [
        (ref.settle_tie(p, int(g.edge_id[e]), lon, lat), (lon, lat))
        for p, e, (lon, lat) in zip(places, closed.fac_edge, lonlat.tolist(), strict=True)
        if p is not None
    ]
    want = ref.node_times_to([p for p, _ in kept], [site for _, site in kept])
    _compare(net, closed, want, abs_s=0.5)
