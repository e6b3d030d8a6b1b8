"""The collection-planning API: ``POST /api/collection/plan`` (staff role *sanitation*).

A thin view over :func:`services.collection.plan_request`: the JSON body has the fields that
``sigap collection plan`` has as options; the answer is the plan. It needs a staff login with
the role ``sanitation`` (or ``admin``), the ``X-CSRF-Token`` header (``GET /staff/api/me``
gives it) and runs as the staff database role. ``GET /api/collection/plan.gpx`` is not offered:
the page builds each truck's GPX from the plan it holds (the same writer,
:func:`gis.collection_export.truck_gpx`, is ``POST /api/collection/gpx``).

One plan is solved at a time per process (the solver uses a core for up to
``time_limit_s``); a second request meanwhile gets 409 ``busy``.
"""

from __future__ import annotations

import threading

from flask import Blueprint, Response, jsonify

from gis.errors import InvalidInputError, SigapError
from services.collection import plan_request
from web import db, errors
from web.auth import staff_required
from web.staff_api import json_body, no_store

bp = Blueprint("collection_api", __name__, url_prefix="/api/collection")
errors.register_format(bp, errors.json_error)

#: Roles that may plan collection routes.
PLAN_ROLES: tuple[str, ...] = ("sanitation", "admin")
#: Longest solver time limit the API accepts (seconds).
API_MAX_TIME_LIMIT_S = 60.0
MAX_BODY_BYTES = 256 * 1024
_solving = threading.Lock()


class Busy(SigapError):
    """Another plan is being solved in this process (HTTP 409)."""

    status = 409
    default_code = "busy"


bp.after_request(no_store)


@bp.post("/plan")
@staff_required(*PLAN_ROLES)
def plan():
    body = json_body(MAX_BODY_BYTES)
    if not _solving.acquire(blocking=False):
        raise Busy("Another collection plan is being computed; try again in a minute.")
    try:
        result = plan_request(
            db.staff_database_url(), body, progress=False, max_time_limit_s=API_MAX_TIME_LIMIT_S
        )
    finally:
        _solving.release()
    return jsonify(result)


@bp.post("/gpx")
@staff_required(*PLAN_ROLES)
def gpx():
    """One truck's GPX from a plan the page holds: ``{"plan": {...}, "truck": n}``."""
    from gis.collection_export import truck_gpx

    body = json_body(MAX_BODY_BYTES)
    plan_data, number = body.get("plan"), body.get("truck")
    if not isinstance(number, int) or isinstance(number, bool):
        raise InvalidInputError("'truck' must be a truck number of the plan.", param="truck")
    trucks = plan_data.get("trucks") if isinstance(plan_data, dict) else None
    if not isinstance(trucks, list):
        raise InvalidInputError("'plan' must be a plan from /api/collection/plan.", param="plan")
    match = [t for t in trucks if isinstance(t, dict) and t.get("truck") == number]
    if not match or not match[0].get("visits"):
        raise InvalidInputError(f"The plan has no truck {number!r} with visits.", param="truck")
    try:
        text = truck_gpx(plan_data, match[0])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError("'plan' is not a plan from /api/collection/plan.") from exc
    name = f"truk-{number}.gpx"
    return Response(
        text,
        mimetype="application/gpx+xml",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
