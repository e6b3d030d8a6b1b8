"""Open311 GeoReport v2 at ``/open311/v2/`` (https://wiki.open311.org/GeoReport_v2).

Resources, each as ``.json`` or ``.xml``:

* ``GET discovery``: the endpoint, its specification and formats;
* ``GET services``: the catalogue (``metadata`` is true for services with attributes);
* ``GET services/{service_code}``: a service definition (its attributes);
* ``GET requests``: public requests, filtered by ``service_request_id``, ``service_code``,
  ``start_date``, ``end_date`` and ``status`` (comma-separated lists); at most 1,000, and
  without dates or ids the last 90 days (the specification's default). *Rahasia* reports are
  left out;
* ``POST requests``: a new request (form-encoded, the specification's arguments:
  ``api_key``, ``service_code``, ``lat``, ``long``, ``attribute[code]``, ``address_string``,
  ``email``, ``device_id``, ``first_name``, ``last_name``, ``phone``, ``description``;
  ``media_url`` and ``account_id`` are not stored). ``api_key`` is required (``sigap apikey
  add``); SIGAP's extensions: ``anonim``, ``rahasia`` and an ``Idempotency-Key`` header (or
  ``idempotency_key`` field). Answers 201, or 200 for a retry with a known key;
* ``GET requests/{service_request_id}``: one request (a list of one);
* ``GET tokens/{token}``: the request a POST's token belongs to.

``service_request_id`` is the tracking id (``7KQ2-M9TX``). ``status`` is ``open`` or
``closed``; the detailed state goes in ``status_notes``. ``expected_datetime`` is the
service-level due date (working days). ``jurisdiction_id`` is accepted and ignored: one
SIGAP serves one jurisdiction.

Errors are the specification's list of ``{code, description}`` (``<errors><error>`` in
XML) with HTTP 400, 403 (a missing or invalid ``api_key``), 404, 409 (an idempotency key
reused), 413, 429 (with ``Retry-After``) or 503.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from gis.errors import InvalidInputError, NotFoundError
from layers.complaint_catalogue import AGENCIES, GROUPS, SERVICES, STATES
from layers.complaint_spec import ServiceSpec
from services import accounts, complaint_queries, complaints
from services.config import get_service_settings
from web import blocking, db, errors, ratelimit
from web.errors import ErrorInfo

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"json": "application/json", "xml": "text/xml"}
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
#: Largest POST body: the arguments of one request.
MAX_BODY_BYTES = 64 * 1024
CONTACT = "Dinas Komunikasi dan Informatika (pengaduan@pemda.example)"

#: GeoReport v2 request fields, in the specification's order.
REQUEST_FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)


def _format() -> str:
    """The format the request asked for by its extension (``json`` unless ``.xml``)."""
    return "xml" if request.path.endswith(".xml") else "json"


def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    el = ET.SubElement(parent, name)
    if isinstance(value, bool):
        el.text = "true" if value else "false"
    elif isinstance(value, list):
        child = name[:-1] if name.endswith("s") else "item"
        for item in value:
            if isinstance(item, Mapping):
                _xml_object(el, child, item)
            else:
                _xml_value(el, child, item)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _xml_value(el, k, v)
    elif value is not None:
        el.text = str(value)


def _xml_object(parent: ET.Element, name: str, obj: Mapping[str, Any]) -> None:
    el = ET.SubElement(parent, name)
    for k, v in obj.items():
        _xml_value(el, k, v)


def _xml_response(root: ET.Element) -> Response:
    body = XML_DECLARATION + ET.tostring(root, encoding="unicode").encode()
    return Response(body, content_type="text/xml; charset=utf-8")


def render(data: Any, root: str, item: str | None = None, status: int = 200) -> Response:
    """Answer ``data`` in the requested format.

    Parameters
    ----------
    data : list or dict
        A list of objects (``root`` element with one ``item`` element each) or one object
        (the ``root`` element).
    root, item : str
        XML element names (``services`` / ``service``, ...).
    status : int
        HTTP status.
    """
    if _format() == "xml":
        el = ET.Element(root)
        if isinstance(data, list):
            for obj in data:
                _xml_object(el, item or "item", obj)
        else:
            for k, v in data.items():
                _xml_value(el, k, v)
        resp = _xml_response(el)
    else:
        resp = jsonify(data)
    resp.status_code = status
    return resp


def open311_error(info: ErrorInfo) -> Response:
    """The specification's error format: ``[{"code", "description"}]`` or ``<errors>``."""
    description = info.message
    if info.error_id and info.error_id not in description:
        description += f" (error id {info.error_id})"
    data = [{"code": info.status, "description": description}]
    if _format() == "xml":
        root = ET.Element("errors")
        for err in data:
            _xml_object(root, "error", err)
        return _xml_response(root)
    return jsonify(data)


