"""Areas of a coverage analysis: Andorra's parishes add up; PostGIS agrees on the split;
hexagons where there are no admin areas."""

from __future__ import annotations

import h3
import pytest

from gis.coverage import coverage
from tests.conftest import query


def test_andorra_parishes_add_up_to_the_country(andorra):
    answer = coverage("health", "car", 10, url=andorra, gaps=False, progress=False)
    assert answer["areas_kind"] == "admin_area" and answer["admin_level"] == 7
    rows = [f["properties"] for f in answer["areas"]["features"]]
    # The extract cuts Canillo's boundary and the country's: ingest rejected them (with the
    # reason), so six of the seven parishes load, and the rest of the roads are "outside".
    rejected = query(
        andorra,
        "SELECT count(*) FROM ingest_run, jsonb_array_elements(rejects) r "
        "WHERE r->>'layer' = 'admin_area' AND r->>'reason' LIKE %s",
        ("%clipped extract%",),
    )[0][0]
    assert rejected > 0 and len(rows) == query(andorra, "SELECT count(*) FROM admin_area")[0][0]
    total, outside = answer["summary"], answer["outside"]
    assert outside["road_length_m"] > 0
    assert sum(r["road_length_m"] for r in rows) + outside["road_length_m"] == pytest.approx(
        total["road_length_m"], abs=0.1 * (len(rows) + 1)
    )
    assert sum(r["road_length_beyond_m"] for r in rows) + outside[
        "road_length_beyond_m"
    ] == pytest.approx(total["road_length_beyond_m"], abs=0.1 * (len(rows) + 1))
    for r in rows:
        assert 0 <= r["share_beyond"] <= 1
        assert r["share_beyond"] == pytest.approx(
            r["road_length_beyond_m"] / r["road_length_m"], abs=1e-5
        )


def test_split_at_boundaries_agrees_with_postgis(andorra):
    answer = coverage("health", "car", 10, url=andorra, gaps=False, progress=False)
    want = dict(
        query(
            andorra,
            "SELECT a.id, sum(ST_Length(ST_Intersection(s.geom, a.geom)::geography)) "
            "FROM admin_area a JOIN road_segment s ON ST_Intersects(s.geom, a.geom) "
            "WHERE s.cost_car_s IS NOT NULL GROUP BY a.id",
        )
    )
    for f in answer["areas"]["features"]:
        p = f["properties"]
        assert p["road_length_m"] == pytest.approx(want[p["id"]], rel=0.003)


def test_a_level_that_is_not_loaded_is_a_400(andorra):
    from gis.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as err:
        coverage("health", "car", 10, url=andorra, admin_level=4, progress=False)
    assert err.value.param == "admin_level" and "7" in err.value.message


def test_hexagons_where_there_are_no_admin_areas(hel):
    assert query(hel, "SELECT count(*) FROM admin_area")[0][0] == 0
    answer = coverage("health", "walk", 5, url=hel, gaps=False, progress=False)
    assert answer["areas_kind"] == "hex"
    res = answer["hex_resolution"]
    rows = [f["properties"] for f in answer["areas"]["features"]]
    assert 5 <= len(rows) <= 1000
    for f in answer["areas"]["features"]:
        key = f["properties"]["key"]
        assert h3.is_valid_cell(key) and h3.get_resolution(key) == res
        assert f["geometry"]["type"] == "Polygon"
    # every road is in some hexagon: nothing is outside, and the cells add up
    assert answer["outside"]["road_length_m"] == 0
    assert sum(r["road_length_m"] for r in rows) == pytest.approx(
        answer["summary"]["road_length_m"], abs=0.1 * len(rows)
    )
    coarser = coverage("health", "walk", 5, url=hel, hex_resolution=res - 1, gaps=False)
    assert 0 < len(coarser["areas"]["features"]) < len(rows)
