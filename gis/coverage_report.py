"""The JSON of planning answers: area geometry, site markers, the change of a scenario."""

from __future__ import annotations

import json

import numpy as np
import shapely

from gis.coverage_areas import Areas

#: Area outlines are simplified by this many degrees (about a metre) for the answer.
SIMPLIFY_DEG = 1e-5
#: Summary fields whose change a scenario reports.
SUMMARY_FIELDS: tuple[str, ...] = (
    "nodes_beyond",
    "nodes_unreachable",
    "share_nodes_beyond",
    "road_length_beyond_m",
    "share_length_beyond",
    "population_beyond",
)
#: Per-area fields whose change a scenario reports.
AREA_FIELDS: tuple[str, ...] = (
    "road_length_beyond_m",
    "share_beyond",
    "population_beyond",
    "accessibility",
)


def area_features(areas: Areas) -> list[dict]:
    """Give each area's outline as a GeoJSON geometry (simplified, 6 decimals).

    Parameters
    ----------
    areas : Areas
        The areas.

    Returns
    -------
    list of dict
        One GeoJSON geometry per area.
    """
    geoms = shapely.simplify(np.asarray(areas.geoms, dtype=object), SIMPLIFY_DEG)
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, 6))
    return [json.loads(shapely.to_geojson(g)) for g in geoms]


def areas_collection(rows: list[dict], geometry: list[dict]) -> dict:
    """Put the per-area rows and their outlines together as a FeatureCollection."""
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": row["key"], "geometry": geom, "properties": row}
            for row, geom in zip(rows, geometry, strict=True)
        ],
    }


def site_features(sites: list[dict]) -> dict:
    """Give suggested sites as a FeatureCollection of Points (properties: the site)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
                "properties": s,
            }
            for s in sites
        ],
    }


def _delta(new, old):
    if new is None or old is None:
        return None
    return round(float(new) - float(old), 6)


def scenario_change(baseline: dict, base_rows: list[dict], result: dict, rows: list[dict]) -> dict:
    """Give what a scenario changes: summary and per-area differences (scenario - baseline).

    Parameters
    ----------
    baseline, result : dict
        The two summaries.
    base_rows, rows : list of dict
        The two per-area tables (same areas, same order).

    Returns
    -------
    dict
        ``summary`` (field -> change) and ``areas`` (``key`` plus field -> change, only the
        areas where something changed).
    """
    summary = {f: _delta(result.get(f), baseline.get(f)) for f in SUMMARY_FIELDS}
    areas = []
    for old, new in zip(base_rows, rows, strict=True):
        change = {f: _delta(new.get(f), old.get(f)) for f in AREA_FIELDS}
        if any(v not in (None, 0.0) for v in change.values()):
            areas.append({"key": new["key"], "name": new["name"], **change})
    return {"summary": summary, "areas": areas}
