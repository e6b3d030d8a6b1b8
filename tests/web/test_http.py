"""web/http.py: self-hosted assets and compression."""

from __future__ import annotations

import gzip
import re


def test_vendor_assets_are_served_gzipped_with_cache_headers(client):
    html = client.get("/").get_data(as_text=True)
    src = re.search(r'src="(/vendor/leaflet/leaflet\.js\?v=[0-9a-f]+)"', html).group(1)
    r = client.get(src, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.mimetype == "application/javascript"
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.cache_control.max_age >= 86400 and r.cache_control.public
    body = gzip.decompress(r.get_data())
    assert b"Leaflet" in body[:500] and len(r.get_data()) < len(body) / 2
    again = client.get(src, headers={"Accept-Encoding": "gzip", "If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/vendor/leaflet/../../package.json").status_code == 404
    assert client.get("/vendor/evil/x.js").status_code == 404


def test_html_pages_are_gzipped(client):
    r = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert b"folium-map" in gzip.decompress(r.get_data())
