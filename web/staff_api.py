"""The staff JSON API (``/staff/api``): the queue, one complaint, transitions, contact
details, road actions and the help-desk intake.

Every route needs a staff login (401 otherwise) and runs as the staff database role
(``sigap_staff``); state-changing routes need the ``X-CSRF-Token`` header (``GET
/staff/api/me`` gives it) and a JSON body. Answers are ``Cache-Control: no-store``. Errors are
``{"error": {"code", "message", "param"}}`` with 400, 401, 403, 404, 409, 413, 415 or 429.

=========================================================  =====================================
``GET  /staff/api/me``                                      the account, CSRF token, permissions
``GET  /staff/api/complaints``                              the queue (``agency``, ``state``,
                                                            ``service_code``: comma lists;
                                                            ``overdue=1``, ``closed=1``,
                                                            ``limit``, ``offset``)
``GET  /staff/api/complaints/<ref>``                        one complaint with events, the moves
                                                            this user may make
``POST /staff/api/complaints/<ref>/transitions``            ``{to_state, note, public_note,
                                                            expected_state, duplicate_of}``
``POST /staff/api/complaints/<ref>/contact``                ``{purpose}``: contact details,
                                                            audited
``POST /staff/api/complaints/<ref>/road-condition``         ``{condition, note}``
``DELETE /staff/api/complaints/<ref>/road-condition``       restore the road
``POST /staff/api/intake``                                  help desk: ``{channel: phone|desk,
                                                            ...complaint fields}``
=========================================================  =====================================

``<ref>`` is a complaint's database id or tracking id.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from gis.errors import InvalidInputError
from layers.complaint_catalogue import get_service
from services import complaint_queries, complaints, workflow
from web import db, errors, params, ratelimit
from web.auth import csrf_token, staff, staff_required
from web.complaints_api import UnsupportedMediaType

bp = Blueprint("staff_api", __name__, url_prefix="/staff/api")
errors.register_format(bp, errors.json_error)

MAX_BODY_BYTES = 64 * 1024
#: Channels a desk officer may record.
DESK_CHANNELS: tuple[str, ...] = ("phone", "desk")
INTAKE_ROLES: tuple[str, ...] = ("desk", "admin")


@bp.after_request
def no_store(response):
    """Keep staff answers out of every cache (an after-request hook of staff blueprints)."""
    response.headers["Cache-Control"] = "no-store"
    return response


def json_body(max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """Return the request's JSON object body: 415 if not JSON, 400 if not one object, 413 if
    over ``max_bytes``."""
    request.max_content_length = max_bytes
    if not request.is_json:
        raise UnsupportedMediaType("Send application/json.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInputError("The body must be one JSON object.", code="invalid_body")
    return body


def _url() -> str:
    return db.staff_database_url()


def _list(name: str) -> list[str]:
    out: list[str] = []
    for raw in request.args.getlist(name):
        out += [v.strip() for v in raw.split(",") if v.strip()]
    return out


def _flag(name: str) -> bool:
    return complaints.parse_bool(request.args.get(name), name)


@bp.get("/me")
@staff_required()
def me():
    account = staff()
    return jsonify(
        {
            "user": account.public_dict(),
            "csrf_token": csrf_token(),
            "may_intake": account.role in INTAKE_ROLES,
        }
    )


@bp.get("/complaints")
@staff_required()
def queue():
    limit = params.parse_int(
        request.args, "limit", default=100, minimum=1, maximum=complaint_queries.MAX_QUEUE
    )
    offset = params.parse_int(request.args, "offset", default=0, minimum=0, maximum=10**6)
    with db.cursor(_url()) as cur:
        out = complaint_queries.staff_queue(
            cur,
            agencies=_list("agency"),
            states=_list("state"),
            service_codes=_list("service_code"),
            overdue_only=_flag("overdue"),
            include_closed=_flag("closed"),
            limit=limit,
            offset=offset,
        )
    return jsonify(out)


def _detail(cur, cid: int) -> dict[str, Any]:
    account = staff()
    out = complaint_queries.staff_detail(cur, cid)
    out["allowed_transitions"] = workflow.allowed_transitions(
        out["state"], out["agency"], account.role
    )
    out["may_see_contact"] = workflow.may_see_contact(account.role, out["agency"])
    service = get_service(out["service_code"])  # None: imported from another system's export
    out["road_action"] = bool(service and service.road_action)
    return out


@bp.get("/complaints/<ref>")
@staff_required()
def detail(ref: str):
    with db.cursor(_url()) as cur:
        cid = complaint_queries.resolve_complaint_id(cur, ref)
        return jsonify(_detail(cur, cid))


@bp.post("/complaints/<ref>/transitions")
@staff_required()
def transition(ref: str):
    body = json_body()
    with db.transaction(_url()) as cur:
        cid = complaint_queries.resolve_complaint_id(cur, ref)
        result = workflow.transition(
            cur,
            cid,
            body.get("to_state"),
            staff=staff(),
            note=body.get("note"),
            public_note=body.get("public_note"),
            expected_state=body.get("expected_state"),
            duplicate_of=body.get("duplicate_of"),
            road_url=_url(),
        )
        result["complaint"] = _detail(cur, cid)
    return jsonify(result)


@bp.post("/complaints/<ref>/contact")
@staff_required()
def contact(ref: str):
    body = json_body() if request.content_length else {}
    with db.transaction(_url()) as cur:
        cid = complaint_queries.resolve_complaint_id(cur, ref)
        out = workflow.contact_details(
            cur,
            cid,
            staff=staff(),
            purpose=body.get("purpose"),
            client_ip=ratelimit.client_ip(),
        )
    return jsonify(out)


@bp.post("/complaints/<ref>/road-condition")
@staff_required()
def road_condition(ref: str):
    body = json_body()
    with db.transaction(_url()) as cur:
        cid = complaint_queries.resolve_complaint_id(cur, ref)
        out = workflow.set_road_condition(
            cur, cid, body.get("condition"), staff=staff(), url=_url(), note=body.get("note")
        )
    return jsonify(out)


@bp.delete("/complaints/<ref>/road-condition")
@staff_required()
def road_condition_clear(ref: str):
    with db.transaction(_url()) as cur:
        cid = complaint_queries.resolve_complaint_id(cur, ref)
        out = workflow.clear_road_condition(cur, cid, staff=staff(), url=_url())
    return jsonify(out)


@bp.post("/intake")
@staff_required(*INTAKE_ROLES)
def intake():
    body = json_body()
    channel = body.get("channel")
    if channel not in DESK_CHANNELS:
        msg = f"'channel' must be one of: {', '.join(DESK_CHANNELS)}; got {channel!r}."
        raise InvalidInputError(msg, code="invalid_parameter", param="channel")
    data = complaints.parse_complaint(
        {
            **body,
            "idempotency_key": request.headers.get("Idempotency-Key")
            or body.get("idempotency_key"),
        }
    )
    with db.transaction(_url()) as cur:
        result = complaints.submit_complaint(
            cur, data, channel=channel, routing_url=_url(), staff_user_id=staff().id
        )
    resp = jsonify(result.as_dict())
    resp.status_code = 200 if result.replayed else 201
    return resp
