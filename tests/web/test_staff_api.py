"""web/auth.py and web/staff_api.py: login, lockout, sessions, CSRF, the queue, transitions,
contact details with an audit row, the help-desk intake and road actions."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import query
from tests.web.conftest import STAFF_PASSWORD, staff_login, web_app

POINT = {"lat": 60.1660, "lon": 24.9480}


@pytest.fixture
def limits(monkeypatch):
    from services.config import get_service_settings

    def set_env(**env):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        get_service_settings.cache_clear()

    yield set_env
    monkeypatch.undo()
    get_service_settings.cache_clear()


def _file(client, **over) -> str:
    body = {"service_code": "sampah", "description": "Sampah menumpuk.", **POINT, **over}
    r = client.post("/api/complaints", json=body)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()["tracking_id"]


def _as(complaint_app, complaint_staff, role):
    client = complaint_app.test_client()
    return client, staff_login(client, complaint_staff[role])


def test_the_login_page_is_plain_and_safe(complaint_client):
    r = complaint_client.get("/staff/login?lang=en")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert 'name="csrf_token"' in html and 'type="password"' in html
    assert 'autocomplete="current-password"' in html and "<script" not in html.split("</head>")[1]
    assert "Staff login" in html
    assert "Masuk petugas" in complaint_client.get("/staff/login?lang=id").get_data(as_text=True)


def test_staff_pages_need_a_login(complaint_client):
    r = complaint_client.get("/staff/api/complaints")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "login_required"
    r = complaint_client.get("/staff/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/staff/login?next=/staff/")


def test_login_logout_and_the_cookie(complaint_app, complaint_staff, complaint_db):
    client = complaint_app.test_client()
    csrf = staff_login(client, complaint_staff["desk"])
    me = client.get("/staff/api/me").get_json()
    assert me["user"]["role"] == "desk" and me["may_intake"] and me["csrf_token"] == csrf
    assert "password" not in str(me) and "session_token" not in str(me)
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    saved = cookie.value
    r = client.post("/staff/logout", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert client.get("/staff/api/me").status_code == 401
    # the old cookie no longer works: logging out changed the account's session token
    client.set_cookie("session", saved)
    assert client.get("/staff/api/me").status_code == 401
    assert query(
        complaint_db,
        "SELECT last_login_at IS NOT NULL FROM staff_user WHERE username = %s",
        (complaint_staff["desk"],),
    ) == [(True,)]


def test_the_session_cookie_is_secure_outside_testing(complaint_db, complaint_staff):
    app = web_app(complaint_db, TESTING=False)
    client = app.test_client()
    r = client.get("/staff/login")
    header = r.headers["Set-Cookie"]
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header


def test_wrong_passwords_lock_with_a_message(complaint_app, complaint_db, limits):
    limits(SIGAP_LOGIN_LIMIT="100/600")
    import psycopg2

    from gis.db import libpq_url
    from services.accounts import create_user

    name = f"lock-{uuid.uuid4().hex[:6]}"
    conn = psycopg2.connect(libpq_url(complaint_db))
    with conn, conn.cursor() as cur:
        create_user(cur, name, "desk", STAFF_PASSWORD)
    conn.close()
    client = complaint_app.test_client()
    client.get("/staff/login")
    with client.session_transaction() as s:
        token = s["csrf_token"]
    form = {"username": name, "password": "salah sekali", "csrf_token": token}
    codes = [client.post("/staff/login", data=form).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    r = client.post("/staff/login", data={**form, "password": STAFF_PASSWORD, "lang": "en"})
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 900
    assert "Terlalu banyak percobaan" in r.get_data(as_text=True)
    wrong = client.post("/staff/login", data={**form, "username": "nobody"})
    assert "Nama pengguna atau kata sandi salah." in wrong.get_data(as_text=True)


def test_login_attempts_are_limited_per_address(complaint_app, complaint_staff, limits):
    limits(SIGAP_LOGIN_LIMIT="3/600")
    client = complaint_app.test_client()
    env = {"REMOTE_ADDR": f"203.0.113.{uuid.uuid4().int % 250}"}
    client.get("/staff/login", environ_base=env)
    with client.session_transaction() as s:
        token = s["csrf_token"]
    form = {"username": "nobody", "password": "x" * 12, "csrf_token": token}
    codes = [client.post("/staff/login", data=form, environ_base=env).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_login_needs_the_csrf_token_and_next_stays_on_site(complaint_app, complaint_staff):
    client = complaint_app.test_client()
    client.get("/staff/login")
    form = {"username": complaint_staff["desk"], "password": STAFF_PASSWORD}
    assert client.post("/staff/login", data=form).status_code == 400
    with client.session_transaction() as s:
        token = s["csrf_token"]
    for target, expected in (
        ("https://evil.example/", "/staff/"),
        ("//evil", "/staff/"),
        ("/staff/?x=1", "/staff/?x=1"),
        ("/api/layers", "/staff/"),
    ):
        client.post("/staff/logout", data={"csrf_token": token})
        client.get("/staff/login")
        with client.session_transaction() as s:
            token = s["csrf_token"]
        r = client.post("/staff/login", data={**form, "csrf_token": token, "next": target})
        assert r.headers["Location"] == expected
        with client.session_transaction() as s:
            token = s["csrf_token"]


def test_state_changes_need_the_csrf_header(complaint_app, complaint_staff):
    client, csrf = _as(complaint_app, complaint_staff, "desk")
    tid = _file(client)
    url = f"/staff/api/complaints/{tid}/transitions"
    assert client.post(url, json={"to_state": "diverifikasi"}).status_code == 403
    r = client.post(url, json={"to_state": "diverifikasi"}, headers={"X-CSRF-Token": "nope"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf"
    r = client.post(url, json={"to_state": "diverifikasi"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200


def test_queue_detail_and_transitions(complaint_app, complaint_staff, complaint_db):
    desk, csrf = _as(complaint_app, complaint_staff, "desk")
    tid = _file(desk, name="Pelapor Satu", phone="0812 0000 9999")
    h = {"X-CSRF-Token": csrf}
    detail = desk.get(f"/staff/api/complaints/{tid}").get_json()
    assert detail["state"] == "diterima" and detail["allowed_transitions"] == [
        "diverifikasi",
        "ditolak",
        "duplikat",
    ]
    assert detail["may_see_contact"] and detail["has_contact"]
    assert "Pelapor Satu" not in str(detail)
    assert [e["kind"] for e in detail["events"]] == ["created"]
    queue = desk.get("/staff/api/complaints?agency=dlh&state=diterima&limit=500").get_json()
    assert tid in {i["tracking_id"] for i in queue["items"]}
    assert desk.get("/staff/api/complaints?agency=nope").status_code == 400
    assert desk.get("/staff/api/complaints?limit=0").status_code == 400
    r = desk.post(
        f"/staff/api/complaints/{tid}/transitions", headers=h, json={"to_state": "diteruskan"}
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "transition_not_allowed"
    for to in ("diverifikasi", "diteruskan"):
        r = desk.post(
            f"/staff/api/complaints/{tid}/transitions",
            headers=h,
            json={"to_state": to, "public_note": "Diproses.", "note": "internal"},
        )
        assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["complaint"]["state"] == "diteruskan"
    assert r.get_json()["complaint"]["allowed_transitions"] == []  # the agency's turn
    planner, pcsrf = _as(complaint_app, complaint_staff, "planner")
    r = planner.post(
        f"/staff/api/complaints/{tid}/transitions",
        headers={"X-CSRF-Token": pcsrf},
        json={"to_state": "dalam_proses"},
    )
    assert r.status_code == 403
    assert planner.get(f"/staff/api/complaints/{tid}").status_code == 200  # planners read
    san, scsrf = _as(complaint_app, complaint_staff, "sanitation")
    r = san.post(
        f"/staff/api/complaints/{tid}/transitions",
        headers={"X-CSRF-Token": scsrf},
        json={"to_state": "dalam_proses", "expected_state": "diverifikasi"},
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "state_changed"
    r = san.post(
        f"/staff/api/complaints/{tid}/transitions",
        headers={"X-CSRF-Token": scsrf},
        json={"to_state": "dalam_proses", "expected_state": "diteruskan"},
    )
    assert r.status_code == 200
    status = desk.get(f"/api/complaints/{tid}").get_json()
    assert [e["to_state"] for e in status["events"]] == [
        "diterima",
        "diverifikasi",
        "diteruskan",
        "dalam_proses",
    ]
    assert "internal" not in str(status) and "staff-" not in str(status)
    assert "Uji " not in str(status)


def test_contact_details_are_audited_and_role_bound(complaint_app, complaint_staff, complaint_db):
    desk, csrf = _as(complaint_app, complaint_staff, "desk")
    tid = _file(desk, name="Pelapor Dua", email="dua@example.invalid")
    r = desk.post(
        f"/staff/api/complaints/{tid}/contact",
        headers={"X-CSRF-Token": csrf},
        json={"purpose": "konfirmasi lokasi"},
    )
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.get_json()["name"] == "Pelapor Dua"
    planner, pcsrf = _as(complaint_app, complaint_staff, "planner")
    r = planner.post(f"/staff/api/complaints/{tid}/contact", headers={"X-CSRF-Token": pcsrf})
    assert r.status_code == 403 and "Pelapor" not in r.get_data(as_text=True)
    views = query(
        complaint_db,
        "SELECT u.username, v.purpose, v.client_ip FROM contact_view v"
        " JOIN staff_user u ON u.id = v.staff_user_id JOIN complaint c ON c.id = v.complaint_id"
        " WHERE c.tracking_id = %s",
        (tid,),
    )
    assert views == [(complaint_staff["desk"], "konfirmasi lokasi", "127.0.0.1")]


def test_the_help_desk_files_by_phone(complaint_app, complaint_staff, complaint_db):
    desk, csrf = _as(complaint_app, complaint_staff, "desk")
    body = {
        "channel": "phone",
        "service_code": "lampu_jalan",
        "description": "Lampu mati.",
        **POINT,
        "name": "Ibu Sum",
        "phone": "0274 555 123",
    }
    r = desk.post("/staff/api/intake", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.get_data(as_text=True)
    tid = r.get_json()["tracking_id"]
    (row,) = query(
        complaint_db,
        "SELECT c.channel, u.username FROM complaint c JOIN staff_user u ON u.id = c.created_by"
        " WHERE c.tracking_id = %s",
        (tid,),
    )
    assert row == ("phone", complaint_staff["desk"])
    for channel in ("web", "open311", None):
        r = desk.post(
            "/staff/api/intake", json={**body, "channel": channel}, headers={"X-CSRF-Token": csrf}
        )
        assert r.status_code == 400 and r.get_json()["error"]["param"] == "channel"
    san, scsrf = _as(complaint_app, complaint_staff, "sanitation")
    assert (
        san.post("/staff/api/intake", json=body, headers={"X-CSRF-Token": scsrf}).status_code == 403
    )
    r = desk.post(
        "/staff/api/intake", data="x", content_type="text/plain", headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 415


def test_road_action_rules(complaint_app, complaint_staff):
    """Checks that come before the routing function is called."""
    desk, csrf = _as(complaint_app, complaint_staff, "desk")
    roads, rcsrf = _as(complaint_app, complaint_staff, "roads")
    h = {"X-CSRF-Token": rcsrf}
    waste = _file(desk)
    r = roads.post(
        f"/staff/api/complaints/{waste}/road-condition",
        headers=h,
        json={"condition": "rusak_berat"},
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "no_road_action"
    road = _file(desk, service_code="jalan_rusak", lat=60.1701, lon=24.9412)
    r = roads.post(
        f"/staff/api/complaints/{road}/road-condition", headers=h, json={"condition": "rusak_berat"}
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_verified"
    r = roads.post(
        f"/staff/api/complaints/{road}/road-condition", headers=h, json={"condition": "baik"}
    )
    assert r.status_code == 400 and r.get_json()["error"]["param"] == "condition"
    r = desk.post(
        f"/staff/api/complaints/{road}/road-condition",
        headers={"X-CSRF-Token": csrf},
        json={"condition": "rusak_berat"},
    )
    assert r.status_code in (403, 409)
    r = roads.delete(f"/staff/api/complaints/{road}/road-condition", headers=h)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "no_road_change"


def test_a_verified_road_report_closes_the_road_and_clearing_restores_it(
    complaint_app, complaint_staff, complaint_db
):
    import time

    from gis.routing import nearest_facilities
    from tests.web.conftest import as_web

    desk, csrf = _as(complaint_app, complaint_staff, "desk")
    tid = _file(desk, service_code="jalan_rusak", lat=60.1701, lon=24.9412)
    desk.post(
        f"/staff/api/complaints/{tid}/transitions",
        headers={"X-CSRF-Token": csrf},
        json={"to_state": "diverifikasi"},
    )
    ((segment,),) = query(
        complaint_db, "SELECT linked_feature_id FROM complaint WHERE tracking_id = %s", (tid,)
    )
    (before,) = query(complaint_db, "SELECT condition FROM road_segment WHERE id = %s", (segment,))
    roads, rcsrf = _as(complaint_app, complaint_staff, "roads")
    h = {"X-CSRF-Token": rcsrf}
    r = roads.post(
        f"/staff/api/complaints/{tid}/road-condition",
        headers=h,
        json={"condition": "tidak_dapat_dilalui", "note": "jembatan putus"},
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["segment_ids"] == [segment]
    t0 = time.monotonic()
    assert query(complaint_db, "SELECT condition FROM road_segment WHERE id = %s", (segment,)) == [
        ("tidak_dapat_dilalui",)
    ]
    # routing reflects it within 2 s: no car route uses the segment
    while True:
        result = nearest_facilities(
            60.1701, 24.9412, category="health", mode="car", k=3, url=as_web(complaint_db)
        )
        used = {s for res in result["results"] for s in res["segment_ids"]}
        if segment not in used or time.monotonic() - t0 > 2.0:
            break
        time.sleep(0.1)
    assert segment not in used
    events = [e["kind"] for e in roads.get(f"/staff/api/complaints/{tid}").get_json()["events"]]
    assert events[-1] == "road_condition"
    r = roads.delete(f"/staff/api/complaints/{tid}/road-condition", headers=h)
    assert r.status_code == 200
    assert query(complaint_db, "SELECT condition FROM road_segment WHERE id = %s", (segment,)) == [
        before
    ]


def test_road_actions_replace_clear_and_closing_restores(
    complaint_app, complaint_staff, complaint_db
):
    """A second action replaces the first (the first is restored), clearing restores, and
    closing a complaint whose road action is in force restores the road too: read back from
    ``road_segment`` and ``road_condition_change_segment``."""
    desk, csrf = _as(complaint_app, complaint_staff, "desk")
    roads, rcsrf = _as(complaint_app, complaint_staff, "roads")
    h = {"X-CSRF-Token": rcsrf}
    tid = _file(desk, service_code="banjir", lat=60.1702, lon=24.9413)
    desk.post(
        f"/staff/api/complaints/{tid}/transitions",
        headers={"X-CSRF-Token": csrf},
        json={"to_state": "diverifikasi"},
    )
    ((segment,),) = query(
        complaint_db, "SELECT linked_feature_id FROM complaint WHERE tracking_id = %s", (tid,)
    )

    def condition() -> tuple:
        return query(
            complaint_db,
            "SELECT condition, condition_source FROM road_segment WHERE id = %s",
            (segment,),
        )[0]

    def change_state(change_id) -> str:
        return query(
            complaint_db,
            "SELECT state FROM road_condition_change_segment WHERE change_id = %s",
            (int(change_id),),
        )[0][0]

    before = condition()
    r = roads.post(
        f"/staff/api/complaints/{tid}/road-condition",
        headers=h,
        json={"condition": "tidak_dapat_dilalui", "note": "banjir 50 cm"},
    )
    assert r.status_code == 200, r.get_data(as_text=True)
    first = r.get_json()["change_id"]
    assert condition() == ("tidak_dapat_dilalui", f"complaint:{tid}")
    (note,) = query(
        complaint_db, "SELECT note FROM road_condition_change WHERE id = %s", (int(first),)
    )[0]
    assert "banjir 50 cm" in note
    # a second action replaces the first: the first is restored, the second in force
    r = roads.post(
        f"/staff/api/complaints/{tid}/road-condition", headers=h, json={"condition": "rusak_berat"}
    )
    second = r.get_json()["change_id"]
    assert change_state(first) == "restored" and change_state(second) == "active"
    assert condition()[0] == "rusak_berat"
    # clearing restores
    r = roads.delete(f"/staff/api/complaints/{tid}/road-condition", headers=h)
    assert r.status_code == 200 and change_state(second) == "restored"
    assert condition() == before
    # closing a complaint whose road action is in force restores the road too
    r = roads.post(
        f"/staff/api/complaints/{tid}/road-condition", headers=h, json={"condition": "rusak_berat"}
    )
    third = r.get_json()["change_id"]
    assert condition()[0] == "rusak_berat"
    admin, acsrf = _as(complaint_app, complaint_staff, "admin")
    r = admin.post(
        f"/staff/api/complaints/{tid}/transitions",
        headers={"X-CSRF-Token": acsrf},
        json={"to_state": "ditolak", "note": "bukan banjir"},
    )
    assert r.status_code == 200 and r.get_json()["road_restored"]
    assert change_state(third) == "restored" and condition() == before
    kinds = [e["kind"] for e in r.get_json()["complaint"]["events"]]
    assert kinds.count("road_condition") == 3 and kinds.count("road_restored") == 2
    assert r.get_json()["complaint"]["road_change_id"] is None
