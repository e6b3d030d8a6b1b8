"""The JSON API: layers, features (GeoJSON / CSV / GeoPackage), road tiles, routing.

Handlers parse parameters with :mod:`web.params`, query through :mod:`web.features` or
:mod:`gis.routing`, and raise :class:`gis.errors.SigapError` subclasses on bad input;
``web.errors`` turns those into JSON error bodies.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import psycopg2.errors
from flask import Blueprint, Response, jsonify, request

from gis.errors import NotFoundError, UnprocessableError
from gis.routing import MAX_K, MODES, nearest_facilities
from gis.routing import isochrone as route_isochrone
from layers.registry import LAYERS, get_layer
from web import errors, features, params
from web.db import DatabaseUnavailable, app_database_url, cursor
from web.i18n import current_lang

logger = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api")
errors.register_format(bp, errors.json_error)

GEOJSON = "application/geo+json"
MVT = "application/vnd.mapbox-vector-tile"
#: Tiles change when an inspection changes a road's condition: cache them briefly.
TILE_MAX_AGE_S = 60
#: The OpenAPI description changes only with a new release.
OPENAPI_MAX_AGE_S = 3600


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


@bp.get("/roads/tiles/<z>/<x>/<y>.pbf")
def road_tile(z: str, x: str, y: str):
    """A Mapbox vector tile of the road network, layer ``roads`` (zoom ``MIN_TILE_ZOOM`` up)."""
    zoom, col, row = params.parse_tile(z, x, y)
    with cursor() as cur:
        data = features.road_tile(cur, zoom, col, row)
    resp = Response(data, mimetype=MVT)
    resp.cache_control.public = True
    resp.cache_control.max_age = TILE_MAX_AGE_S
    return resp


#: ``Retry-After`` of a 503 while the routing network waits for the owner's rebuild.
ROUTING_RETRY_AFTER_S = 30


@contextmanager
def _routing(url: str) -> Iterator[None]:
    """Routing runs on the owner's cache; the web role may read but not build it. A build
    attempted here (a cache missing or stale, e.g. after ``sigap network build --mode walk``
    dropped other modes) fails on privileges: answer 503 and say in the log what to run."""
    try:
        yield
    except psycopg2.errors.InsufficientPrivilege as exc:
        logger.error(
            "the routing network is missing or out of date and the web role may not build it;"
            " run 'sigap network build' (as the database owner): %s",
            str(exc).strip().splitlines()[0],
        )
        raise DatabaseUnavailable(ROUTING_RETRY_AFTER_S) from exc


@bp.get("/nearest")
def nearest():
    """The ``k`` nearest facilities of a category by travel time, with routes."""
    lat, lon = params.parse_lat_lon(request.args)
    category = params.parse_choice(
        request.args, "category", params.facility_categories(), default=None
    )
    mode = params.parse_choice(request.args, "mode", MODES, default="walk")
    k = params.parse_int(request.args, "k", default=1, minimum=1, maximum=MAX_K)
    url = app_database_url()
    with _routing(url):
        result = nearest_facilities(lat, lon, category=category, mode=mode, k=k, url=url)
    return jsonify(result)


@bp.get("/isochrone")
def isochrone():
    """Areas reachable from a point within each of ``minutes``, as GeoJSON."""
    lat, lon = params.parse_lat_lon(request.args)
    minutes = params.parse_minutes(request.args.get("minutes"))
    mode = params.parse_choice(request.args, "mode", MODES, default="walk")
    url = app_database_url()
    with _routing(url):
        result = route_isochrone(lat, lon, minutes=minutes, mode=mode, url=url)
    return Response(json.dumps(result), mimetype=GEOJSON)


@bp.get("/openapi.json")
def openapi():
    """This API's OpenAPI 3 description."""
    from web.openapi import openapi_document

    resp = jsonify(openapi_document())
    resp.cache_control.public = True
    resp.cache_control.max_age = OPENAPI_MAX_AGE_S
    return resp
