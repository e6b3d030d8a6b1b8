"""The staff workflow: state transitions, contact details with an audit trail, road actions.

Everything here runs in the caller's transaction as the staff role, and every change is a
``complaint_event`` timed by the database clock.

* :func:`transition` makes one move of the transition table
  (:data:`layers.complaint_catalogue.TRANSITIONS`), if the staff member's role may make it:
  it stops the forwarding and follow-up clocks when the target state says so (the first time
  only), sets ``closed_at`` on closing and clears it on reopening. A client passes the state
  it saw (``expected_state``): when another officer moved the complaint meanwhile, the move is
  a :class:`services.errors.ConflictError`, not a surprise. Closing a complaint whose road
  action is in force restores the road (:func:`clear_road_condition`).
* :func:`contact_details` returns the reporter's contact details to a role of
  :data:`layers.complaint_catalogue.CONTACT_ROLES` and writes a ``contact_view`` row with
  who, when, why and from where; any other role gets :class:`services.errors.ForbiddenError`.
* :func:`set_road_condition` and :func:`clear_road_condition`: on a verified road-damage or
  flooding report, set the linked road segment's condition (up to *tidak_dapat_dilalui*)
  through ``gis.network.set_road_condition``, so routing avoids it within seconds, and
  restore it through ``gis.network.restore_road_condition``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import gis.network as network
from layers.complaint_catalogue import (
    AGENCIES,
    CATALOGUE,
    CONTACT_ROLES,
    ROAD_ACTION_ROLES,
    ROAD_ACTION_STATES,
    STATES,
    get_service,
    role_may,
)
from layers.vocab import ROAD_CONDITIONS
from services.accounts import StaffAccount
from services.complaints import clean_text, normalize_tracking_id
from services.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError

logger = logging.getLogger(__name__)

MAX_NOTE = 2000
#: Conditions a road report may set (the worse half of the scale).
ROAD_REPORT_CONDITIONS: tuple[str, ...] = ("rusak_ringan", "rusak_berat", "tidak_dapat_dilalui")


def _lock(cur, complaint_id: int) -> dict[str, Any]:
    cur.execute(
        "SELECT id, tracking_id, state, agency, service_code, forwarded_at, followed_up_at,"
        " closed_at, road_change_id, linked_layer, linked_feature_id"
        " FROM complaint WHERE id = %s FOR UPDATE",
        (complaint_id,),
    )
    row = cur.fetchone()
    if row is None:
        msg = f"There is no complaint {complaint_id}."
        raise NotFoundError(msg, code="unknown_complaint", param="complaint")
    keys = (
        "id",
        "tracking_id",
        "state",
        "agency",
        "service_code",
        "forwarded_at",
        "followed_up_at",
        "closed_at",
        "road_change_id",
        "linked_layer",
        "linked_feature_id",
    )
    return dict(zip(keys, row, strict=True))


def allowed_transitions(state: str, agency: str, role: str) -> list[str]:
    """List the states a staff member with ``role`` may move a complaint to, in table order."""
    return [
        t.target for t in CATALOGUE.transitions_from(state) if t.allows(role, AGENCIES.get(agency))
    ]


def transition(
    cur,
    complaint_id: int,
    to_state: object,
    *,
    staff: StaffAccount,
    note: object = None,
    public_note: object = None,
    expected_state: object = None,
    duplicate_of: object = None,
    road_url: str | None = None,
) -> dict[str, Any]:
    """Move a complaint to ``to_state`` if the transition table and the role allow it.

    Parameters
    ----------
    cur : cursor
        A cursor of the staff role's connection; the caller commits.
    complaint_id : int
        The complaint.
    to_state : str
        The target state.
    staff : StaffAccount
        Who makes the move (recorded in the event).
    note : str, optional
        For staff only; required by some transitions (rejecting, reopening).
    public_note : str, optional
        Shown to the reporter on the status page.
    expected_state : str, optional
        The state the client saw; a different current state is a conflict.
    duplicate_of : str, optional
        For ``duplikat``: the tracking id of the original report (required there).
    road_url : str, optional
        Database URL for restoring a road condition in force when the move closes the
        complaint.

    Returns
    -------
    dict
        ``from_state``, ``to_state``, ``event_id``, ``at`` and ``road_restored``.

    Raises
    ------
    InvalidInputError
        Unknown state, a missing note or duplicate reference.
    ConflictError
        The complaint is not in ``expected_state``, or the table has no such move from its
        state.
    ForbiddenError
        The role may not make this move.
    """
    if to_state not in STATES:
        msg = f"'to_state' must be one of: {', '.join(STATES)}; got {to_state!r}."
        raise InvalidInputError(msg, code="invalid_parameter", param="to_state")
    target = STATES[str(to_state)]
    c = _lock(cur, complaint_id)
    if expected_state not in (None, "") and expected_state != c["state"]:
        msg = (
            f"Complaint {c['tracking_id']} is now {c['state']!r}, not {expected_state!r}: "
            "someone changed it meanwhile. Reload it and try again."
        )
        raise ConflictError(msg, code="state_changed", param="expected_state")
    move = CATALOGUE.transition(c["state"], target.code)
    if move is None:
        allowed = [t.target for t in CATALOGUE.transitions_from(c["state"])] or ["none"]
        msg = (
            f"A complaint in state {c['state']!r} cannot move to {target.code!r}; "
            f"allowed: {', '.join(allowed)}."
        )
        raise ConflictError(msg, code="transition_not_allowed", param="to_state")
    if not move.allows(staff.role, AGENCIES.get(c["agency"])):
        msg = (
            f"The role {staff.role!r} may not move a complaint from {c['state']!r} "
            f"to {target.code!r}."
        )
        raise ForbiddenError(msg, code="role_not_allowed", param="to_state")
    staff_note = clean_text(note, "note", max_length=MAX_NOTE, multiline=True)
    if move.note_required and staff_note is None:
        msg = f"Moving to {target.code!r} needs a note saying why."
        raise InvalidInputError(msg, code="note_required", param="note")
    shown = clean_text(public_note, "public_note", max_length=MAX_NOTE, multiline=True)
    original = None
    if target.code == "duplikat":
        original = _original_of(cur, c, duplicate_of)
    cur.execute(
        "UPDATE complaint SET state = %(to)s, updated_at = now(),"
        " forwarded_at = CASE WHEN %(fwd)s THEN coalesce(forwarded_at, now())"
        "   ELSE forwarded_at END,"
        " followed_up_at = CASE WHEN %(fup)s THEN coalesce(followed_up_at, now())"
        "   ELSE followed_up_at END,"
        " closed_at = CASE WHEN %(closed)s THEN coalesce(closed_at, now()) ELSE NULL END,"
        " duplicate_of = CASE WHEN %(to)s = 'duplikat' THEN %(orig)s ELSE duplicate_of END"
        " WHERE id = %(id)s",
        {
            "to": target.code,
            "fwd": target.forwarded,
            "fup": target.followed_up,
            "closed": target.closed,
            "orig": original,
            "id": c["id"],
        },
    )
    data = {"duplicate_of": duplicate_of} if original is not None else {}
    cur.execute(
        "INSERT INTO complaint_event (complaint_id, kind, from_state, to_state, actor_id, note,"
        " public_note, data) VALUES (%s, 'transition', %s, %s, %s, %s, %s, %s) RETURNING id, at",
        (c["id"], c["state"], target.code, staff.id, staff_note, shown, json.dumps(data)),
    )
    event_id, at = cur.fetchone()
    restored = False
    if target.closed and c["road_change_id"]:
        clear_road_condition(cur, c["id"], staff=staff, url=road_url, reason="closed")
        restored = True
    return {
        "from_state": c["state"],
        "to_state": target.code,
        "event_id": event_id,
        "at": at.isoformat(),
        "road_restored": restored,
    }


def _original_of(cur, c: dict[str, Any], ref: object) -> int:
    tid = normalize_tracking_id(ref)
    if tid is None:
        msg = "Marking a duplicate needs 'duplicate_of': the tracking id of the original report."
        raise InvalidInputError(msg, code="invalid_parameter", param="duplicate_of")
    cur.execute("SELECT id FROM complaint WHERE tracking_id = %s", (tid,))
    row = cur.fetchone()
    if row is None or row[0] == c["id"]:
        msg = f"'duplicate_of' must be the tracking id of another complaint; got {ref!r}."
        raise InvalidInputError(msg, code="invalid_parameter", param="duplicate_of")
    return int(row[0])


def may_see_contact(role: str, agency: str) -> bool:
    """Tell whether ``role`` may see the contact details of a complaint of ``agency``."""
    return role_may(CONTACT_ROLES, role, agency)


def contact_details(
    cur,
    complaint_id: int,
    *,
    staff: StaffAccount,
    purpose: object = None,
    client_ip: str | None = None,
) -> dict[str, Any]:
    """Return a reporter's contact details and log the view in ``contact_view``.

    Parameters
    ----------
    cur : cursor
        A cursor of the staff role's connection; the caller commits (the audit row is
        written even when the complaint has no contact details).
    complaint_id : int
        The complaint.
    staff : StaffAccount
        Who looks.
    purpose : str, optional
        Why (e.g. "call back about the location"); stored with the view.
    client_ip : str, optional
        From where.

    Returns
    -------
    dict
        ``name``, ``phone``, ``email``, ``device_id`` (None when not given) and
        ``anonim``.

    Raises
    ------
    ForbiddenError
        The role may not see contact details of this complaint.
    NotFoundError
        No such complaint.
    """
    cur.execute("SELECT agency, anonim FROM complaint WHERE id = %s", (complaint_id,))
    row = cur.fetchone()
    if row is None:
        msg = f"There is no complaint {complaint_id}."
        raise NotFoundError(msg, code="unknown_complaint", param="complaint")
    agency, anonim = row
    if not may_see_contact(staff.role, agency):
        msg = f"The role {staff.role!r} may not see reporters' contact details."
        raise ForbiddenError(msg, code="role_not_allowed")
    why = clean_text(purpose, "purpose", max_length=500)
    cur.execute(
        "INSERT INTO contact_view (complaint_id, staff_user_id, purpose, client_ip)"
        " VALUES (%s, %s, %s, %s)",
        (complaint_id, staff.id, why, client_ip),
    )
    cur.execute(
        "SELECT name, phone, email, device_id FROM complaint_reporter WHERE complaint_id = %s",
        (complaint_id,),
    )
    found = cur.fetchone() or (None, None, None, None)
    logger.info("staff user %s viewed the contact details of complaint %s", staff.id, complaint_id)
    return {
        "name": found[0],
        "phone": found[1],
        "email": found[2],
        "device_id": found[3],
        "anonim": anonim,
    }


# --- road actions ------------------------------------------------------------------------------


def _stored_change_id(raw: str) -> Any:
    return int(raw) if raw.isdigit() else raw


def set_road_condition(
    cur,
    complaint_id: int,
    condition: object,
    *,
    staff: StaffAccount,
    url: str,
    note: object = None,
) -> dict[str, Any]:
    """Set the linked road segment's condition from a verified road report.

    Calls ``gis.network.set_road_condition(url, [segment], condition,
    source="complaint:<tracking id>", note=...)``, which makes routing reflect it within
    seconds, and records the change id on the complaint and in a ``road_condition`` event.
    A condition already in force from this complaint is restored first.

    Parameters
    ----------
    cur : cursor
        A cursor of the staff role's connection; the caller commits.
    complaint_id : int
        A complaint of a service with a road action, linked to a road segment, in one of
        :data:`layers.complaint_catalogue.ROAD_ACTION_STATES`.
    condition : str
        One of :data:`ROAD_REPORT_CONDITIONS`.
    staff : StaffAccount
        Who acts; a role of :data:`layers.complaint_catalogue.ROAD_ACTION_ROLES`.
    url : str
        Database URL for the road-condition function.
    note : str, optional
        Recorded with the change.

    Returns
    -------
    dict
        ``change_id``, ``segment_ids``, ``condition``, ``event_id``.

    Raises
    ------
    InvalidInputError
        An unknown condition.
    ConflictError
        The service has no road action, the complaint is not verified (or already closed),
        has no linked segment, or the function is not available.
    ForbiddenError
        The role may not act.
    """
    if condition not in ROAD_REPORT_CONDITIONS:
        msg = f"'condition' must be one of: {', '.join(ROAD_REPORT_CONDITIONS)}; got {condition!r}."
        raise InvalidInputError(msg, code="invalid_parameter", param="condition")
    assert condition in ROAD_CONDITIONS
    c = _lock(cur, complaint_id)
    service = get_service(c["service_code"])
    if service is None or not service.road_action:
        msg = f"Complaints of service {c['service_code']!r} do not change road conditions."
        raise ConflictError(msg, code="no_road_action")
    if not role_may(ROAD_ACTION_ROLES, staff.role, c["agency"]):
        msg = f"The role {staff.role!r} may not change road conditions."
        raise ForbiddenError(msg, code="role_not_allowed")
    if c["state"] not in ROAD_ACTION_STATES:
        msg = (
            f"Complaint {c['tracking_id']} is {c['state']!r}: a road condition is set from a "
            f"verified report ({', '.join(ROAD_ACTION_STATES)})."
        )
        raise ConflictError(msg, code="not_verified", param="state")
    if c["linked_layer"] != "road_segment" or c["linked_feature_id"] is None:
        msg = f"Complaint {c['tracking_id']} is not linked to a road segment."
        raise ConflictError(msg, code="no_linked_segment")
    text = clean_text(note, "note", max_length=MAX_NOTE, multiline=True)
    if c["road_change_id"]:
        network.restore_road_condition(url, _stored_change_id(c["road_change_id"]))
    segments = [int(c["linked_feature_id"])]
    change_id = network.set_road_condition(
        url, segments, condition, source=f"complaint:{c['tracking_id']}", note=text
    )
    try:
        cur.execute(
            "UPDATE complaint SET road_change_id = %s, updated_at = now() WHERE id = %s",
            (str(change_id), c["id"]),
        )
        data = {"condition": condition, "segment_ids": segments, "change_id": str(change_id)}
        cur.execute(
            "INSERT INTO complaint_event (complaint_id, kind, from_state, to_state, actor_id,"
            " note, data) VALUES (%s, 'road_condition', %s, %s, %s, %s, %s) RETURNING id",
            (c["id"], c["state"], c["state"], staff.id, text, json.dumps(data)),
        )
        (event_id,) = cur.fetchone()
    except Exception:
        network.restore_road_condition(
            url, change_id
        )  # do not leave a road changed that no complaint records
        raise
    return {
        "change_id": str(change_id),
        "segment_ids": segments,
        "condition": condition,
        "event_id": event_id,
    }


def clear_road_condition(
    cur, complaint_id: int, *, staff: StaffAccount, url: str | None, reason: str = "cleared"
) -> dict[str, Any]:
    """Restore the road condition a complaint set, and record it.

    Raises
    ------
    ConflictError
        The complaint has no road condition in force, or the function is unavailable.
    ForbiddenError
        The role may not act (an explicit clear; closing by an allowed transition always
        restores).
    """
    c = _lock(cur, complaint_id)
    if not c["road_change_id"]:
        msg = f"Complaint {c['tracking_id']} has no road condition in force."
        raise ConflictError(msg, code="no_road_change")
    if reason == "cleared" and not role_may(ROAD_ACTION_ROLES, staff.role, c["agency"]):
        msg = f"The role {staff.role!r} may not change road conditions."
        raise ForbiddenError(msg, code="role_not_allowed")
    if url is None:
        msg = "no database URL to restore the road condition with"
        raise ValueError(msg)
    network.restore_road_condition(url, _stored_change_id(c["road_change_id"]))
    cur.execute(
        "UPDATE complaint SET road_change_id = NULL, updated_at = now() WHERE id = %s", (c["id"],)
    )
    data = {"change_id": c["road_change_id"], "reason": reason}
    cur.execute(
        "INSERT INTO complaint_event (complaint_id, kind, from_state, to_state, actor_id, data)"
        " VALUES (%s, 'road_restored', %s, %s, %s, %s) RETURNING id",
        (c["id"], c["state"], c["state"], staff.id, json.dumps(data)),
    )
    (event_id,) = cur.fetchone()
    return {"change_id": c["road_change_id"], "event_id": event_id}
