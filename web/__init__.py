"""SIGAP's web layer: the Flask application factory.

``create_app(config=None)`` builds the app with one blueprint per area: the map pages
(:mod:`web.maps`), the JSON API (:mod:`web.api`) and the self-hosted assets
(:mod:`web.http`). Nothing is built at import time.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, request

__all__ = ["ConfigError", "create_app"]

from gis.errors import ConfigError
from gis.settings import get_settings

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent


def _lang_url(code: str) -> str:
    args = {k: v for k, v in request.args.items() if k != "lang"}
    args["lang"] = code
    return f"{request.path}?{urlencode(args)}"


def create_app(config: dict | None = None) -> Flask:
    """Build the SIGAP web app.

    Parameters
    ----------
    config : dict, optional
        Overrides, e.g. ``{"DATABASE_URL": url, "TESTING": True}``. Keys: ``DATABASE_URL``
        (default: the settings' database, resolved on first use), ``SECRET_KEY``,
        ``TILE_URL`` and ``TILE_ATTRIBUTION`` (optional basemap), ``ASSETS_DIR``
        (``node_modules`` holding Leaflet; default ``web/node_modules``).

    Raises
    ------
    ConfigError
        In production (``SIGAP_ENV=production``) without ``SIGAP_SECRET_KEY``.
    """
    settings = get_settings()
    app = Flask(__name__, static_folder=None)
    app.config.update(
        DATABASE_URL=settings.database_url,
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

    from web import api, errors, http, i18n, maps

    i18n.init_app(app)
    http.init_app(app)
    errors.init_app(app)
    app.register_blueprint(maps.bp)
    app.register_blueprint(api.bp)
    app.jinja_env.globals["lang_url"] = _lang_url
    if not Path(app.config["ASSETS_DIR"], "leaflet").is_dir():
        logger.warning(
            "Leaflet assets missing under %s: run 'make assets'", app.config["ASSETS_DIR"]
        )
    return app
