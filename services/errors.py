"""Errors of the services, each with its HTTP status (see :mod:`gis.errors`)."""

from __future__ import annotations

from gis.errors import InvalidInputError, NotFoundError, SigapError

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "ForbiddenError",
    "InvalidInputError",
    "NotFoundError",
    "RateLimitedError",
]


class AuthenticationError(SigapError):
    """Not logged in, or wrong credentials (HTTP 401)."""

    status = 401
    default_code = "unauthenticated"


class ForbiddenError(SigapError):
    """Logged in, or a known key, but not allowed to do this (HTTP 403)."""

    status = 403
    default_code = "forbidden"


class ConflictError(SigapError):
    """The request conflicts with what is stored (HTTP 409).

    For example an idempotency key reused for a different report, or a transition from a
    state the complaint is no longer in.
    """

    status = 409
    default_code = "conflict"


class RateLimitedError(SigapError):
    """Too many requests from one client (HTTP 429); ``headers`` carries ``Retry-After``.

    Parameters
    ----------
    message : str
        Safe to show.
    retry_after_s : int
        Seconds until the client may try again.
    """

    status = 429
    default_code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after_s = max(1, int(retry_after_s))
        self.headers = {"Retry-After": str(self.retry_after_s)}
