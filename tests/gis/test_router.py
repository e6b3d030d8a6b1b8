"""Nearest-facility routes against an independent reference, on real extracts and by hand.

The reference (:mod:`tests.gis.reference`) reads only PostGIS, places both ends of a route on
their segments with PostGIS, and runs networkx. On a hand-made block of four roads the expected
times are the cost columns the build wrote, added up by hand.
"""

from __future__ import annotations

import math
import os

import pytest

from gis import routing
from gis.network import build_network, network_status
from gis.snapping import haversine_m
from tests.conftest import create_database, query
from tests.gis.helpers import check_route, drop_routed_db, random_origins
from tests.gis.reference import Reference, place_of

MODES = ("walk", "motorcycle", "car")
#: The issue's bound on |ours - reference| (seconds).
AGREE_S = 0.5
N_ORIGINS = 32

CASES = [
    ("hel", "health", 0),
    ("hel", "waste_basket", 1),
    ("andorra", "health", 2),
    ("krems", "health", 3),
]


# --- agreement with the reference on real extracts ------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("db", "category", "seed"), CASES)
def test_nearest_agrees_with_networkx(request, refs, db, category, seed, mode):
    url = request.getfixturevalue(db)
    ref = refs(url, mode)
    _align_facilities(ref, url, mode, category)
    origins = random_origins(ref, N_ORIGINS, seed)
    places = ref.place([(lon, lat) for lat, lon in origins])
    diffs, unreachable, ties = [], 0, ref.ties
    for (lat, lon), place in zip(origins, places, strict=True):
        assert place is not None  # near a node of the network: a road is close
        res = routing.nearest_facilities(lat, lon, category=category, mode=mode, url=url)
        snapped = res["snapped"]
        # our snap is PostGIS's: as near, on the same segment (or a tie), at the same place
        assert snapped["distance_m"] == pytest.approx(place.distance_m, rel=0.01, abs=1.0)
        place = ref.settle_tie(place, snapped["segment_id"], lon, lat)
        assert abs(snapped["fraction"] - place.fraction) * ref.seg[place.segment_id][4] < 1.0
        times = ref.times_from(place, category)
        expected = min(times.values(), default=math.inf)
        if math.isinf(expected):
            assert res["unreachable"] and res["results"] == [] and res["message"]
            unreachable += 1
            continue
        assert not res["unreachable"]
        (best,) = res["results"]
        assert best["rank"] == 1 and best["facility"]["category"] == category
        diffs.append(abs(best["travel_time_s"] - expected))
        assert diffs[-1] <= AGREE_S, (lat, lon, best["travel_time_s"], expected)
        # the facility returned is one the reference reaches in the best time (ties: either)
        assert times[best["facility"]["id"]] <= expected + AGREE_S
        check_route(ref, best, snapped)
    print(
        f"agreement {db} {category} {mode}: {len(origins)} origins, {len(diffs)} reached, "
        f"{unreachable} unreachable by both, {ref.ties - ties} near-ties settled; "
        f"|ours - networkx| max {max(diffs):.4f} s, mean {sum(diffs) / len(diffs):.4f} s"
    )
    assert ref.ties - ties <= 3, "too many near-ties: the snapping differs from PostGIS"
    assert len(diffs) >= N_ORIGINS // 2, "too few origins could reach a facility"


def _align_facilities(ref: Reference, url: str, mode: str, category: str) -> None:
    """Settle near-ties between our facility segments and the reference's."""
    router = routing.get_router(url, mode=mode)
    tables = router.tables(mode, category)
    facs = router.facilities(category)
    ours = {
        fac["id"]: int(router.edge_id[tables.fac_edge[i]])
        for i, fac in enumerate(facs)
        if tables.fac_edge[i] >= 0
    }
    second = {
        fac["id"]: int(router.edge_id[tables.fac2_edge[i]])
        for i, fac in enumerate(facs)
        if tables.fac2_edge[i] >= 0
    }
    ref.align_facilities(category, ours, second)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("db", "category"), [(c[0], c[1]) for c in CASES])