errors.register_format(bp, open311_error)


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        msg = f"Unknown format {fmt!r}; use .json or .xml."
        raise NotFoundError(msg, code="unknown_format")
    return fmt


# --- discovery and services ------------------------------------------------------------------


@bp.get("/discovery.<fmt>")
def discovery(fmt: str):
    _fmt(fmt)
    base = url_for("open311.discovery", fmt=fmt, _external=True).rsplit("/", 1)[0] + "/"
    data = {
        "changeset": _changeset(),
        "contact": CONTACT,
        "key_service": "Ask the administrator for an api_key (sigap apikey add NAME).",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base,
                "changeset": _changeset(),
                "type": "production",
                "formats": list(FORMATS.values()),
            }
        ],
    }
    return render(data, "discovery")


def _changeset() -> str:
    from layers.complaint_catalogue import CATALOGUE_VERSION

    return CATALOGUE_VERSION


def _service(s: ServiceSpec, lang: str) -> dict[str, Any]:
    return {
        "service_code": s.code,
        "service_name": s.name(lang),
        "description": s.description(lang),
        "metadata": bool(s.attributes),
        "type": "realtime",
        "keywords": ", ".join(s.keywords),
        "group": GROUPS[s.group][1 if lang == "en" else 0],
    }


def _lang() -> str:
    from web.i18n import current_lang

    return current_lang()


@bp.get("/services.<fmt>")
def services(fmt: str):
    _fmt(fmt)
    lang = _lang()
    return render([_service(s, lang) for s in SERVICES.values()], "services", "service")


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str):
    _fmt(fmt)
    service = SERVICES.get(code)
    if service is None:
        msg = f"There is no service {code!r}; see services.{fmt}."
        raise NotFoundError(msg, code="unknown_service", param="service_code")
    lang = _lang()
    attributes = [
        {
            "variable": True,
            "code": a.code,
            "datatype": a.datatype,
            "required": a.required,
            "datatype_description": _datatype_description(a),
            "order": i,
            "description": a.description(lang),
            "values": [{"key": v.key, "name": v.name(lang)} for v in a.values],
        }
        for i, a in enumerate(service.attributes, start=1)
    ]
    return render({"service_code": service.code, "attributes": attributes}, "service_definition")


def _datatype_description(a) -> str | None:
    if a.datatype == "number" and (a.minimum is not None or a.maximum is not None):
        return f"A number from {a.minimum:g} to {a.maximum:g}."
    if a.datatype in ("string", "text"):
        return f"At most {a.max_length} characters."
    return None


# --- requests ---------------------------------------------------------------------------------


def _request(item: dict[str, Any], lang: str = "id") -> dict[str, Any]:
    state = STATES[item["state"]]
    service = SERVICES.get(item["service_code"])
    agency = AGENCIES.get(item["agency"])
    return {
        "service_request_id": item["tracking_id"],
        "status": state.open311,
        "status_notes": f"{state.code}: {state.name(lang)}",
        "service_name": service.name(lang) if service else item["service_code"],
        "service_code": item["service_code"],
        "description": item.get("description"),
        "agency_responsible": agency.name(lang) if agency else item["agency"],
        "service_notice": None,
        "requested_datetime": item["created_at"],
        "updated_datetime": item["updated_at"],
        "expected_datetime": item["expected_at"],
        "address": item.get("address"),
        "address_id": None,
        "zipcode": None,
        "lat": item.get("lat"),
        "long": item.get("lon"),
        "media_url": None,
    }


def _csv_arg(name: str) -> list[str]:
    out: list[str] = []
    for raw in request.args.getlist(name):
        out += [v.strip() for v in raw.split(",") if v.strip()]
    return out


