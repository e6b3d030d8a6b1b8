"""The public complaints JSON API (``/api/complaints``): the web channel's intake, the status
of a report, the duplicate hint and the catalogue.

Thin views over :mod:`services.complaints` and :mod:`services.complaint_queries`; the web form
(``/lapor``) posts the same fields through the same service, so both behave alike. No answer
carries a reporter's name, phone, e-mail or device id, a staff member's name, or the content
of a *rahasia* report.

``POST /api/complaints`` takes ``application/json`` (at most :data:`MAX_BODY_BYTES`), is
limited per client address (``SIGAP_PUBLIC_POST_LIMIT``; 429 with ``Retry-After``) and
honours an ``Idempotency-Key`` header (or ``idempotency_key`` field): a retry with the same
key and content answers 200 with the same tracking id, a different content 409.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from gis.errors import InvalidInputError, SigapError
from layers.complaint_catalogue import (
    AGENCIES,
    CATALOGUE_VERSION,
    CHANNELS,
    GROUPS,
    SERVICES,
    STATES,
    TRANSITIONS,
)
from services import complaint_queries, complaints
from web import blocking, db, errors, params, ratelimit
from web.i18n import current_lang

bp = Blueprint("complaints_api", __name__, url_prefix="/api/complaints")
errors.register_format(bp, errors.json_error)

#: Largest JSON body of a complaint (the description is at most 4,000 characters).
MAX_BODY_BYTES = 64 * 1024


class UnsupportedMediaType(SigapError):
    """The body is not JSON (HTTP 415)."""

    status = 415
    default_code = "unsupported_media_type"


def catalogue_data(lang: str) -> dict[str, Any]:
    """The catalogue as JSON-ready data in ``lang``: what the form and the staff pages show."""
    return {
        "version": CATALOGUE_VERSION,
        "groups": {k: v[1] if lang == "en" else v[0] for k, v in GROUPS.items()},
        "agencies": {a.code: a.name(lang) for a in AGENCIES.values()},
        "channels": list(CHANNELS),
        "services": [
            {
                "code": s.code,
                "name": s.name(lang),
                "description": s.description(lang),
                "group": s.group,
                "agency": s.agency,
                "sla_days": s.sla_days,
                "linked_layer": s.link.layer if s.link else None,
                "road_action": s.road_action,
                "attributes": [
                    {
                        "code": a.code,
                        "datatype": a.datatype,
                        "description": a.description(lang),
                        "required": a.required,
                        "values": [{"key": v.key, "name": v.name(lang)} for v in a.values],
                    }
                    for a in s.attributes
                ],
            }
            for s in SERVICES.values()
        ],
        "states": [
            {"code": st.code, "name": st.name(lang), "status": st.open311, "closed": st.closed}
            for st in STATES.values()
        ],
        "transitions": [
            {
                "from": t.source,
                "to": t.target,
                "roles": list(t.roles),
                "note_required": t.note_required,
            }
            for t in TRANSITIONS
        ],
    }


@bp.get("/catalogue")
def catalogue():
    """Services, agencies, states and transitions (the complaint catalogue)."""
    resp = jsonify(catalogue_data(current_lang()))
    resp.cache_control.public = True
    resp.cache_control.max_age = 300
    return resp


def _list_arg(name: str) -> list[str]:
    """A comma-separated, repeatable parameter; an empty item is refused, not ignored."""
    values: list[str] = []
    for raw in request.args.getlist(name):
        items = raw.split(",")
        if any(not v for v in items):
            msg = f"'{name}' has an empty value; give one or more values, comma-separated."
            raise InvalidInputError(msg, code="invalid_parameter", param=name)
        values += items
    return values


@bp.route("", methods=["GET", "POST"])
def complaints_root():
    """GET: the public list; POST: file a complaint (one rule, two methods)."""
    return create() if request.method == "POST" else list_complaints()


def list_complaints():
    """Public (not *rahasia*) complaints, newest first (default: the last 90 days)."""
    args = request.args
    limit = params.parse_int(
        args, "limit", default=100, minimum=1, maximum=complaint_queries.MAX_REQUESTS
    )
    with db.cursor() as cur:
        items = complaint_queries.public_requests(
            cur,
            service_codes=_list_arg("service_code"),
            statuses=_list_arg("status"),
            start=args.get("start_date"),
            end=args.get("end_date"),
            limit=limit,
        )
    return jsonify({"complaints": items})


def json_body() -> dict[str, Any]:
    """The request's JSON object, after the size and content-type checks (413, 415, 400)."""
    request.max_content_length = MAX_BODY_BYTES
    if not request.is_json:
        msg = "Send the complaint as application/json."
        raise UnsupportedMediaType(msg)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        msg = "The body must be one JSON object."
        raise InvalidInputError(msg, code="invalid_body")
    return body


def idempotency_key(body: dict[str, Any]) -> Any:
    """The ``Idempotency-Key`` header, else the body's ``idempotency_key``."""
    return request.headers.get("Idempotency-Key") or body.get("idempotency_key")


