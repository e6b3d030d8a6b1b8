"""web/security.py and the language links: security headers, CSP nonces, cache policy,
trusted hosts, and no open redirect."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import web_app
from web import security
from web.settings import from_env, trusted_hosts

#: One response of each kind: page, JSON, GeoJSON, tile, asset, error page, API error.
KINDS = {
    "/": "page",
    "/api/layers": "api",
    "/api/layers/office/items?limit=5": "api",
    "/api/roads/tiles/15/18654/9484.pbf": "tile",
    "/static/js/map.js": "asset",
    "/no/such/page": "error",
    "/api/layers/office/items?limit=x": "error",
}


def _csp(r) -> dict[str, str]:
    policy = r.headers["Content-Security-Policy"]
    return {p.split()[0]: " ".join(p.split()[1:]) for p in policy.split(";") if p.strip()}


@pytest.mark.parametrize("path", KINDS)
def test_every_response_carries_the_security_headers(client, path):
    r = client.get(path)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "same-origin"
    csp = _csp(r)
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'self'"
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["default-src"] == "'self'"
    cache = r.headers["Cache-Control"]
    kind = KINDS[path]
    if kind == "page":
        assert cache == security.PAGE_CACHE_CONTROL
    elif kind == "api":
        assert cache == security.API_CACHE_CONTROL
    elif kind == "tile":
        assert "max-age=60" in cache
    elif kind == "asset":
        assert "max-age=31536000" in cache
    else:
        assert cache == "no-store"


@pytest.mark.parametrize("path", ["/", "/sanitation", "/planning"])
def test_inline_scripts_carry_this_requests_nonce(client, path):
    nonces = []
    for _ in range(2):
        r = client.get(path)
        nonce = re.search(r"'nonce-([^']+)'", _csp(r)["script-src"]).group(1)
        nonces.append(nonce)
        html = r.get_data(as_text=True)
        tags = re.findall(r"<script\b[^>]*>", html)
        inline = [t for t in tags if "src=" not in t and "application/json" not in t]
        assert len(inline) >= 2  # folium's header script and the map script
        for tag in inline:
            assert f'nonce="{nonce}"' in tag, tag
        assert html.count("nonce=") == len(inline)
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 32


def test_basemap_host_is_allowed_for_images_only(helsinki_db):
    app = web_app(helsinki_db, TILE_URL="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    csp = _csp(app.test_client().get("/"))
    assert "https://*.tiles.example.org" in csp["img-src"]
    assert "tiles.example.org" not in csp["script-src"] + csp["connect-src"]
    assert security.tile_origin("ftp://x/{z}") is None and security.tile_origin(None) is None


def test_untrusted_host_is_refused_not_redirected_to(client):
    r = client.get("/api//layers", headers={"Host": "evil.example"})
    assert r.status_code == 400
    assert "Location" not in r.headers
    assert "evil.example" not in r.get_data(as_text=True)
    ok = client.get("/api//layers", headers={"Host": "localhost:8000"})
    assert ok.status_code == 308
    assert ok.headers["Location"] in ("/api/layers", "http://localhost:8000/api/layers")


def test_trusted_hosts_from_the_environment_or_the_local_names():
    env = from_env({"SIGAP_TRUSTED_HOSTS": "sigap.surabaya.go.id, .pemkot.example"})
    assert trusted_hosts("0.0.0.0", env) == ["sigap.surabaya.go.id", ".pemkot.example"]
    local = trusted_hosts("10.1.2.3", from_env({}))
    assert {"localhost", "127.0.0.1", "10.1.2.3"} <= set(local)
    assert all(":" not in h for h in local)
    assert "0.0.0.0" not in trusted_hosts("0.0.0.0", from_env({}))


@pytest.mark.parametrize(
    "path", ["/%5Cevil.example", "/%5C%5Cevil.example/x", "//evil.example", "/%2F%2Fevil.example"]
)
def test_language_links_never_lead_to_another_host(client, path):
    r = client.get(path)
    html = r.get_data(as_text=True)
    links = re.findall(r'href="([^"]*)"[^>]*data-lang=', html)
    assert links, html
    for href in links:
        assert href.startswith("?lang=") or href.startswith("/?"), href
        assert "evil" not in href and "\\" not in href


def test_language_links_are_built_from_the_route(client):
    html = client.get("/sanitation?lang=id&_external=1&_scheme=javascript&x=1").get_data(
        as_text=True
    )
    (href,) = re.findall(r'href="([^"]*)"[^>]*data-lang="en"', html)
    assert href.startswith("/sanitation?")
    assert "lang=en" in href and "x=1" in href
    assert "javascript" not in href and "_external" not in href
