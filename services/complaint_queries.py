"""Reading complaints: what the public may see, and the staff queue and detail.

Public answers (:func:`public_requests`, :func:`public_status`, :func:`nearby_open`,
:func:`complaint_counts`) never read ``complaint_reporter`` (the web role could not) and never
name a staff member. *Rahasia* reports are left out of listings, lookups by id and the
duplicate hint; their reporter still sees the status page of their tracking id, without the
description, address, point or photo. Aggregates (:func:`complaint_counts`) count them.

Staff answers (:func:`staff_queue`, :func:`staff_detail`) run as the staff role. A
complaint's **next clock** is the first service-level clock still running: forwarding until
it is forwarded, then follow-up until work starts, then resolution; it is overdue when that
clock's due date has passed. The queue lists overdue complaints first, then by the next due
date.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from layers.complaint_catalogue import SERVICES, STATES
from services.complaints import normalize_tracking_id
from services.errors import InvalidInputError, NotFoundError

#: Open311's default window of ``GET requests`` without dates, and its most requests.
DEFAULT_WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000
#: The duplicate hint's radius (metres) and size.
NEARBY_RADIUS_M = 50.0
NEARBY_LIMIT = 10
#: The staff queue's page size limit.
MAX_QUEUE = 500

#: Open311 tokens as :func:`services.complaints.submit_complaint` makes them.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_OPEN = tuple(code for code, s in STATES.items() if not s.closed)
_CLOSED = tuple(code for code, s in STATES.items() if s.closed)

_NEXT_DUE = (
    "CASE WHEN c.closed_at IS NOT NULL THEN NULL"
    " WHEN c.forwarded_at IS NULL THEN c.forward_due_at"
    " WHEN c.followed_up_at IS NULL THEN c.follow_up_due_at ELSE c.due_at END"
)
_NEXT_CLOCK = (
    "CASE WHEN c.closed_at IS NOT NULL THEN NULL"
    " WHEN c.forwarded_at IS NULL THEN 'forward'"
    " WHEN c.followed_up_at IS NULL THEN 'follow_up' ELSE 'resolution' END"
)

_PUBLIC_COLUMNS = (
    "c.id, c.tracking_id, c.service_code, c.agency, c.state, c.description, c.address,"
    " ST_Y(c.geom), ST_X(c.geom), c.created_at, c.updated_at, c.due_at, c.closed_at,"
    " c.photo_ref, c.rahasia, c.linked_layer, c.linked_feature_id, c.token"
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _public_row(row: Sequence[Any]) -> dict[str, Any]:
    (cid, tracking, code, agency, state, desc, address, lat, lon, created, updated, due) = row[:12]
    closed, photo, rahasia, layer, feature, token = row[12:]
    out: dict[str, Any] = {
        "tracking_id": tracking,
        "token": token,
        "service_code": code,
        "agency": agency,
        "state": state,
        "status": STATES[state].open311,
        "created_at": _iso(created),
        "updated_at": _iso(updated),
        "expected_at": _iso(due),
        "closed_at": _iso(closed),
        "rahasia": rahasia,
    }
    if not rahasia:
        out.update(
            description=desc,
            address=address,
            lat=lat,
            lon=lon,
            photo_ref=photo,
            linked_feature=None if layer is None else {"layer": layer, "id": feature},
        )
    return out


def _parse_moment(raw: object, param: str) -> datetime:
    if not isinstance(raw, str) or len(raw) > 40:
        raise InvalidInputError(f"'{param}' must be a date and time.", param=param)
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        msg = f"'{param}' must be an ISO 8601 date and time with a zone, e.g. 2026-01-01T00:00:00Z."
        raise InvalidInputError(msg, code="invalid_parameter", param=param) from exc
    if moment.tzinfo is None:
        msg = f"'{param}' needs a time zone (Z or +07:00)."
        raise InvalidInputError(msg, code="invalid_parameter", param=param)
    return moment


def public_requests(
    cur,
    *,
    tracking_ids: Sequence[str] = (),
    service_codes: Sequence[str] = (),
    start: str | None = None,
    end: str | None = None,
    statuses: Sequence[str] = (),
    limit: int = MAX_REQUESTS,
) -> list[dict[str, Any]]:
    """List public (not *rahasia*) complaints, newest first: Open311 ``GET requests``.

    Parameters
    ----------
    cur : cursor
        A cursor (the web role suffices).
    tracking_ids : sequence of str
        Only these (ids as typed; unknown ones are ignored). Dates then do not apply.
    service_codes : sequence of str
        Only these services.
    start, end : str, optional
        ISO 8601 bounds on the time of receipt. Without either (and without ids): the last
        :data:`DEFAULT_WINDOW`.
    statuses : sequence of str
        ``open`` and/or ``closed``.
    limit : int
        At most this many (capped at :data:`MAX_REQUESTS`).

    Returns
    -------
    list of dict
        :func:`public_status`-like records without events.

    Raises
    ------
    InvalidInputError
        An unknown service code or status, or a bad date (``param`` names it).
    """
    where = ["NOT c.rahasia"]
    params: list[Any] = []
    for code in service_codes:
        if code not in SERVICES:
            msg = f"Unknown service_code {code!r}; see services."
            raise InvalidInputError(msg, code="invalid_parameter", param="service_code")
    if tracking_ids:
        ids = [i for i in (normalize_tracking_id(t) for t in tracking_ids) if i is not None]
        where.append("c.tracking_id = ANY(%s)")
        params.append(ids)
    if service_codes:
        where.append("c.service_code = ANY(%s)")
        params.append(list(service_codes))
    states: list[str] = []
    for status in statuses:
        if status not in ("open", "closed"):
            msg = f"'status' must be open or closed, got {status!r}."
            raise InvalidInputError(msg, code="invalid_parameter", param="status")
        states += _OPEN if status == "open" else _CLOSED
    if states:
        where.append("c.state = ANY(%s)")
        params.append(states)
    lo = _parse_moment(start, "start_date") if start is not None else None
    hi = _parse_moment(end, "end_date") if end is not None else None
    if not tracking_ids and lo is None and hi is None:
        where.append("c.created_at >= now() - %s")
        params.append(DEFAULT_WINDOW)
    if lo is not None:
        where.append("c.created_at >= %s")
        params.append(lo)
    if hi is not None:
        where.append("c.created_at <= %s")
        params.append(hi)
    params.append(max(1, min(limit, MAX_REQUESTS)))
    cur.execute(
        f"SELECT {_PUBLIC_COLUMNS} FROM complaint c WHERE {' AND '.join(where)}"  # noqa: S608
        " ORDER BY c.created_at DESC, c.id DESC LIMIT %s",
        params,
    )
    return [_public_row(r) for r in cur.fetchall()]


def find_by_token(cur, token: str) -> str | None:
    """Return the tracking id of the complaint with Open311 ``token``, or None."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    cur.execute("SELECT tracking_id FROM complaint WHERE token = %s", (token,))
    row = cur.fetchone()
    return row[0] if row else None


