"""SIGAP's web layer: the Flask application factory.

``create_app(config=None)`` builds the app with one blueprint per area: the map pages
(:mod:`web.maps`), the JSON API (:mod:`web.api`), the self-hosted assets (:mod:`web.http`),
complaints (:mod:`web.complaints_api`, :mod:`web.open311`) and staff (:mod:`web.auth`,
:mod:`web.staff_api`). Nothing is built at import time.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, request, url_for

__all__ = ["ConfigError", "create_app"]

from gis.errors import ConfigError
from gis.settings import get_settings
from web.settings import get_web_settings, staff_database_url, trusted_hosts, web_database_url

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent


def _lang_url(code: str) -> str:
    """The current page in language ``code``, built from the matched route, never from the
    raw path (``/%5Cevil.example`` would otherwise become a link to another host). A URL that
    matched no route gets a query-only link, which stays on the same page."""
    view_args: dict[str, Any] = request.view_args or {}
    # url_for reads keys like _external or _scheme itself: keep them out of the query
    args: dict[str, Any] = {
        k: v
        for k, v in request.args.items()
        if k != "lang" and not k.startswith("_") and k not in view_args
    }
    args["lang"] = code
    rule = request.url_rule
    if rule is not None and request.endpoint and "GET" in (rule.methods or ()):
        return url_for(request.endpoint, **{**view_args, **args})
    return "?" + urlencode(args)


def create_app(config: dict | None = None) -> Flask:
    """Build the SIGAP web app.

    Parameters
    ----------
    config : dict, optional
        Overrides, e.g. ``{"DATABASE_URL": url, "TESTING": True}``. Keys: ``DATABASE_URL``
        (the URL the app connects with, normally the ``sigap_web`` role's; default:
        :func:`web.settings.web_database_url` of the settings' database, resolved on first
        use), ``STAFF_DATABASE_URL`` (``sigap_staff``, same default rule), ``SECRET_KEY``,
        ``TILE_URL`` and ``TILE_ATTRIBUTION`` (optional basemap), ``ASSETS_DIR``
        (``node_modules`` holding Leaflet; default ``web/node_modules``), ``TRUSTED_HOSTS``
        (default: :func:`web.settings.trusted_hosts`).

    Raises
    ------
    ConfigError
        In production (``SIGAP_ENV=production``) without ``SIGAP_SECRET_KEY``.
    """
    settings = get_settings()
    web_settings = get_web_settings()
    app = Flask(__name__, static_folder=None)
    app.config.update(
        DATABASE_URL=web_settings.web_database_url
        or (settings.database_url and web_database_url(settings.database_url)),
        STAFF_DATABASE_URL=web_settings.staff_database_url
        or (settings.database_url and staff_database_url(settings.database_url)),
        TRUSTED_HOSTS=trusted_hosts(),
        SECRET_KEY=settings.secret_key,
        TILE_URL=settings.tile_url,
        TILE_ATTRIBUTION=settings.tile_attribution,
        ASSETS_DIR=str(WEB_DIR / "node_modules"),
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        if settings.is_production:
            msg = "SIGAP_SECRET_KEY must be set when SIGAP_ENV=production."
            raise ConfigError(msg)
        app.config["SECRET_KEY"] = secrets.token_hex(32)  # development: per process
    app.json.sort_keys = False  # type: ignore[attr-defined]

    from web import (
        api,
        auth,
        collection_api,
        complaints_api,
        db,
        errors,
        http,
        i18n,
        maps,
        open311,
        planning_api,
        security,
        staff_api,
    )

    i18n.init_app(app)
    http.init_app(app)
    security.init_app(app, production=settings.is_production)
    db.init_app(app)
    errors.init_app(app)
    app.register_blueprint(maps.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(planning_api.bp)
    auth.init_app(app)  # sessions, Flask-Login, /staff/login (after security: cookie flags)
    app.register_blueprint(complaints_api.bp)
    app.register_blueprint(open311.bp)
    app.register_blueprint(staff_api.bp)
    app.register_blueprint(collection_api.bp)
    from web import complaint_pages, staff_pages

    complaint_pages.init_app(app)  # /lapor, the status page, the photo upload
    app.register_blueprint(staff_pages.bp)  # the staff queue, complaint and help-desk pages
    app.jinja_env.globals["lang_url"] = _lang_url
    if not Path(app.config["ASSETS_DIR"], "leaflet").is_dir():
        logger.warning(
            "Leaflet assets missing under %s: run 'make assets'", app.config["ASSETS_DIR"]
        )
    return app
