"""Snapping: the grid search is exact, distances and positions agree with PostGIS."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gis.errors import UnprocessableError
from gis.graph import ModeGraph
from gis.network import cache_root, load_network
from gis.snapping import SNAP_LIMIT_M, LocalProjection, SnapGrid, haversine_m, projected_geometry
from tests.conftest import query
from tests.gis.helpers import check_snap, random_origins


def _brute_force(xy: np.ndarray, piece: np.ndarray, x: float, y: float, skip=None):
    """Distance to every piece, the slow and obvious way."""
    best = (math.inf, -1)
    for g in piece.tolist():
        if skip is not None and skip[g]:
            continue
        (x0, y0), (x1, y1) = xy[g], xy[g + 1]
        dx, dy = x1 - x0, y1 - y0
        len2 = dx * dx + dy * dy
        s = 0.0 if len2 == 0 else min(1.0, max(0.0, ((x - x0) * dx + (y - y0) * dy) / len2))
        d = math.hypot(x0 + s * dx - x, y0 + s * dy - y)
        if d < best[0]:
            best = (d, g)
    return best


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_snap_grid_is_exact(seed):
    rng = np.random.default_rng(seed)
    # clustered pieces of very different lengths, as on a real network
    n = 600
    start = np.concatenate([rng.normal(0, 300, (n // 2, 2)), rng.uniform(-3000, 3000, (n // 2, 2))])
    end = start + rng.normal(0, 1, (n, 2)) * rng.choice([5, 50, 800], (n, 1))
    xy = np.empty((2 * n, 2))
    xy[0::2], xy[1::2] = start, end
    piece = np.arange(0, 2 * n, 2)
    grid = SnapGrid(xy, piece)
    skip = np.zeros(2 * n, bool)
    skip[rng.choice(piece, 50, replace=False)] = True
    for x, y in rng.uniform(-4000, 4000, (300, 2)):
        for mask in (None, skip):
            want_d, _ = _brute_force(xy, piece, x, y, mask)
            got = grid.nearest_piece(x, y, 1500.0, mask)
            if want_d > 1500.0:
                assert got is None
                continue
            assert got is not None
            d, g, s, px, py = got
            assert d == pytest.approx(want_d, abs=1e-9)
            assert mask is None or not mask[g]
            assert math.hypot(px - x, py - y) == pytest.approx(d, abs=1e-9)
            (x0, y0), (x1, y1) = xy[g], xy[g + 1]
            assert (px, py) == pytest.approx((x0 + s * (x1 - x0), y0 + s * (y1 - y0)))


def test_projection_and_distances():
    proj = LocalProjection(-6.2, 106.8)
    lonlat = np.array([[106.8, -6.2], [106.81, -6.19], [106.75, -6.3]])
    x, y = proj.forward(lonlat[:, 0], lonlat[:, 1])
    lon, lat = proj.inverse(x, y)
    assert np.allclose(np.column_stack([lon, lat]), lonlat)
    assert np.allclose(proj.forward_xy(lonlat), np.column_stack([x, y]))
    # within a city the projected distance is the great-circle one, to a small fraction
    plane = math.hypot(x[1] - x[0], y[1] - y[0])
    sphere = haversine_m(106.8, -6.2, 106.81, -6.19)
    assert plane == pytest.approx(sphere, rel=1e-3)
    assert haversine_m(*lonlat[0], *lonlat[1]) == pytest.approx(sphere)  # numpy scalars too
    xy, cum = projected_geometry(proj, lonlat, np.array([0, 2, 3]))
    assert cum.tolist() == pytest.approx([0.0, plane, 0.0])


def test_haversine_agrees_with_postgis(hel):
    pairs = [(24.93, 60.16, 24.95, 60.175), (24.94, 60.17, 24.9401, 60.1701)]
    for lon1, lat1, lon2, lat2 in pairs:
        ((d,),) = query(
            hel,
            "SELECT ST_Distance(ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, "
            "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, false)",
            (lon1, lat1, lon2, lat2),
        )
        assert haversine_m(lon1, lat1, lon2, lat2) == pytest.approx(d, rel=1e-6)


@pytest.mark.parametrize("mode", ["walk", "car"])
def test_snap_agrees_with_postgis(andorra, refs, mode):
    ref = refs(andorra, mode)
    g = ModeGraph.from_network(load_network(cache_root(andorra), writable_weights=False), mode)
    for lat, lon in random_origins(ref, 12, 5, max_m=400):
        snap = g.snap(lat, lon)
        snapped = {
            "lat": snap.lat,
            "lon": snap.lon,
            "distance_m": snap.distance_m,
            "segment_id": int(g.edge_id[snap.edge]),
            "fraction": snap.fraction,
        }
        check_snap(ref, lat, lon, snapped)
    # beyond the limit: refused, or None from locate()
    ((lat, lon),) = query(
        andorra,
        "SELECT ST_YMax(ST_Extent(geom)) + 0.05, ST_XMin(ST_Extent(geom)) FROM road_segment",
    )
    assert g.locate(lat, lon) is None
    with pytest.raises(UnprocessableError) as info:
        g.snap(lat, lon)
    assert info.value.code == "off_network" and f"{SNAP_LIMIT_M:g} m" in info.value.message
