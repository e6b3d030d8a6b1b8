"""The OpenAPI 3 description of SIGAP's JSON API (``/api/openapi.json``).

Limits come from the modules that enforce them (:mod:`web.params`, :mod:`gis.routing`,
:mod:`layers.registry`), so the description and the behaviour cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from gis.routing import MAX_ISOCHRONES, MAX_K, MAX_MINUTES, MODES, SNAP_LIMIT_M
from layers.registry import LAYERS, facility_layers
from web import params
from web.collection_openapi import collection_paths
from web.planning_openapi import planning_paths

_ERROR = {"$ref": "#/components/responses/Error"}
_UNAVAILABLE = {"$ref": "#/components/responses/Unavailable"}
#: The bbox format, stated once for the parameter and the description.
BBOX_FORMAT = (
    "`minlon,minlat,maxlon,maxlat`: four plain decimal numbers in WGS84 degrees "
    "(EPSG:4326), comma-separated without spaces, longitudes -180 to 180, latitudes -90 to "
    "90, each minimum at most its maximum; e.g. `24.93,60.16,24.95,60.17`."
)


def _off_network(what: str) -> dict:
    return {
        "description": f"The point is more than {SNAP_LIMIT_M:g} m from any road the mode may "
        f"use (code `off_network`, param `lat`): no {what} can be computed. Choose a point "
        "nearer a road.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _q(name: str, schema: dict, description: str, *, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def _p(name: str, schema: dict, description: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


LAT = _q(
    "lat",
    {"type": "number", "minimum": -90, "maximum": 90},
    "Latitude, WGS84 degrees.",
    required=True,
)
LON = _q(
    "lon",
    {"type": "number", "minimum": -180, "maximum": 180},
    "Longitude, WGS84 degrees.",
    required=True,
)


def openapi_document() -> dict:
    """The OpenAPI 3.0 document."""
    mode = _q("mode", {"type": "string", "enum": list(MODES), "default": "walk"}, "Travel mode.")
    errors = {"400": _ERROR, "404": _ERROR, "422": _ERROR, "503": _UNAVAILABLE}
    mins = ", ".join(f"{m:g}" for m in params.DEFAULT_MINUTES)
    max_index = (1 << params.MAX_TILE_ZOOM) - 1
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "SIGAP API",
            "version": "1.0",
            "description": (
                "Public-service GIS: layers of offices, waste bins, roads and administrative "
                "areas; nearest office and reachable areas by travel time. Errors are JSON "
                '`{"error": {"code", "message", "param"}}` with HTTP 400, 404 or 422. '
                "Numbers are parsed strictly (`k=1_0`, ` 5` or an empty value are refused "
                "with 400, `code` `invalid_parameter`, `param` naming the parameter). HTTP "
                "503 (`code` `unavailable`, with a `Retry-After` header) means the service "
                "is briefly unavailable: retry after that many seconds. Other server errors "
                "(500) carry only an `error_id` to quote when reporting them. "
                "CSV exports guard against spreadsheet formula injection (OWASP): a text cell "
                "that starts with `=`, `+`, `-`, `@`, a tab, a carriage return or a line feed, "
                "or their full-width forms `＝ ＋ － ＠`, also after leading spaces, is prefixed "
                "with a single quote `'`, so a phone number `+62 31 ...` reads `'+62 31 ...` "
                "(strip a leading `'` when you need the raw value)."
            ),
        },
        "paths": {
            "/api/layers": {
                "get": {
                    "summary": "List the layers with their public fields and feature counts.",
                    "operationId": "listLayers",
                    "responses": {
                        "200": {
                            "description": "Layers.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/api/layers/{name}/items": {
                "get": {
                    "summary": "Features of a layer (OGC API Features style paging).",
                    "operationId": "layerItems",
                    "parameters": [
                        _p("name", {"type": "string", "enum": list(LAYERS)}, "Layer name."),
                        _q(
                            "bbox",
                            {
                                "type": "string",
                                "pattern": r"^[^,\s]+,[^,\s]+,[^,\s]+,[^,\s]+$",
                                "example": "24.93,60.16,24.95,60.17",
                            },
                            f"Only features intersecting this box: {BBOX_FORMAT}",
                        ),
                        _q(
                            "limit",
                            {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": params.MAX_LIMIT,
                            },
                            f"Features per page, at most {params.MAX_LIMIT}. "
                            f"Default {params.DEFAULT_LIMIT} for GeoJSON. CSV and GeoPackage "
                            "exports default to every matching feature (after `offset`), up to "
                            f"{params.MAX_EXPORT_FEATURES}; a larger export without `limit` is "
                            "refused with HTTP 422 (code `export_too_large`): narrow `bbox` or "
                            "page with `limit` and `offset`.",
                        ),
                        _q(
                            "offset",
                            {
                                "type": "integer",
                                "minimum": 0,
                                "maximum": params.MAX_OFFSET,
                                "default": 0,
                            },
                            "Features to skip.",
                        ),
                        _q(
                            "f",
                            {"type": "string", "enum": list(params.FORMATS), "default": "geojson"},
                            "Output format: GeoJSON, CSV (with a WKT column; text cells a "
                            "spreadsheet would run as a formula are prefixed with `'`, see "
                            "above) or GeoPackage. An empty `f=` is refused.",
                        ),
                    ],
                    "responses": {
                        "200": {
                            "description": "A FeatureCollection with numberMatched and "
                            "numberReturned, a CSV file or a GeoPackage file.",
                            "content": {
                                "application/geo+json": {
                                    "schema": {"$ref": "#/components/schemas/FeatureCollection"}
                                },
                                "text/csv": {"schema": {"type": "string"}},
                                "application/geopackage+sqlite3": {
                                    "schema": {"type": "string", "format": "binary"}
                                },
                            },
                        },
                        **errors,
                    },
                }
            },
            "/api/roads/tiles/{z}/{x}/{y}.pbf": {
                "get": {
                    "summary": "A Mapbox vector tile of the roads (layer `roads`), with "
                    "each segment's condition class.",
                    "description": f"Served for zoom {params.MIN_TILE_ZOOM} to "
                    f"{params.MAX_TILE_ZOOM}; a lower zoom is refused with HTTP 400 "
                    "(`param` `z`), since one such tile would hold a whole region's roads. "
                    "`x` and `y` are the XYZ (Google/OSM) tile column and row, each from 0 "
                    "to 2^z - 1 (e.g. 0 to 4095 at zoom 12); outside that is HTTP 400.",
                    "operationId": "roadTile",
                    "parameters": [
                        _p(
                            "z",
                            {
                                "type": "integer",
                                "minimum": params.MIN_TILE_ZOOM,
                                "maximum": params.MAX_TILE_ZOOM,
                            },
                            f"Zoom, {params.MIN_TILE_ZOOM} to {params.MAX_TILE_ZOOM}.",
                        ),
                        _p(
                            "x",
                            {"type": "integer", "minimum": 0, "maximum": max_index},
                            "Tile column, 0 to 2^z - 1.",
                        ),
                        _p(
                            "y",
                            {"type": "integer", "minimum": 0, "maximum": max_index},
                            "Tile row from the north, 0 to 2^z - 1.",
                        ),
                    ],
                    "responses": {
                        "200": {
                            "description": "The tile.",
                            "content": {
                                "application/vnd.mapbox-vector-tile": {
                                    "schema": {"type": "string", "format": "binary"}
                                }
                            },
                        },
                        **errors,
                    },
                }
            },
            "/api/nearest": {
                "get": {
                    "summary": "Nearest offices of a category by travel time, with routes.",
                    "operationId": "nearest",
                    "parameters": [
                        LAT,
                        LON,
                        _q(
                            "category",
                            {"type": "string", "enum": list(params.facility_categories())},
                            "Facility category: a class of a facility layer "
                            f"({', '.join(s.name for s in facility_layers())}).",
                            required=True,
                        ),
                        mode,
                        _q(
                            "k",
                            {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_K,
                                "default": 1,
                            },
                            "How many offices.",
                        ),
                    ],
                    "responses": {
                        "200": {
                            "description": "Origin, snapped point and ranked results "
                            "(travel_time_s, distance_m, route as a GeoJSON LineString); "
                            "the same JSON as `sigap route nearest`.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **errors,
                        "422": _off_network("route"),
                    },
                }
            },
            "/api/isochrone": {
                "get": {
                    "summary": "Areas reachable from a point within the given minutes.",
                    "operationId": "isochrone",
                    "parameters": [
                        LAT,
                        LON,
                        _q(
                            "minutes",
                            {"type": "string", "example": "5,10,15"},
                            f"Comma-separated limits, each above 0 and at most "
                            f"{MAX_MINUTES:g}; at most {MAX_ISOCHRONES} values. "
                            f"Default {mins}.",
                        ),
                        mode,
                    ],
                    "responses": {
                        "200": {
                            "description": "One Feature per minutes value.",
                            "content": {
                                "application/geo+json": {
                                    "schema": {"$ref": "#/components/schemas/FeatureCollection"}
                                }
                            },
                        },
                        **errors,
                        "422": _off_network("reachable area"),
                    },
                }
            },
            **planning_paths(),
            **collection_paths(),
            "/api/openapi.json": {
                "get": {
                    "summary": "This document.",
                    "operationId": "openapi",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3 document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "FeatureCollection": {
                    "type": "object",
                    "required": ["type", "features"],
                    "properties": {
                        "type": {"type": "string", "enum": ["FeatureCollection"]},
                        "numberMatched": {"type": "integer"},
                        "numberReturned": {"type": "integer"},
                        "links": {"type": "array", "items": {"type": "object"}},
                        "features": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "param": {"type": "string"},
                                "error_id": {"type": "string"},
                            },
                        }
                    },
                },
            },
            "responses": {
                "Error": {
                    "description": "Bad input (400), not found (404) or unprocessable (422).",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "Unavailable": {
                    "description": "The database is briefly unreachable (code `unavailable`); "
                    "retry after the seconds in `Retry-After`.",
                    "headers": {
                        "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}
                    },
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        },
    }
    from web.complaints_api import openapi_paths  # the complaint routes describe themselves

    doc["paths"].update(openapi_paths())
    return doc
