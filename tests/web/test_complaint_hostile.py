"""The usual hostile inputs against every public complaint endpoint: SQL fragments,
``<script>``, very long strings, NUL bytes, coordinates off the earth, a wrong content type
and a "photo" that is not one. Nothing may crash (no 5xx), every answer keeps its format,
text that is accepted is stored exactly as typed (parameterised SQL, no interpretation) and
comes back escaped in XML and HTML, and only accepted requests store anything."""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import query

SQL = "'; DROP TABLE complaint; --"
SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'
LONG = "A" * 100_000
NUL = "a\x00b"
HOSTILE_TEXT = (SQL, SCRIPT, LONG, NUL, "1 OR 1=1", "%00", "../../etc/passwd", "\u202e gnp.exe")
HOSTILE_COORDS = ("1000", "-999", "NaN", "Infinity", "1e308", "", "0x10", "60.1; SELECT 1")
GOOD = {"service_code": "sampah", "lat": 60.1705, "lon": 24.9390, "description": "Normal."}


def _count(url: str) -> int:
    return query(url, "SELECT count(*) FROM complaint")[0][0]


def _check(r, fmt: str) -> None:
    assert r.status_code < 500, (r.status_code, r.get_data()[:300])
    body = r.get_data()
    if fmt == "json":
        assert r.mimetype == "application/json", r.mimetype
        json.loads(body)
    elif fmt == "xml":
        assert r.mimetype == "text/xml", r.mimetype
        ET.fromstring(body)
    else:
        assert r.mimetype == "text/html"
        assert b"<script>alert" not in body and b"onerror=alert" not in body.replace(
            b"onerror=alert(1)&gt;", b""
        )


def _variants():
    for field in (
        "description",
        "address",
        "name",
        "phone",
        "email",
        "device_id",
        "service_code",
        "photo_ref",
        "idempotency_key",
    ):
        for text in HOSTILE_TEXT:
            yield {**GOOD, field: text}
    for field in ("lat", "lon"):
        for raw in HOSTILE_COORDS:
            yield {**GOOD, field: raw}
    yield {**GOOD, "attributes": {"masalah": SCRIPT}}
    yield {**GOOD, "attributes": {SQL: "x"}}
    yield {**GOOD, "attributes": [SQL]}
    yield {**GOOD, "anonim": SQL}
    yield {**GOOD, "photo_ref": "bukan-gambar.jpg.exe"}


def test_the_json_intake(complaint_client, complaint_db, limits_off):
    accepted = 0
    before = _count(complaint_db)
    for body in _variants():
        r = complaint_client.post("/api/complaints", json=body)
        _check(r, "json")
        if r.status_code == 201:
            accepted += 1
            tid = r.get_json()["tracking_id"]
            stored = query(
                complaint_db,
                "SELECT description, address FROM complaint WHERE tracking_id = %s",
                (tid,),
            )[0]
            assert stored == (body["description"], body.get("address"))
        else:
            assert r.status_code in (400, 413), (r.status_code, body.keys())
    for ctype, data in (
        ("text/plain", json.dumps(GOOD)),
        ("application/xml", "<complaint/>"),
        ("application/json", "{not json"),
        ("application/json", "[]"),
        ("application/json", "null"),
        ("multipart/form-data; boundary=x", "--x--"),
    ):
        r = complaint_client.post("/api/complaints", data=data, content_type=ctype)
        _check(r, "json")
        assert r.status_code in (400, 415)
    # a "photo" that is not an image, sent as a file: not accepted as JSON
    r = complaint_client.post(
        "/api/complaints",
        data={"photo": (b"MZ\x90\x00 not a jpeg", "foto.jpg", "image/jpeg"), **GOOD},
        content_type="multipart/form-data",
    )
    _check(r, "json")
    assert r.status_code == 415
    assert _count(complaint_db) == before + accepted
    assert accepted >= 8  # SQL and script text in descriptions and addresses is just text
    assert query(complaint_db, "SELECT to_regclass('complaint') IS NOT NULL") == [(True,)]


