"""services/complaints.py: validation, storing, clocks, linking and idempotency.

Intake runs as the web role, as in ``sigap serve``; what landed is read back as the owner.
Linked features are checked against an independent computation: networkx over the
``cost_walk_s`` column read back from PostGIS, both ends placed by PostGIS
(``tests/gis/reference.py``), or PostGIS's own geodesic distances.
"""

from __future__ import annotations

import threading
import uuid

import psycopg2
import pytest

from gis.errors import InvalidInputError
from layers.complaint_catalogue import CATALOGUE_VERSION, SERVICES
from services import complaints
from services.calendar import get_calendar
from services.complaints import (
    TRACKING_ALPHABET,
    normalize_tracking_id,
    parse_complaint,
    submit_complaint,
)
from services.errors import ConflictError
from tests.conftest import query
from tests.gis.reference import Reference
from tests.services.conftest import as_staff, as_web, count, transaction

HERE = {"lat": "60.1690", "lon": "24.9440"}  # central Helsinki, on the street grid


def _raw(**over) -> dict:
    base = {"service_code": "sampah", "description": "Tempat sampah penuh sejak Senin.", **HERE}
    base.update(over)
    return base


def _submit(url: str, raw: dict, *, channel: str = "web", routing: bool = True, **kw):
    web = as_web(url)
    with transaction(web) as cur:
        return submit_complaint(
            cur, parse_complaint(raw), channel=channel, routing_url=web if routing else None, **kw
        )


# --- parsing -----------------------------------------------------------------------------------


def test_a_valid_complaint_parses():
    data = parse_complaint(
        _raw(
            attributes={"masalah": "penuh"},
            name="Siti",
            phone="+62 812-3456-7890",
            email="siti@example.invalid",
            rahasia="true",
            idempotency_key=str(uuid.uuid4()),
        )
    )
    assert (data.lat, data.lon) == (60.169, 24.944)
    assert data.rahasia and not data.anonim
    assert data.reporter.name == "Siti"
    assert data.attributes == {"masalah": "penuh"}


@pytest.mark.parametrize(
    ("over", "param"),
    [
        ({"service_code": None}, "service_code"),
        ({"service_code": "graffiti"}, "service_code"),
        ({"lat": None}, "lat"),
        ({"lat": "91"}, "lat"),
        ({"lat": "-90.5"}, "lat"),
        ({"lon": "180.01"}, "lon"),
        ({"lon": "1e999"}, "lon"),
        ({"lat": "NaN"}, "lat"),
        ({"lat": "60,1"}, "lat"),
        ({"description": ""}, "description"),
        ({"description": "   "}, "description"),
        ({"description": "a\x00b"}, "description"),
        ({"description": "bell\x07"}, "description"),
        ({"description": "x" * 4001}, "description"),
        ({"description": ["list"]}, "description"),
        ({"address": "line\nbreak"}, "address"),
        ({"attributes": {"warna": "merah"}}, "attribute[warna]"),
        ({"attributes": {"masalah": "meledak"}}, "attribute[masalah]"),
        ({"attributes": "masalah=penuh"}, "attributes"),
        (
            {"service_code": "banjir", "attributes": {"kedalaman_cm": "900"}},
            "attribute[kedalaman_cm]",
        ),
        ({"phone": "call me"}, "phone"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "<script>@x.y"}, "email"),
        ({"anonim": "maybe"}, "anonim"),
        ({"idempotency_key": "short"}, "idempotency_key"),
        ({"idempotency_key": "bad key with spaces"}, "idempotency_key"),
        ({"photo_ref": "../../etc/passwd"}, "photo_ref"),
    ],
)
def test_bad_input_names_the_field(over, param):
    with pytest.raises(InvalidInputError) as info:
        parse_complaint(_raw(**over))
    assert info.value.param == param
    assert info.value.status == 400


def test_4000_characters_and_line_breaks_are_fine():
    text = ("Jalan berlubang.\r\n\tDi depan rumah no. 5. " * 200)[:4000]
    data = parse_complaint(_raw(description=text))
    assert "\r" not in data.description and "\n\t" in data.description


def test_anonim_drops_the_contact_details():
    data = parse_complaint(_raw(anonim="on", name="Budi", phone="0812345678"))
    assert data.anonim and data.reporter.empty


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("7kq2-m9tx", "7KQ2-M9TX"),
        ("7KQ2 M9TX", "7KQ2-M9TX"),
        ("OIL0-0000", "0110-0000"),
        ("7KQ2M9T", None),
        ("7KQ2-M9TU", None),
        (None, None),
    ],
)
def test_tracking_ids_survive_being_read_out(typed, canonical):
    assert normalize_tracking_id(typed) == canonical


# --- storing ----------------------------------------------------------------------------------


