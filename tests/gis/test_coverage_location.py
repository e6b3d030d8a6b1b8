"""Where to build: lazy greedy = plain greedy, and how far greedy is from the exact optimum."""

from __future__ import annotations

import numpy as np
import pytest

from gis.coverage import site_model, suggest
from gis.coverage_location import exact_mclp, greedy, plain_greedy
from gis.coverage_setting import load_setting

#: Small instances: (database fixture, mode, category, minutes, sites).
CASES = [("hel", "car", "health", 1.5, 3), ("andorra", "car", "health", 6.0, 3)]


@pytest.mark.parametrize(("db", "mode", "category", "minutes", "count"), CASES)
def test_greedy_against_the_exact_optimum(request, db, mode, category, minutes, count):
    url = request.getfixturevalue(db)
    setting = load_setting(url, mode=mode)
    _, model, lonlat, near, xy, _ = site_model(setting, category, mode, minutes * 60)
    assert len(model.demand.weight) > 10
    cands = np.arange(len(lonlat))
    sets = model.sets(cands)
    w = model.demand.weight
    lazy = greedy(model, count, xy, near)
    assert lazy.sites == plain_greedy(sets, w, count)
    assert lazy.evaluations < len(lonlat)  # the clusters spared most candidates
    covered = np.zeros(len(w), bool)
    for c in lazy.sites:
        covered[sets[c]] = True
    got = float(w[covered].sum())
    assert got == pytest.approx(sum(lazy.gains), rel=1e-9)
    exact = exact_mclp(sets, w, count, time_limit_s=120)
    assert exact["optimal"], exact["status"]
    assert exact["objective"] >= got - 1e-6
    assert exact["bound"] >= exact["objective"] - 1e-6
    gap = 1 - got / exact["objective"]
    print(
        f"\n{db} {mode} {category} {minutes} min, p={count}: greedy {got:.1f}, optimum "
        f"{exact['objective']:.1f}, gap {100 * gap:.2f} %"
    )
    assert gap <= 1 / np.e  # greedy's guarantee for maximum coverage


def test_promises_are_exact_and_sites_are_on_major_roads(hel):
    answer = suggest("health", "car", 1.5, 3, url=hel, progress=False)
    sites = [f["properties"] for f in answer["sites"]["features"]]
    assert len(sites) == 3
    base = answer["baseline"]["road_length_beyond_m"]
    after = answer["after"]["road_length_beyond_m"]
    assert sum(s["newly_covered_length_m"] for s in sites) == pytest.approx(base - after, abs=0.5)
    assert all(s["newly_covered_length_m"] > 0 for s in sites)
    from tests.conftest import query

    for s in sites:  # each site is the end of a road of class tertiary or higher
        (n,) = query(
            hel,
            "SELECT count(*) FROM road_segment WHERE highway ~ '^(motorway|trunk|primary|"
            "secondary|tertiary)' AND ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(%s, "
            "%s), 4326)::geography, 0.5)",
            (s["lon"], s["lat"]),
        )[0]
        assert n >= 1


def test_candidate_points_from_the_user(hel):
    from tests.conftest import query

    pts = query(
        hel,
        "SELECT ST_Y(ST_StartPoint(geom)), ST_X(ST_StartPoint(geom)) FROM road_segment "
        "WHERE cost_car_s IS NOT NULL ORDER BY id LIMIT 400",
    )
    answer = suggest("health", "car", 1.5, 2, url=hel, candidates=pts, progress=False)
    assert answer["candidates"]["source"] == "points"
    chosen = {
        (round(f["properties"]["lat"], 6), round(f["properties"]["lon"], 6))
        for f in answer["sites"]["features"]
    }
    assert chosen <= {(round(lat, 6), round(lon, 6)) for lat, lon in pts}