def test_the_open311_intake(complaint_client, complaint_db, open311_key, limits_off):
    before = _count(complaint_db)
    accepted = 0
    for fmt in ("json", "xml"):
        for body in _variants():
            form = {
                ("long" if k == "lon" else "first_name" if k == "name" else k): v
                for k, v in body.items()
                if k not in ("attributes", "photo_ref")
            }
            form["api_key"] = open311_key
            if isinstance(body.get("attributes"), dict):
                for code, value in body["attributes"].items():
                    form[f"attribute[{code}]"] = value
            r = complaint_client.post(f"/open311/v2/requests.{fmt}", data=form)
            _check(r, fmt)
            if r.status_code == 201:
                accepted += 1
                rid = (
                    r.get_json()[0]["service_request_id"]
                    if fmt == "json"
                    else ET.fromstring(r.data).find("request/service_request_id").text
                )
                shown = complaint_client.get(f"/open311/v2/requests/{rid}.xml")
                _check(shown, "xml")
                text = ET.fromstring(shown.data).find("request/description").text
                assert text == body["description"]
                assert b"<script>" not in shown.data  # escaped in XML
            else:
                assert r.status_code in (400, 413)
        r = complaint_client.post(
            f"/open311/v2/requests.{fmt}", json={**GOOD, "api_key": open311_key}
        )
        _check(r, fmt)
        assert r.status_code == 400
        r = complaint_client.post(
            f"/open311/v2/requests.{fmt}",
            data={
                **{k: str(v) for k, v in GOOD.items()},
                "api_key": open311_key,
                "media": (b"not an image", "x.jpg", "image/jpeg"),
            },
            content_type="multipart/form-data",
        )
        _check(r, fmt)  # the file is not stored; the request may stand on its fields
    assert _count(complaint_db) == before + accepted


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_reads(complaint_client, fmt):
    for text in (*HOSTILE_TEXT[:2], *HOSTILE_TEXT[4:], "x" * 5000):
        for url in (
            f"/open311/v2/requests/{text}.{fmt}",
            f"/open311/v2/tokens/{text}.{fmt}",
            f"/open311/v2/services/{text}.{fmt}",
        ):
            r = complaint_client.get(url.replace("/", "%2F", url.count("/") - 3))
            _check(r, fmt)
        for param in (
            "service_request_id",
            "service_code",
            "status",
            "start_date",
            "end_date",
            "jurisdiction_id",
        ):
            r = complaint_client.get(f"/open311/v2/requests.{fmt}", query_string={param: text})
            _check(r, fmt)
            assert r.status_code in (200, 400)


def test_json_reads(complaint_client):
    for text in (*HOSTILE_TEXT, "x" * 5000):
        for url, qs in (
            ("/api/complaints/" + text.replace("/", "%2F"), None),
            ("/api/complaints/nearby", {"lat": text, "lon": "24.9", "service_code": "sampah"}),
            ("/api/complaints/nearby", {"lat": "60.1", "lon": "24.9", "service_code": text}),
            ("/api/complaints", {"service_code": text}),
            ("/api/complaints", {"start_date": text}),
            ("/api/complaints", {"limit": text}),
        ):
            r = complaint_client.get(url, query_string=qs)
            _check(r, "json")
            assert r.status_code in (200, 400, 404)
    for raw in HOSTILE_COORDS:
        r = complaint_client.get(
            "/api/complaints/nearby",
            query_string={"lat": raw, "lon": raw, "service_code": "sampah"},
        )
        _check(r, "json")
        assert r.status_code == 400


def test_the_login_form(complaint_app, complaint_db, limits_off):
    client = complaint_app.test_client()
    client.get("/staff/login")
    with client.session_transaction() as s:
        token = s["csrf_token"]
    for text in (*HOSTILE_TEXT, None):
        form = {"username": text, "password": text, "csrf_token": token}
        form = {k: v for k, v in form.items() if v is not None}
        r = client.post("/staff/login", data=form)
        _check(r, "html")
        assert r.status_code in (400, 401)
        if text == SCRIPT:
            assert b"&lt;script&gt;" in r.data  # echoed user name, escaped
    r = client.post("/staff/login", json={"username": "x"})
    _check(r, "html")
    assert query(
        complaint_db, "SELECT count(*) FROM staff_user WHERE username LIKE '%%script%%'"
    ) == [(0,)]


@pytest.fixture
def limits_off(monkeypatch):
    """Lift the rate limits: this test sends hundreds of requests from one address."""
    from services.config import get_service_settings

    monkeypatch.setenv("SIGAP_PUBLIC_POST_LIMIT", "100000/60")
    monkeypatch.setenv("SIGAP_LOGIN_LIMIT", "100000/60")
    monkeypatch.setenv("SIGAP_OPEN311_POST_LIMIT", "100000/60")
    get_service_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_service_settings.cache_clear()


def test_a_unique_marker_is_never_interpreted(complaint_client, complaint_db, limits_off):
    marker = f"{SQL} {SCRIPT} {uuid.uuid4()}"
    r = complaint_client.post("/api/complaints", json={**GOOD, "description": marker})
    assert r.status_code == 201
    assert query(
        complaint_db, "SELECT count(*) FROM complaint WHERE description = %s", (marker,)
    ) == [(1,)]
