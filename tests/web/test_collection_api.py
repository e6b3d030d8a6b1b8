"""``POST /api/collection/plan``: staff role sanitation, CSRF, bad input as 400 JSON."""

from __future__ import annotations

import pytest

from tests.gis.collection_fixtures import near_tps
from tests.web.conftest import STAFF_PASSWORD, staff_login, web_app


@pytest.fixture(scope="session")
def collection_staff(buahbatu) -> dict[str, str]:
    import psycopg2

    from gis.db import libpq_url
    from services.accounts import create_user

    conn = psycopg2.connect(libpq_url(buahbatu))
    try:
        with conn, conn.cursor() as cur:
            for role in ("sanitation", "desk"):
                create_user(cur, f"coll-{role}", role, STAFF_PASSWORD)
    finally:
        conn.close()
    return {"sanitation": "coll-sanitation", "desk": "coll-desk"}


@pytest.fixture(scope="session")
def collection_app(buahbatu, collection_staff):
    return web_app(buahbatu)


@pytest.fixture
def sanitation(collection_app, collection_staff):
    client = collection_app.test_client()
    token = staff_login(client, collection_staff["sanitation"])
    return client, token


def _fill(buahbatu):
    return [{"id": sid, "volume_m3": 2.5} for sid in near_tps(buahbatu)[:6]]


def test_plan_as_sanitation_staff(sanitation, buahbatu):
    client, token = sanitation
    body = {"trucks": 2, "date": "2026-12-02", "time_limit_s": 10, "fill": _fill(buahbatu)}
    r = client.post("/api/collection/plan", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["Cache-Control"] == "no-store"
    plan = r.get_json()
    assert plan["date"] == "2026-12-02" and plan["totals"]["stops_served"] == 6
    assert plan["solver"]["name"] == "pyvrp"
    truck = next(t for t in plan["trucks"] if t["visits"])
    g = client.post(
        "/api/collection/gpx",
        json={"plan": plan, "truck": truck["truck"]},
        headers={"X-CSRF-Token": token},
    )
    assert g.status_code == 200 and g.mimetype == "application/gpx+xml"
    assert b"<trkseg>" in g.data


def test_needs_login_role_and_csrf(collection_app, collection_staff, sanitation):
    anon = collection_app.test_client()
    r = anon.post("/api/collection/plan", json={})
    assert r.status_code == 401
    desk = collection_app.test_client()
    token = staff_login(desk, collection_staff["desk"])
    r = desk.post("/api/collection/plan", json={}, headers={"X-CSRF-Token": token})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "role_not_allowed"
    client, _ = sanitation
    r = client.post("/api/collection/plan", json={})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf"


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"trucks": 0}, "trucks", "at least 1"),
        ({"capacity_m3": 0}, "capacity_m3", "above 0"),
        ({"capacity_m3": "banyak"}, "capacity_m3", "must be a number"),
        ({"time_limit_s": 3600}, "time_limit_s", "at most 60"),
        ({"fill": [{"id": "NOPE7", "volume_m3": 1}]}, "fill", "NOPE7"),
        ({"fill": [{"id": "TU001", "fill_level": 3}]}, "fill", "row 1, fill_level"),
        ({"fill": "all"}, "fill", "must be a list"),
        ({"depot_id": 999}, "depot_id", "no depot with id 999"),
        ({"speed": 3}, "speed", "Unknown field"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(sanitation, body, param, words):
    client, token = sanitation
    r = client.post("/api/collection/plan", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 400, r.get_data(as_text=True)
    err = r.get_json()["error"]
    assert err["param"] == param and words in err["message"]


def test_not_json_is_415(sanitation):
    client, token = sanitation
    r = client.post("/api/collection/plan", data="x", headers={"X-CSRF-Token": token})
    assert r.status_code == 415


def test_openapi_documents_the_plan(collection_app):
    doc = collection_app.test_client().get("/api/openapi.json").get_json()
    post = doc["paths"]["/api/collection/plan"]["post"]
    props = post["requestBody"]["content"]["application/json"]["schema"]["properties"]
    from gis.collection_demand import DEFAULT_FLEET

    assert set(DEFAULT_FLEET.as_dict()) <= set(props) and "fill" in props
    assert props["capacity_m3"]["default"] == DEFAULT_FLEET.capacity_m3
    assert "sanitation" in post["description"] and "403" in post["responses"]
