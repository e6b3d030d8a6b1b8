"""Layer queries behind the API, independent of Flask: items, counts, exports, tiles.

Every query reads only the public fields of a :class:`layers.registry.LayerSpec`. A bbox
filter is ``geom && envelope AND ST_Intersects(geom, envelope)``, which uses the GiST index.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import tempfile
from dataclasses import dataclass

from psycopg2 import sql

from layers.registry import LAYERS, LayerSpec

logger = logging.getLogger(__name__)

Bbox = tuple[float, float, float, float]

#: Decimal places of GeoJSON coordinates (1e-7 degrees is about 1 cm).
COORD_DECIMALS = 7


@dataclass(frozen=True)
class Page:
    """One page of a layer: ``numberMatched`` in total, ``features`` for this page."""

    number_matched: int
    number_returned: int
    features_json: str


def _where(bbox: Bbox | None, spec: LayerSpec | None = None) -> tuple[sql.Composable, list]:
    """The bbox filter. For points the index test ``&&`` is already exact."""
    if bbox is None:
        return sql.SQL("TRUE"), []
    if spec is not None and spec.geometry_type == "Point":
        return sql.SQL("geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"), list(bbox)
    clause = sql.SQL(
        "geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) "
        "AND ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))"
    )
    return clause, [*bbox, *bbox]


def count(cur, spec: LayerSpec, bbox: Bbox | None = None) -> int:
    """Number of features of ``spec`` inside ``bbox`` (all when None)."""
    where, params = _where(bbox, spec)
    query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(sql.Identifier(spec.table), where)
    cur.execute(query, params)
    return int(cur.fetchone()[0])


def layer_counts(cur) -> dict[str, int]:
    """Feature count of every registered layer."""
    return {name: count(cur, spec) for name, spec in LAYERS.items()}


def _properties(spec: LayerSpec) -> sql.Composable:
    """SQL text expression of a feature's ``properties`` object (public fields but ``id``).

    Concatenated from ``to_json`` of each value (which escapes strings and formats
    timestamps, arrays and booleans), a little faster than ``json_build_object``.
    """
    parts = []
    for i, f in enumerate(x for x in spec.fields if x.name != "id"):
        key = ("," if i else "{") + json.dumps(f.name) + ":"
        parts.append(
            sql.SQL("{} || coalesce(to_json({})::text, 'null')").format(
                sql.Literal(key), sql.Identifier(f.name)
            )
        )
    return sql.SQL("(") + sql.SQL(" || ").join(parts) + sql.SQL(" || '}')")


def items_page(cur, spec: LayerSpec, *, bbox: Bbox | None, limit: int, offset: int) -> Page:
    """One page of features as a GeoJSON ``features`` array (text), built in PostGIS.

    One query: the bbox matches are materialised once, counted (``numberMatched``) and
    paged. Each feature is concatenated as text (``ST_AsGeoJSON`` and ``json_build_object``
    do the escaping), about a third faster than ``json_agg`` over parsed JSON.
    """
    where, params = _where(bbox, spec)
    cols = sql.SQL(", ").join(sql.Identifier(f.name) for f in spec.fields)
    query = sql.SQL(
        "WITH m AS MATERIALIZED (SELECT {cols}, geom FROM {table} WHERE {where}) "
        "SELECT (SELECT count(*) FROM m), count(*), '[' || coalesce(string_agg("
        '\'{{"type":"Feature","id":\' || id || \',"geometry":\' '
        "|| ST_AsGeoJSON(geom, {decimals}) || ',\"properties\":' || {props} || '}}', ','"
        "), '') || ']' "
        "FROM (SELECT * FROM m ORDER BY id LIMIT %s OFFSET %s) AS page"
    ).format(
        cols=cols,
        decimals=sql.Literal(COORD_DECIMALS),
        props=_properties(spec),
        table=sql.Identifier(spec.table),
        where=where,
    )
    cur.execute(query, [*params, limit, offset])
    matched, returned, features = cur.fetchone()
    return Page(int(matched), int(returned), features)


def feature_collection(page: Page, links: list[dict] | None = None) -> str:
    """The GeoJSON FeatureCollection text of ``page``, with OGC API paging members."""
    head = {
        "type": "FeatureCollection",
        "numberMatched": page.number_matched,
        "numberReturned": page.number_returned,
        "links": links or [],
    }
    return json.dumps(head)[:-1] + ', "features": ' + page.features_json + "}"


def _rows(cur, spec: LayerSpec, *, bbox: Bbox | None, limit: int, offset: int, geom_sql: str):
    """Rows of the public fields plus ``geom_sql``, at most ``limit`` of them."""
    where, params = _where(bbox, spec)
    cols = sql.SQL(", ").join(sql.Identifier(f.name) for f in spec.fields)
    query = sql.SQL(
        "SELECT {cols}, {geom} FROM {table} WHERE {where} ORDER BY id LIMIT %s OFFSET %s"
    ).format(cols=cols, geom=sql.SQL(geom_sql), table=sql.Identifier(spec.table), where=where)
    cur.execute(query, [*params, limit, offset])
    return cur.fetchall()


def _flat(value):
    if isinstance(value, dict):  # an ``object`` field (``attributes``): JSON text
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


#: First characters that make a spreadsheet read a cell as a formula: OWASP's list ("CSV
#: Injection": ``= + - @``, tab, carriage return, line feed) plus the full-width forms
#: ``＝ ＋ － ＠``, which some spreadsheets normalise to the ASCII ones.
FORMULA_PREFIXES: tuple[str, ...] = (
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
    "\n",
    "\uff1d",
    "\uff0b",
    "\uff0d",
    "\uff20",
)
#: Leading characters a spreadsheet skips before it looks for a formula.
_SKIPPED_LEADERS = " \u00a0\u3000"


def is_formula(text: str) -> bool:
    """Whether a spreadsheet could run ``text`` as a formula: it starts with one of
    :data:`FORMULA_PREFIXES`, possibly after spaces (ASCII, no-break or ideographic)."""
    return text.lstrip(_SKIPPED_LEADERS).startswith(FORMULA_PREFIXES)


def csv_cell(value) -> object:
    """A value as a CSV cell: lists joined, timestamps in ISO 8601, ``None`` empty, and text
    that a spreadsheet would run as a formula (:func:`is_formula`) prefixed with a single
    quote ``'``. Numbers are left as they are."""
    if value is None:
        return ""
    value = _flat(value)
    if isinstance(value, str) and is_formula(value):
        return "'" + value
    return value


