"""Bounded Dijkstra and isochrones against networkx's reach from a virtual origin node."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, shape

from gis import routing
from gis.network import MODES
from gis.reach import bounded_dijkstra, reach_polygon
from tests.gis.helpers import random_origins

LIMIT_S = 400.0


@pytest.mark.parametrize("mode", MODES)
def test_bounded_dijkstra_equals_networkx(andorra, refs, mode):
    ref = refs(andorra, mode)
    g = routing.get_router(andorra, mode=mode).mode_graph(mode)
    osm = np.asarray(routing.get_router(andorra).net.arrays["node_osm_id"])
    origins = random_origins(ref, 6, 41)
    for (lat, lon), place in zip(
        origins, ref.place([(lon, lat) for lat, lon in origins]), strict=True
    ):
        snap = g.snap(lat, lon)
        place = ref.settle_tie(place, int(g.edge_id[snap.edge]), lon, lat)
        search = bounded_dijkstra(g, snap, LIMIT_S)
        times = search.time_s(np.arange(g.n_nodes))
        want = ref.node_times_from(place)
        inside = {n for n, t in want.items() if t <= LIMIT_S - 0.5}
        got = {int(osm[i]) for i in np.flatnonzero(times <= LIMIT_S)}
        assert inside <= got
        for i in np.flatnonzero(times <= LIMIT_S):
            assert float(times[i]) == pytest.approx(want[int(osm[i])], abs=0.5)
        # the paths are real: each ends where the search says, from the exit it names
        for i in np.flatnonzero(np.isfinite(times))[::50]:
            nodes, exit_ = search.path(int(i))
            assert nodes[0] == exit_[0] and nodes[-1] == i
            hops = g.hop_codes(np.asarray(nodes, dtype=np.int64))
            edges = np.where(hops >= 0, hops, ~hops)
            assert exit_[1] + float(np.asarray(g.cost)[edges].sum()) == pytest.approx(
                float(times[i]), abs=1e-6
            )
        # the search left the shared weights as they were
        assert np.array_equal(np.asarray(g.weight), np.asarray(g.graph.data))


@pytest.mark.parametrize("mode", routing.MODES)  # the public modes: isochrones
def test_isochrone_matches_networkx_reach(hel, andorra, refs, mode):
    for url, seed in ((hel, 21), (andorra, 22)):
        ref = refs(url, mode)
        origins = random_origins(ref, 3, seed)
        places = ref.place([(lon, lat) for lat, lon in origins])
        for (lat, lon), place in zip(origins, places, strict=True):
            fc = routing.isochrone(lat, lon, minutes=[5, 15, 10], mode=mode, url=url)
            assert fc["type"] == "FeatureCollection"
            props = [f["properties"] for f in fc["features"]]
            assert [p["minutes"] for p in props] == [15, 10, 5]
            assert all(p["mode"] == mode for p in props)
            snapped = fc["snapped"]
            res = routing.nearest_facilities(lat, lon, category="health", mode=mode, url=url)
            place = ref.settle_tie(place, res["snapped"]["segment_id"], lon, lat)
            lengths = ref.node_times_from(place)
            for f in fc["features"]:
                budget = f["properties"]["minutes"] * 60
                inside = [n for n, t in lengths.items() if t <= budget]
                near_edge = [n for n, t in lengths.items() if abs(t - budget) < 0.5]
                assert abs(f["properties"]["reachable_nodes"] - len(inside)) <= len(near_edge)
                geom = shape(f["geometry"])
                assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
                assert geom.is_valid and not geom.is_empty
                pts = shapely.points([ref.coord[n] for n in inside]) if inside else []
                # every reachable node is inside its polygon (a metre of slack for rounding)
                for p in pts:
                    assert geom.distance(p) < 1e-5
                assert geom.distance(Point(snapped["lon"], snapped["lat"])) < 1e-5


def test_reach_polygon_for_a_closed_network(hel):
    """Coverage's use: reach on the network with roads closed, through the public names."""
    g = routing.get_router(hel, mode="car").mode_graph("car")
    snap = g.snap(60.1699, 24.9384)
    open_search = bounded_dijkstra(g, snap, 300.0, predecessors=False)
    reached = np.flatnonzero(open_search.time_s(np.arange(g.n_nodes)) <= 300.0)
    # close every segment leaving the start node but the one the search started along
    start = open_search.start[0]
    lo, hi = int(g.indptr[start]), int(g.indptr[start + 1])
    codes = np.asarray(g.edge[lo:hi])
    ids = [int(g.edge_id[c if c >= 0 else ~c]) for c in codes if (c if c >= 0 else ~c) != snap.edge]
    closed = g.without(ids)
    snap2 = closed.snap(60.1699, 24.9384)
    search = bounded_dijkstra(closed, snap2, 300.0, predecessors=False)
    reached2 = np.flatnonzero(search.time_s(np.arange(g.n_nodes)) <= 300.0)
    assert len(reached2) <= len(reached)
    poly = reach_polygon(closed, snap2, search.dist_s, 300.0, search.start[1])
    assert poly.is_valid and not poly.is_empty
    for i in reached2:
        assert poly.distance(Point(*np.asarray(g.node_lonlat)[i])) < 1e-5