@bp.get("/requests.<fmt>")
def requests_list(fmt: str):
    _fmt(fmt)
    with db.cursor() as cur:
        items = complaint_queries.public_requests(
            cur,
            tracking_ids=_csv_arg("service_request_id"),
            service_codes=_csv_arg("service_code"),
            start=request.args.get("start_date"),
            end=request.args.get("end_date"),
            statuses=_csv_arg("status"),
        )
    lang = _lang()
    return render([_request(i, lang) for i in items], "service_requests", "request")


@bp.get("/requests/<request_id>.<fmt>")
def request_one(request_id: str, fmt: str):
    _fmt(fmt)
    with db.cursor() as cur:
        item = complaint_queries.public_status(cur, request_id, include_rahasia=False)
    return render([_request(item, _lang())], "service_requests", "request")


@bp.get("/tokens/<token>.<fmt>")
def token(token: str, fmt: str):
    _fmt(fmt)
    with db.cursor() as cur:
        tracking_id = complaint_queries.find_by_token(cur, token)
    if tracking_id is None:
        msg = f"There is no request with token {token!r}."
        raise NotFoundError(msg, code="unknown_token", param="token")
    data = [{"service_request_id": tracking_id, "token": token}]
    return render(data, "service_requests", "request")


def _form() -> Mapping[str, Any]:
    request.max_content_length = MAX_BODY_BYTES
    mimetype = request.mimetype
    if mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        msg = (
            "Send the request as application/x-www-form-urlencoded (GeoReport v2 POST "
            f"arguments); got {mimetype or 'no content type'}."
        )
        raise InvalidInputError(msg, code="wrong_content_type")
    return request.form


def _complaint_fields(form: Mapping[str, Any]) -> dict[str, Any]:
    """The GeoReport v2 arguments as the intake service's fields."""
    attributes: dict[str, Any] = {}
    getlist = form.getlist  # type: ignore[attr-defined]
    for key in form:
        if key.startswith("attribute[") and key.endswith("][]"):  # a multivaluelist
            attributes[key[len("attribute[") : -3]] = getlist(key)
        elif key.startswith("attribute[") and key.endswith("]"):
            values = getlist(key)
            attributes[key[len("attribute[") : -1]] = values if len(values) > 1 else values[0]
    first, last = form.get("first_name"), form.get("last_name")
    name = " ".join(p.strip() for p in (first, last) if isinstance(p, str) and p.strip()) or None
    return {
        "service_code": form.get("service_code"),
        "lat": form.get("lat"),
        "lon": form.get("long"),
        "description": form.get("description"),
        "address": form.get("address_string"),
        "attributes": attributes,
        "anonim": form.get("anonim"),
        "rahasia": form.get("rahasia"),
        "name": name,
        "phone": form.get("phone"),
        "email": form.get("email"),
        "device_id": form.get("device_id"),
        "idempotency_key": request.headers.get("Idempotency-Key") or form.get("idempotency_key"),
    }


@bp.post("/requests.<fmt>")
def create(fmt: str):
    _fmt(fmt)
    form = _form()
    intake = blocking.call(_store, form)
    notice = (
        f"Diterima. Batas tindak lanjut: {intake.due_at:%Y-%m-%d} "
        f"({SERVICES[intake.service_code].sla_days} hari kerja)."
    )
    out = [
        {
            "service_request_id": intake.tracking_id,
            "token": intake.token,
            "service_notice": notice,
            "account_id": None,
        }
    ]
    resp = render(out, "service_requests", "request", status=200 if intake.replayed else 201)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _store(form: Mapping[str, Any]) -> complaints.Intake:
    """Check the key and its limit, then check and store the request, committed before it
    returns (off the gevent hub: :mod:`web.blocking`)."""
    with db.cursor() as cur:
        key = accounts.verify_api_key(cur, form.get("api_key"))
    ratelimit.enforce(
        "open311", f"key{key.id}", get_service_settings().open311_post_limit, "requests"
    )
    data = complaints.parse_complaint(_complaint_fields(form))
    with db.transaction() as cur:
        intake = complaints.submit_complaint(
            cur, data, channel="open311", routing_url=db.app_database_url(), api_key_id=key.id
        )
        cur.connection.commit()
    return intake


def open311_names() -> Iterable[str]:
    """Every field name this endpoint answers with (for tests and documentation)."""
    return REQUEST_FIELDS