def test_facilities_join_the_network_where_postgis_places_them(request, refs, db, category, mode):
    url = request.getfixturevalue(db)
    ref = refs(url, mode)
    router = routing.get_router(url, mode=mode)
    facs = router.facilities(category)
    tables = router.tables(mode, category)
    placed = ref.facilities(category)
    for i, fac in enumerate(facs):
        if fac["id"] not in placed:  # beyond the snap limit for PostGIS too
            assert tables.fac_edge[i] < 0
            continue
        assert tables.fac_edge[i] >= 0
        p = placed[fac["id"]]
        # as near as PostGIS's nearest usable segment, on it (or a tie), at the same place
        assert tables.fac_snap_m[i] == pytest.approx(p.distance_m, rel=0.01, abs=1.0)
        p = ref.settle_tie(p, int(router.edge_id[tables.fac_edge[i]]), fac["lon"], fac["lat"])
        assert abs(tables.fac_fraction[i] - p.fraction) * ref.seg[p.segment_id][4] < 1.0
        road_m = haversine_m(p.lon, p.lat, *(float(c) for c in tables.fac_lonlat[i]))
        assert road_m < 1.0
        # a facility on a cut-off fragment also joins the main component, where PostGIS
        # places it among that component's segments
        second = ref.second_place(p, fac["lon"], fac["lat"])
        if second is None:
            assert tables.fac2_edge[i] < 0
            continue
        assert tables.fac2_edge[i] >= 0
        assert tables.fac2_snap_m[i] == pytest.approx(second.distance_m, rel=0.01, abs=1.0)
        second = ref.settle_tie(
            second, int(router.edge_id[tables.fac2_edge[i]]), fac["lon"], fac["lat"]
        )
        assert abs(tables.fac2_fraction[i] - second.fraction) * ref.seg[second.segment_id][4] < 1


@pytest.mark.parametrize("mode", MODES)
def test_k_nearest_agrees_with_networkx(hel, andorra, krems, refs, mode):
    cases = ((hel, "waste_basket", 7), (andorra, "health", 8), (krems, "health", 9))
    for url, category, seed in cases:
        ref = refs(url, mode)
        _align_facilities(ref, url, mode, category)
        origins = random_origins(ref, 8, seed)
        places = ref.place([(lon, lat) for lat, lon in origins])
        for (lat, lon), place in zip(origins, places, strict=True):
            res = routing.nearest_facilities(lat, lon, category=category, mode=mode, k=3, url=url)
            place = ref.settle_tie(place, res["snapped"]["segment_id"], lon, lat)
            times = ref.times_from(place, category)
            want = sorted(times.values())[:3]
            got = [r["travel_time_s"] for r in res["results"]]
            assert [r["rank"] for r in res["results"]] == list(range(1, len(got) + 1))
            assert got == pytest.approx(want, abs=AGREE_S)
            assert len({r["facility"]["id"] for r in res["results"]}) == len(got)
            for r in res["results"]:
                assert times[r["facility"]["id"]] == pytest.approx(r["travel_time_s"], abs=AGREE_S)
                check_route(ref, r, res["snapped"])
            if got:
                one = routing.nearest_facilities(lat, lon, category=category, mode=mode, url=url)
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
    # (the reference places facilities itself, a few millimetres from ours: 0.05 s slack)
    backwards_would_win = 0
    for sid, lat, lon in rows:
        res = routing.nearest_facilities(lat, lon, category="health", mode="car", url=hel)
        if res["snapped"]["segment_id"] != sid or res["unreachable"]:
            continue
        origin = place_of(res["snapped"])
        u, v, _, cost, _ = car.seg[sid]
        f = origin.fraction
        # A car on a one-way segment leaves through v: the best of the facilities from v.
        from_v = car.times_from(place_of({**res["snapped"], "fraction": 1.0}), "health")
        from_u = car.times_from(place_of({**res["snapped"], "fraction": 0.0}), "health")
        best = res["results"][0]["travel_time_s"]
        want = min(car.times_from(origin, "health").values())
        assert best == pytest.approx(want, abs=0.05)
        if not any(p.segment_id == sid for p in car.facilities("health").values()):
            assert best == pytest.approx((1 - f) * cost + min(from_v.values()), abs=0.05)
        if from_u and f * cost + min(from_u.values()) < (1 - f) * cost + min(from_v.values()) - 1:
            backwards_would_win += 1
        walked = routing.nearest_facilities(lat, lon, category="health", mode="walk", url=hel)
        wplace = place_of(walked["snapped"])
        assert walked["results"][0]["travel_time_s"] == pytest.approx(
            min(walk.times_from(wplace, "health").values()), abs=0.05
        )
        if wplace.segment_id == sid:  # walking leaves a one-way street either way
            assert len(walk.exits(wplace)) == 2
    assert backwards_would_win > 0, "no one-way segment where ignoring one-way would be faster"


# --- facilities on cut-off fragments -----------------------------------------------------------


