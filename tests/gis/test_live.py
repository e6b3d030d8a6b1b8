"""Live cost patches (gis.live) against a full rebuild with the same costs.

The patched router must answer exactly as a cache built from scratch (``build_arrays`` over the
segments and facilities read from PostGIS) with the changed costs: every nearest-facility
table, facility road point and route. The patch keeps the tables a change cannot affect; the
test makes changes that affect some and not others, so both branches are checked.
"""

from __future__ import annotations

import numpy as np
import pytest

from gis.graph import LAST_HOP, NO_HOP
from gis.live import apply_costs, live_costs, table_affected
from gis.network import MODES, build_arrays, cache_root, load_network, write_cache
from gis.network_data import read_facilities, read_segments, transaction
from gis.router import Router
from tests.gis.helpers import random_origins

CATEGORIES_CHECKED = ("health", "school", "waste_basket")


@pytest.fixture(scope="module")
def parts(hel):
    """Helsinki's segments and facilities as a build reads them."""
    with transaction(hel, repeatable=True) as cur:
        return read_segments(cur), read_facilities(cur)


def _fresh(parts, costs: dict[str, np.ndarray], path) -> Router:
    """A router over a cache built from scratch with ``costs``."""
    seg, facilities = parts
    write_cache(path, build_arrays(seg, costs, facilities, progress=False))
    return Router(load_network(path))


def _changes(router: Router, rng) -> dict[str, np.ndarray]:
    """New costs per mode: close the 4 segments most health routes run along and the segment
    of the first health facility's road point, slow down 20 random tree segments, speed up
    20 random segments."""
    costs = {}
    for mode in router.net.modes:
        g = router.mode_graph(mode)
        cost = np.array(g.cost, dtype=float)
        code = np.asarray(router.tables(mode, "health").code)
        hops = code[(code != NO_HOP) & (code != LAST_HOP)]
        used = np.where(hops >= 0, hops, ~hops)
        busiest = np.bincount(used).argsort()[::-1][:4]
        cost[busiest] = np.nan
        cost[int(router.tables(mode, "health").fac_edge[0])] = np.nan  # the facility moves
        tree = rng.choice(np.unique(used), 20, replace=False)
        cost[tree] *= 3.0
        passable = np.flatnonzero(np.isfinite(cost))
        cost[rng.choice(passable, 20, replace=False)] *= 0.5
        costs[mode] = cost
    return costs


def _same_tables(a: Router, b: Router, mode: str, category: str) -> None:
    ta, tb = a.tables(mode, category), b.tables(mode, category)
    np.testing.assert_allclose(np.asarray(ta.dist_s), np.asarray(tb.dist_s), rtol=1e-6, atol=1e-3)
    for name in ("fac_edge", "fac2_edge"):
        np.testing.assert_array_equal(np.asarray(getattr(ta, name)), np.asarray(getattr(tb, name)))
    for name in ("fac_fraction", "fac2_fraction"):
        np.testing.assert_allclose(np.asarray(getattr(ta, name)), np.asarray(getattr(tb, name)))


def _same_answers(a: Router, b: Router, mode: str, points) -> None:
    for lat, lon in points:
        for category in CATEGORIES_CHECKED:
            ra = a.rank_facilities(lat, lon, category=category, mode=mode, k=2)
            rb = b.rank_facilities(lat, lon, category=category, mode=mode, k=2)
            assert ra["unreachable"] == rb["unreachable"]
            ta = [r["travel_time_s"] for r in ra["results"]]
            tb = [r["travel_time_s"] for r in rb["results"]]
            assert ta == pytest.approx(tb, abs=2e-3)
            one_a = a.rank_facilities(lat, lon, category=category, mode=mode)["results"]
            one_b = b.rank_facilities(lat, lon, category=category, mode=mode)["results"]
            assert [r["travel_time_s"] for r in one_a] == pytest.approx(
                [r["travel_time_s"] for r in one_b], abs=2e-3
            )


def test_a_patched_router_answers_as_a_full_rebuild(hel, refs, parts, tmp_path):
    base = Router(load_network(cache_root(hel)))
    costs = _changes(base, np.random.default_rng(7))
    update = apply_costs(base, costs)
    assert set(update.changed) == set(MODES)
    categories = [c for c, f in base.net.facilities.items() if f]
    fresh = _fresh(parts, costs, tmp_path / "changed")
    for mode in MODES:
        assert (
            update.router.tables(mode, "health").fac_edge[0]
            != base.tables(mode, "health").fac_edge[0]
        )
    points = random_origins(refs(hel, "walk"), 12, 41)
    for mode in MODES:
        for category in categories:
            _same_tables(update.router, fresh, mode, category)
        _same_answers(update.router, fresh, mode, points)
    # the old router is untouched: it still answers as the original cache
    original = Router(load_network(cache_root(hel)))
    for mode in MODES:
        _same_tables(base, original, mode, "health")
    # back to the original costs (segments reopened, sped up): as the original cache
    back = apply_costs(update.router, live_costs(base.net, np.zeros(0, np.int64), {}))
    assert set(back.changed) == set(MODES)
    for mode in MODES:
        for category in categories:
            _same_tables(back.router, original, mode, category)
        _same_answers(back.router, original, mode, points[:4])


