"""web/errors.py: one format per blueprint, generic 5xx answers with an error id, Allow on 405."""

from __future__ import annotations

import logging

import pytest
from flask import Blueprint, Response, jsonify

from gis.errors import ConfigError, InvalidInputError
from tests.web.conftest import web_app
from web import errors

SECRET = "/srv/sigap/secret-path.conf: password authentication failed for user owner"


def _open311_format(info: errors.ErrorInfo) -> Response:
    """The shape Open311 GeoReport v2 needs: a list of ``{code, description}``."""
    return jsonify([{"code": info.status, "description": info.message}])


@pytest.fixture(scope="module")
def app(helsinki_db):
    """The app plus a blueprint with Open311's error format and views that fail."""
    app = web_app(helsinki_db)
    o311 = Blueprint("o311", __name__, url_prefix="/open311/v2")
    errors.register_format(o311, _open311_format)

    @o311.get("/services.json")
    def services():
        raise InvalidInputError("jurisdiction_id is not known", param="jurisdiction_id")

    @o311.get("/crash.json")
    def crash():
        raise RuntimeError(SECRET)

    @app.get("/api-like/crash")
    def page_crash():
        raise ConfigError(SECRET)  # a SigapError >= 500: its message is internal too

    app.register_blueprint(o311)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def test_each_blueprint_answers_in_its_own_format(client):
    r = client.get("/open311/v2/services.json")
    assert r.status_code == 400
    assert r.get_json() == [{"code": 400, "description": "jurisdiction_id is not known"}]
    r = client.get("/api/layers/office/items?limit=x")
    assert r.get_json()["error"]["param"] == "limit"
    r = client.get("/?lang=en&x=1", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.mimetype == "text/html"


def test_unmatched_urls_take_the_format_of_the_blueprint_they_fall_under(client):
    """No route matched, so no blueprint: the first path segment decides, from the URL map."""
    r = client.get("/open311/v2/nothing.json")
    assert r.status_code == 404 and r.get_json()[0]["code"] == 404
    r = client.get("/api/nothing")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    r = client.get("/nothing")
    assert r.status_code == 404 and r.mimetype == "text/html"
    r = client.get("/apix/layers")  # shares a prefix with /api but not the segment
    assert r.status_code == 404 and r.mimetype == "text/html"


@pytest.mark.parametrize(
    "path", ["/open311/v2/crash.json", "/api-like/crash"], ids=["open311", "page"]
)
def test_server_errors_hide_the_detail_and_log_it_with_an_id(client, caplog, path):
    with caplog.at_level(logging.ERROR, logger="web.errors"):
        r = client.get(path)
    assert r.status_code == 500
    body = r.get_data(as_text=True)
    assert SECRET not in body and "secret-path" not in body and "Traceback" not in body
    logged = [rec for rec in caplog.records if rec.name == "web.errors"]
    assert len(logged) == 1
    line = logged[0].getMessage()
    error_id = line.split()[1].rstrip(":")
    assert len(error_id) == 12 and error_id in body
    detail = line + (
        logging.Formatter().formatException(logged[0].exc_info) if logged[0].exc_info else ""
    )
    assert "secret-path" in detail and path in line
    assert r.headers["Cache-Control"] == "no-store"


def test_api_server_error_is_json_with_the_error_id(helsinki_db, caplog):
    app = web_app(helsinki_db)

    def broken_counts(cur):
        raise RuntimeError(SECRET)

    from web import features

    original = features.layer_counts
    features.layer_counts = broken_counts
    try:
        with caplog.at_level(logging.ERROR, logger="web.errors"):
            r = app.test_client().get("/api/layers")
    finally:
        features.layer_counts = original
    assert r.status_code == 500
    err = r.get_json()["error"]
    assert err["code"] == "internal_error" and err["error_id"] in err["message"]
    assert SECRET not in r.get_data(as_text=True)
    assert err["error_id"] in caplog.text


@pytest.mark.parametrize(
    ("method", "path", "allowed", "json"),
    [
        ("post", "/api/layers", {"GET", "HEAD", "OPTIONS"}, True),
        ("delete", "/api/nearest", {"GET", "HEAD", "OPTIONS"}, True),
        ("put", "/sanitation", {"GET", "HEAD", "OPTIONS"}, False),
        ("post", "/open311/v2/services.json", {"GET", "HEAD", "OPTIONS"}, True),
    ],
)
def test_405_carries_allow(client, method, path, allowed, json):
    r = getattr(client, method)(path)
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["Allow"].split(",")} == allowed
    assert (r.mimetype == "application/json") is json