def test_facilities_on_cut_off_fragments_also_join_the_main_component(hel, refs):
    """A real case: in Helsinki, a clinic's nearest car road (Bulevardin Klinikka's) is a
    14 m one-way piece of Fredrikinkatu whose way in lies outside the clipped extract (the
    same happens to Rumah Sakit YPK Mandiri on Jalan Gereja Theresia in the Menteng extract).
    With only that road point it could be reached from almost nowhere; with its second road
    point on the main component (as OSRM does) from all of it, and a route from elsewhere
    ends there, in the reference's time (the reference applies the same rule with networkx
    and PostGIS)."""
    ref = refs(hel, "car")
    router = routing.get_router(hel, mode="car")
    tables, facs = router.tables("car", "health"), router.facilities("health")
    edge_id = router.edge_id
    main = ref.main_nodes()
    cut_off = 0
    for i, fac in enumerate(facs):
        if tables.fac_edge[i] < 0 or ref.in_main(int(edge_id[tables.fac_edge[i]])):
            assert tables.fac2_edge[i] < 0  # in the main component: one road point
            continue
        first = ref.facilities("health")[fac["id"]]
        assert first.segment_id == int(edge_id[tables.fac_edge[i]])
        assert tables.fac2_edge[i] >= 0
        second = int(edge_id[tables.fac2_edge[i]])
        assert ref.in_main(second)
        both = ref.node_times_to([first], [(fac["lon"], fac["lat"])])
        assert main <= set(both)
        if len(ref.node_times_to([first])) > 0.1 * len(main):
            continue  # a fragment one can drive into but not out of: reachable anyway
        cut_off += 1
        # from the middle of a main-component road near the second point, k-nearest finds
        # the facility, and the route ends at its second road point
        ((lat, lon),) = query(
            hel,
            "SELECT ST_Y(ST_LineInterpolatePoint(geom, 0.5)), "
            "ST_X(ST_LineInterpolatePoint(geom, 0.5)) FROM road_segment WHERE id = %s",
            (second,),
        )
        res = routing.nearest_facilities(
            lat, lon, category="health", mode="car", k=routing.MAX_K, url=hel
        )
        (hit,) = [r for r in res["results"] if r["facility"]["id"] == fac["id"]]
        assert hit["facility_snap"]["segment_id"] == second
        place = ref.settle_tie(ref.place([(lon, lat)])[0], res["snapped"]["segment_id"], lon, lat)
        assert hit["travel_time_s"] == pytest.approx(
            ref.times_from(place, "health")[fac["id"]], abs=AGREE_S
        )
        check_route(ref, hit, res["snapped"])
    assert cut_off, "Helsinki has no health facility on a cut-off car fragment any more"


# --- a block of four roads, by hand -----------------------------------------------------------
#
#   D (0, 200) <---- seg 3, one-way C -> D, 1 km ---- C (1000, 200)
#   |                   police, 15 m south at x = 750     |
#   seg 4 (200 m)                                      seg 2 (200 m)
#   |                   health, 20 m north at x = 500     |
#   A (0, 0) ------- seg 1, two-way, 1 km, vertices every 250 m ------- B (1000, 0)
#
# Coordinates in metres east and north of (-6.2, 106.8).

LAT0, LON0 = -6.2, 106.8


def _lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    return (
        LON0 + x_m / (111_195.0 * math.cos(math.radians(LAT0))),
        LAT0 + y_m / 111_195.0,
    )


def _wkt(*xy: tuple[float, float]) -> str:
    return "LINESTRING(" + ", ".join("{:.7f} {:.7f}".format(*_lonlat(x, y)) for x, y in xy) + ")"


BLOCK_ROADS = {  # source_id: (u, v, oneway, vertices)
    "seg1": (1, 2, False, [(0, 0), (250, 0), (500, 0), (750, 0), (1000, 0)]),
    "seg2": (2, 3, False, [(1000, 0), (1000, 200)]),
    "seg3": (3, 4, True, [(1000, 200), (0, 200)]),
    "seg4": (4, 1, False, [(0, 200), (0, 0)]),
}
BLOCK_OFFICES = {"health": (500, 20), "police": (750, 185)}


