"""The collection-planning API's part of the OpenAPI description (merged by :mod:`web.openapi`).

Defaults and limits come from the modules that enforce them (:mod:`gis.collection_demand`,
:mod:`services.collection`, :mod:`web.collection_api`).
"""

from __future__ import annotations

from gis.collection import REASONS
from gis.collection_demand import DEFAULT_FLEET, MAX_SHIFT_H, MAX_TRUCKS
from web.collection_api import API_MAX_TIME_LIMIT_S, PLAN_ROLES

_ERROR = {"$ref": "#/components/responses/Error"}
_F = DEFAULT_FLEET

PLAN_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "date": {"type": "string", "format": "date", "description": "The day (default today)."},
        "trucks": {"type": "integer", "minimum": 1, "maximum": MAX_TRUCKS, "default": _F.trucks},
        "capacity_m3": {"type": "number", "exclusiveMinimum": 0, "default": _F.capacity_m3},
        "shift_h": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_SHIFT_H,
            "default": _F.shift_h,
        },
        "start_time": {"type": "string", "pattern": "^[0-9]{1,2}:[0-9]{2}$", "default": "06:00"},
        "depot_id": {"type": "integer", "description": "Default: the depot with the lowest id."},
        "service_min": {"type": "number", "minimum": 0, "default": _F.service_min},
        "unload_min": {"type": "number", "minimum": 0, "default": _F.unload_min},
        "max_walk_m": {"type": "number", "exclusiveMinimum": 0, "default": _F.max_walk_m},
        "time_limit_s": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": API_MAX_TIME_LIMIT_S,
            "default": 10,
        },
        "seed": {"type": "integer", "minimum": 0, "default": 1},
        "fill": {
            "type": "array",
            "description": "The day's fill list; stops not in it collect nothing. Without "
            "it: each TPS's `attributes.sampah_masuk`, else capacity x fill level.",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string", "description": "waste_bin id or source_id."},
                    "volume_m3": {"type": "number", "minimum": 0},
                    "fill_level": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
        },
    },
}

PLAN_DOC = (
    "Plans the day's routes of the sanitation trucks (PyVRP, multiple trips: a truck unloads "
    "at a disposal site (TPA) and goes on) on the `truck` mode's network with today's road "
    "conditions. Needs a staff login with a role of "
    f"{', '.join(PLAN_ROLES)} and the `X-CSRF-Token` header. The answer has `trucks` (per "
    "truck: `visits` in order with `arrival`, `arrival_s`, `load_m3` after each, unloading "
    "visits, `legs` with `time_s`, `distance_m` and `segment_ids`, totals and `route`, a "
    "MultiLineString along the roads), `unserved` (per stop: `volume_m3`, `reason` one of "
    f"{', '.join(f'`{r}`' for r in REASONS)}, and `message`), `totals` and `solver`. "
    "409 `busy` while another plan is being solved."
)


def collection_paths() -> dict:
    """The paths of ``/api/collection/plan`` and ``/api/collection/gpx``."""
    errors = {
        "400": _ERROR,
        "401": _ERROR,
        "403": _ERROR,
        "409": _ERROR,
        "415": _ERROR,
        "503": {"$ref": "#/components/responses/Unavailable"},
    }
    return {
        "/api/collection/plan": {
            "post": {
                "summary": "Collection routes for a day (staff role sanitation).",
                "description": PLAN_DOC,
                "operationId": "collectionPlan",
                "parameters": [
                    {
                        "name": "X-CSRF-Token",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "The session's CSRF token (GET /staff/api/me).",
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": PLAN_REQUEST}},
                },
                "responses": {
                    "200": {
                        "description": "The plan.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **errors,
                },
            }
        },
        "/api/collection/gpx": {
            "post": {
                "summary": "One truck's route as GPX 1.1, from a plan: `{plan, truck}`.",
                "operationId": "collectionGpx",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": {
                        "description": "The GPX file.",
                        "content": {"application/gpx+xml": {"schema": {"type": "string"}}},
                    },
                    **errors,
                },
            }
        },
    }
