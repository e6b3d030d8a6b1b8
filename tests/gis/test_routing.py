"""Routing queries against real extracts, checked against independent computations.

The reference side reads only PostGIS: the ``cost_*_s`` columns, ``u``/``v``/``oneway`` and the
geometries of ``road_segment`` and the facility tables. From those it builds a networkx graph
(one-way binds motorcycle and car, never walking), snaps facilities to the nearest node of the
largest strongly connected component by great-circle distance, and runs networkx's Dijkstra.
Snapping is checked against PostGIS geography distances.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import shapely
from psycopg2 import sql
from shapely.geometry import Point, shape

from gis import routing
from gis.errors import InvalidInputError, NotFoundError, UnprocessableError
from gis.network import build_network, drop_cache, network_status, refresh_facilities
from tests.gis.helpers import drop_routed_db, query, routed_db

MODES = ("walk", "motorcycle", "car")
ONEWAY_MODES = {"motorcycle", "car"}
R_EARTH_M = 6_371_008.8
SIGAP = str(Path(sys.executable).with_name("sigap"))


# --- databases ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hel(server_url, template_db):
    """Helsinki, ingested and built; not modified by the tests that use it."""
    name = f"sigap_test_route_hel_{os.getpid()}"
    url = routed_db(server_url, template_db, name, "osm/helsinki.osm.pbf")
    yield url
    drop_routed_db(server_url, url, name)


@pytest.fixture(scope="module")
def andorra(server_url, template_db):
    """Andorra, ingested and built; not modified by the tests that use it."""
    name = f"sigap_test_route_and_{os.getpid()}"
    url = routed_db(server_url, template_db, name, "osm/andorra.osm.pbf")
    yield url
    drop_routed_db(server_url, url, name)


@pytest.fixture
def hel_mutable(server_url, template_db):
    """A Helsinki database of this test's own, which it may change."""
    name = f"sigap_test_route_mut_{os.getpid()}"
    url = routed_db(server_url, template_db, name, "osm/helsinki.osm.pbf")
    yield url
    drop_routed_db(server_url, url, name)


def cost_column(mode: str) -> sql.Identifier:
    return sql.Identifier(f"cost_{mode}_s")


# --- the independent reference --------------------------------------------------------------


