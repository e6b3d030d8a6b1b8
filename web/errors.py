"""One error handler for the whole app.

API paths (``/api/...``) always answer JSON ``{"error": {"code", "message"[, "param"]}}``;
pages answer a plain, translated HTML page. Detail goes to the log, never to the response.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from gis.errors import SigapError

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    422: "unprocessable",
    500: "internal_error",
    503: "unavailable",
}


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _page_message(status: int) -> str:
    if status == 404:
        return gettext("This page does not exist.")
    if status == 405:
        return gettext("This address does not accept that kind of request.")
    if status == 503:
        return gettext("The service is not available right now. Please try again later.")
    if 400 <= status < 500:
        return gettext("The request was not valid.")
    return gettext("Sorry, something went wrong on our side. Please try again later.")


def error_response(status: int, code: str, message: str, param: str | None = None):
    if _is_api():
        body: dict = {"code": code, "message": message}
        if param:
            body["param"] = param
        return jsonify({"error": body}), status
    return render_template("error.html", status=status, message=_page_message(status)), status


def handle_sigap_error(exc: SigapError):
    if exc.status >= 500:
        logger.error("service error on %s: %s", request.path, exc)
    return error_response(exc.status, exc.code, exc.message, exc.param)


def handle_http_error(exc: HTTPException):
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "http_error")
    message = exc.description or exc.name
    if status == 404:
        message = "No such resource."
    return error_response(status, code, message)


def handle_unexpected(exc: Exception):
    logger.exception("unhandled error on %s", request.path)
    return error_response(500, "internal_error", "Internal error; it has been logged.")


def init_app(app: Flask) -> None:
    app.register_error_handler(SigapError, handle_sigap_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
