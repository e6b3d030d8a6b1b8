"""What-if scenarios: closures cut villages off, nothing is stored, the cache follows the data;
population spread along residential roads."""

from __future__ import annotations

import json
import os

import networkx as nx
import numpy as np
import pytest

from gis.coverage import coverage, scenario
from gis.errors import InvalidInputError
from gis.network import refresh_facilities
from tests.conftest import query
from tests.gis.helpers import drop_routed_db, routed_db


def _reach(g: nx.Graph, start, most: int) -> set:
    """The nodes connected to ``start``, up to ``most`` of them."""
    seen, todo = {start}, [start]
    while todo and len(seen) < most:
        for n in g[todo.pop()]:
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def _village(ref, times: dict, limit_s: float):
    """A segment whose closure cuts off >= 5 nodes that are all within T now."""
    und = nx.Graph()
    for sid, (u, v, _, cost, _) in ref.seg.items():
        if cost is not None and u != v:
            if und.has_edge(u, v):
                und[u][v]["ids"].append(sid)
            else:
                und.add_edge(u, v, ids=[sid])
    best = None
    for u, v in nx.bridges(und):
        if len(und[u][v]["ids"]) != 1:
            continue
        ids = und[u][v]["ids"]
        und.remove_edge(u, v)
        side = min((_reach(und, u, 201), _reach(und, v, 201)), key=len)
        und.add_edge(u, v, ids=ids)
        if 5 <= len(side) <= 200 and all(times.get(n, np.inf) <= limit_s - 1 for n in side):
            if best is None or len(side) > len(best[1]):
                best = (ids[0], side)
    return best


def test_closing_the_only_road_to_a_village_makes_it_uncovered(andorra, refs):
    mode, minutes = "walk", 60.0
    ref = refs(andorra, mode)
    placed = ref.facilities("health")
    times = ref.node_times_to(list(placed.values()))
    found = _village(ref, times, minutes * 60)
    assert found, "no village with a single road in Andorra's walking network"
    sid, side = found
    village = {s for s, (u, v, _, c, _) in ref.seg.items() if c is not None and {u, v} <= side}
    answer = scenario("health", mode, minutes, url=andorra, close_segments=[sid], progress=False)
    assert answer["scenario"]["closed_segment_ids"] == [sid]
    change = answer["change"]["summary"]
    assert change["nodes_unreachable"] == len(side)
    gaps = answer["result"]["gaps"]["features"]
    cut = {f["properties"]["segment_id"] for f in gaps if f["properties"]["unreachable"]}
    assert village <= cut and sid in cut
    closed = [f for f in gaps if f["properties"]["closed"]]
    assert [f["properties"]["segment_id"] for f in closed] == [sid]
    length = sum(ref.seg[s][4] for s in village | {sid})
    assert change["road_length_beyond_m"] == pytest.approx(length, rel=1e-4, abs=0.5)
    # nothing was stored: the baseline is the same as before
    again = coverage("health", mode, minutes, url=andorra, gaps=False, progress=False)
    assert again["summary"] == answer["baseline"]["summary"]


def test_closing_by_polygon_equals_closing_those_ids(hel):
    rows = query(
        hel,
        "SELECT id FROM road_segment WHERE ST_Intersects(geom, "
        "ST_MakeEnvelope(24.940, 60.165, 24.944, 60.168, 4326)) ORDER BY id",
    )
    ids = [r[0] for r in rows]
    assert len(ids) > 5
    poly = json.loads(
        query(hel, "SELECT ST_AsGeoJSON(ST_MakeEnvelope(24.940, 60.165, 24.944, 60.168, 4326))")[0][
            0
        ]
    )
    a = scenario("health", "car", 3, url=hel, close_polygon=poly, gaps=False, progress=False)
    b = scenario("health", "car", 3, url=hel, close_segments=ids, gaps=False, progress=False)
    assert a["scenario"]["closed_segment_ids"] == ids
    assert a["result"]["summary"] == b["result"]["summary"]
    assert a["change"]["summary"]["road_length_beyond_m"] > 0


def test_removing_every_facility_uncovers_everything(hel):
    from gis.network import cache_root, load_network

    net = load_network(cache_root(hel), writable_weights=False)
    ids = [f["id"] for f in net.facilities["post"]]
    assert ids
    answer = scenario("post", "car", 15, url=hel, remove_facilities=ids, progress=False)
    assert answer["result"]["summary"]["share_length_beyond"] == 1.0
    assert answer["result"]["facilities"]["count"] == 0


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"close_segments": [123456789012]}, "close_segments"),
        ({"close_segments": ["x"]}, "close_segments"),
        ({"remove_facilities": [987654321]}, "remove_facilities"),
        ({"add_facilities": [{"lat": 95, "lon": 0}]}, "lat"),
        ({"add_facilities": [{"lon": 0}]}, "add_facilities"),
        ({"close_polygon": {"type": "Point", "coordinates": [0, 0]}}, "close_polygon"),
        ({"close_polygon": "{not json"}, "close_polygon"),
    ],
)
def test_bad_scenarios_name_what_is_wrong(hel, kwargs, param):
    with pytest.raises(InvalidInputError) as err:
        scenario("health", "car", 10, url=hel, progress=False, **kwargs)
    assert err.value.param == param


