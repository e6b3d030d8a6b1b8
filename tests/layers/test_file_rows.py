"""``layers.file_rows``: fields derived for rows read from a file, checked against the OSM rules."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from layers.file_rows import complaint_fields, line_lengths_m, node_ids, public_id, road_fields
from layers.vocab import SMOOTHNESS_CONDITION, SURFACE_CONDITION, road_condition


def test_road_condition_columns_match_the_osm_rule():
    smooth = [None, "bad", "impassable", "nonsense", *SMOOTHNESS_CONDITION][:8]
    surface = [None, "asphalt", "mud", "nonsense", *SURFACE_CONDITION][:8]
    pairs = list(itertools.product(smooth, surface))
    frame = pd.DataFrame(
        {
            "smoothness": [a for a, _ in pairs],
            "surface": [b for _, b in pairs],
            "geom": [shapely.LineString([(0, 0), (0.001, 0)])] * len(pairs),
        }
    )
    road_fields(frame)
    assert frame["condition"].tolist() == [road_condition(a, b) for a, b in pairs]
    assert frame["oneway"].tolist() == [False] * len(pairs)


def test_lengths_agree_with_the_ellipsoid_within_half_a_percent():
    lines = np.array(
        [
            shapely.LineString([(107.60, -6.90), (107.61, -6.90), (107.61, -6.95)]),
            shapely.LineString([(112.73, -7.25), (112.74, -7.26)]),
        ]
    )
    geod = Geod(ellps="WGS84")
    for got, line in zip(line_lengths_m(lines), lines, strict=True):
        assert got == pytest.approx(geod.geometry_length(line), rel=0.005)


def test_node_ids_join_equal_points_and_never_collide_with_osm_ids():
    x = np.array([107.6, 107.6, 107.6000001, -179.9, 179.9])
    y = np.array([-6.9, -6.9, -6.9, 89.0, -89.0])
    ids = node_ids(x, y)
    assert ids[0] == ids[1] and len(set(ids.tolist())) == 4 and (ids < 0).all()


def test_complaint_defaults_and_a_stable_public_id():
    frame = pd.DataFrame(
        {"source": ["nyc", "nyc"], "source_id": ["1", "2"], "status": [None, "closed"]}
    )
    complaint_fields(frame)
    assert frame["public_id"].tolist() == [public_id("nyc", "1"), public_id("nyc", "2")]
    assert public_id("nyc", "1") != public_id("boston", "1")
    assert frame["status"].tolist() == ["open", "closed"]
    assert set(frame["channel"]) == {"api"} and frame["requested_at"].notna().all()