def items_csv(cur, spec: LayerSpec, *, bbox: Bbox | None, limit: int, offset: int) -> str:
    """CSV (RFC 4180, CRLF line ends) of the public fields plus a ``wkt`` geometry column
    (QGIS reads it as is).

    Text cells are made safe to open in a spreadsheet by :func:`csv_cell`. With CRLF as the
    line terminator the writer quotes every cell holding a CR or LF, so text with a stray
    line break cannot split a row.
    """
    rows = _rows(cur, spec, bbox=bbox, limit=limit, offset=offset, geom_sql="ST_AsText(geom)")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*spec.field_names, "wkt"])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


#: pandas dtype of each registry field type in a GeoPackage export (nullable where possible).
GPKG_DTYPES: dict[str, str] = {
    "integer": "Int64",
    "number": "float64",
    "boolean": "boolean",
    "string": "object",
    "array": "object",
    "object": "object",
}


def items_gpkg(cur, spec: LayerSpec, *, bbox: Bbox | None, limit: int, offset: int) -> bytes:
    """A GeoPackage (EPSG:4326) of the public fields, as bytes.

    GDAL writes the file to a temporary path, which is read back and deleted before this
    returns, whatever happens to the response afterwards (a HEAD request, a client that
    hangs up). The caller bounds ``limit``, which bounds the memory used.
    """
    import geopandas as gpd
    import pandas as pd
    import pyogrio
    import shapely

    rows = _rows(cur, spec, bbox=bbox, limit=limit, offset=offset, geom_sql="ST_AsBinary(geom)")
    names = spec.field_names
    columns = {n: [_flat(r[i]) for r in rows] for i, n in enumerate(names)}
    frame = pd.DataFrame(columns, columns=list(names))
    for f in spec.fields:
        # the registry's type, not pandas' guess: an empty export keeps integer columns
        # integer, and an integer column with NULLs does not turn into floats
        if f.type == "datetime":
            frame[f.name] = pd.to_datetime(frame[f.name], utc=True)
        elif f.type in GPKG_DTYPES:
            frame[f.name] = frame[f.name].astype(GPKG_DTYPES[f.type])
    geoms = shapely.from_wkb([bytes(r[-1]) for r in rows]) if rows else []
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"))
    with tempfile.TemporaryDirectory(prefix="sigap-gpkg-") as tmp:
        path = os.path.join(tmp, f"{spec.name}.gpkg")  # GDAL creates the file itself
        pyogrio.write_dataframe(
            gdf, path, layer=spec.name, driver="GPKG", geometry_type=spec.geometry_type
        )
        with open(path, "rb") as fh:
            return fh.read()


