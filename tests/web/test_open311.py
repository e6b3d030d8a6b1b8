"""web/open311.py: Open311 GeoReport v2, by plain HTTP against the specification's field
names and examples, and with a real Open311 client from PyPI (``civicbot``) against a live
``sigap serve``."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from layers.complaint_catalogue import SERVICES
from tests.conftest import query

BASE = "/open311/v2"
#: The specification's fields of a service, a request and a POST answer.
SERVICE_FIELDS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
ATTRIBUTE_FIELDS = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
POST_FIELDS = {"service_request_id", "token", "service_notice", "account_id"}
HERE = {"lat": "60.1668", "long": "24.9452"}


def _post(client, key: str | None, fmt: str = "json", headers=None, **fields):
    form = {"service_code": "sampah", "description": "Sampah tidak diangkut.", **HERE, **fields}
    if key is not None:
        form["api_key"] = key
    return client.post(f"{BASE}/requests.{fmt}", data=form, headers=headers or {})


def test_discovery(complaint_client):
    data = complaint_client.get(f"{BASE}/discovery.json").get_json()
    (endpoint,) = data["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2/")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    xml = complaint_client.get(f"{BASE}/discovery.xml")
    assert xml.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml.data)
    assert root.tag == "discovery"
    assert {f.text for f in root.iter("format")} == {"text/xml", "application/json"}


def test_services_and_a_definition(complaint_client):
    services = complaint_client.get(f"{BASE}/services.json?lang=en").get_json()
    assert [s["service_code"] for s in services] == list(SERVICES)
    for s in services:
        assert set(s) == SERVICE_FIELDS
        assert s["type"] == "realtime"
        assert s["metadata"] == bool(SERVICES[s["service_code"]].attributes)
    definition = complaint_client.get(f"{BASE}/services/sampah.json").get_json()
    assert definition["service_code"] == "sampah"
    (attr,) = definition["attributes"]
    assert set(attr) == ATTRIBUTE_FIELDS
    assert attr["datatype"] == "singlevaluelist" and attr["variable"] is True
    assert {v["key"] for v in attr["values"]} == {"penuh", "tidak_diangkut", "liar"}
    root = ET.fromstring(complaint_client.get(f"{BASE}/services.xml").data)
    assert root.tag == "services" and len(root.findall("service")) == len(SERVICES)
    assert root.find("service/metadata").text in ("true", "false")
    root = ET.fromstring(complaint_client.get(f"{BASE}/services/banjir.xml").data)
    assert root.tag == "service_definition"
    assert root.find("attributes/attribute/code").text == "kedalaman_cm"


def test_errors_are_the_specification_s_format(complaint_client, open311_key):
    r = complaint_client.get(f"{BASE}/services/nope.json")
    assert r.status_code == 404
    (err,) = r.get_json()
    assert set(err) == {"code", "description"} and err["code"] == 404
    r = complaint_client.get(f"{BASE}/services/nope.xml")
    root = ET.fromstring(r.data)
    assert r.status_code == 404 and root.tag == "errors"
    assert root.find("error/code").text == "404"
    for key, status in ((None, 403), ("sgp_wrong", 403)):
        r = _post(complaint_client, key)
        assert r.status_code == status
        assert r.get_json()[0] == {"code": 403, "description": "Invalid api_key."}
    r = _post(complaint_client, open311_key, lat="91")
    assert r.status_code == 400 and "'lat'" in r.get_json()[0]["description"]
    r = complaint_client.post(
        f"{BASE}/requests.json", json={"api_key": open311_key, "service_code": "sampah"}
    )
    assert r.status_code == 400 and "x-www-form-urlencoded" in r.get_json()[0]["description"]
    assert complaint_client.get(f"{BASE}/requests.csv").status_code == 404
    assert complaint_client.get(f"{BASE}/nothing.json").get_json()[0]["code"] == 404


def test_post_get_and_token(complaint_client, complaint_db, open311_key):
    r = _post(
        complaint_client,
        open311_key,
        first_name="Ani",
        last_name="Wijaya",
        email="ani@example.invalid",
        device_id="android-1",
        address_string="Jl. Uji 5",
        **{"attribute[masalah]": "penuh"},
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    (answer,) = r.get_json()
    assert set(answer) == POST_FIELDS
    rid, token = answer["service_request_id"], answer["token"]
    row = query(
        complaint_db,
        "SELECT c.channel, c.attributes, c.address, c.api_key_id IS NOT NULL, r.name, r.device_id,"
        " c.due_at FROM complaint c JOIN complaint_reporter r ON r.complaint_id = c.id"
        " WHERE c.tracking_id = %s",
        (rid,),
    )
    ((channel, attributes, address, keyed, name, device, due),) = row
    assert (channel, attributes, address, keyed) == (
        "open311",
        {"masalah": "penuh"},
        "Jl. Uji 5",
        True,
    )
    assert (name, device) == ("Ani Wijaya", "android-1")
    (one,) = complaint_client.get(f"{BASE}/requests/{rid}.json").get_json()
    assert set(one) == REQUEST_FIELDS
    assert one["service_request_id"] == rid and one["status"] == "open"
    assert one["status_notes"].startswith("diterima")
    assert datetime.fromisoformat(one["expected_datetime"]) == due
    assert (one["lat"], one["long"]) == (60.1668, 24.9452)
    assert "Ani" not in str(one) and "android" not in str(one)
    tokens = complaint_client.get(f"{BASE}/tokens/{token}.json").get_json()
    assert tokens == [{"service_request_id": rid, "token": token}]
    xml = ET.fromstring(complaint_client.get(f"{BASE}/requests/{rid}.xml").data)
    assert xml.tag == "service_requests"
    assert {c.tag for c in xml.find("request")} == REQUEST_FIELDS
    assert complaint_client.get(f"{BASE}/tokens/nope.json").status_code == 404
    assert complaint_client.get(f"{BASE}/requests/ZZZZ-ZZZZ.json").status_code == 404


def test_xml_post_and_multivalue_attributes(complaint_client, open311_key):
    r = _post(
        complaint_client,
        open311_key,
        fmt="xml",
        service_code="pelayanan_kantor",
        **{"attribute[aspek]": "antrean"},
    )
    assert r.status_code == 201
    root = ET.fromstring(r.data)
    assert root.tag == "service_requests"
    assert {c.tag for c in root.find("request")} == POST_FIELDS
    r = _post(complaint_client, open311_key, **{"attribute[masalah][]": ["penuh", "liar"]})
    assert r.status_code == 400  # a single-value list takes one value


def test_idempotency_key_header(complaint_client, open311_key):
    key = str(uuid.uuid4())
    first = _post(complaint_client, open311_key, headers={"Idempotency-Key": key})
    again = _post(complaint_client, open311_key, headers={"Idempotency-Key": key})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json() == again.get_json()
    other = _post(
        complaint_client, open311_key, headers={"Idempotency-Key": key}, description="Beda."
    )
    assert other.status_code == 409 and other.get_json()[0]["code"] == 409


def test_get_requests_filters_and_leaves_out_rahasia(complaint_client, complaint_db, open311_key):
    marker = uuid.uuid4().hex[:8]
    ids = {}
    for name, extra in (
        ("open", {}),
        ("secret", {"rahasia": "true"}),
        ("flood", {"service_code": "banjir"}),
    ):
        r = _post(complaint_client, open311_key, description=f"{marker} {name}", **extra)
        assert r.status_code == 201
        ids[name] = r.get_json()[0]["service_request_id"]
    query(
        complaint_db,
        "UPDATE complaint SET state = 'selesai', closed_at = now() WHERE tracking_id = %s",
        (ids["flood"],),
    )

    def listed(qs: str) -> set[str]:
        r = complaint_client.get(f"{BASE}/requests.json?{qs}")
        assert r.status_code == 200, r.get_data(as_text=True)
        for item in r.get_json():
            assert set(item) == REQUEST_FIELDS
        return {i["service_request_id"] for i in r.get_json()}

    everything = listed("")
    assert {ids["open"], ids["flood"]} <= everything and ids["secret"] not in everything
    assert ids["flood"] not in listed("service_code=sampah")
    assert ids["flood"] in listed("service_code=sampah,banjir")
    assert ids["flood"] in listed("status=closed") and ids["open"] not in listed("status=closed")
    assert listed(f"service_request_id={ids['open']},{ids['secret']}") == {ids["open"]}
    now = datetime.now(UTC)
    later = (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    earlier = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids["open"] in listed(f"start_date={earlier}&end_date={later}")
    assert ids["open"] not in listed(f"start_date={later}")
    (flood,) = [
        i
        for i in complaint_client.get(f"{BASE}/requests.json?status=closed").get_json()
        if i["service_request_id"] == ids["flood"]
    ]
    assert flood["status"] == "closed" and flood["status_notes"].startswith("selesai")
    r = complaint_client.get(f"{BASE}/requests/{ids['secret']}.json")
    assert r.status_code == 404
    for bad in (
        "status=pending",
        "start_date=yesterday",
        "service_code=nope",
        "end_date=2026-01-01",
    ):
        r = complaint_client.get(f"{BASE}/requests.json?{bad}")
        assert r.status_code == 400, bad
        assert r.get_json()[0]["code"] == 400


def test_revoked_keys_are_refused_at_once(complaint_client, complaint_db):
    import psycopg2

    from gis.db import libpq_url
    from services.accounts import create_api_key, revoke_api_key

    conn = psycopg2.connect(libpq_url(complaint_db))
    with conn, conn.cursor() as cur:
        _, key = create_api_key(cur, f"temp {uuid.uuid4().hex[:6]}")
    assert _post(complaint_client, key).status_code == 201
    with conn, conn.cursor() as cur:
        revoke_api_key(cur, key[:12])
    conn.close()
    assert _post(complaint_client, key).status_code == 403


@pytest.mark.slow
def test_a_real_open311_client_against_a_live_server(complaint_db, open311_key, complaint_staff):
    """civicbot's Open311Client (PyPI) against ``sigap serve``: services, a definition, a
    POST with an attribute checked against the live definition, the request, the token and
    the listing."""
    from civicbot.http import HttpTransport, RateLimiter
    from civicbot.open311 import Open311Client
    from civicbot.registry import Endpoint

    from tests.web.test_server import Served, _get

    srv = Served(complaint_db)
    try:
        _get(srv.base + "/open311/v2/services.json")
        endpoint = Endpoint(
            id="sigap-test", name="SIGAP", base_url=srv.base + "/open311/v2", write=True
        )
        client = Open311Client(endpoint, transport=HttpTransport(rate_limiter=RateLimiter(0.0)))
        services = client.list_services()
        assert [s["service_code"] for s in services] == list(SERVICES)
        definition = client.get_service_definition("jalan_rusak")
        assert definition["attributes"][0]["code"] == "tingkat_kerusakan"
        sent = client.create_request(
            "jalan_rusak",
            dry_run=False,
            confirm="SEND",
            api_key=open311_key,
            validate_remote=True,
            lat=60.1701,
            lng=24.9412,
            description="Lubang besar di tengah jalan.",
            attributes={"tingkat_kerusakan": "berat"},
            first_name="Dewi",
            phone="0813 5555 0000",
        )
        (answer,) = sent.response
        rid = answer["service_request_id"]
        got = client.get_request(rid)
        assert got["service_code"] == "jalan_rusak" and got["status"] == "open"
        assert got["description"] == "Lubang besar di tengah jalan."
        assert client.get_token(answer["token"]) == [
            {"service_request_id": rid, "token": answer["token"]}
        ]
        listed = client.list_requests(service_code="jalan_rusak", status="open")
        assert rid in {r["service_request_id"] for r in listed}
        # the client's own validation against the live definition refuses a bad value
        from civicbot.open311 import ValidationError

        with pytest.raises(ValidationError):
            client.create_request(
                "jalan_rusak",
                lat=60.17,
                lng=24.94,
                validate_remote=True,
                attributes={"tingkat_kerusakan": "sangat"},
            )
    finally:
        srv.stop()
    ((segment, layer),) = query(
        complaint_db,
        "SELECT linked_feature_id, linked_layer FROM complaint WHERE tracking_id = %s",
        (rid,),
    )
    assert layer == "road_segment" and segment is not None