@pytest.fixture(scope="module")
def planning_db(server_url, template_db):
    """Helsinki with two areas: one with people and residential roads, one without people."""
    name = f"sigap_test_route_plan_{os.getpid()}"
    url = routed_db(server_url, template_db, name, "osm/helsinki.osm.pbf", build=False)
    query(
        url,
        "INSERT INTO admin_area (source, source_id, name, admin_level, code, population, geom) "
        "VALUES ('test', 'a/1', 'Kelurahan Satu', 7, '1', 12000, "
        "ST_Multi(ST_MakeEnvelope(24.930, 60.160, 24.945, 60.170, 4326))), "
        "('test', 'a/2', 'Kelurahan Dua', 7, '2', NULL, "
        "ST_Multi(ST_MakeEnvelope(24.945, 60.160, 24.960, 60.170, 4326)))",
    )
    from gis.network import build_network

    build_network(url, progress=False)
    yield url
    drop_routed_db(server_url, url, name)


def test_people_live_along_residential_roads(planning_db):
    answer = coverage("health", "walk", 4, url=planning_db, progress=False)
    rows = {f["properties"]["name"]: f["properties"] for f in answer["areas"]["features"]}
    one, two = rows["Kelurahan Satu"], rows["Kelurahan Dua"]
    assert two["population"] is None and two["population_beyond"] is None
    assert one["population"] == 12000 and one["residential_road_m"] > 0
    # independently: the residential gap pieces inside the area, clipped by PostGIS
    gaps = answer["gaps"]["features"]
    coll = json.dumps({"type": "GeometryCollection", "geometries": [f["geometry"] for f in gaps]})
    ids = [f["properties"]["segment_id"] for f in gaps]
    ((res_beyond_m, res_m),) = query(
        planning_db,
        "WITH a AS (SELECT geom FROM admin_area WHERE name = 'Kelurahan Satu'), "
        "g AS (SELECT (ST_Dump(ST_GeomFromGeoJSON(%s))).geom AS geom, "
        "unnest(%s::bigint[]) AS sid) "
        "SELECT (SELECT sum(ST_Length(ST_Intersection(g.geom, a.geom)::geography)) FROM g, a, "
        "  road_segment s WHERE s.id = g.sid AND s.highway IN ('residential', 'living_street')), "
        "(SELECT sum(ST_Length(ST_Intersection(s.geom, a.geom)::geography)) FROM road_segment s,"
        "  a WHERE s.highway IN ('residential', 'living_street') AND s.cost_walk_s IS NOT NULL "
        "  AND ST_Intersects(s.geom, a.geom))",
        (coll, ids),
    )
    assert one["residential_road_m"] == pytest.approx(res_m, rel=0.003)
    assert 0 < one["population_beyond"] < 12000
    assert one["population_beyond"] == pytest.approx(12000 * res_beyond_m / res_m, rel=0.01)
    assert answer["demand_unit"] == "road_km"  # one area has no population
    assert answer["summary"]["population"] == 12000


def test_the_cache_follows_facilities_and_areas(planning_db):
    first = coverage("police", "walk", 5, url=planning_db, gaps=False, progress=False)
    again = coverage("police", "walk", 5, url=planning_db, gaps=False, progress=False)
    assert again["key"] == first["key"]
    query(
        planning_db,
        "INSERT INTO office (source, source_id, category, name, geom) VALUES ('test', 'p/1', "
        "'police', 'Pos Polisi Uji', ST_SetSRID(ST_MakePoint(24.952, 60.165), 4326))",
    )
    refresh_facilities(planning_db, progress=False)
    from gis.routing import clear_routers

    clear_routers()
    moved = coverage("police", "walk", 5, url=planning_db, gaps=False, progress=False)
    assert moved["key"] != first["key"]
    assert moved["facilities"]["count"] == first["facilities"]["count"] + 1
    assert moved["summary"]["road_length_beyond_m"] < first["summary"]["road_length_beyond_m"]
    query(planning_db, "UPDATE admin_area SET population = 500 WHERE name = 'Kelurahan Dua'")
    people = coverage("police", "walk", 5, url=planning_db, gaps=False, progress=False)
    assert people["key"] != moved["key"] and people["demand_unit"] == "people"
