"""The staff pages (login required; :mod:`web.auth`): the queue, one complaint, the help desk.

* ``GET /staff/antrian``: the work queue, overdue first (``agency``, ``state``, ``overdue``
  filters as a plain GET form, so it works without script and from the keyboard).
* ``GET /staff/pengaduan/<ref>``: one complaint: details, its point on a small map, every
  event (staff names included: this is the staff side), the transitions this user may make
  as buttons with note fields, "Lihat kontak" for the roles allowed to (each view audited by
  :func:`services.workflow.contact_details`), and the road-condition action for road
  services. ``js/staff.js`` sends the actions to the staff JSON API (:mod:`web.staff_api`)
  with the session's CSRF token and reloads the page. ``.../foto``: the report's photo.
* ``GET /staff/layanan``: the help desk's form (channel ``phone`` or ``desk``) for citizens
  without a smartphone: the fields of ``/lapor`` plus the caller's contact, sent to
  ``POST /staff/api/intake`` (roles desk and admin).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, send_file

from layers.complaint_catalogue import AGENCIES, SERVICES, STATES
from layers.registry import LAYERS
from services import complaint_queries, photos, workflow
from services.workflow import ROAD_REPORT_CONDITIONS
from web import db
from web.auth import csrf_token, staff, staff_required
from web.complaint_pages import form_page, local_time, state_names
from web.complaint_text import text
from web.features import ROAD_LAYER
from web.i18n import current_lang
from web.staff_api import INTAKE_ROLES

bp = Blueprint("staff_pages", __name__, url_prefix="/staff")

NO_STORE = {"Cache-Control": "no-store"}


def _choice(name: str, known) -> str:
    raw = request.args.get(name, "")
    return raw if raw in known else ""


@bp.get("/antrian")
@staff_required()
def queue():
    """The work queue, overdue first."""
    lang = current_lang()
    agency = _choice("agency", AGENCIES)
    state = _choice("state", STATES)
    overdue = request.args.get("overdue") == "1"
    with db.cursor(db.staff_database_url()) as cur:
        out = complaint_queries.staff_queue(
            cur,
            agencies=[agency] if agency else [],
            states=[state] if state else [],
            overdue_only=overdue,
            limit=200,
        )
    html = render_template(
        "staff_queue.html",
        t=text(),
        account=staff(),
        csrf=csrf_token(),
        queue=out,
        agencies={a.code: a.name(lang) for a in AGENCIES.values()},
        states=state_names(lang),
        services={s.code: s.name(lang) for s in SERVICES.values()},
        chosen={"agency": agency, "state": state, "overdue": overdue},
        when=local_time,
        may_intake=staff().role in INTAKE_ROLES,
    )
    return html, 200, NO_STORE


@bp.get("/pengaduan/<ref>")
@staff_required()
def complaint(ref: str):
    """One complaint with its events and the actions this user may take."""
    lang = current_lang()
    account = staff()
    with db.cursor(db.staff_database_url()) as cur:
        cid = complaint_queries.resolve_complaint_id(cur, ref)
        c = complaint_queries.staff_detail(cur, cid)
    service = SERVICES.get(c["service_code"])
    roads = LAYERS[ROAD_LAYER]
    html = render_template(
        "staff_complaint.html",
        t=text(),
        account=account,
        csrf=csrf_token(),
        c=c,
        service=service.name(lang) if service else c["service_code"],
        agency=AGENCIES[c["agency"]].name(lang) if c["agency"] in AGENCIES else c["agency"],
        states=state_names(lang),
        moves=workflow.allowed_transitions(c["state"], c["agency"], account.role),
        may_see_contact=workflow.may_see_contact(account.role, c["agency"]),
        road_action=bool(service and service.road_action),
        road_conditions=[(k, roads.class_label(k, lang)) for k in ROAD_REPORT_CONDITIONS],
        when=local_time,
    )
    return html, 200, NO_STORE


@bp.get("/pengaduan/<ref>/foto")
@staff_required()
def complaint_photo(ref: str):
    """The photo of a complaint (any complaint, *rahasia* too: staff only)."""
    with db.cursor(db.staff_database_url()) as cur:
        cid = complaint_queries.resolve_complaint_id(cur, ref)
        c = complaint_queries.staff_detail(cur, cid)
    path = photos.photo_path(c.get("photo_ref"), current_app.config["PHOTO_DIR"])
    resp = send_file(path, mimetype="image/jpeg", max_age=0)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/layanan")
@staff_required(*INTAKE_ROLES)
def helpdesk():
    """The help desk's form: a complaint taken by phone or at the counter."""
    return form_page("lapor.html", "helpdesk", mode="desk", post_url="/staff/api/intake")