def public_status(cur, tracking_id: str, *, include_rahasia: bool = True) -> dict[str, Any]:
    """Return a complaint's public status: the status page and Open311 ``GET requests/{id}``.

    Parameters
    ----------
    cur : cursor
        A cursor (the web role suffices).
    tracking_id : str
        As typed (:func:`services.complaints.normalize_tracking_id`).
    include_rahasia : bool
        False: a *rahasia* complaint is not found (Open311); True: it is shown without its
        content (the reporter's status page).

    Returns
    -------
    dict
        The record, plus ``events``: each with ``at``, ``kind``, ``from_state``,
        ``to_state`` and ``public_note``, oldest first, without staff names or staff notes.

    Raises
    ------
    NotFoundError
        No such complaint (code ``unknown_request``).
    """
    tid = normalize_tracking_id(tracking_id)
    row = None
    if tid is not None:
        cur.execute(
            f"SELECT {_PUBLIC_COLUMNS} FROM complaint c WHERE c.tracking_id = %s",  # noqa: S608
            (tid,),
        )
        row = cur.fetchone()
    if row is None or (row[14] and not include_rahasia):
        msg = f"There is no complaint with tracking id {tracking_id!r}."
        raise NotFoundError(msg, code="unknown_request", param="tracking_id")
    out = _public_row(row)
    cur.execute(
        "SELECT at, kind, from_state, to_state, public_note FROM complaint_event"
        " WHERE complaint_id = %s AND kind IN ('created', 'transition') ORDER BY at, id",
        (row[0],),
    )
    out["events"] = [
        {"at": _iso(at), "kind": kind, "from_state": f, "to_state": t, "public_note": note}
        for at, kind, f, t, note in cur.fetchall()
    ]
    return out


