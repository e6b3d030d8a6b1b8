"""web/complaints_api.py: the public JSON intake, status, duplicate hint and catalogue."""

from __future__ import annotations

import uuid

import pytest

from layers.complaint_catalogue import SERVICES
from tests.conftest import query

POINT = {"lat": 60.1702, "lon": 24.9385}


def _body(**over) -> dict:
    return {
        "service_code": "sampah",
        "description": "Tempat sampah di halte penuh.",
        **POINT,
        **over,
    }


@pytest.fixture
def limits(monkeypatch):
    """Set service settings from the environment for one test."""
    from services.config import get_service_settings

    def set_env(**env):
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        get_service_settings.cache_clear()

    yield set_env
    monkeypatch.undo()
    get_service_settings.cache_clear()


def test_the_catalogue_is_the_registry_s(complaint_client):
    data = complaint_client.get("/api/complaints/catalogue?lang=en").get_json()
    assert [s["code"] for s in data["services"]] == list(SERVICES)
    sampah = data["services"][0]
    assert sampah["name"] == "Waste" and sampah["linked_layer"] == "waste_bin"
    assert {"from": "diterima", "to": "diverifikasi"}.items() <= data["transitions"][0].items()
    from layers.complaint_catalogue import CATALOGUE_VERSION

    assert data["version"] == CATALOGUE_VERSION


def test_a_complaint_is_filed_and_its_status_shown(complaint_client, complaint_db):
    key = str(uuid.uuid4())
    r = complaint_client.post(
        "/api/complaints",
        json=_body(name="Warga", phone="0812 1111 2222"),
        headers={"Idempotency-Key": key},
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    out = r.get_json()
    tid = out["tracking_id"]
    assert r.headers["Location"] == f"/api/complaints/{tid}" == out["status_url"]
    assert r.headers["Cache-Control"] == "no-store"
    assert out["linked_feature"]["layer"] == "waste_bin" and out["contact_stored"]
    assert "token" not in out and "Warga" not in r.get_data(as_text=True)
    assert query(
        complaint_db,
        "SELECT channel, idempotency_key FROM complaint WHERE tracking_id = %s",
        (tid,),
    ) == [("web", key)]
    again = complaint_client.post(
        "/api/complaints",
        json=_body(name="Warga", phone="0812 1111 2222"),
        headers={"Idempotency-Key": key},
    )
    assert again.status_code == 200 and again.get_json()["tracking_id"] == tid
    other = complaint_client.post(
        "/api/complaints", json=_body(description="lain"), headers={"Idempotency-Key": key}
    )
    assert other.status_code == 409
    assert other.get_json()["error"]["param"] == "idempotency_key"
    status = complaint_client.get(f"/api/complaints/{tid.lower()}").get_json()
    assert status["tracking_id"] == tid and status["state"] == "diterima"
    assert status["status"] == "open" and status["description"] == _body()["description"]
    assert [e["to_state"] for e in status["events"]] == ["diterima"]
    assert "Warga" not in str(status) and "0812" not in str(status)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        (_body(lat=95), 400, "lat"),
        (_body(lon=-200), 400, "lon"),
        (_body(service_code="x"), 400, "service_code"),
        (_body(description="a\u0000b"), 400, "description"),
        (_body(description="x" * 4001), 400, "description"),
        (_body(lat=60.05, lon=24.90), 400, "lat"),  # the sea: off the network
        ([1, 2], 400, None),
    ],
)
def test_bad_complaints_are_400_naming_the_field(complaint_client, body, status, param):
    r = complaint_client.post("/api/complaints", json=body)
    assert r.status_code == status
    err = r.get_json()["error"]
    assert err.get("param") == param


def test_wrong_content_type_and_oversized_bodies(complaint_client):
    r = complaint_client.post("/api/complaints", data={"service_code": "sampah"})
    assert r.status_code == 415 and r.get_json()["error"]["code"] == "unsupported_media_type"
    big = complaint_client.post(
        "/api/complaints",
        data=b'{"description": "' + b"x" * 70_000 + b'"}',
        content_type="application/json",
    )
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "too_large"
    huge = complaint_client.post(
        "/api/complaints", data=b"x" * (2 * 1024 * 1024), content_type="application/json"
    )
    assert huge.status_code == 413


def test_public_posts_are_limited_per_address(complaint_client, limits):
    limits(SIGAP_PUBLIC_POST_LIMIT="3/600")
    env = {"REMOTE_ADDR": f"198.51.100.{uuid.uuid4().int % 250}"}
    codes = [
        complaint_client.post("/api/complaints", json=_body(), environ_base=env).status_code
        for _ in range(4)
    ]
    assert codes == [201, 201, 201, 429]
    r = complaint_client.post("/api/complaints", json=_body(), environ_base=env)
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= 600
    assert "3 per 600 s" in r.get_json()["error"]["message"]
    other = complaint_client.post(
        "/api/complaints", json=_body(), environ_base={"REMOTE_ADDR": "192.0.2.77"}
    )
    assert other.status_code == 201
    # invalid attempts count too
    env2 = {"REMOTE_ADDR": "192.0.2.78"}
    for _ in range(3):
        assert (
            complaint_client.post(
                "/api/complaints", json=_body(lat=99), environ_base=env2
            ).status_code
            == 400
        )
    assert (
        complaint_client.post("/api/complaints", json=_body(), environ_base=env2).status_code == 429
    )


def test_the_client_address_behind_a_trusted_proxy(complaint_client, limits):
    limits(SIGAP_PUBLIC_POST_LIMIT="1/600", SIGAP_PROXY_HOPS="1")
    tag = uuid.uuid4().int % 250
    first = {"X-Forwarded-For": f"203.0.113.{tag}"}
    assert complaint_client.post("/api/complaints", json=_body(), headers=first).status_code == 201
    assert complaint_client.post("/api/complaints", json=_body(), headers=first).status_code == 429
    spoofed = {"X-Forwarded-For": f"10.9.9.9, 203.0.113.{tag}"}  # a client's own prefix
    assert (
        complaint_client.post("/api/complaints", json=_body(), headers=spoofed).status_code == 429
    )


def test_nearby_open_reports_and_rahasia(complaint_client):
    here = {"lat": 60.1712, "lon": 24.9412}
    open_one = complaint_client.post("/api/complaints", json=_body(**here)).get_json()
    secret = complaint_client.post(
        "/api/complaints", json=_body(rahasia=True, description="RAHASIA-ISI", **here)
    ).get_json()
    r = complaint_client.get("/api/complaints/nearby?lat=60.17121&lon=24.94121&service_code=sampah")
    ids = [c["tracking_id"] for c in r.get_json()["complaints"]]
    assert open_one["tracking_id"] in ids and secret["tracking_id"] not in ids
    assert all(c["distance_m"] <= 50 for c in r.get_json()["complaints"])
    listing = complaint_client.get("/api/complaints?limit=1000").get_json()["complaints"]
    assert secret["tracking_id"] not in {c["tracking_id"] for c in listing}
    status = complaint_client.get(f"/api/complaints/{secret['tracking_id']}")
    assert status.status_code == 200 and "RAHASIA-ISI" not in status.get_data(as_text=True)
    summary = complaint_client.get("/api/complaints/summary").get_json()["counts"]["sampah"]
    assert summary["open"] >= 2
    assert complaint_client.get("/api/complaints/nearby?lat=1&lon=2").status_code == 400
    assert complaint_client.get("/api/complaints/ZZZZ-ZZZZ").status_code == 404
    assert complaint_client.get("/api/complaints/not-an-id").status_code == 404