def test_a_complaint_is_stored_with_clocks_event_and_contact(complaints_db):
    intake = _submit(complaints_db, _raw(name="Siti", phone="0812 3456 789", device_id="dev-1"))
    assert normalize_tracking_id(intake.tracking_id) == intake.tracking_id
    assert all(c in TRACKING_ALPHABET for c in intake.tracking_id.replace("-", ""))
    rows = query(
        complaints_db,
        "SELECT id, state, channel, agency, catalogue_version, created_at, forward_due_at,"
        " follow_up_due_at, due_at, ST_Y(geom), ST_X(geom) FROM complaint WHERE tracking_id = %s",
        (intake.tracking_id,),
    )
    assert len(rows) == 1
    cid, state, channel, agency, version, created, fwd, fup, due, lat, lon = rows[0]
    assert cid == intake.id and (state, channel, agency) == ("diterima", "web", "dlh")
    assert version == CATALOGUE_VERSION
    assert (lat, lon) == (60.169, 24.944)
    cal = get_calendar()
    assert fwd == cal.add_working_days(created, 3)
    assert fup == cal.add_working_days(created, 5)
    assert due == cal.add_working_days(created, SERVICES["sampah"].sla_days)
    events = query(
        complaints_db,
        "SELECT kind, from_state, to_state, actor_id, channel, at FROM complaint_event"
        " WHERE complaint_id = %s",
        (cid,),
    )
    assert events == [("created", None, "diterima", None, "web", created)]
    assert intake.contact_stored
    assert query(
        complaints_db,
        "SELECT name, phone, email, device_id FROM complaint_reporter WHERE complaint_id = %s",
        (cid,),
    ) == [("Siti", "0812 3456 789", None, "dev-1")]


def test_an_anonim_complaint_stores_no_contact_data(complaints_db):
    intake = _submit(
        complaints_db, _raw(anonim=True, name="Budi", email="b@example.invalid", device_id="d")
    )
    assert not intake.contact_stored
    n = count(
        complaints_db,
        "SELECT count(*) FROM complaint_reporter WHERE complaint_id = %s",
        (intake.id,),
    )
    assert n == 0


def test_the_web_role_cannot_attach_contact_data_to_an_anonim_complaint(complaints_db):
    intake = _submit(complaints_db, _raw(anonim=True))
    conn = psycopg2.connect(as_web(complaints_db))
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
            cur.execute("SELECT add_complaint_reporter(%s, 'x', NULL, NULL, NULL)", (intake.id,))
    finally:
        conn.close()


def test_the_stored_text_is_exactly_what_was_typed(complaints_db):
    hostile = '<script>alert(1)</script> \'; DROP TABLE complaint; -- ☃ "quoted"'
    intake = _submit(complaints_db, _raw(description=hostile, address="Jl. <b>Uji</b> 1"))
    assert query(
        complaints_db, "SELECT description, address FROM complaint WHERE id = %s", (intake.id,)
    ) == [(hostile, "Jl. <b>Uji</b> 1")]


# --- linking -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(complaints_db):
    return Reference(complaints_db, "walk")


@pytest.mark.parametrize(
    ("lat", "lon"), [(60.1690, 24.9440), (60.1655, 24.9320), (60.1720, 24.9500)]
)
def test_sampah_links_the_bin_reached_soonest_on_foot(complaints_db, reference, lat, lon):
    intake = _submit(complaints_db, _raw(lat=lat, lon=lon))
    link = intake.link
    assert link is not None and link.layer == "waste_bin" and link.method == "network"
    (origin,) = reference.place([(lon, lat)])
    times: dict[int, float] = {}
    for kind in ("waste_basket", "waste_disposal", "recycling"):
        for fid, t in reference.times_from(origin, kind).items():
            times[fid] = t
    best = min(times.values())
    assert times[link.feature_id] == pytest.approx(best, abs=0.5)
    assert link.walk_s == pytest.approx(best, abs=0.5)
    (d,) = query(
        complaints_db,
        "SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography)"
        " FROM waste_bin WHERE id = %s",
        (lon, lat, link.feature_id),
    )[0]
    assert link.distance_m == pytest.approx(d, rel=0.005)  # haversine vs the ellipsoid


def test_pelayanan_kantor_links_the_office_reached_soonest(complaints_db, reference):
    lat, lon = 60.1675, 24.9410
    intake = _submit(complaints_db, _raw(service_code="pelayanan_kantor", lat=lat, lon=lon))
    (origin,) = reference.place([(lon, lat)])
    categories = {c for (c,) in query(complaints_db, "SELECT DISTINCT category FROM office")}
    times = {}
    for cat in categories:
        times.update(reference.times_from(origin, cat))
    assert intake.link is not None and intake.link.layer == "office"
    assert times[intake.link.feature_id] == pytest.approx(min(times.values()), abs=0.5)


