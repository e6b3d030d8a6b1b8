"""The planning API's part of the OpenAPI description (merged by :mod:`web.openapi`).

Limits and choices come from the modules that enforce them (:mod:`gis.coverage`,
:mod:`gis.coverage_scenario`, :mod:`web.planning_api`).
"""

from __future__ import annotations

from gis.coverage import AREA_KINDS, MAX_CANDIDATE_POINTS, MAX_COUNT, MAX_MINUTES
from gis.coverage_areas import HEX_RESOLUTIONS
from gis.coverage_scenario import MAX_ADDED, MAX_ITEMS
from gis.routing import MODES
from web import params
from web.planning_api import DEFAULT_MINUTES, FORMATS

_ERROR = {"$ref": "#/components/responses/Error"}
_UNAVAILABLE = {"$ref": "#/components/responses/Unavailable"}
_ERRORS = {"400": _ERROR, "404": _ERROR, "503": _UNAVAILABLE}


def _q(name: str, schema: dict, description: str, *, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def _common() -> list[dict]:
    return [
        _q(
            "category",
            {"type": "string", "enum": list(params.facility_categories())},
            "Facility category. One without any facility is a valid answer: everything is "
            "beyond T.",
            required=True,
        ),
        _q("mode", {"type": "string", "enum": list(MODES), "default": "walk"}, "Travel mode."),
        _q(
            "minutes",
            {
                "type": "number",
                "exclusiveMinimum": True,
                "minimum": 0,
                "maximum": MAX_MINUTES,
                "default": DEFAULT_MINUTES,
            },
            f"T: the travel time limit in minutes, above 0 and at most {MAX_MINUTES:g}.",
        ),
        _q(
            "by",
            {"type": "string", "enum": list(AREA_KINDS)},
            "Areas: `admin_area` (default when any are loaded) or `hex`, an H3 hexagon grid "
            "(the default without admin areas, and the fallback).",
        ),
        _q(
            "admin_level",
            {"type": "integer", "minimum": 1, "maximum": 20},
            "Level of admin areas (default: the most detailed loaded); 400 if none has it.",
        ),
        _q(
            "hex_resolution",
            {"type": "integer", "minimum": HEX_RESOLUTIONS[0], "maximum": HEX_RESOLUTIONS[-1]},
            "H3 resolution of the grid (default: picked from the network's extent).",
        ),
    ]


_FORMAT = _q(
    "f",
    {"type": "string", "enum": list(FORMATS), "default": "json"},
    "`json`, or the per-area table as `csv` (with a `wkt` outline; formula-like text cells "
    "prefixed with `'`) or `gpkg` (a GeoPackage, layer `areas`).",
)
_GAPS = _q(
    "gaps",
    {"type": "boolean", "default": True},
    "Include the gap layer (`true`/`false`, or `1`/`0`).",
)
_CACHE = {
    "X-Sigap-Cache": {
        "schema": {"type": "string", "enum": ["hit", "miss"]},
        "description": "Whether the answer came from the result cache (keyed by the inputs "
        "and the network's and areas' fingerprints).",
    }
}
_TABLES = {
    "text/csv": {"schema": {"type": "string"}},
    "application/geopackage+sqlite3": {"schema": {"type": "string", "format": "binary"}},
}

COVERAGE_DOC = (
    "For every node of the mode's network, the travel time to the nearest facility of the "
    "category (facilities join the road at their projection on it). Returns `summary` "
    "(`nodes`, `nodes_beyond`, `nodes_unreachable`, `share_nodes_beyond`, `road_length_m`, "
    "`road_length_beyond_m`, `share_length_beyond`, `population`, `population_beyond`); "
    "`areas`, a FeatureCollection (admin areas or hexagons) whose properties are `key`, `id`, "
    "`name`, `code`, `admin_level`, `road_length_m`, `road_length_beyond_m`, `share_beyond`, "
    "`population`, `population_beyond`, `residential_road_m` and `accessibility` (E2SFCA, unit "
    "in `accessibility_unit`, decay in `decay`); `outside` (roads in no area); `gaps`, a "
    "FeatureCollection of the parts of segments beyond T (`segment_id`, `from_fraction`, "
    "`to_fraction`, `length_m`, `worst_time_s`, `excess_s`, `unreachable`, `closed`, `band`) "
    "and `bands` (their colour classes); `facilities` (`count`, `on_network`, `off_network`). "
    "Segments are split at area boundaries; a segment partly within T counts only its part "
    "beyond T. People are spread along residential roads of each area. The same JSON as "
    "`sigap coverage --json`."
)


def planning_paths() -> dict:
    """The paths of ``/api/coverage``, ``/api/suggest`` and ``/api/scenario``."""
    return {
        "/api/coverage": {
            "get": {
                "summary": "Coverage gaps: where the network is more than T minutes from a "
                "facility, per area, with accessibility scores.",
                "description": COVERAGE_DOC,
                "operationId": "coverage",
                "parameters": [*_common(), _GAPS, _FORMAT],
                "responses": {
                    "200": {
                        "description": "The analysis, or the per-area table.",
                        "headers": _CACHE,
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            **_TABLES,
                        },
                    },
                    **_ERRORS,
                },
            }
        },
        "/api/suggest": {
            "get": {
                "summary": "Where to build: the `count` new sites that would newly cover the "
                "most demand beyond T (greedy maximal covering location, lazy evaluation).",
                "description": "Candidates are the nodes of roads of class tertiary or higher, "
                "or the `candidates` given. Returns `baseline` and `after` summaries and "
                "`sites`, a FeatureCollection of Points in the order chosen, each with "
                "`rank`, `lat`, `lon`, `newly_covered_length_m`, `newly_covered_share`, "
                "`newly_covered_people`, `newly_covered_nodes`, `share_length_beyond_after` "
                "(exact: what `/api/scenario` gives when the sites are added in that order) "
                "and `model_gain`. The same JSON as `sigap suggest --json`.",
                "operationId": "suggest",
                "parameters": [
                    *_common(),
                    _q(
                        "count",
                        {"type": "integer", "minimum": 1, "maximum": MAX_COUNT, "default": 1},
                        f"How many sites, 1 to {MAX_COUNT}.",
                    ),
                    _q(
                        "candidates",
                        {"type": "string", "example": "-6.2,106.8;-6.21,106.82"},
                        f"Candidate points `lat,lon;lat,lon;...` (at most "
                        f"{MAX_CANDIDATE_POINTS}), instead of the road nodes.",
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "The suggested sites.",
                        "headers": _CACHE,
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_ERRORS,
                },
            }
        },
        "/api/scenario": {
            "post": {
                "summary": "What-if: coverage with roads closed and facilities added or "
                "removed, against the baseline. Nothing is stored.",
                "description": "Returns `scenario` (the input, and `closed_segment_ids`), "
                "`baseline` (`summary`, `areas`: the per-area rows), `result` (as "
                "`/api/coverage`: `summary`, `areas`, `gaps`, ...) and `change` (scenario "
                "minus baseline: `summary`, and `areas` for those that changed). A closed "
                "road counts as beyond T. Unknown segment or facility ids, or unknown keys, "
                "are refused with 400.",
                "operationId": "scenario",
                "parameters": [_FORMAT],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _scenario_schema()}},
                },
                "responses": {
                    "200": {
                        "description": "The scenario against the baseline, or the scenario's "
                        "per-area table.",
                        "headers": _CACHE,
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            **_TABLES,
                        },
                    },
                    **_ERRORS,
                },
            }
        },
    }