def test_a_small_change_recomputes_only_the_tables_it_affects(hel, parts, tmp_path):
    """A walking segment that health routes run along, and school routes do not, gets
    slower: the health table is recomputed, the school table kept, and both are exact."""
    base = Router(load_network(cache_root(hel)))

    def used(category: str) -> np.ndarray:
        code = np.asarray(base.tables("walk", category).code)
        hops = code[(code != NO_HOP) & (code != LAST_HOP)]
        return np.unique(np.where(hops >= 0, hops, ~hops))

    on_facility = np.concatenate(
        [np.asarray(base.tables("walk", c).fac_edge) for c in ("health", "school")]
    )
    pick = np.setdiff1d(np.setdiff1d(used("health"), used("school")), on_facility)
    assert len(pick), "no walking segment on health routes but not on school routes"
    costs = {m: np.array(base.mode_graph(m).cost, dtype=float) for m in MODES}
    costs["walk"][pick[0]] *= 3.0
    update = apply_costs(base, costs)
    assert update.changed == {"walk": 1}
    assert ("walk", "health") in update.tables and ("walk", "school") not in update.tables
    fresh = _fresh(parts, costs, tmp_path / "small")
    for category in ("health", "school"):
        _same_tables(update.router, fresh, "walk", category)


def test_unchanged_costs_give_the_same_router(hel):
    base = Router(load_network(cache_root(hel)))
    update = apply_costs(base, live_costs(base.net, np.zeros(0, np.int64), {}))
    assert update.router is base and not update.changed and not update.tables


def test_a_faster_segment_off_every_shortest_path_affects_no_table(hel):
    """Speeding up a segment by a hair where it gives no node a shorter way keeps the table;
    making it free where it does, does not."""
    base = Router(load_network(cache_root(hel)))
    g = base.mode_graph("walk")
    t = base.tables("walk", "health")
    dist = np.asarray(t.dist_s, dtype=float)
    u, v = np.asarray(g.edge_u), np.asarray(g.edge_v)
    cost = np.asarray(g.cost)
    # a segment whose ends' times differ by much less than its cost: no shortcut even if a
    # little faster
    ok = np.isfinite(dist[u]) & np.isfinite(dist[v]) & np.isfinite(cost) & (u != v)
    idx = np.flatnonzero(ok & ~np.isin(np.arange(len(cost)), t.fac_edge))
    slack = cost[idx] - np.abs(dist[u[idx]] - dist[v[idx]])
    e = int(idx[np.argmax(slack)])
    new_cost = np.array(cost)
    new_cost[e] *= 0.99
    assert not table_affected(g, g.with_costs(new_cost), t, np.array([e]))
    new_cost[e] = 0.001
    assert table_affected(g, g.with_costs(new_cost), t, np.array([e]))


def test_closed_roads_mend_the_tables_without_recomputing_them(hel, parts, tmp_path, monkeypatch):
    """Roads close (a report's usual effect): the tables are mended (only the nodes whose
    way ran along them are settled again) and equal a full rebuild's."""
    from gis import live

    mended = []
    repair = live.repair_slower

    def spy(*args, **kwargs):
        out = repair(*args, **kwargs)
        mended.append(out is not None)
        return out

    monkeypatch.setattr(live, "repair_slower", spy)
    base = Router(load_network(cache_root(hel)))
    costs = {m: np.array(base.mode_graph(m).cost, dtype=float) for m in MODES}
    for mode in MODES:
        t = base.tables(mode, "health")
        code = np.asarray(t.code)
        hops = code[(code != NO_HOP) & (code != LAST_HOP)]
        ranked = np.bincount(np.where(hops >= 0, hops, ~hops)).argsort()[::-1]
        ranked = ranked[~np.isin(ranked, np.concatenate([t.fac_edge, t.fac2_edge]))]
        costs[mode][ranked[5:11]] = np.nan
    update = apply_costs(base, costs)
    assert any(mended), "no table was mended"
    fresh = _fresh(parts, costs, tmp_path / "closed")
    for mode in MODES:
        for category, facs in base.net.facilities.items():
            if facs:
                _same_tables(update.router, fresh, mode, category)
