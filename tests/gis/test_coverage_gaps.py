"""Coverage gaps against an independent computation: networkx over the ``cost_*`` columns.

The reference reads only PostGIS: segments and their costs as the build wrote them, the
facilities placed on their nearest usable segment by PostGIS (``ST_LineLocatePoint``), node
times by networkx's multi-source Dijkstra from those virtual nodes. The share of road beyond
T then follows the documented rule for partial segments (``gis.coverage_gaps``), restated
here on the reference's numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gis import coverage_cache
from gis.coverage import coverage
from gis.network import cache_root, load_network
from gis.tables import FacilityTables
from tests.gis.reference import ONEWAY_MODES, Reference


def covered_fraction(
    t_u: float, t_v: float, cost: float, bound: bool, facs: list[float], limit: float
) -> float:
    """Measure of the points of a segment within ``limit`` of a facility (the rule)."""
    spans = [(1 - (limit - t_v) / cost, 2.0)]
    if not bound:
        spans.append((-1.0, (limit - t_u) / cost))
    r = limit / cost
    for p in facs:
        spans.append((p - r, p) if bound else (p - r, p + r))
    spans = sorted((max(0.0, a), min(1.0, b)) for a, b in spans if b > a)
    total, end = 0.0, 0.0
    for a, b in spans:
        a = max(a, end)
        if b > a:
            total += b - a
            end = b
    return min(total, 1.0)


def reference_coverage(ref: Reference, category: str, limit_s: float, net) -> dict:
    """Nodes and road length beyond T from the reference alone."""
    g_edge = np.asarray(net.arrays["edge_id"])
    t = FacilityTables.from_arrays(net.arrays, f"{ref.mode}.{category}")
    facs = net.facilities[category]
    # settle PostGIS/ours ties of equally near segments (as the routing tests do)
    ours = {int(f["id"]): int(g_edge[e]) for f, e in zip(facs, t.fac_edge, strict=True) if e >= 0}
    # a facility on a cut-off fragment also joins the main component (its second road point)
    ours2 = {int(f["id"]): int(g_edge[e]) for f, e in zip(facs, t.fac2_edge, strict=True) if e >= 0}
    ref.align_facilities(category, ours, ours2)
    placed = [p for ps in ref.facility_places(category).values() for p in ps]
    times = ref.node_times_to(placed)
    on_seg: dict[int, list[float]] = {}
    for p in placed:
        on_seg.setdefault(p.segment_id, []).append(p.fraction)
    total = beyond = 0.0
    nodes: set = set()
    for sid, (u, v, oneway, cost, length) in ref.seg.items():
        if cost is None:
            continue
        nodes.update((u, v))
        total += length
        bound = ref.mode in ONEWAY_MODES and bool(oneway)
        tu, tv = times.get(u, math.inf), times.get(v, math.inf)
        beyond += length * (1 - covered_fraction(tu, tv, cost, bound, on_seg.get(sid, []), limit_s))
    node_t = np.array([times.get(n, math.inf) for n in nodes])
    return {
        "road_length_m": total,
        "road_length_beyond_m": beyond,
        "nodes": len(nodes),
        "beyond_sure": int((node_t > limit_s + 0.01).sum()),
        "beyond_maybe": int((node_t > limit_s - 0.01).sum()),
        "unreachable": int(np.isinf(node_t).sum()),
    }


CASES = [
    ("hel", "walk", "health", 5.0),
    ("hel", "car", "health", 2.0),
    ("hel", "motorcycle", "post", 3.0),
    ("andorra", "car", "health", 10.0),
    ("andorra", "walk", "police", 30.0),
]


@pytest.mark.parametrize(("db", "mode", "category", "minutes"), CASES)
def test_share_beyond_equals_networkx(request, refs, db, mode, category, minutes):
    url = request.getfixturevalue(db)
    net = load_network(cache_root(url), writable_weights=False)
    got = coverage(category, mode, minutes, url=url, gaps=False, progress=False)["summary"]
    want = reference_coverage(refs(url, mode), category, minutes * 60, net)
    assert got["road_length_m"] == pytest.approx(want["road_length_m"], abs=1.0)
    assert 0 < got["share_length_beyond"] < 1
    # PostGIS places a facility in UTM, SIGAP in its local projection: fractions differ by
    # ~1e-5, times by ~0.02 s, the length beyond by ~0.06 m per segment near T
    tol_m = 2.0 + 3e-5 * want["road_length_m"]
    assert got["road_length_beyond_m"] == pytest.approx(want["road_length_beyond_m"], abs=tol_m)
    assert got["share_length_beyond"] == pytest.approx(
        want["road_length_beyond_m"] / want["road_length_m"], abs=3e-5
    )
    assert got["nodes"] == want["nodes"]
    assert want["beyond_sure"] <= got["nodes_beyond"] <= want["beyond_maybe"]
    assert got["nodes_unreachable"] == want["unreachable"]


def test_gap_layer_adds_up_and_lies_on_its_segments(hel):
    answer = coverage("health", "walk", 4, url=hel, progress=False)
    feats = answer["gaps"]["features"]
    assert feats
    total = sum(f["properties"]["length_m"] for f in feats)
    assert total == pytest.approx(answer["summary"]["road_length_beyond_m"], abs=0.05 * len(feats))
    from tests.conftest import query

    # each piece lies on its segment, from its fraction to its fraction (PostGIS's check)
    for f in feats[:: max(1, len(feats) // 40)]:
        p = f["properties"]
        assert p["excess_s"] is None or p["excess_s"] > -1e-6
        ((dist_m, length_m),) = query(
            hel,
            "SELECT ST_Distance(ST_GeomFromGeoJSON(%s)::geography, geom::geography), "
            "ST_Length(ST_LineSubstring(geom, %s, %s)::geography) FROM road_segment WHERE id = %s",
            (
                __import__("json").dumps(f["geometry"]),
                p["from_fraction"],
                p["to_fraction"],
                p["segment_id"],
            ),
        )
        assert dist_m < 0.5
        assert p["length_m"] == pytest.approx(length_m, rel=0.02, abs=0.5)


def test_a_category_without_facilities_is_everything_uncovered(hel):
    from gis.routing import FACILITY_CATEGORIES

    net = load_network(cache_root(hel), writable_weights=False)
    empty = [c for c in FACILITY_CATEGORIES if not net.facilities.get(c)]
    assert empty, "Helsinki should lack some category"
    answer = coverage(empty[0], "car", 15, url=hel, gaps=False, progress=False)
    assert answer["facilities"]["count"] == 0
    s = answer["summary"]
    assert s["share_length_beyond"] == 1.0 and s["nodes_beyond"] == s["nodes"]
    assert all(f["properties"]["share_beyond"] in (1.0, None) for f in answer["areas"]["features"])


def test_same_inputs_same_answer_from_the_cache_or_not(hel):
    first = coverage("health", "car", 7, url=hel, progress=False)
    coverage_cache.clear_memory()
    for path in coverage_cache.cache_dir(hel).glob("*.json"):
        path.unlink()
    again = coverage("health", "car", 7, url=hel, progress=False)
    assert again == first
    assert coverage_cache.get(hel, first["key"]) == first  # and it is on disk now