def _scenario_schema() -> dict:
    common = {p["name"]: p["schema"] for p in _common()}
    return {
        "type": "object",
        "required": ["category"],
        "additionalProperties": False,
        "properties": {
            **common,
            "gaps": {"type": "boolean", "default": True},
            "close_segments": {
                "type": "array",
                "maxItems": MAX_ITEMS,
                "items": {"type": "integer"},
                "description": "road_segment ids to close.",
            },
            "close_polygon": {
                "type": "object",
                "description": "A GeoJSON Polygon or MultiPolygon (WGS84): every segment "
                "intersecting it is closed (a flood area).",
            },
            "add_facilities": {
                "type": "array",
                "maxItems": MAX_ADDED,
                "items": {
                    "type": "object",
                    "required": ["lat", "lon"],
                    "properties": {
                        "lat": {"type": "number", "minimum": -90, "maximum": 90},
                        "lon": {"type": "number", "minimum": -180, "maximum": 180},
                        "name": {"type": "string"},
                        "capacity": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
                    },
                },
                "description": "Facilities to add, e.g. suggested sites.",
            },
            "remove_facilities": {
                "type": "array",
                "maxItems": MAX_ITEMS,
                "items": {"type": "integer"},
                "description": "Ids of facilities of the category to leave out.",
            },
        },
    }