def haversine_m(lon1, lat1, lon2, lat2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * R_EARTH_M * math.asin(math.sqrt(a))


class Reference:
    """One mode's network as networkx sees it, from PostGIS columns only."""

    def __init__(self, url: str, mode: str) -> None:
        self.url, self.mode = url, mode
        rows = query(
            url,
            sql.SQL(
                "SELECT id, u, v, oneway, {}, length_m, "
                "ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)), "
                "ST_X(ST_EndPoint(geom)), ST_Y(ST_EndPoint(geom)) FROM road_segment"
            ).format(cost_column(mode)),
        )
        self.seg = {}
        self.coord = {}
        self.graph = nx.DiGraph()
        for sid, u, v, oneway, cost, length, x0, y0, x1, y1 in rows:
            self.seg[sid] = (u, v, oneway, cost, length)
            self.coord[u] = (x0, y0)
            self.coord[v] = (x1, y1)
            if cost is None or u == v:
                continue
            self._add(u, v, cost)
            if mode not in ONEWAY_MODES or not oneway:
                self._add(v, u, cost)
        self.main = max(nx.strongly_connected_components(self.graph), key=len)
        self._to_facility: dict[str, tuple] = {}

    def _add(self, a, b, cost) -> None:
        if not self.graph.has_edge(a, b) or self.graph[a][b]["weight"] > cost:
            self.graph.add_edge(a, b, weight=cost)

    def allowed(self, sid: int, a, b) -> bool:
        """May this mode travel segment ``sid`` from node ``a`` to node ``b``?"""
        u, v, oneway, cost, _ = self.seg[sid]
        if cost is None:
            return False
        if (a, b) == (u, v):
            return True
        return (a, b) == (v, u) and (self.mode not in ONEWAY_MODES or not oneway)

    def facilities(self, category: str) -> dict[int, int]:
        """Facility id -> its node: the nearest node of the largest SCC (great circle), for
        facilities within the documented snap limit of it (the others are off the network)."""
        if category in ("waste_basket", "waste_disposal", "recycling"):
            rows = query(
                self.url,
                "SELECT id, ST_X(geom), ST_Y(geom) FROM waste_bin WHERE kind = %s",
                (category,),
            )
        else:
            rows = query(
                self.url,
                "SELECT id, ST_X(geom), ST_Y(geom) FROM office WHERE category = %s",
                (category,),
            )
        nodes = list(self.main)
        xy = np.array([self.coord[n] for n in nodes])
        out = {}
        for fid, lon, lat in rows:
            d = [haversine_m(lon, lat, x, y) for x, y in xy]
            if min(d) <= routing.SNAP_LIMIT_M:
                out[fid] = nodes[int(np.argmin(d))]
        return out

    def to_facility(self, category: str):
        """networkx multi-source Dijkstra on the reversed graph: node -> (time, facility node)."""
        if category not in self._to_facility:
            fac = self.facilities(category)
            rev = self.graph.reverse(copy=False)
            dist, paths = nx.multi_source_dijkstra(rev, set(fac.values()), weight="weight")
            self._to_facility[category] = (fac, dist, paths)
        return self._to_facility[category]

    def offsets(self, sid: int, fraction: float) -> list[tuple[int, float]]:
        """(node, seconds) for each end a traveller on segment ``sid`` at ``fraction`` may
        move to."""
        u, v, oneway, cost, _ = self.seg[sid]
        out = [(v, (1 - fraction) * cost)]
        if self.mode not in ONEWAY_MODES or not oneway:
            out.append((u, fraction * cost))
        return out

    def from_origin(self, sid: int, fraction: float) -> dict:
        """networkx single-source Dijkstra from a virtual origin node on segment ``sid``."""
        g = self.graph
        for node, off in self.offsets(sid, fraction):
            if not g.has_edge("O", node) or g["O"][node]["weight"] > off:
                g.add_edge("O", node, weight=off)
        try:
            return nx.single_source_dijkstra_path_length(g, "O", weight="weight")
        finally:
            g.remove_node("O")


@pytest.fixture(scope="module")
def refs():
    cache: dict[tuple[str, str], Reference] = {}

    def get(url: str, mode: str) -> Reference:
        if (url, mode) not in cache:
            cache[(url, mode)] = Reference(url, mode)
        return cache[(url, mode)]

    return get


def random_origins(ref: Reference, n: int, seed: int) -> list[tuple[float, float]]:
    """Points up to ~250 m from random nodes of the mode's network."""
    rng = np.random.default_rng(seed)
    nodes = sorted(ref.graph.nodes)
    out = []
    for i in rng.choice(len(nodes), n, replace=False):
        lon, lat = ref.coord[nodes[i]]
        dist, bearing = rng.uniform(0, 250), rng.uniform(0, 2 * math.pi)
        dlat = dist * math.cos(bearing) / 111_195.0
        dlon = dist * math.sin(bearing) / (111_195.0 * math.cos(math.radians(lat)))
        out.append((lat + dlat, lon + dlon))
    return out


def utm_srid(lon: float) -> int:
    return 32600 + int((lon + 180) // 6) + 1


def check_snap(ref: Reference, lat: float, lon: float, snapped: dict) -> None:
    """Our snap agrees with PostGIS: same distance to the nearest usable segment, the point
    lies on the reported segment at the reported fraction."""
    (min_m,) = query(
        ref.url,
        sql.SQL(
            "SELECT min(ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)"
            "::geography)) FROM road_segment WHERE {} IS NOT NULL"
        ).format(cost_column(ref.mode)),
        (lon, lat),
    )[0]
    assert snapped["distance_m"] == pytest.approx(min_m, rel=0.01, abs=1.0)
    srid = utm_srid(lon)
    on_m, frac, length = query(
        ref.url,
        "SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography),"
        " ST_LineLocatePoint(ST_Transform(geom, %s), "
        "  ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s)), length_m "
        "FROM road_segment WHERE id = %s",
        (
            snapped["lon"],
            snapped["lat"],
            srid,
            snapped["lon"],
            snapped["lat"],
            srid,
            snapped["segment_id"],
        ),
    )[0]
    assert on_m < 0.5
    assert abs(frac - snapped["fraction"]) * length < 1.0


def check_route(ref: Reference, result: dict, snapped: dict, fac_node) -> None:
    """The route is connected, allowed for the mode, starts on the snapped segment, ends at
    the facility's node, and its summed cost and length equal what was reported."""
    ids = result["segment_ids"]
    assert ids[0] == snapped["segment_id"]
    u0, v0, _, cost0, len0 = ref.seg[ids[0]]
    f = snapped["fraction"]
    # Leave the first segment forwards through v0 or, unless one-way binds, backwards
    # through u0 (on a loop, u0 == v0 and both are possible).
    exits = [(v0, (1 - f) * cost0, (1 - f) * len0)]
    if not (ref.mode in ONEWAY_MODES and ref.seg[ids[0]][2]):
        exits.append((u0, f * cost0, f * len0))
    touching = {fac_node} if len(ids) == 1 else set(ref.seg[ids[1]][:2])
    exits = [e for e in exits if e[0] in touching]
    assert exits, "the first segment does not touch the rest of the route"
    candidates = []
    for exit_node, part_s, part_m in exits:
        node, total_s, total_m, ok = exit_node, part_s, part_m, True
        for sid in ids[1:]:
            u, v, _, cost, length = ref.seg[sid]
            other = v if node == u else (u if node == v else None)
            if other is None or not ref.allowed(sid, node, other):
                ok = False
                break
            node, total_s, total_m = other, total_s + cost, total_m + length
        if ok and node == fac_node:
            candidates.append((total_s, total_m))
    assert candidates, "the route is not a connected, allowed path to the facility"
    assert any(
        t == pytest.approx(result["travel_time_s"], abs=2e-3)
        and m == pytest.approx(result["distance_m"], abs=2e-2)
        for t, m in candidates
    ), (candidates, result["travel_time_s"], result["distance_m"])
    coords = result["route"]["coordinates"]
    assert coords[0] == pytest.approx([snapped["lon"], snapped["lat"]], abs=1e-6)
    assert coords[-1] == pytest.approx(list(ref.coord[fac_node]), abs=1e-6)


CASES = [
    ("hel", "health", 0),
    ("hel", "waste_basket", 1),
    ("andorra", "health", 2),
    ("andorra", "police", 3),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("db", "category", "seed"), CASES)
def test_nearest_agrees_with_networkx(request, refs, db, category, seed, mode):
    url = request.getfixturevalue(db)
    ref = refs(url, mode)
    fac, dist, _ = ref.to_facility(category)
    fac_node_of = dict(fac)
    reached = 0
    for lat, lon in random_origins(ref, 24, seed):
        res = routing.nearest(lat, lon, category=category, mode=mode, url=url)
        snapped = res["snapped"]
        check_snap(ref, lat, lon, snapped)
        expected = min(
            (
                off + dist[node]
                for node, off in ref.offsets(snapped["segment_id"], snapped["fraction"])
                if node in dist
            ),
            default=math.inf,
        )
        if math.isinf(expected):
            assert res["unreachable"] and res["results"] == [] and res["message"]
            continue
        reached += 1
        assert not res["unreachable"]
        (best,) = res["results"]
        assert best["rank"] == 1
        assert best["travel_time_s"] == pytest.approx(expected, rel=1e-6, abs=2e-3)
        fid = best["facility"]["id"]
        assert best["facility"]["category"] == category
        # the facility returned is one at the best time (ties may pick either)
        assert dist[fac_node_of[fid]] <= expected + 1e-6
        check_route(ref, best, snapped, fac_node_of[fid])
    assert reached >= 16, "too few origins could reach a facility to test anything"


@pytest.mark.parametrize("mode", MODES)
def test_k_nearest_agrees_with_networkx(hel, andorra, refs, mode):
    for url, category, seed in ((hel, "waste_basket", 7), (andorra, "health", 8)):
        ref = refs(url, mode)
        fac, _, _ = ref.to_facility(category)
        for lat, lon in random_origins(ref, 8, seed):
            res = routing.nearest(lat, lon, category=category, mode=mode, k=3, url=url)
            snapped = res["snapped"]
            lengths = ref.from_origin(snapped["segment_id"], snapped["fraction"])
            times = sorted(lengths[n] for n in fac.values() if n in lengths)[:3]
            got = [r["travel_time_s"] for r in res["results"]]
            assert [r["rank"] for r in res["results"]] == list(range(1, len(got) + 1))
            assert got == pytest.approx(times, rel=1e-6, abs=2e-3)
            assert len({r["facility"]["id"] for r in res["results"]}) == len(got)
            for r in res["results"]:
                node = fac[r["facility"]["id"]]
                assert r["travel_time_s"] == pytest.approx(lengths[node], rel=1e-6, abs=2e-3)
                check_route(ref, r, snapped, node)
            if times:
                one = routing.nearest(lat, lon, category=category, mode=mode, url=url)
                assert one["results"][0]["travel_time_s"] == pytest.approx(got[0], abs=2e-3)


def test_oneway_is_respected_for_car_not_for_walking(hel, refs):
    car, walk = refs(hel, "car"), refs(hel, "walk")
    rows = query(
        hel,
        "SELECT id, ST_Y(ST_LineInterpolatePoint(geom, 0.5)), "
        "ST_X(ST_LineInterpolatePoint(geom, 0.5)) FROM road_segment "
        "WHERE oneway AND cost_car_s IS NOT NULL AND u <> v AND length_m > 40 ORDER BY id",
    )
    assert len(rows) > 20
    fac, dist, _ = car.to_facility("health")
    backwards_would_win = 0
    for sid, lat, lon in rows:
        res = routing.nearest(lat, lon, category="health", mode="car", url=hel)
        if res["snapped"]["segment_id"] != sid or res["unreachable"]:
            continue
        u, v, _, cost, _ = car.seg[sid]
        f = res["snapped"]["fraction"]
        # A car on a one-way segment must leave through v.
        assert res["results"][0]["travel_time_s"] == pytest.approx(
            (1 - f) * cost + dist[v], rel=1e-6, abs=2e-3
        )
        if u in dist and f * cost + dist[u] < (1 - f) * cost + dist[v] - 1:
            backwards_would_win += 1
        walked = routing.nearest(lat, lon, category="health", mode="walk", url=hel)
        wfac, wdist, _ = walk.to_facility("health")
        wu, wv = wdist.get(u, math.inf), wdist.get(v, math.inf)
        wcost = walk.seg[sid][3]
        expected = min(f * wcost + wu, (1 - f) * wcost + wv)
        assert walked["results"][0]["travel_time_s"] == pytest.approx(expected, rel=1e-6, abs=2e-3)
    assert backwards_would_win > 0, "no one-way segment where ignoring one-way would be faster"


def _route_for(url: str, lat: float, lon: float, mode: str, category: str = "health") -> dict:
    routing.clear_routers()
    return routing.nearest(lat, lon, category=category, mode=mode, url=url)


def _long_car_route(url: str, ref: Reference):
    for lat, lon in random_origins(ref, 40, 11):
        res = _route_for(url, lat, lon, "car")
        if res["results"] and len(res["results"][0]["segment_ids"]) >= 6:
            return lat, lon, res
    pytest.fail("no car route with six or more segments in Helsinki")


def test_impassable_segment_vanishes_and_changes_the_route(hel_mutable):
    url = hel_mutable
    ref = Reference(url, "car")
    lat, lon, before = _long_car_route(url, ref)
    ids = before["results"][0]["segment_ids"]
    cut = ids[len(ids) // 2]
    query(
        url,
        "UPDATE road_segment SET condition = 'tidak_dapat_dilalui', condition_source = "
        "'inspection' WHERE id = %s",
        (cut,),
    )
    assert network_status(url)["roads_changed"]
    build_network(url, progress=False)
    (costs,) = query(
        url,
        "SELECT cost_walk_s, cost_motorcycle_s, cost_car_s FROM road_segment WHERE id = %s",
        (cut,),
    )
    assert costs == (None, None, None)
    for mode in MODES:
        after = _route_for(url, lat, lon, mode)
        for r in after["results"]:
            assert cut not in r["segment_ids"]
    after = _route_for(url, lat, lon, "car")
    assert after["results"][0]["segment_ids"] != ids
    assert after["results"][0]["travel_time_s"] >= before["results"][0]["travel_time_s"] - 1e-3
    new_ref = Reference(url, "car")
    fac, dist, _ = new_ref.to_facility("health")
    snapped = after["snapped"]
    expected = min(
        (
            off + dist[n]
            for n, off in new_ref.offsets(snapped["segment_id"], snapped["fraction"])
            if n in dist
        ),
        default=math.inf,
    )
    assert after["results"][0]["travel_time_s"] == pytest.approx(expected, rel=1e-6, abs=2e-3)
    check_route(new_ref, after["results"][0], snapped, fac[after["results"][0]["facility"]["id"]])


def test_rusak_berat_changes_the_route_only_when_the_detour_is_faster(hel_mutable):
    url = hel_mutable
    ref = Reference(url, "car")
    lat, lon, before = _long_car_route(url, ref)
    best = before["results"][0]
    ids = best["segment_ids"]
    # For every inner segment: the time if it were removed (networkx), and the time of the
    # same route with it heavily damaged.
    fac, _, _ = ref.to_facility("health")
    target = fac[best["facility"]["id"]]
    snapped = before["snapped"]
    outcomes = []
    for sid in ids[1:-1]:
        u, v, _, cost, _ = ref.seg[sid]
        ((original,),) = query(
            url,
            "UPDATE road_segment r SET condition = 'rusak_berat', condition_source = 'inspection' "
            "FROM road_segment o WHERE r.id = %s AND o.id = r.id RETURNING o.condition",
            (sid,),
        )
        build_network(url, modes="car", progress=False)
        damaged = Reference(url, "car")
        new_cost = damaged.seg[sid][3]
        assert new_cost >= 2 * cost  # "much slower"
        same_route = best["travel_time_s"] + (new_cost - cost)
        lengths = damaged.from_origin(snapped["segment_id"], snapped["fraction"])
        after = _route_for(url, lat, lon, "car")
        r = after["results"][0]
        assert r["travel_time_s"] == pytest.approx(
            min(lengths[n] for n in fac.values() if n in lengths), rel=1e-6, abs=2e-3
        )
        if r["facility"]["id"] == best["facility"]["id"]:
            assert r["travel_time_s"] <= same_route + 2e-3
            if r["travel_time_s"] < same_route - 1e-2:
                assert sid not in r["segment_ids"]  # the detour is faster: it is taken
                outcomes.append("detour")
            else:
                outcomes.append("kept")
        assert lengths.get(target, math.inf) <= same_route + 2e-3
        query(url, "UPDATE road_segment SET condition = %s WHERE id = %s", (original, sid))
        if "detour" in outcomes:
            break
    assert "detour" in outcomes, outcomes


def test_facility_change_refreshes_the_table(hel_mutable):
    url = hel_mutable
    ref = Reference(url, "walk")
    lat, lon = random_origins(ref, 1, 5)[0]
    before = _route_for(url, lat, lon, "walk", "fire")
    # A new fire station at the snapped point's segment end: now the nearest.
    node = ref.seg[before["snapped"]["segment_id"]][1]
    x, y = ref.coord[node]
    query(
        url,
        "INSERT INTO office (source, source_id, category, name, kind, geom) VALUES "
        "('test', 'new-fire', 'fire', 'Pos Damkar Baru', 'amenity=fire_station', "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
        (x, y),
    )
    status = network_status(url)
    assert status["facilities_changed"] and not status["roads_changed"]
    refresh_facilities(url, progress=False)
    assert not network_status(url)["stale"]
    after = _route_for(url, lat, lon, "walk", "fire")
    assert after["results"][0]["facility"]["name"] == "Pos Damkar Baru"
    assert after["results"][0]["travel_time_s"] < before["results"][0]["travel_time_s"]


def test_queries_reload_a_rebuilt_cache(hel_mutable, monkeypatch):
    url = hel_mutable
    ref = Reference(url, "car")
    lat, lon, before = _long_car_route(url, ref)
    monkeypatch.setattr(routing, "RELOAD_CHECK_S", 0.0)
    routing.nearest(lat, lon, category="health", mode="car", url=url)
    cut = before["results"][0]["segment_ids"][2]
    query(url, "UPDATE road_segment SET condition = 'tidak_dapat_dilalui' WHERE id = %s", (cut,))
    build_network(url, progress=False)
    # no clear_routers(): the router notices the new manifest by itself
    after = routing.nearest(lat, lon, category="health", mode="car", url=url)
    assert cut not in after["results"][0]["segment_ids"]


def test_facility_far_from_the_roads_is_off_the_network(server_url, template_db, monkeypatch):
    name = f"sigap_test_route_far_{os.getpid()}"
    url = routed_db(server_url, template_db, name, "osm/helsinki.osm.pbf", build=False)
    try:
        # 0.05 degrees (~5.6 km) north of the northernmost road vertex
        ((lat, lon),) = query(
            url,
            "SELECT ST_YMax(ST_Extent(geom)) + 0.05, ST_X(ST_Centroid(ST_Extent(geom))) "
            "FROM road_segment",
        )
        query(url, "DELETE FROM office WHERE category = 'court'")
        ids = {}
        for category in ("court", "health"):
            ((ids[category],),) = query(
                url,
                "INSERT INTO office (source, source_id, category, name, kind, geom) VALUES "
                "('test', %s, %s, 'Far away', 'test', ST_SetSRID(ST_MakePoint(%s, %s), 4326)) "
                "RETURNING id",
                (f"far-{category}", category, lon, lat),
            )
        ((road_m,),) = query(
            url,
            "SELECT min(ST_Distance(geom::geography, "
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography)) FROM road_segment",
            (lon, lat),
        )
        assert road_m > 3 * routing.SNAP_LIMIT_M
        from click.testing import CliRunner

        from cli import main
        from gis.settings import get_settings

        monkeypatch.setenv("DATABASE_URL", url)
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(main, ["network", "build", "--no-progress"])
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        assert "Off the car network (over 1000 m from its roads): " in result.output
        report = build_network(url, progress=False)
        for mode in MODES:  # reported, per mode and category
            assert report.off_network[mode]["court"] == [ids["court"]]
            assert ids["health"] in report.off_network[mode]["health"]
        routing.clear_routers()
        for mode in MODES:
            res = routing.nearest(60.1699, 24.9384, category="court", mode=mode, url=url)
            assert res["unreachable"] and not res["results"]
            res = routing.nearest(60.1699, 24.9384, category="health", mode=mode, k=10, url=url)
            assert res["results"]
            assert ids["health"] not in {r["facility"]["id"] for r in res["results"]}
            best = routing.nearest(60.1699, 24.9384, category="health", mode=mode, url=url)
            assert best["results"][0]["facility"]["id"] != ids["health"]
    finally:
        drop_routed_db(server_url, url, name)


def test_first_query_builds_a_missing_network(server_url, template_db):
    name = f"sigap_test_route_lazy_{os.getpid()}"
    url = routed_db(server_url, template_db, name, "osm/helsinki.osm.pbf", build=False)
    try:
        assert not network_status(url)["built"]
        res = routing.nearest(60.1699, 24.9384, category="health", mode="car", url=url)
        assert res["results"]
        assert network_status(url)["built"]
        (n,) = query(url, "SELECT count(*) FROM road_segment WHERE cost_car_s IS NOT NULL")[0]
        assert n > 0
    finally:
        drop_routed_db(server_url, url, name)


def test_empty_database_is_not_found(fresh_db):
    try:
        with pytest.raises(NotFoundError, match="no road network"):
            routing.nearest(60.17, 24.94, category="health", mode="car", url=fresh_db)
    finally:
        drop_cache(fresh_db)
        routing.clear_routers()


# --- isochrones -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_isochrone_matches_networkx_reach(hel, andorra, refs, mode):
    for url, seed in ((hel, 21), (andorra, 22)):
        ref = refs(url, mode)
        for lat, lon in random_origins(ref, 3, seed):
            fc = routing.isochrone(lat, lon, minutes=[5, 15, 10], mode=mode, url=url)
            assert fc["type"] == "FeatureCollection"
            props = [f["properties"] for f in fc["features"]]
            assert [p["minutes"] for p in props] == [15, 10, 5]
            assert all(p["mode"] == mode for p in props)
            snapped = fc["snapped"]
            seg = query(
                url,
                sql.SQL(
                    "SELECT id FROM road_segment WHERE {} IS NOT NULL ORDER BY ST_Distance("
                    "geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography) LIMIT 1"
                ).format(cost_column(mode)),
                (snapped["lon"], snapped["lat"]),
            )[0][0]
            res = routing.nearest(lat, lon, category="health", mode=mode, url=url)
            assert res["snapped"]["segment_id"] == seg
            lengths = ref.from_origin(seg, res["snapped"]["fraction"])
            for f in fc["features"]:
                budget = f["properties"]["minutes"] * 60
                inside = [n for n, t in lengths.items() if n != "O" and t <= budget]
                assert f["properties"]["reachable_nodes"] == len(inside)
                geom = shape(f["geometry"])
                assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
                assert geom.is_valid and not geom.is_empty
                pts = shapely.points([ref.coord[n] for n in inside]) if inside else []
                # every reachable node is inside its polygon (a metre of slack for rounding)
                for p in pts:
                    assert geom.distance(p) < 1e-5
                assert geom.distance(Point(snapped["lon"], snapped["lat"])) < 1e-5


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "param"),
    [
        ({"lat": "abc"}, InvalidInputError, "lat"),
        ({"lat": 91}, InvalidInputError, "lat"),
        ({"lat": float("nan")}, InvalidInputError, "lat"),
        ({"lon": -181}, InvalidInputError, "lon"),
        ({"lon": None}, InvalidInputError, "lon"),
        ({"category": "puskesmas"}, InvalidInputError, "category"),
        ({"mode": "bicycle"}, InvalidInputError, "mode"),
        ({"k": 0}, InvalidInputError, "k"),
        ({"k": 11}, InvalidInputError, "k"),
        ({"k": 2.5}, InvalidInputError, "k"),
        ({"category": "police"}, NotFoundError, "category"),
        ({"lat": 60.0, "lon": 25.5}, UnprocessableError, "lat"),
    ],
)
def test_nearest_bad_input(hel, kwargs, error, param):
    args = {"lat": 60.1699, "lon": 24.9384, "category": "health", "mode": "car", "k": 1}
    args.update(kwargs)
    lat, lon = args.pop("lat"), args.pop("lon")
    with pytest.raises(error) as info:
        routing.nearest(lat, lon, url=hel, **args)
    assert info.value.param == param
    assert info.value.message


