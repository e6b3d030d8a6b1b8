"""Security headers (Flask-Talisman), cache policy and trusted hosts.

* Content-Security-Policy: scripts only from this origin, plus inline scripts that carry the
  request's nonce (the map's own folium script; :func:`add_nonce`). An injected
  ``<script>`` has no nonce and does not run. Styles may be inline (Leaflet and folium set
  them; a style cannot run code). Images from this origin, ``data:`` and the optional
  basemap's host; ``frame-ancestors 'none'``, ``base-uri 'self'``, ``form-action 'self'``,
  ``object-src 'none'``.
* ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: same-origin``, ``Permissions-Policy`` (geolocation for this origin only,
  which "My location" needs). HSTS is sent on HTTPS requests (behind the reverse proxy).
* ``Cache-Control`` on every response that has none: pages ``private, no-cache`` (they carry a
  per-request nonce), API answers ``no-cache``; error answers are ``no-store``
  (:mod:`web.errors`) and assets keep their long cache (:mod:`web.http`).
* ``TRUSTED_HOSTS`` (Flask 3.1): a request whose ``Host`` is not listed is refused with 400,
  so redirects (``/api//layers`` -> ``/api/layers``) never point at a host the client chose.
"""

from __future__ import annotations

import re

from flask import Flask, request
from flask_talisman import Talisman

#: Cache-Control of pages and of API answers that set none themselves.
PAGE_CACHE_CONTROL = "private, no-cache"
API_CACHE_CONTROL = "no-cache"

_SCRIPT_TAG = re.compile(r"<script>", re.I)
_ORIGIN = re.compile(r"(https?://[^/?#]+)")


def tile_origin(tile_url: str | None) -> str | None:
    """The CSP source of an XYZ tile URL template (``{s}`` subdomains become ``*``)."""
    m = _ORIGIN.match(tile_url or "")
    return m.group(1).replace("{s}", "*") if m else None


def content_security_policy(tile_url: str | None = None) -> dict[str, str]:
    """The CSP directives (the nonce is added per request by Talisman)."""
    img = "'self' data:"
    origin = tile_origin(tile_url)
    if origin:
        img += f" {origin}"
    return {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self' 'unsafe-inline'",
        "img-src": img,
        "connect-src": "'self'",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }


def csp_nonce() -> str:
    """This request's CSP nonce."""
    return getattr(request, "csp_nonce", "")


def add_nonce(html: str) -> str:
    """Give every attribute-less ``<script>`` tag of ``html`` (our own, folium-rendered
    markup, never user text) this request's nonce."""
    return _SCRIPT_TAG.sub(f'<script nonce="{csp_nonce()}">', html)


def _cache_control(response):
    if "Cache-Control" not in response.headers:
        is_api = response.mimetype not in ("text/html",)
        response.headers["Cache-Control"] = API_CACHE_CONTROL if is_api else PAGE_CACHE_CONTROL
    return response


def init_app(app: Flask, *, production: bool) -> None:
    """Add the headers to every response of ``app``.

    Parameters
    ----------
    production : bool
        Mark the session cookie ``Secure`` (HTTPS behind the reverse proxy).
    """
    Talisman(
        app,
        force_https=False,  # TLS ends at the reverse proxy; see docs/deployment.md
        content_security_policy=content_security_policy(app.config.get("TILE_URL")),
        content_security_policy_nonce_in=["script-src"],
        frame_options="DENY",
        referrer_policy="same-origin",
        permissions_policy={"geolocation": "(self)", "camera": "()", "microphone": "()"},
        session_cookie_secure=production,
    )
    app.after_request(_cache_control)
