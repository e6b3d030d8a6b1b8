"""The cost model: access per mode, speeds, maxspeed, condition, and the costs written back.

Expected values come from the cost model as the issue and :mod:`gis.costs`'s docstring state it
(class speeds, maxspeed, one-way, condition factors), recomputed here row by row from the
columns read back from PostGIS.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gis.costs import CONDITION_FACTORS, MODES, PROFILES, edge_costs, parse_maxspeed_kph
from tests.conftest import query


@pytest.mark.parametrize(
    ("raw", "kph"),
    [
        ("50", 50.0),
        ("30 mph", 30 * 1.609344),
        ("50;30", 30.0),
        ("80 km/h", 80.0),
        ("walk", 6.0),
        ("RU:urban", None),
        ("none", None),
        ("signals", None),
        ("0", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_maxspeed(raw, kph):
    got = parse_maxspeed_kph(raw)
    assert got == (None if kph is None else pytest.approx(kph))


def test_mode_access_and_conditions():
    highway = ["footway", "path", "steps", "motorway", "residential", "residential", "residential"]
    maxspeed = [None] * 7
    condition = ["baik"] * 5 + ["rusak_berat", "tidak_dapat_dilalui"]
    length = np.full(7, 100.0)
    walk, moto, car, truck = (edge_costs(m, highway, maxspeed, length, condition) for m in MODES)
    # footway and steps: walking only; path: walking and motorcycle (gang), not cars
    assert not math.isnan(walk[0]) and math.isnan(moto[0]) and math.isnan(car[0])
    assert not math.isnan(walk[1]) and not math.isnan(moto[1]) and math.isnan(car[1])
    assert not math.isnan(walk[2]) and math.isnan(moto[2]) and math.isnan(car[2])
    assert walk[2] > walk[0]  # steps are slower than a footway
    # motorways: cars only (motorcycles are banned from Indonesian toll roads)
    assert math.isnan(walk[3]) and math.isnan(moto[3]) and not math.isnan(car[3])
    # rusak berat is much slower; tidak dapat dilalui is gone for every mode
    assert car[5] >= 2 * car[4] and moto[5] >= 2 * moto[4] and walk[5] > walk[4]
    assert all(math.isnan(c[6]) for c in (walk, moto, car, truck))
    # trucks: no footway, path or steps; slower than a car; rusak berat slower still
    assert all(math.isnan(truck[i]) for i in range(3)) and truck[4] > car[4]
    assert truck[5] / truck[4] > car[5] / car[4]
    # walking: 100 m at the documented walking speed
    assert walk[0] == pytest.approx(100 / (PROFILES["walk"].speeds_kph["footway"] / 3.6))


def test_maxspeed_is_used_and_capped_for_vehicles_not_walking():
    highway = ["primary", "primary", "primary"]
    maxspeed = ["80", "300", None]
    length = np.full(3, 1000.0)
    cond = ["baik"] * 3
    car = edge_costs("car", highway, maxspeed, length, cond)
    assert car[0] == pytest.approx(1000 / (80 / 3.6))
    assert car[1] == pytest.approx(1000 / (PROFILES["car"].max_speed_kph / 3.6))
    assert car[2] == pytest.approx(1000 / (PROFILES["car"].speeds_kph["primary"] / 3.6))
    walk = edge_costs("walk", highway, maxspeed, length, cond)
    assert walk[0] == walk[1] == walk[2]


def _expected_cost(mode, highway, maxspeed, length_m, condition):
    """The documented cost model, restated row by row."""
    p = PROFILES[mode]
    if highway not in p.speeds_kph:
        return None
    factor = CONDITION_FACTORS[mode].get(condition, 1.0)
    if factor is None:
        return None
    speed = p.speeds_kph[highway]
    if p.use_maxspeed and parse_maxspeed_kph(maxspeed):
        speed = parse_maxspeed_kph(maxspeed)
    speed = min(speed, p.max_speed_kph)
    return max(length_m / (speed / 3.6) / factor, 0.001)


def test_costs_written_back_follow_the_model(hel):
    rows = query(
        hel,
        "SELECT highway, maxspeed, length_m, condition, oneway, cost_walk_s, cost_motorcycle_s, "
        "cost_car_s, cost_truck_s FROM road_segment",
    )
    assert len(rows) == 4671
    for highway, maxspeed, length, condition, _, *costs in rows:
        for mode, got in zip(MODES, costs, strict=True):
            want = _expected_cost(mode, highway, maxspeed, length, condition)
            if want is None:
                assert got is None, (mode, highway, condition)
            else:
                assert got == pytest.approx(want, rel=1e-9), (mode, highway, maxspeed)
    counts = query(
        hel,
        "SELECT count(cost_walk_s), count(cost_motorcycle_s), count(cost_car_s), "
        "count(*) FILTER (WHERE highway = 'footway' AND cost_car_s IS NOT NULL) "
        "FROM road_segment",
    )[0]
    assert counts[0] > counts[1] > counts[2] > 0 and counts[3] == 0