@pytest.mark.parametrize(
    ("minutes", "ok"),
    [([5], True), ([], False), (["x"], False), ([0], False), ([-5], False), ([1e6], False)],
)
def test_isochrone_minutes_validation(hel, minutes, ok):
    if ok:
        assert routing.isochrone(60.1699, 24.9384, minutes=minutes, mode="walk", url=hel)
    else:
        with pytest.raises(InvalidInputError) as info:
            routing.isochrone(60.1699, 24.9384, minutes=minutes, mode="walk", url=hel)
        assert info.value.param == "minutes"


def _cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([SIGAP, *args], capture_output=True, text=True, env=env, timeout=120)


def _isolated_car_point(url: str) -> tuple[float, float]:
    """A point on a car segment whose ends cannot reach the main car network."""
    ref = Reference(url, "car")
    outside = {n for n in ref.graph.nodes if n not in ref.main}
    rev = ref.graph.reverse(copy=False)
    reach_main = set(nx.multi_source_dijkstra_path_length(rev, ref.main))
    for sid, (u, v, _, cost, length) in sorted(ref.seg.items()):
        if cost is not None and u in outside and v in outside and length > 10:
            if u not in reach_main and v not in reach_main:
                ((lat, lon),) = query(
                    url,
                    "SELECT ST_Y(ST_LineInterpolatePoint(geom, 0.5)), "
                    "ST_X(ST_LineInterpolatePoint(geom, 0.5)) FROM road_segment WHERE id = %s",
                    (sid,),
                )
                return lat, lon
    pytest.fail("Helsinki has no isolated car segment to test 'cannot be reached'")