def create():
    """File a complaint (channel ``web``)."""
    body = json_body()
    intake = blocking.call(_store, body)
    out = intake.as_dict()
    out.pop("token")
    out["status_url"] = f"/api/complaints/{intake.tracking_id}"
    resp = jsonify(out)
    resp.status_code = 200 if intake.replayed else 201
    resp.headers["Location"] = out["status_url"]
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _store(body: dict[str, Any]) -> complaints.Intake:
    """Count, check and store one complaint; committed before it returns (a 201 is durable).

    Runs off the gevent hub (:mod:`web.blocking`).
    """
    ratelimit.public_post()
    data = complaints.parse_complaint({**body, "idempotency_key": idempotency_key(body)})
    with db.transaction() as cur:
        intake = complaints.submit_complaint(
            cur, data, channel="web", routing_url=db.app_database_url()
        )
        cur.connection.commit()
    return intake


@bp.get("/nearby")
def nearby():
    """Open public reports of a service within 50 m of a point (the duplicate hint)."""
    lat, lon = params.parse_lat_lon(request.args)
    code = params.parse_choice(request.args, "service_code", tuple(SERVICES), default=None)
    with db.cursor() as cur:
        items = complaint_queries.nearby_open(cur, lat, lon, code)
    return jsonify({"radius_m": complaint_queries.NEARBY_RADIUS_M, "complaints": items})


@bp.get("/summary")
def summary():
    """Counts per service and open/closed, *rahasia* reports included."""
    with db.cursor() as cur:
        counts = complaint_queries.complaint_counts(cur)
    return jsonify({"counts": counts})


@bp.get("/<tracking_id>")
def status(tracking_id: str):
    """The public status of one report, with its events (no staff names)."""
    with db.cursor() as cur:
        out = complaint_queries.public_status(cur, tracking_id)
    out.pop("token", None)
    resp: Response = jsonify(out)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI description of these routes (merged into ``/api/openapi.json``)."""
    err = {"$ref": "#/components/responses/Error"}
    unavailable = {"$ref": "#/components/responses/Unavailable"}
    obj = {"application/json": {"schema": {"type": "object"}}}
    codes = list(SERVICES)

    def q(name: str, schema: dict, description: str, required: bool = False) -> dict:
        return {
            "name": name,
            "in": "query",
            "required": required,
            "schema": schema,
            "description": description,
        }

    window = "Without dates: the last 90 days."
    return {
        "/api/complaints": {
            "get": {
                "summary": "Public complaints (rahasia ones left out), newest first.",
                "operationId": "listComplaints",
                "parameters": [
                    q("service_code", {"type": "string"}, f"Comma-separated of: {codes}."),
                    q("status", {"type": "string"}, "open, closed or both, comma-separated."),
                    q("start_date", {"type": "string"}, f"ISO 8601 with zone. {window}"),
                    q("end_date", {"type": "string"}, "ISO 8601 with zone."),
                    q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "At most."),
                ],
                "responses": {
                    "200": {"description": "Complaints.", "content": obj},
                    "400": err,
                    "503": unavailable,
                },
            },
            "post": {
                "summary": "File a complaint (channel web). JSON body: service_code, lat, lon, "
                "description; optional address, attributes, anonim, rahasia, name, phone, "
                "email, device_id, photo_ref, idempotency_key (or the Idempotency-Key header). "
                "Limited per client address (429 with Retry-After).",
                "operationId": "createComplaint",
                "requestBody": {"required": True, "content": obj},
                "responses": {
                    "201": {"description": "Stored; the body has the tracking id.", "content": obj},
                    "200": {"description": "A retry with a known idempotency key."},
                    "400": err,
                    "409": err,
                    "413": err,
                    "415": err,
                    "429": err,
                    "503": unavailable,
                },
            },
        },
        "/api/complaints/catalogue": {
            "get": {
                "summary": "Services, agencies, states and transitions.",
                "operationId": "complaintCatalogue",
                "responses": {"200": {"description": "The catalogue.", "content": obj}},
            }
        },
        "/api/complaints/nearby": {
            "get": {
                "summary": "Open public reports of a service within 50 m (the duplicate hint).",
                "operationId": "nearbyComplaints",
                "parameters": [
                    q("lat", {"type": "number"}, "Latitude, WGS84.", True),
                    q("lon", {"type": "number"}, "Longitude, WGS84.", True),
                    q("service_code", {"type": "string", "enum": codes}, "Service.", True),
                ],
                "responses": {
                    "200": {"description": "Reports.", "content": obj},
                    "400": err,
                    "503": unavailable,
                },
            }
        },
        "/api/complaints/summary": {
            "get": {
                "summary": "Counts per service, open and closed (rahasia reports included).",
                "operationId": "complaintSummary",
                "responses": {"200": {"description": "Counts.", "content": obj}},
            }
        },
        "/api/complaints/{tracking_id}": {
            "get": {
                "summary": "The public status of one report and its events.",
                "operationId": "complaintStatus",
                "parameters": [
                    {
                        "name": "tracking_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "The tracking id, e.g. 7KQ2-M9TX (case-insensitive).",
                    }
                ],
                "responses": {
                    "200": {"description": "Status.", "content": obj},
                    "404": err,
                    "503": unavailable,
                },
            }
        },
    }
