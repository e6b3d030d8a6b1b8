"""services/workflow.py and services/complaint_queries.py: transitions by role, clocks,
contact details with an audit row, the queue, public views."""

from __future__ import annotations

import pytest

from layers.complaint_catalogue import STATES, TRANSITIONS, role_may
from services import complaint_queries as q
from services import workflow
from services.complaints import parse_complaint, submit_complaint
from services.errors import ConflictError, ForbiddenError, InvalidInputError
from tests.conftest import query
from tests.services.conftest import as_staff, as_web, count, transaction

POINT = {"lat": "60.1680", "lon": "24.9460"}


def _new(url: str, **over) -> int:
    raw = {"service_code": "sampah", "description": "Sampah menumpuk.", **POINT, **over}
    with transaction(as_web(url)) as cur:
        return submit_complaint(
            cur, parse_complaint(raw), channel="web", routing_url=as_web(url)
        ).id


def _move(url: str, cid: int, to: str, staff, **kw):
    with transaction(as_staff(url)) as cur:
        return workflow.transition(cur, cid, to, staff=staff, road_url=as_staff(url), **kw)


def test_the_whole_happy_path_stops_the_clocks(complaints_db, staff_accounts):
    s = staff_accounts
    cid = _new(complaints_db)
    _move(complaints_db, cid, "diverifikasi", s["desk"], public_note="Sedang dicek.")
    assert query(
        complaints_db, "SELECT forwarded_at, closed_at FROM complaint WHERE id = %s", (cid,)
    ) == [(None, None)]
    _move(complaints_db, cid, "diteruskan", s["desk"], expected_state="diverifikasi")
    _move(complaints_db, cid, "dalam_proses", s["sanitation"])  # DLH's own staff
    out = _move(complaints_db, cid, "selesai", s["sanitation"], note="Diangkut pukul 10.")
    assert out["from_state"] == "dalam_proses" and out["to_state"] == "selesai"
    ((state, fwd, fup, closed, created),) = query(
        complaints_db,
        "SELECT state, forwarded_at, followed_up_at, closed_at, created_at FROM complaint"
        " WHERE id = %s",
        (cid,),
    )
    assert state == "selesai" and created <= fwd <= fup <= closed
    events = query(
        complaints_db,
        "SELECT kind, from_state, to_state, actor_id, at FROM complaint_event"
        " WHERE complaint_id = %s ORDER BY at, id",
        (cid,),
    )
    assert [(e[0], e[1], e[2]) for e in events] == [
        ("created", None, "diterima"),
        ("transition", "diterima", "diverifikasi"),
        ("transition", "diverifikasi", "diteruskan"),
        ("transition", "diteruskan", "dalam_proses"),
        ("transition", "dalam_proses", "selesai"),
    ]
    assert [e[3] for e in events[1:]] == [s["desk"].id] * 2 + [s["sanitation"].id] * 2
    assert [e[4] for e in events] == sorted(e[4] for e in events)
    # reopening clears closed_at but keeps the first forward and follow-up times
    _move(complaints_db, cid, "dalam_proses", s["desk"], note="Masih menumpuk.")
    assert query(
        complaints_db,
        "SELECT forwarded_at, followed_up_at, closed_at FROM complaint WHERE id = %s",
        (cid,),
    ) == [(fwd, fup, None)]


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("desk", True), ("admin", True), ("sanitation", False), ("roads", False), ("planner", False)],
)
def test_only_the_table_s_roles_may_verify(complaints_db, staff_accounts, role, allowed):
    cid = _new(complaints_db)
    if allowed:
        _move(complaints_db, cid, "diverifikasi", staff_accounts[role])
    else:
        with pytest.raises(ForbiddenError):
            _move(complaints_db, cid, "diverifikasi", staff_accounts[role])
        assert query(complaints_db, "SELECT state FROM complaint WHERE id = %s", (cid,)) == [
            ("diterima",)
        ]