@pytest.fixture
def cli_runner(hel, monkeypatch):
    """Invoke ``sigap`` in-process against the Helsinki test database."""
    from click.testing import CliRunner

    from cli import main
    from gis.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", hel)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(main, list(args))
    get_settings.cache_clear()


CLI_ERRORS = [
    (["nearest", "abc", "24.9", "--category", "health"], "lat"),
    (["nearest", "95", "24.9", "--category", "health"], "lat"),
    (["nearest", "60.17", "250", "--category", "health"], "lon"),
    (["nearest", "60.17", "24.94", "--category", "puskesmas"], "category"),
    (["nearest", "60.17", "24.94", "--category", "health", "--mode", "becak"], "mode"),
    (["nearest", "60.17", "24.94", "--category", "health", "--k", "50"], "'k'"),
    (["nearest", "60.17", "24.94", "--category", "health", "--k", "two"], "'k'"),
    (["nearest", "60.17", "24.94", "--category", "police"], "police"),
    (["nearest", "-6.2", "106.8", "--category", "health"], "from any road"),
    (["isochrone", "60.17", "24.94", "--minutes", "soon"], "minutes"),
    (["isochrone", "60.17", "24.94", "--minutes", "500"], "minutes"),
    (["isochrone", "60.17", "24.94", "--minutes", "5", "--mode", "plane"], "mode"),
]