def nearby_open(
    cur, lat: float, lon: float, service_code: str, *, radius_m: float = NEARBY_RADIUS_M
) -> list[dict[str, Any]]:
    """List open, public reports of a service within ``radius_m`` of a point (nearest first).

    The web form shows them before submitting, so a citizen can see that a problem is
    already reported. *Rahasia* reports are left out.
    """
    cur.execute(
        "SELECT c.tracking_id, c.state, c.created_at, c.description,"
        " ST_Distance(c.geom::geography, p.g::geography) AS d"
        " FROM complaint c, (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g) p"
        " WHERE c.service_code = %(code)s AND NOT c.rahasia AND c.closed_at IS NULL"
        " AND ST_DWithin(c.geom::geography, p.g::geography, %(r)s)"
        " ORDER BY d, c.created_at DESC, c.id DESC LIMIT %(n)s",
        {"lat": lat, "lon": lon, "code": service_code, "r": radius_m, "n": NEARBY_LIMIT},
    )
    return [
        {
            "tracking_id": t,
            "state": s,
            "status": STATES[s].open311,
            "created_at": _iso(at),
            "description": desc,
            "distance_m": round(float(d), 1),
        }
        for t, s, at, desc, d in cur.fetchall()
    ]


def complaint_counts(cur) -> dict[str, dict[str, int]]:
    """Count every complaint, *rahasia* ones included, by service and by Open311 status.

    Returns
    -------
    dict
        ``service_code -> {"open": n, "closed": n}`` for every service of the catalogue.
    """
    cur.execute(
        "SELECT service_code, closed_at IS NULL, count(*) FROM complaint GROUP BY 1, 2",
    )
    out = {code: {"open": 0, "closed": 0} for code in SERVICES}
    for code, is_open, n in cur.fetchall():
        out.setdefault(code, {"open": 0, "closed": 0})["open" if is_open else "closed"] += n
    return out


# --- staff -------------------------------------------------------------------------------------

_STAFF_COLUMNS = ", ".join(
    (
        "c.id, c.tracking_id, c.service_code, c.agency, c.state, c.channel, c.anonim",
        "c.rahasia, c.description, c.address, ST_Y(c.geom), ST_X(c.geom), c.attributes",
        "c.photo_ref, c.linked_layer, c.linked_feature_id, c.link_method, c.linked_distance_m",
        "c.linked_walk_s, c.created_at, c.updated_at, c.forward_due_at, c.follow_up_due_at",
        "c.due_at, c.forwarded_at, c.followed_up_at, c.closed_at, c.road_change_id",
        "(SELECT d.tracking_id FROM complaint d WHERE d.id = c.duplicate_of)",
        _NEXT_DUE,
        _NEXT_CLOCK,
        "EXISTS (SELECT 1 FROM complaint_reporter r WHERE r.complaint_id = c.id)",
    )
)
_STAFF_NAMES = (
    "id",
    "tracking_id",
    "service_code",
    "agency",
    "state",
    "channel",
    "anonim",
    "rahasia",
    "description",
    "address",
    "lat",
    "lon",
    "attributes",
    "photo_ref",
    "linked_layer",
    "linked_feature_id",
    "link_method",
    "linked_distance_m",
    "linked_walk_s",
    "created_at",
    "updated_at",
    "forward_due_at",
    "follow_up_due_at",
    "due_at",
    "forwarded_at",
    "followed_up_at",
    "closed_at",
    "road_change_id",
    "duplicate_of",
    "next_due_at",
    "next_clock",
    "has_contact",
)


def _staff_row(row: Sequence[Any], now: datetime) -> dict[str, Any]:
    out = dict(zip(_STAFF_NAMES, row, strict=True))
    out["overdue"] = out["next_due_at"] is not None and out["next_due_at"] < now
    out["status"] = STATES[out["state"]].open311
    for k, v in out.items():
        if isinstance(v, datetime):
            out[k] = v.isoformat()
    return out


