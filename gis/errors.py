"""SIGAP's error hierarchy.

Every error carries an HTTP status and a safe, user-facing message. Internal detail
(tracebacks, SQL, file system paths that are not the user's own) goes to the log only.
"""

from __future__ import annotations


class SigapError(Exception):
    """Base class: a domain error with an HTTP status and a safe user message.

    Parameters
    ----------
    message : str
        What went wrong and what to do about it, safe to show to a user.
    code : str, optional
        A short machine-readable code, e.g. ``"invalid_parameter"``.
    param : str, optional
        The request parameter, file, row or field the error is about.
    """

    status = 500
    default_code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.param = param

    def to_dict(self) -> dict:
        """Return the error as JSON-ready data: ``{"error": {"code", "message", "param"}}``."""
        body = {"code": self.code, "message": self.message}
        if self.param:
            body["param"] = self.param
        return {"error": body}


class InvalidInputError(SigapError, ValueError):
    """Bad input from a user: a parameter, a file, a row or a field."""

    status = 400
    default_code = "invalid_input"


class NotFoundError(SigapError, LookupError):
    """The thing asked for does not exist."""

    status = 404
    default_code = "not_found"


class UnprocessableError(SigapError, ValueError):
    """Input is well-formed but cannot be answered (e.g. a point off the network)."""

    status = 422
    default_code = "unprocessable"


class IngestError(InvalidInputError):
    """An input file cannot be ingested; the database was left untouched."""

    default_code = "ingest_failed"


class DatabaseError(SigapError, RuntimeError):
    """The database cannot be reached or started."""

    status = 503
    default_code = "database_unavailable"


class ConfigError(SigapError):
    """The configuration (environment variables) is not usable; the message says which."""

    default_code = "bad_configuration"