@pytest.mark.parametrize(("args", "needle"), CLI_ERRORS)
def test_cli_errors_are_one_line_without_traceback(cli_runner, args, needle):
    result = cli_runner(*args)
    assert result.exit_code == 1, (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and needle in lines[0], (args, result.stderr)


def test_cli_binary_error_exit_code(hel):
    proc = _cli(hel, "nearest", "-6.2", "106.8", "--category", "health", "--mode", "car")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.startswith("Error:") and "from any road" in proc.stderr


def test_cli_json_is_the_api_shape_and_unreachable_is_an_answer(hel):
    import json

    proc = _cli(
        hel,
        "nearest",
        "60.1699",
        "24.9384",
        "--category",
        "health",
        "--mode",
        "motorcycle",
        "--k",
        "3",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data == routing.nearest(
        60.1699, 24.9384, category="health", mode="motorcycle", k=3, url=hel
    )
    assert set(data) >= {"origin", "snapped", "mode", "category", "results", "unreachable"}
    assert set(data["results"][0]["facility"]) == {
        "id",
        "layer",
        "name",
        "category",
        "kind",
        "lat",
        "lon",
    }
    lat, lon = _isolated_car_point(hel)
    proc = _cli(
        hel, "nearest", str(lat), str(lon), "--category", "health", "--mode", "car", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["unreachable"] is True and data["results"] == [] and data["message"]
    proc = _cli(hel, "isochrone", "60.1699", "24.9384", "--minutes", "5", "10", "--json")
    assert proc.returncode == 0, proc.stderr
    fc = json.loads(proc.stdout)
    assert [f["properties"]["minutes"] for f in fc["features"]] == [10, 5]