def test_jalan_rusak_links_the_nearest_road_segment(complaints_db, reference):
    lat, lon = 60.1701, 24.9412
    intake = _submit(complaints_db, _raw(service_code="jalan_rusak", lat=lat, lon=lon))
    assert intake.link is not None and intake.link.layer == "road_segment"
    (place,) = reference.place([(lon, lat)])
    settled = reference.settle_tie(place, intake.link.feature_id, lon, lat)
    assert settled.segment_id == intake.link.feature_id
    assert intake.link.distance_m == pytest.approx(place.distance_m, abs=0.5)


def test_without_a_network_the_link_is_by_straight_line(complaints_db):
    lat, lon = 60.1690, 24.9440
    intake = _submit(complaints_db, _raw(lat=lat, lon=lon), routing=False)
    assert intake.link is not None and intake.link.method == "straight_line"
    nearest = query(
        complaints_db,
        "SELECT id, ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)"
        "::geography) AS d FROM waste_bin ORDER BY d, id LIMIT 1",
        (lon, lat),
    )[0]
    assert intake.link.feature_id == nearest[0]
    assert intake.link.distance_m == pytest.approx(nearest[1], abs=0.01)


def test_services_without_a_layer_link_nothing(complaints_db):
    assert _submit(complaints_db, _raw(service_code="lampu_jalan")).link is None


def test_a_point_far_from_every_road_is_refused_where_a_network_exists(complaints_db):
    sea = _raw(lat="60.05", lon="24.90")  # the Gulf of Finland, km from any road
    before = count(complaints_db, "SELECT count(*) FROM complaint")
    with pytest.raises(InvalidInputError) as info:
        _submit(complaints_db, sea)
    assert info.value.code == "off_network" and info.value.param == "lat"
    assert count(complaints_db, "SELECT count(*) FROM complaint") == before
    assert _submit(complaints_db, sea, routing=False).link is not None  # no network: fine


def test_a_database_without_roads_links_by_straight_line(fresh_db):
    from services.linking import network_router

    assert network_router(as_web(fresh_db)) is None


# --- idempotency -------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_stores_nothing_new(complaints_db):
    key = str(uuid.uuid4())
    first = _submit(complaints_db, _raw(idempotency_key=key, name="Siti"))
    again = _submit(complaints_db, _raw(idempotency_key=key, name="Siti"))
    assert again.replayed and not first.replayed
    assert (again.tracking_id, again.id, again.due_at) == (
        first.tracking_id,
        first.id,
        first.due_at,
    )
    assert (
        count(complaints_db, "SELECT count(*) FROM complaint WHERE idempotency_key = %s", (key,))
        == 1
    )
    assert (
        count(
            complaints_db,
            "SELECT count(*) FROM complaint_event WHERE complaint_id = %s",
            (first.id,),
        )
        == 1
    )


def test_the_same_key_for_a_different_report_is_a_conflict(complaints_db):
    key = str(uuid.uuid4())
    _submit(complaints_db, _raw(idempotency_key=key))
    with pytest.raises(ConflictError) as info:
        _submit(complaints_db, _raw(idempotency_key=key, description="Lain sama sekali."))
    assert info.value.status == 409 and info.value.param == "idempotency_key"
    with pytest.raises(ConflictError):
        _submit(complaints_db, _raw(idempotency_key=key), channel="open311")


def test_concurrent_requests_with_one_key_store_one_complaint(complaints_db):
    key = str(uuid.uuid4())
    results, errors = [], []
    barrier = threading.Barrier(8)

    def go():
        barrier.wait()
        try:
            results.append(_submit(complaints_db, _raw(idempotency_key=key)))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({r.tracking_id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert (
        count(complaints_db, "SELECT count(*) FROM complaint WHERE idempotency_key = %s", (key,))
        == 1
    )


def test_a_taken_tracking_id_is_drawn_again(complaints_db, monkeypatch):
    taken = _submit(complaints_db, _raw()).tracking_id
    draws = iter([taken, taken, "ZZZZ-0001"])
    monkeypatch.setattr(complaints, "new_tracking_id", lambda: next(draws))
    intake = _submit(complaints_db, _raw())
    assert intake.tracking_id == "ZZZZ-0001"


def test_the_staff_role_may_submit_for_the_help_desk(complaints_db, staff_accounts):
    desk = staff_accounts["desk"]
    staff = as_staff(complaints_db)
    with transaction(staff) as cur:
        intake = submit_complaint(
            cur, parse_complaint(_raw()), channel="phone", routing_url=staff, staff_user_id=desk.id
        )
    assert query(
        complaints_db, "SELECT channel, created_by FROM complaint WHERE id = %s", (intake.id,)
    ) == [("phone", desk.id)]
    assert query(
        complaints_db, "SELECT actor_id FROM complaint_event WHERE complaint_id = %s", (intake.id,)
    ) == [(desk.id,)]