@pytest.fixture(scope="module")
def block(server_url, template_db):
    """A database holding only the block above, with its network built: its URL and, per
    road, ``{id, cost per mode, length_m}`` read back from PostGIS."""
    name = f"sigap_test_route_block_{os.getpid()}"
    url = create_database(server_url, name, template=template_db)
    for sid, (u, v, oneway, xy) in BLOCK_ROADS.items():
        query(
            url,
            "INSERT INTO road_segment (source, source_id, u, v, highway, oneway, length_m, "
            "condition, geom) VALUES ('test', %s, %s, %s, 'residential', %s, 0, 'baik', "
            "ST_GeomFromText(%s, 4326))",
            (sid, u, v, oneway, _wkt(*xy)),
        )
    query(url, "UPDATE road_segment SET length_m = ST_Length(geom::geography)")
    for category, (x, y) in BLOCK_OFFICES.items():
        query(
            url,
            "INSERT INTO office (source, source_id, category, name, kind, geom) VALUES "
            "('test', %s, %s, %s, 'test', ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            (category, category, f"Kantor {category}", *_lonlat(x, y)),
        )
    build_network(url, progress=False)
    roads = {}
    for sid, rid, walk, moto, car, length in query(
        url,
        "SELECT source_id, id, cost_walk_s, cost_motorcycle_s, cost_car_s, length_m "
        "FROM road_segment",
    ):
        roads[sid] = {"id": rid, "walk": walk, "motorcycle": moto, "car": car, "len": length}
    assert all(r["car"] for r in roads.values())
    yield url, roads
    drop_routed_db(server_url, url, name)


def _nearest(url: str, x: float, y: float, category: str, mode: str, k: int = 1) -> dict:
    lon, lat = _lonlat(x, y)
    return routing.nearest_facilities(lat, lon, category=category, mode=mode, k=k, url=url)


@pytest.mark.parametrize("mode", MODES)
def test_facility_halfway_along_a_1km_segment(block, mode):
    url, roads = block
    r1, r2 = roads["seg1"], roads["seg2"]
    assert r1["len"] == pytest.approx(1000, rel=0.01)
    for k in (1, 2):
        # from the middle of seg 2, 10 m east of it: down to B, then half of seg 1 backwards
        res = _nearest(url, 1010, 100, "health", mode, k)
        assert res["snapped"]["segment_id"] == r2["id"]
        best = res["results"][0]
        snap = best["facility_snap"]
        assert snap["segment_id"] == r1["id"]
        assert snap["fraction"] == pytest.approx(0.5, abs=1e-4)
        assert snap["distance_m"] == pytest.approx(20, abs=0.2)
        assert (snap["lon"], snap["lat"]) == pytest.approx(_lonlat(500, 0), abs=1e-6)
        f2 = res["snapped"]["fraction"]
        want = f2 * r2[mode] + (1 - snap["fraction"]) * r1[mode]
        assert best["travel_time_s"] == pytest.approx(want, abs=0.01)
        # not to a junction and back: half of seg 1, not all of it or none
        assert best["distance_m"] == pytest.approx(f2 * r2["len"] + 0.5 * r1["len"], abs=0.5)
        assert best["segment_ids"] == [r2["id"], r1["id"]]
        coords = best["route"]["coordinates"]
        assert coords[-1] == pytest.approx(list(_lonlat(500, 0)), abs=1e-6)
        assert coords[-2] == pytest.approx(list(_lonlat(750, 0)), abs=1e-6)
        assert min(c[0] for c in coords) >= _lonlat(500, 0)[0] - 1e-7  # never past it


def test_facility_on_a_oneway_segment(block):
    url, roads = block
    r1, r2, r3, r4 = (roads[s] for s in ("seg1", "seg2", "seg3", "seg4"))
    for k in (1, 2):
        # 50 m south of D on seg 4; the police station is 250 m along seg 3 from C
        car = _nearest(url, -10, 150, "police", "car", k)["results"][0]
        t = car["facility_snap"]["fraction"]
        assert car["facility_snap"]["segment_id"] == r3["id"]
        assert t == pytest.approx(0.25, abs=1e-4)
        # a car may not enter seg 3 at D: round the block through A, B and C
        f4 = 0.25
        want = (1 - f4) * r4["car"] + r1["car"] + r2["car"] + t * r3["car"]
        assert car["travel_time_s"] == pytest.approx(want, abs=0.02)
        assert car["segment_ids"] == [r4["id"], r1["id"], r2["id"], r3["id"]]
        walk = _nearest(url, -10, 150, "police", "walk", k)["results"][0]
        assert walk["travel_time_s"] == pytest.approx(
            f4 * r4["walk"] + (1 - t) * r3["walk"], abs=0.02
        )
        assert walk["segment_ids"] == [r4["id"], r3["id"]]


