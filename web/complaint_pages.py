"""The citizen's complaint pages: the form (``/lapor``), the photo upload and the status page.

* ``GET /lapor``: a map page; the citizen taps the place (or "Lokasi saya"), chooses a service
  and its extra attributes, describes the problem, may add a photo and contact details and
  choose *anonim* or *rahasia*. Before sending, ``js/lapor.js`` asks
  ``/api/complaints/nearby`` for open reports of the same service within 50 m and shows them
  ("Sudah dilaporkan?"). The page sends the report with ``fetch`` to the public JSON API
  (``POST /api/complaints``), the same intake Open311 and the help desk use, with an
  idempotency key made once per report in the page (a double tap or a retry stores one
  complaint) and this session's CSRF token in ``X-CSRF-Token``. Cross-site forms cannot post
  there: the API takes ``application/json`` only, which a form cannot send and which a
  cross-site script may only send after a CORS preflight this server never grants.
* ``POST /lapor/foto``: the optional photo, ``multipart/form-data`` field ``photo``, sent
  before the report; it needs the session's CSRF token (a form *can* post multipart), is
  limited per client address like reports, and answers ``{"photo_ref"}`` (201), which the
  report then carries. :mod:`services.photos` re-encodes it without EXIF under a random name.
  Over 5 MB: 413. Errors are JSON.
* ``GET /lapor/<tracking_id>``: the public status page (service, state, dates, events without
  staff names, no contact data; a *rahasia* report shows only its state), 404 page for an
  unknown id; ``GET /lapor/cari?id=`` goes to it. ``GET /lapor/<tracking_id>/foto``: the
  photo of a report that is not *rahasia* (``image/jpeg``, ``nosniff``), else 404.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
)
from flask_babel import gettext

from gis.errors import InvalidInputError, NotFoundError
from layers.complaint_catalogue import GROUPS, SERVICES, STATES
from services import complaint_queries, photos
from services.calendar import get_calendar
from services.complaints import normalize_tracking_id
from services.config import get_service_settings
from web import blocking, errors, mapbuild, maps, ratelimit
from web.auth import CSRF_HEADER, CSRF_KEY, check_csrf, csrf_token
from web.complaint_text import text
from web.complaints_api import catalogue_data
from web.db import cursor
from web.i18n import current_lang

logger = logging.getLogger(__name__)

bp = Blueprint("complaint_pages", __name__)
#: The photo upload answers JSON errors; the pages answer HTML ones.
photo_bp = Blueprint("complaint_photo", __name__)
errors.register_format(photo_bp, errors.json_error)

#: Multipart overhead allowed on top of the photo's own size.
MULTIPART_SLACK_BYTES = 64 * 1024


def services_by_group(lang: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The catalogue's services grouped for a ``<select>``: ``[(group name, [(code, name)])]``."""
    out = []
    for group, names in GROUPS.items():
        items = [(s.code, s.name(lang)) for s in SERVICES.values() if s.group == group]
        if items:
            out.append((names[1] if lang == "en" else names[0], items))
    return out


def form_page(template: str, page: str, *, mode: str, post_url: str, **context: Any):
    """A map page with the complaint form (``/lapor`` and the help desk's page)."""
    lang = current_lang()
    with cursor() as cur:
        m = maps._base_map(cur)
    mapbuild.add_roads(m, gettext("Roads"), style="roadBaseStyle")
    parts = mapbuild.finish(m, {})
    blob = maps.page_data(
        parts,
        page,
        catalogue=catalogue_data(lang),
        t=text(),
        form={
            "mode": mode,
            "post": post_url,
            "photo": "/lapor/foto",
            "nearby": "/api/complaints/nearby",
            "status": "/lapor/",
            "csrf": csrf_token(),
        },
    )
    html = maps._render(
        template, parts, blob, t=text(), groups=services_by_group(lang), mode=mode, **context
    )
    return html, 200, {"Cache-Control": "no-store"}


@bp.get("/lapor")
def lapor():
    """The citizen's complaint form."""
    return form_page("lapor.html", "lapor", mode="public", post_url="/api/complaints")


def local_time(iso: str | None) -> str:
    """An ISO time as ``dd-mm-yyyy hh:mm`` in the working calendar's zone, or ``""``."""
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso).astimezone(get_calendar().tz)
    return f"{moment:%d-%m-%Y %H:%M} {moment.tzname() or ''}".strip()


def state_names(lang: str) -> dict[str, str]:
    return {code: s.name(lang) for code, s in STATES.items()}


@bp.get("/lapor/cari")
def lookup():
    """``?id=<tracking id>``: the status page of that report (the form on the status page)."""
    raw = request.args.get("id", "")
    if not raw.strip():
        raise InvalidInputError("Give a tracking id, e.g. 7KQ2-M9TX.", param="id")
    tid = normalize_tracking_id(raw)
    if tid is None:
        raise NotFoundError("There is no complaint with that tracking id.", param="id")
    return redirect(f"/lapor/{tid}", code=303)


@bp.get("/lapor/<tracking_id>")
def status_page(tracking_id: str):
    """The public status of one report (no staff names, no contact details)."""
    lang = current_lang()
    with cursor() as cur:
        status = complaint_queries.public_status(cur, tracking_id)
    service = SERVICES.get(status["service_code"])
    html = render_template(
        "complaint_status.html",
        t=text(),
        c=status,
        service=service.name(lang) if service else status["service_code"],
        states=state_names(lang),
        when=local_time,
    )
    return html, 200, {"Cache-Control": "no-store"}


@bp.get("/lapor/<tracking_id>/foto")
def status_photo(tracking_id: str):
    """The photo of a report that is not *rahasia*."""
    with cursor() as cur:
        status = complaint_queries.public_status(cur, tracking_id, include_rahasia=False)
    path = photos.photo_path(status.get("photo_ref"), current_app.config["PHOTO_DIR"])
    resp = send_file(path, mimetype="image/jpeg", max_age=0, conditional=True)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Content-Disposition"] = "inline"
    return resp


@photo_bp.post("/lapor/foto")
def upload_photo():
    """Store the form's photo; answer its reference (see the module docstring)."""
    request.max_content_length = photos.MAX_PHOTO_BYTES + MULTIPART_SLACK_BYTES
    check_csrf(request.headers.get(CSRF_HEADER) or request.form.get(CSRF_KEY))
    upload = request.files.get("photo")
    if upload is None:
        msg = "Send the photo as the multipart/form-data field 'photo'."
        raise InvalidInputError(msg, code="invalid_photo", param="photo")
    limit = get_service_settings().public_post_limit
    ratelimit.enforce("photo", ratelimit.client_ip(), limit, "photos from this address")
    data = upload.stream.read(photos.MAX_PHOTO_BYTES + 1)
    ref = blocking.call(photos.store_photo, data, current_app.config["PHOTO_DIR"])
    resp = jsonify({"photo_ref": ref})
    resp.status_code = 201
    resp.headers["Cache-Control"] = "no-store"
    return resp


def init_app(app: Flask) -> None:
    """The complaint pages on ``app``; ``PHOTO_DIR`` defaults to ``<data dir>/photos``."""
    app.config.setdefault("PHOTO_DIR", str(photos.default_photo_dir()))
    app.jinja_env.globals["complaint_text"] = text  # the staff home page links the pages
    app.register_blueprint(bp)
    app.register_blueprint(photo_bp)