def staff_queue(
    cur,
    *,
    agencies: Sequence[str] = (),
    states: Sequence[str] = (),
    service_codes: Sequence[str] = (),
    overdue_only: bool = False,
    include_closed: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Return the staff work queue: overdue first, then by the next due date.

    Parameters
    ----------
    cur : cursor
        A cursor of the staff role.
    agencies, states, service_codes : sequence of str
        Filters (empty: all). Unknown values are refused.
    overdue_only : bool
        Only complaints whose next clock has run out.
    include_closed : bool
        Also closed complaints (listed after every open one); default only open ones,
        unless ``states`` names closed states.
    limit, offset : int
        Paging (``limit`` at most :data:`MAX_QUEUE`).

    Returns
    -------
    dict
        ``total`` (matching complaints), ``overdue`` (of those) and ``items``: every column
        of a complaint but the contact details, with ``next_due_at``, ``next_clock``
        (``forward``, ``follow_up``, ``resolution``), ``overdue`` and ``has_contact``.
    """
    from layers.complaint_catalogue import AGENCIES

    _check_values(agencies, AGENCIES, "agency")
    _check_values(states, STATES, "state")
    _check_values(service_codes, SERVICES, "service_code")
    where, params = ["TRUE"], []
    if agencies:
        where.append("c.agency = ANY(%s)")
        params.append(list(agencies))
    if states:
        where.append("c.state = ANY(%s)")
        params.append(list(states))
    elif not include_closed:
        where.append("c.closed_at IS NULL")
    if service_codes:
        where.append("c.service_code = ANY(%s)")
        params.append(list(service_codes))
    if overdue_only:
        where.append(f"({_NEXT_DUE}) < now()")
    cond = " AND ".join(where)
    cur.execute(
        f"SELECT count(*), count(*) FILTER (WHERE ({_NEXT_DUE}) < now()), now()"  # noqa: S608
        f" FROM complaint c WHERE {cond}",
        params,
    )
    total, overdue, now = cur.fetchone()
    cur.execute(
        f"SELECT {_STAFF_COLUMNS} FROM complaint c WHERE {cond}"  # noqa: S608
        f" ORDER BY (c.closed_at IS NOT NULL), (({_NEXT_DUE}) < now()) DESC,"
        f" ({_NEXT_DUE}) NULLS LAST, c.created_at DESC, c.id LIMIT %s OFFSET %s",
        [*params, max(1, min(limit, MAX_QUEUE)), max(0, offset)],
    )
    items = [_staff_row(r, now) for r in cur.fetchall()]
    return {"total": total, "overdue": overdue, "items": items}


def _check_values(values: Sequence[str], known, param: str) -> None:
    for v in values:
        if v not in known:
            msg = f"Unknown {param} {v!r}; one of: {', '.join(known)}."
            raise InvalidInputError(msg, code="invalid_parameter", param=param)


def resolve_complaint_id(cur, ref: object) -> int:
    """Return the database id of a complaint given by database id or tracking id.

    Raises
    ------
    NotFoundError
        No such complaint.
    """
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit() and len(ref) < 10):
        cur.execute("SELECT id FROM complaint WHERE id = %s", (int(ref),))
    else:
        cur.execute(
            "SELECT id FROM complaint WHERE tracking_id = %s", (normalize_tracking_id(ref),)
        )
    row = cur.fetchone()
    if row is None:
        msg = f"There is no complaint {ref!r}."
        raise NotFoundError(msg, code="unknown_complaint", param="complaint")
    return int(row[0])


def staff_detail(cur, complaint_id: int) -> dict[str, Any]:
    """Return one complaint for staff, with every event (staff names and notes included).

    Raises
    ------
    NotFoundError
        No such complaint.
    """
    cur.execute(
        f"SELECT {_STAFF_COLUMNS}, now() FROM complaint c WHERE c.id = %s",  # noqa: S608
        (complaint_id,),
    )
    row = cur.fetchone()
    if row is None:
        msg = f"There is no complaint {complaint_id}."
        raise NotFoundError(msg, code="unknown_complaint", param="complaint")
    out = _staff_row(row[:-1], row[-1])
    cur.execute(
        "SELECT e.id, e.at, e.kind, e.from_state, e.to_state, e.channel, e.note,"
        " e.public_note, e.data, u.username, u.display_name, u.role"
        " FROM complaint_event e LEFT JOIN staff_user u ON u.id = e.actor_id"
        " WHERE e.complaint_id = %s ORDER BY e.at, e.id",
        (complaint_id,),
    )
    out["events"] = [
        {
            "id": eid,
            "at": _iso(at),
            "kind": kind,
            "from_state": f,
            "to_state": t,
            "channel": channel,
            "note": note,
            "public_note": public_note,
            "data": data,
            "actor": None
            if username is None
            else {"username": username, "display_name": display, "role": role},
        }
        for (eid, at, kind, f, t, channel, note, public_note, data, username, display, role) in (
            cur.fetchall()
        )
    ]
    return out
