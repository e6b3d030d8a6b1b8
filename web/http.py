"""HTTP plumbing: gzip compression, cache headers and the self-hosted static assets.

Leaflet and its plugins come from ``web/node_modules`` (installed by ``make assets``), never
from a CDN. Asset bytes and their gzip form are kept in memory after the first request.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, request
from werkzeug.security import safe_join
from werkzeug.wrappers import Response as BaseResponse

logger = logging.getLogger(__name__)

#: Responses smaller than this are not worth compressing.
MIN_GZIP_BYTES = 512
GZIP_LEVEL = 6
COMPRESSIBLE = (
    "text/",
    "application/json",
    "application/geo+json",
    "application/javascript",
    "application/vnd.mapbox-vector-tile",
    "application/x-protobuf",
    "image/svg+xml",
    "application/vnd.oai.openapi+json",
)

#: URL name -> folder under ``node_modules`` that may be served.
VENDOR_DIRS: dict[str, str] = {
    "leaflet": "leaflet/dist",
    "leaflet.markercluster": "leaflet.markercluster/dist",
    "leaflet.vectorgrid": "leaflet.vectorgrid/dist",
    "leaflet.heat": "leaflet.heat/dist",
}

#: Cache lifetime of vendor files (their URLs carry a content hash) and of our own.
ASSET_MAX_AGE_S = 365 * 24 * 3600

bp = Blueprint("assets", __name__)


@dataclass(frozen=True)
class Asset:
    data: bytes
    gz: bytes
    mimetype: str
    etag: str
    mtime_ns: int


_cache: dict[Path, Asset] = {}
_lock = threading.Lock()


def _load(path: Path) -> Asset:
    mtime_ns = path.stat().st_mtime_ns
    asset = _cache.get(path)
    if asset is not None and asset.mtime_ns == mtime_ns:
        return asset
    data = path.read_bytes()
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if mimetype == "text/javascript":
        mimetype = "application/javascript"
    asset = Asset(
        data=data,
        gz=gzip.compress(data, GZIP_LEVEL, mtime=0),
        mimetype=mimetype,
        etag=hashlib.sha256(data).hexdigest()[:16],
        mtime_ns=mtime_ns,
    )
    with _lock:
        _cache[path] = asset
    return asset


def _accepts_gzip() -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


def _send_asset(base: Path, filename: str) -> BaseResponse:
    joined = safe_join(str(base), filename)
    if joined is None or not Path(joined).is_file():
        abort(404)
    asset = _load(Path(joined))
    compress = _accepts_gzip() and asset.mimetype.startswith(COMPRESSIBLE)
    response = Response(asset.gz if compress else asset.data, mimetype=asset.mimetype)
    if compress:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(asset.etag + ("-gz" if compress else ""))
    response.cache_control.public = True
    response.cache_control.max_age = ASSET_MAX_AGE_S
    return response.make_conditional(request)


def vendor_dir() -> Path:
    return Path(current_app.config["ASSETS_DIR"])


def static_dir() -> Path:
    return Path(current_app.root_path) / "static"


@bp.route("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str) -> BaseResponse:
    """A file of Leaflet or a plugin, from ``node_modules``."""
    sub = VENDOR_DIRS.get(package)
    if sub is None:
        abort(404)
    return _send_asset(vendor_dir() / sub, filename)


@bp.route("/static/<path:filename>")
def static(filename: str) -> BaseResponse:
    """SIGAP's own CSS and JavaScript."""
    return _send_asset(static_dir(), filename)


def asset_url(kind: str, filename: str, package: str | None = None) -> str:
    """URL of an asset with a content-hash query, so a long cache is safe."""
    if kind == "vendor":
        assert package is not None
        base = vendor_dir() / VENDOR_DIRS[package]
        url = f"/vendor/{package}/{filename}"
    else:
        base = static_dir()
        url = f"/static/{filename}"
    path = base / filename
    if not path.is_file():
        logger.error("asset missing: %s (run 'make assets')", path)
        return url
    return f"{url}?v={_load(path).etag}"


def _compress(response: Response) -> Response:
    if (
        response.direct_passthrough
        or response.is_streamed
        or "Content-Encoding" in response.headers
        or not response.mimetype
        or not response.mimetype.startswith(COMPRESSIBLE)
        or not _accepts_gzip()
    ):
        return response
    data = response.get_data()
    if len(data) < MIN_GZIP_BYTES:
        return response
    response.set_data(gzip.compress(data, GZIP_LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    vary = response.headers.get("Vary")
    response.headers["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(_compress)
    app.jinja_env.globals["asset_url"] = asset_url