def test_every_move_of_the_table_and_no_other(complaints_db, staff_accounts):
    """For each pair of states: the admin may make exactly the table's moves."""
    table = {(t.source, t.target) for t in TRANSITIONS}
    admin = staff_accounts["admin"]
    for source in STATES:
        for target in STATES:
            if source == target:
                continue
            cid = _new(complaints_db)
            query(complaints_db, "UPDATE complaint SET state = %s WHERE id = %s", (source, cid))
            if (source, target) in table:
                _move(complaints_db, cid, target, admin, note="ok", duplicate_of=_dup_ref(target))
            else:
                with pytest.raises(ConflictError) as info:
                    _move(complaints_db, cid, target, admin, note="x")
                assert info.value.code == "transition_not_allowed"


def _dup_ref(target: str):
    return None if target != "duplikat" else _ORIGINAL[0]


_ORIGINAL: list[str] = []


@pytest.fixture(autouse=True)
def _original(complaints_db):
    if not _ORIGINAL:
        cid = _new(complaints_db)
        _ORIGINAL.append(
            query(complaints_db, "SELECT tracking_id FROM complaint WHERE id = %s", (cid,))[0][0]
        )


def test_the_agency_role_is_the_complaint_s_agency(complaints_db, staff_accounts):
    roads = _new(complaints_db, service_code="jalan_rusak")
    for to in ("diverifikasi", "diteruskan"):
        _move(complaints_db, roads, to, staff_accounts["desk"])
    with pytest.raises(ForbiddenError):  # sanitation works for DLH, not DPUPR
        _move(complaints_db, roads, "dalam_proses", staff_accounts["sanitation"])
    _move(complaints_db, roads, "dalam_proses", staff_accounts["roads"])
    assert role_may(("agency",), "roads", "dpupr") and not role_may(("agency",), "roads", "dlh")


def test_notes_duplicates_and_stale_clients(complaints_db, staff_accounts):
    desk = staff_accounts["desk"]
    cid = _new(complaints_db)
    with pytest.raises(InvalidInputError) as info:
        _move(complaints_db, cid, "ditolak", desk)
    assert info.value.param == "note"
    with pytest.raises(InvalidInputError) as info:
        _move(complaints_db, cid, "duplikat", desk)
    assert info.value.param == "duplicate_of"
    with pytest.raises(ConflictError) as info:
        _move(complaints_db, cid, "diverifikasi", desk, expected_state="diteruskan")
    assert info.value.code == "state_changed"
    with pytest.raises(InvalidInputError):
        _move(complaints_db, cid, "hilang", desk)
    _move(complaints_db, cid, "duplikat", desk, duplicate_of=_ORIGINAL[0].lower())
    detail = _detail(complaints_db, cid)
    assert detail["state"] == "duplikat" and detail["duplicate_of"] == _ORIGINAL[0]
    assert detail["closed_at"] is not None and detail["status"] == "closed"


def _detail(url: str, cid: int) -> dict:
    with transaction(as_staff(url)) as cur:
        return q.staff_detail(cur, cid)


def test_contact_details_by_role_with_an_audit_row(complaints_db, staff_accounts):
    cid = _new(complaints_db, name="Siti Aminah", phone="0812 0000 1111")
    before = count(
        complaints_db, "SELECT count(*) FROM contact_view WHERE complaint_id = %s", (cid,)
    )
    for role in ("desk", "admin", "sanitation"):
        with transaction(as_staff(complaints_db)) as cur:
            got = workflow.contact_details(
                cur, cid, staff=staff_accounts[role], purpose="telepon balik", client_ip="10.0.0.9"
            )
        assert (got["name"], got["phone"]) == ("Siti Aminah", "0812 0000 1111")
    for role in ("planner", "roads"):  # roads works for DPUPR, this is DLH's
        with pytest.raises(ForbiddenError), transaction(as_staff(complaints_db)) as cur:
            workflow.contact_details(cur, cid, staff=staff_accounts[role])
    views = query(
        complaints_db,
        "SELECT staff_user_id, purpose, client_ip FROM contact_view WHERE complaint_id = %s"
        " ORDER BY id",
        (cid,),
    )
    assert len(views) == before + 3
    assert [v[0] for v in views[-3:]] == [
        staff_accounts[r].id for r in ("desk", "admin", "sanitation")
    ]
    assert views[-1][1:] == ("telepon balik", "10.0.0.9")


