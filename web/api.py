"""The JSON API: layers, features (GeoJSON / CSV / GeoPackage), road tiles, routing.

Handlers parse parameters with :mod:`web.params`, query through :mod:`web.features` or
:mod:`gis.routing`, and raise :class:`gis.errors.SigapError` subclasses on bad input;
``web.errors`` turns those into JSON error bodies.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from gis.errors import InvalidInputError, NotFoundError, UnprocessableError
from gis.network import FACILITY_CATEGORIES, MODES
from gis.routing import MAX_K
from gis.routing import isochrone as route_isochrone
from gis.routing import nearest_facilities as route_nearest
from layers.registry import LAYERS, get_layer
from web import features, params
from web.db import app_database_url, cursor
from web.i18n import current_lang

logger = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api")

GEOJSON = "application/geo+json"
MVT = "application/vnd.mapbox-vector-tile"
#: Tiles change when an inspection changes a road's condition: cache them briefly.
TILE_MAX_AGE_S = 60


@bp.get("/layers")
def layers_index():
    """Every layer with its fields and feature count."""
    lang = current_lang()
    with cursor() as cur:
        counts = features.layer_counts(cur)
    out = []
    for name, spec in LAYERS.items():
        out.append(
            {
                "name": name,
                "title": spec.title(lang),
                "geometry_type": spec.geometry_type,
                "count": counts[name],
                "fields": [
                    {"name": f.name, "type": f.type, "label": f.label(lang)} for f in spec.fields
                ],
                "class_field": spec.class_field,
                "classes": {k: spec.class_label(k, lang) for k in spec.classes},
                "links": [
                    {"rel": "items", "type": GEOJSON, "href": f"/api/layers/{name}/items"},
                ],
            }
        )
    return jsonify({"layers": out})


def _links(name: str, offset: int, limit: int, matched: int) -> list[dict]:
    base = {k: v for k, v in request.args.items() if k not in ("offset",)}
    href = f"/api/layers/{name}/items?"
    links = [{"rel": "self", "type": GEOJSON, "href": href + urlencode({**base, "offset": offset})}]
    if offset + limit < matched:
        nxt = urlencode({**base, "offset": offset + limit})
        links.append({"rel": "next", "type": GEOJSON, "href": href + nxt})
    if offset > 0:
        prev = urlencode({**base, "offset": max(0, offset - limit)})
        links.append({"rel": "prev", "type": GEOJSON, "href": href + prev})
    return links


@bp.get("/layers/<name>/items")
def layer_items(name: str):
    """Features of one layer, filtered by ``bbox``, paged by ``limit``/``offset``."""
    spec = get_layer(name)
    if spec is None:
        msg = f"Unknown layer {name!r}; see /api/layers."
        raise NotFoundError(msg, code="unknown_layer", param="name")
    args = request.args
    fmt = params.parse_choice(args, "f", params.FORMATS, default="geojson")
    bbox = params.parse_bbox(args.get("bbox"))
    # GeoJSON pages default to DEFAULT_LIMIT; a CSV or GeoPackage export defaults to every
    # matching feature, up to MAX_EXPORT_FEATURES (an explicit limit has the same maximum).
    limit = params.parse_optional_int(args, "limit", minimum=1, maximum=params.MAX_LIMIT)
    offset = params.parse_int(args, "offset", default=0, minimum=0, maximum=params.MAX_OFFSET)
    with cursor() as cur:
        if fmt in ("csv", "gpkg"):
            if limit is None:
                limit = _export_limit(cur, spec, bbox, offset)
            if fmt == "csv":
                body: str | bytes = features.items_csv(
                    cur, spec, bbox=bbox, limit=limit, offset=offset
                )
                mimetype = "text/csv"
            else:
                body = features.items_gpkg(cur, spec, bbox=bbox, limit=limit, offset=offset)
                mimetype = "application/geopackage+sqlite3"
            resp = Response(body, mimetype=mimetype)
            resp.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
            return resp
        page_size = params.DEFAULT_LIMIT if limit is None else limit
        page = features.items_page(cur, spec, bbox=bbox, limit=page_size, offset=offset)
    links = _links(name, offset, page_size, page.number_matched)
    return Response(features.feature_collection(page, links), mimetype=GEOJSON)


def _export_limit(cur, spec, bbox: features.Bbox | None, offset: int) -> int:
    """The row limit of an export without ``limit``: every match, or 422 above the cap."""
    cap = params.MAX_EXPORT_FEATURES
    matched = max(0, features.count(cur, spec, bbox) - offset)
    if matched > cap:
        msg = (
            f"{matched} features match, more than the {cap} an export without 'limit' may "
            f"hold. Narrow 'bbox', or page with 'limit' (at most {params.MAX_LIMIT}) "
            "and 'offset'."
        )
        raise UnprocessableError(msg, code="export_too_large", param="limit")
    return cap  # a bound even if rows arrived since the count


@bp.get("/roads/tiles/<int:z>/<int:x>/<int:y>.pbf")
def road_tile(z: int, x: int, y: int):
    """A Mapbox vector tile of the road network, layer ``roads`` (zoom ``MIN_TILE_ZOOM`` up)."""
    if not params.MIN_TILE_ZOOM <= z <= params.MAX_TILE_ZOOM:
        msg = (
            f"'z' must be between {params.MIN_TILE_ZOOM} and {params.MAX_TILE_ZOOM}, got {z}; "
            "a lower-zoom tile would hold a whole region's roads."
        )
        raise InvalidInputError(msg, code="invalid_parameter", param="z")
    n = 1 << z
    for param, value in (("x", x), ("y", y)):
        if value >= n:
            msg = f"'{param}' must be between 0 and {n - 1} at zoom {z}."
            raise InvalidInputError(msg, code="invalid_parameter", param=param)
    with cursor() as cur:
        data = features.road_tile(cur, z, x, y)
    resp = Response(data, mimetype=MVT)
    resp.cache_control.public = True
    resp.cache_control.max_age = TILE_MAX_AGE_S
    return resp


@bp.get("/nearest")
def nearest():
    """The ``k`` nearest facilities of a category by travel time, with routes."""
    lat, lon = params.parse_lat_lon(request.args)
    category = params.parse_choice(request.args, "category", FACILITY_CATEGORIES, default=None)
    mode = params.parse_choice(request.args, "mode", MODES, default="walk")
    k = params.parse_int(request.args, "k", default=1, minimum=1, maximum=MAX_K)
    result = route_nearest(lat, lon, category=category, mode=mode, k=k, url=app_database_url())
    return jsonify(result)


@bp.get("/isochrone")
def isochrone():
    """Areas reachable from a point within each of ``minutes``, as GeoJSON."""
    lat, lon = params.parse_lat_lon(request.args)
    minutes = params.parse_minutes(request.args.get("minutes"))
    mode = params.parse_choice(request.args, "mode", MODES, default="walk")
    result = route_isochrone(lat, lon, minutes=minutes, mode=mode, url=app_database_url())
    return Response(json.dumps(result), mimetype=GEOJSON)


@bp.get("/openapi.json")
def openapi():
    """This API's OpenAPI 3 description."""
    from web.openapi import openapi_document

    return jsonify(openapi_document())
