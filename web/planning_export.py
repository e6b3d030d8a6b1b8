"""The per-area table of a coverage answer as CSV or GeoPackage (Flask-free; the CLI uses it).

Columns: the area's ``key``, ``id``, ``name``, ``code``, ``admin_level``, ``road_length_m``,
``road_length_beyond_m``, ``share_beyond``, ``population``, ``population_beyond``,
``residential_road_m``, ``accessibility``, then the analysis's ``category``, ``mode`` and
``minutes``; the CSV adds the outline as ``wkt``. Text cells a spreadsheet would run as a
formula get a leading ``'`` (:func:`web.features.csv_cell`).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile

from web.features import csv_cell

#: The per-area columns, in order.
AREA_COLUMNS: tuple[str, ...] = (
    "key",
    "id",
    "name",
    "code",
    "admin_level",
    "road_length_m",
    "road_length_beyond_m",
    "share_beyond",
    "population",
    "population_beyond",
    "residential_road_m",
    "accessibility",
)
CONTEXT_COLUMNS: tuple[str, ...] = ("category", "mode", "minutes")
#: pandas dtypes of the GeoPackage columns (nullable integers stay integers).
GPKG_DTYPES: dict[str, str] = {
    "id": "Int64",
    "admin_level": "Int64",
    "population": "Int64",
    "road_length_m": "float64",
    "road_length_beyond_m": "float64",
    "share_beyond": "float64",
    "population_beyond": "float64",
    "residential_road_m": "float64",
    "accessibility": "float64",
    "minutes": "float64",
}


def _features(answer: dict) -> list[dict]:
    areas = answer["result"]["areas"] if answer.get("analysis") == "scenario" else answer["areas"]
    return areas["features"]


def file_stem(answer: dict) -> str:
    """A download's file name without extension: ``coverage-health-walk-15min``."""
    return f"{answer['analysis']}-{answer['category']}-{answer['mode']}-{answer['minutes']:g}min"


def area_table_csv(answer: dict) -> str:
    """Give the per-area table of a coverage (or scenario) answer as CSV (CRLF, RFC 4180)."""
    import shapely

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*AREA_COLUMNS, *CONTEXT_COLUMNS, "wkt"])
    for f in _features(answer):
        p = f["properties"]
        wkt = shapely.from_geojson(_geojson(f["geometry"])).wkt
        row = [p.get(c) for c in AREA_COLUMNS] + [answer[c] for c in CONTEXT_COLUMNS] + [wkt]
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


def _geojson(geom: dict) -> str:
    import json

    return json.dumps(geom)


def area_table_gpkg(answer: dict) -> bytes:
    """Give the per-area table as a GeoPackage (EPSG:4326, layer ``areas``), as bytes.

    GDAL writes to a temporary file, read back and deleted before this returns.
    """
    import geopandas as gpd
    import pandas as pd
    import pyogrio
    import shapely

    feats = _features(answer)
    cols = {c: [f["properties"].get(c) for f in feats] for c in AREA_COLUMNS}
    for c in CONTEXT_COLUMNS:
        cols[c] = [answer[c]] * len(feats)
    frame = pd.DataFrame(cols, columns=[*AREA_COLUMNS, *CONTEXT_COLUMNS])
    for c, dtype in GPKG_DTYPES.items():
        frame[c] = frame[c].astype(dtype)
    geoms = [shapely.from_geojson(_geojson(f["geometry"])) for f in feats]
    geoms = [shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g for g in geoms]
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"))
    with tempfile.TemporaryDirectory(prefix="sigap-gpkg-") as tmp:
        path = os.path.join(tmp, "areas.gpkg")
        pyogrio.write_dataframe(
            gdf, path, layer="areas", driver="GPKG", geometry_type="MultiPolygon"
        )
        with open(path, "rb") as fh:
            return fh.read()