def test_the_queue_lists_overdue_first_and_filters(complaints_db, staff_accounts):
    late = _new(complaints_db, service_code="drainase")
    later = _new(complaints_db, service_code="drainase")
    fresh = _new(complaints_db, service_code="drainase")
    query(
        complaints_db,
        "UPDATE complaint SET forward_due_at = now() - interval '2 days' WHERE id = %s",
        (late,),
    )
    query(
        complaints_db,
        "UPDATE complaint SET forward_due_at = now() - interval '1 hour' WHERE id = %s",
        (later,),
    )
    with transaction(as_staff(complaints_db)) as cur:
        queue = q.staff_queue(cur, service_codes=["drainase"], limit=500)
        only_late = q.staff_queue(cur, service_codes=["drainase"], overdue_only=True)
        dpupr = q.staff_queue(cur, agencies=["dpupr"], states=["diterima"], limit=500)
        with pytest.raises(InvalidInputError):
            q.staff_queue(cur, agencies=["kemenkeu"])
    ids = [i["id"] for i in queue["items"]]
    assert ids.index(late) < ids.index(later) < ids.index(fresh)
    assert queue["overdue"] >= 2 and queue["items"][0]["overdue"]
    assert queue["items"][0]["next_clock"] == "forward"
    assert {i["id"] for i in only_late["items"]} >= {late, later}
    assert fresh not in {i["id"] for i in only_late["items"]}
    assert all(i["agency"] == "dpupr" and i["state"] == "diterima" for i in dpupr["items"])
    assert "name" not in queue["items"][0] and "phone" not in queue["items"][0]


def test_public_views_hide_rahasia_content_and_staff_names(complaints_db, staff_accounts):
    secret = _new(complaints_db, rahasia="1", description="RAHASIA-TEXT")
    shown = _new(complaints_db, description="terbuka")
    _move(
        complaints_db,
        shown,
        "diverifikasi",
        staff_accounts["desk"],
        note="NOTE-FOR-STAFF",
        public_note="Terima kasih.",
    )
    tid = {
        cid: query(complaints_db, "SELECT tracking_id FROM complaint WHERE id = %s", (cid,))[0][0]
        for cid in (secret, shown)
    }
    with transaction(as_web(complaints_db)) as cur:
        listing = q.public_requests(cur, limit=1000)
        status = q.public_status(cur, tid[shown])
        secret_status = q.public_status(cur, tid[secret])
        with pytest.raises(q.NotFoundError):
            q.public_status(cur, tid[secret], include_rahasia=False)
        near = q.nearby_open(cur, 60.1680, 24.9460, "sampah")
        counts = q.complaint_counts(cur)
    listed = {r["tracking_id"] for r in listing}
    assert tid[shown] in listed and tid[secret] not in listed
    assert tid[secret] not in {n["tracking_id"] for n in near}
    assert tid[shown] in {n["tracking_id"] for n in near}
    assert "description" not in secret_status and "lat" not in secret_status
    assert secret_status["state"] == "diterima"
    assert status["description"] == "terbuka"
    assert [e["to_state"] for e in status["events"]] == ["diterima", "diverifikasi"]
    assert status["events"][1]["public_note"] == "Terima kasih."
    assert "NOTE-FOR-STAFF" not in str(status) and "svc-desk" not in str(status)
    total = count(complaints_db, "SELECT count(*) FROM complaint WHERE service_code = 'sampah'")
    assert counts["sampah"]["open"] + counts["sampah"]["closed"] == total  # rahasia counted