@pytest.mark.parametrize("k", [1, 2])
def test_origin_and_facility_on_the_same_segment(block, k):
    url, roads = block
    r1, r2, r3, r4 = (roads[s] for s in ("seg1", "seg2", "seg3", "seg4"))
    for mode in MODES:
        for x, f in ((200, 0.2), (800, 0.8)):  # before and after the health centre
            res = _nearest(url, x, -10, "health", mode, k)
            best = res["results"][0]
            assert res["snapped"]["fraction"] == pytest.approx(f, abs=1e-4)
            assert best["segment_ids"] == [r1["id"]]
            assert best["travel_time_s"] == pytest.approx(0.3 * r1[mode], abs=0.01)
            assert best["distance_m"] == pytest.approx(0.3 * r1["len"], abs=0.5)
            coords = best["route"]["coordinates"]
            middle = [_lonlat(250, 0)] if x == 200 else [_lonlat(750, 0)]
            assert coords[1:-1] == [pytest.approx(list(p), abs=1e-6) for p in middle]
        # on the one-way seg 3, 100 m from C: ahead of the police station, straight there
        res = _nearest(url, 900, 210, "police", mode, k)["results"][0]
        assert res["segment_ids"] == [r3["id"]]
        assert res["travel_time_s"] == pytest.approx(0.15 * r3[mode], abs=0.01)
    # 600 m from C, past it: walking turns back; a car goes round the block
    walk = _nearest(url, 400, 210, "police", "walk", k)["results"][0]
    assert walk["segment_ids"] == [r3["id"]]
    assert walk["travel_time_s"] == pytest.approx(0.35 * r3["walk"], abs=0.01)
    car = _nearest(url, 400, 210, "police", "car", k)["results"][0]
    want = 0.4 * r3["car"] + r4["car"] + r1["car"] + r2["car"] + 0.25 * r3["car"]
    assert car["travel_time_s"] == pytest.approx(want, abs=0.02)
    assert car["segment_ids"] == [r3["id"], r4["id"], r1["id"], r2["id"], r3["id"]]


def test_block_agrees_with_the_reference(block):
    url, _ = block
    for mode in MODES:
        ref = Reference(url, mode)
        for x, y in ((1010, 100), (-10, 150), (200, -10), (800, -10), (900, 210), (400, 210)):
            lon, lat = _lonlat(x, y)
            (place,) = ref.place([(lon, lat)])
            for category in BLOCK_OFFICES:
                res = routing.nearest_facilities(lat, lon, category=category, mode=mode, url=url)
                want = min(ref.times_from(place, category).values())
                assert res["results"][0]["travel_time_s"] == pytest.approx(want, abs=AGREE_S)
                check_route(ref, res["results"][0], res["snapped"])


# --- routes that change with the roads ------------------------------------------------------


def _route_for(url: str, lat: float, lon: float, mode: str, category: str = "health") -> dict:
    routing.clear_routers()
    return routing.nearest_facilities(lat, lon, category=category, mode=mode, url=url)


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
    (place,) = new_ref.place([(lon, lat)])
    want = min(new_ref.times_from(place, "health").values())
    assert after["results"][0]["travel_time_s"] == pytest.approx(want, abs=AGREE_S)
    check_route(new_ref, after["results"][0], after["snapped"])


def test_rusak_berat_changes_the_route_only_when_the_detour_is_faster(hel_mutable):
    url = hel_mutable
    ref = Reference(url, "car")
    lat, lon, before = _long_car_route(url, ref)
    best = before["results"][0]
    ids = best["segment_ids"]
    origin = place_of(before["snapped"])
    target = best["facility"]["id"]
    outcomes = []
    # For every inner segment: the route's time with it heavily damaged, against the best
    # route networkx finds on the damaged network.
    for sid in ids[1:-1]:
        cost = ref.seg[sid][3]
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
        same_route = best["travel_time_s"] + (new_cost - cost) * ids.count(sid)
        times = damaged.times_from(origin, "health")
        after = _route_for(url, lat, lon, "car")
        r = after["results"][0]
        assert r["travel_time_s"] == pytest.approx(min(times.values()), abs=2e-3)
        if r["facility"]["id"] == target:
            assert r["travel_time_s"] <= same_route + 2e-3
            if r["travel_time_s"] < same_route - 1e-2:
                assert sid not in r["segment_ids"]  # the detour is faster: it is taken
                outcomes.append("detour")
            else:
                outcomes.append("kept")
        assert times[target] <= same_route + 2e-3
        query(url, "UPDATE road_segment SET condition = %s WHERE id = %s", (original, sid))
        if "detour" in outcomes:
            break
    assert "detour" in outcomes, outcomes
