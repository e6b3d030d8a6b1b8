"""Errors: one set of handlers for the whole app, one response format per blueprint.

Every error becomes an :class:`ErrorInfo` (status, code, message, param, error id, headers),
which the formatter of the blueprint that answers the request turns into a response: JSON
``{"error": {"code", "message"[, "param"][, "error_id"]}}`` for the API (:func:`json_error`), a
translated HTML page for the map pages (:func:`html_error`, the default), and whatever a
later blueprint registers with :func:`register_format` (Open311 answers
``[{"code", "description"}]``). A request that matched no route (404, 405) is answered in
the format of the blueprint whose routes share its first path segment, found from the app's
URL map, not from a hard-coded prefix.

Status 500 and above: the response carries a generic message and an error id; the detail
(driver error, path, stderr, traceback) goes to the log with that id. A database that cannot
be reached answers 503 ``unavailable`` with ``Retry-After`` and logs one line per outage
(:mod:`web.db`), not a traceback per request.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg2
import psycopg2.errors
import sqlalchemy.exc
from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException, SecurityError

from gis.errors import DatabaseError, SigapError
from web import db

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


@dataclass(frozen=True)
class ErrorInfo:
    """An error, ready to be formatted.

    Parameters
    ----------
    status : int
        HTTP status.
    code : str
        Machine-readable code (``invalid_parameter``, ``not_found``, ``unavailable`` ...).
    message : str
        Safe to show: what went wrong and what to do. For status >= 500 it is generic.
    param : str, optional
        The parameter the error is about.
    error_id : str, optional
        For status >= 500: the id under which the detail was logged.
    headers : dict
        Extra response headers (``Allow``, ``Retry-After``).
    """

    status: int
    code: str
    message: str
    param: str | None = None
    error_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


#: A function from an error to the response of one blueprint.
ErrorFormatter = Callable[[ErrorInfo], Response]

_FORMATTERS: dict[str, ErrorFormatter] = {}


def register_format(blueprint: Blueprint | str, formatter: ErrorFormatter) -> None:
    """Answer errors of ``blueprint`` (its requests, and unmatched URLs under its routes'
    first path segment) with ``formatter``."""
    name = blueprint if isinstance(blueprint, str) else blueprint.name
    _FORMATTERS[name] = formatter


def json_error(info: ErrorInfo) -> Response:
    """``{"error": {"code", "message"[, "param"][, "error_id"]}}``."""
    body: dict = {"code": info.code, "message": info.message}
    if info.param:
        body["param"] = info.param
    if info.error_id:
        body["error_id"] = info.error_id
    return jsonify({"error": body})


def _page_message(info: ErrorInfo) -> str:
    status = info.status
    if status == 404:
        return gettext("This page does not exist.")
    if status == 405:
        return gettext("This address does not accept that kind of request.")
    if status == 503:
        return gettext("The service is not available right now. Please try again later.")
    if 400 <= status < 500:
        return gettext("The request was not valid.")
    return gettext("Sorry, something went wrong on our side. Please try again later.")


def html_error(info: ErrorInfo) -> Response:
    """The translated error page (the default format)."""
    html = render_template(
        "error.html", status=info.status, message=_page_message(info), error_id=info.error_id
    )
    return Response(html, mimetype="text/html")


def _segment(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]


def _blueprint_for_path(path: str) -> str | None:
    """The blueprint whose routes start with the same first path segment as ``path``."""
    by_segment = current_app.extensions.setdefault("sigap_error_segments", {})
    if not by_segment:
        for rule in current_app.url_map.iter_rules():
            name = rule.endpoint.rpartition(".")[0]
            seg = _segment(rule.rule)
            if name and seg and "<" not in seg:
                by_segment.setdefault(seg, name)
    return by_segment.get(_segment(path))


def _formatter() -> ErrorFormatter:
    name = request.blueprint or _blueprint_for_path(request.path)
    return _FORMATTERS.get(name or "", html_error)


def error_response(info: ErrorInfo) -> Response:
    """The response for ``info`` in the format of the answering blueprint, never cached."""
    response = _formatter()(info)
    response.status_code = info.status
    for key, value in info.headers.items():
        response.headers[key] = value
    response.headers["Cache-Control"] = "no-store"
    return response


def new_error_id() -> str:
    """A short random id that ties a 5xx response to its log lines."""
    return secrets.token_hex(6)


def server_error(status: int = 500, *, detail: str = "", exc: BaseException | None = None):
    """A generic >= 500 response with an error id; ``detail`` and ``exc`` go to the log."""
    error_id = new_error_id()
    logger.error(
        "error %s: %s %s failed (%d)%s",
        error_id,
        request.method,
        request.path,
        status,
        f": {detail}" if detail else "",
        exc_info=exc,
    )
    code = _HTTP_CODES.get(status, "internal_error")
    message = (
        f"Something went wrong on our side. Error id {error_id}; quote it when reporting this."
    )
    return error_response(ErrorInfo(status, code, message, error_id=error_id))


def unavailable(retry_after_s: int) -> Response:
    """503 ``unavailable`` with ``Retry-After`` (the outage itself is logged by :mod:`web.db`)."""
    message = f"The service is not available right now; try again in {retry_after_s} s."
    headers = {"Retry-After": str(retry_after_s)}
    return error_response(ErrorInfo(503, "unavailable", message, headers=headers))


def handle_sigap_error(exc: SigapError):
    if isinstance(exc, db.DatabaseUnavailable):
        return unavailable(exc.retry_after_s)
    if isinstance(exc, DatabaseError):  # e.g. the local cluster is not running
        db.note_outage(db.app_database_url_or_none(), exc.message)
        return unavailable(db.RETRY_AFTER_S)
    if exc.status >= 500:
        return server_error(exc.status, detail=f"{type(exc).__name__}: {exc.message}")
    headers = dict(getattr(exc, "headers", None) or {})  # e.g. Retry-After of a 429
    return error_response(ErrorInfo(exc.status, exc.code, exc.message, exc.param, headers=headers))


def handle_http_error(exc: HTTPException):
    status = exc.code or 500
    if status >= 500:
        return server_error(status, detail=repr(exc), exc=exc.__cause__ or None)
    code = _HTTP_CODES.get(status, "http_error")
    message = exc.description or exc.name
    if status == 404:
        message = "No such resource."
    elif isinstance(exc, SecurityError):  # an untrusted Host header (TRUSTED_HOSTS)
        message = "This server does not answer to that host name."
    headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
    return error_response(ErrorInfo(status, code, message, headers=headers))


def handle_database_error(exc: Exception):
    """Driver errors: an unreachable database is 503 (one log line per outage); a query
    stopped by ``statement_timeout`` is 503 with an error id; anything else is a 500."""
    if db.is_connection_error(exc):
        db.note_outage(db.app_database_url_or_none(), str(exc))
        return unavailable(db.RETRY_AFTER_S)
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, psycopg2.errors.QueryCanceled):
        return server_error(503, detail=str(orig).strip())
    return server_error(500, exc=exc)


def handle_unexpected(exc: Exception):
    return server_error(500, exc=exc)


def init_app(app: Flask) -> None:
    """Register the handlers on ``app``."""
    app.register_error_handler(SigapError, handle_sigap_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(psycopg2.Error, handle_database_error)
    app.register_error_handler(sqlalchemy.exc.DBAPIError, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)