#: The layer served as road vector tiles (the basemap of every map page).
ROAD_LAYER = "road_segment"


def tile_fields() -> tuple[str, ...]:
    """Road attributes carried in each vector tile feature: ``id``, ``highway`` (the drawing
    weight), and the road layer's class field and popup fields from the registry."""
    spec = LAYERS[ROAD_LAYER]
    wanted = ("id", "highway", spec.class_field, *spec.popup_fields)
    scalar = {f.name for f in spec.fields if f.type != "object"}  # a tile holds no objects
    return tuple(dict.fromkeys(f for f in wanted if f and f in scalar))


def road_tile(cur, z: int, x: int, y: int) -> bytes:
    """One Mapbox vector tile (layer ``roads``) of ``road_segment`` at ``z/x/y``, with the
    attributes of :func:`tile_fields` (numbers rounded to whole units, e.g. metres).

    Every segment touching the tile is read, so callers keep ``z`` at city zooms
    (``web.params.MIN_TILE_ZOOM`` and up).
    """
    spec = LAYERS[ROAD_LAYER]
    types = {f.name: f.type for f in spec.fields}
    cols = sql.SQL(", ").join(
        # numbers in whole units: a double per feature would make the tile half again larger
        sql.SQL("round(r.{c})::bigint AS {c}").format(c=sql.Identifier(c))
        if types[c] == "number"
        else sql.SQL("r.") + sql.Identifier(c)
        for c in tile_fields()
    )
    query = sql.SQL(
        "WITH b AS (SELECT ST_TileEnvelope(%s, %s, %s) AS env) "
        "SELECT ST_AsMVT(t, 'roads', 4096, 'geom', 'id') FROM ("
        " SELECT {cols}, ST_AsMVTGeom(ST_Transform(r.geom, 3857), b.env, 4096, 64, true) AS geom"
        " FROM {table} r, b"
        " WHERE r.geom && ST_Transform(b.env, 4326)"
        ") AS t WHERE t.geom IS NOT NULL"
    ).format(cols=cols, table=sql.Identifier(spec.table))
    cur.execute(query, [z, x, y])
    return bytes(cur.fetchone()[0] or b"")


def data_bounds(cur) -> tuple[float, float, float, float] | None:
    """``(minlon, minlat, maxlon, maxlat)`` of the road network and offices, or None."""
    cur.execute(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
        " SELECT ST_Extent(geom) AS e FROM ("
        "  SELECT geom FROM road_segment UNION ALL SELECT geom FROM office"
        " ) AS g) AS x"
    )
    row = cur.fetchone()
    if row is None or row[0] is None:
        return None
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])


def point_features(cur, spec: LayerSpec) -> list[dict]:
    """Every feature of a point layer as ``{"id", "lat", "lon", <public fields>}``.

    Used to hand a map page its markers in one JSON blob.
    """
    cols = sql.SQL(", ").join(sql.Identifier(f.name) for f in spec.fields)
    query = sql.SQL("SELECT {cols}, ST_Y(geom), ST_X(geom) FROM {table} ORDER BY id").format(
        cols=cols, table=sql.Identifier(spec.table)
    )
    cur.execute(query)
    out = []
    for row in cur.fetchall():
        item = {
            f.name: v if f.type in ("array", "object") else _flat(v)
            for f, v in zip(spec.fields, row, strict=False)
        }
        item["lat"], item["lon"] = round(row[-2], COORD_DECIMALS), round(row[-1], COORD_DECIMALS)
        out.append(item)
    return out
