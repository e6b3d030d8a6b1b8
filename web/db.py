"""Database access for the web layer: pooled engines, a read-only cursor and a request-scoped
transaction, and what happens when the database is down.

The app connects with ``app.config["DATABASE_URL"]``: in ``sigap serve`` that is the
``sigap_web`` role (see migration 0003 and :mod:`web.settings`), which may read the public
layers and insert complaints, but cannot read reporters' contact details. Staff pages use
``app.config["STAFF_DATABASE_URL"]`` (``sigap_staff``).

* :func:`cursor` -- a read-only cursor; its transaction is rolled back when the block ends.
* :func:`transaction` -- the request's transactional connection, opened on first use and
  shared by every call in the request. It is committed after the view answered with a
  status below 400 (in ``after_request``, so a failed commit still turns into an error
  response instead of a false success), rolled back otherwise, and returned to the pool
  at ``teardown_appcontext`` whatever happened.

When the database cannot be reached, requests get 503 ``unavailable`` with ``Retry-After``;
for :data:`RETRY_AFTER_S` seconds after a failure, requests do not even try to connect (a
hanging connect would hold the worker). One line is logged when an outage starts and one when
it ends, never a traceback per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import psycopg2
import sqlalchemy.exc
from flask import Flask, current_app, g, has_app_context
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url

from gis.db import sqlalchemy_url
from gis.errors import DatabaseError

#: Session settings of the web's connections. JIT compilation costs about 20 ms per query
#: and never pays off for the short queries of a web request.
SESSION_OPTIONS = "-c jit=off -c statement_timeout=30000"
#: Seconds a connection attempt may take before the database counts as unreachable.
CONNECT_TIMEOUT_S = 5
#: Seconds after a failed connection during which requests get 503 without trying again;
#: also the ``Retry-After`` of those answers.
RETRY_AFTER_S = 5
#: SQLSTATEs that mean the server went away or refuses connections (besides class 08).
_GONE_STATES = frozenset({"57P01", "57P02", "57P03"})

logger = logging.getLogger(__name__)


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached: HTTP 503 ``unavailable`` with ``Retry-After``."""

    default_code = "unavailable"

    def __init__(self, retry_after_s: int = RETRY_AFTER_S):
        msg = f"The service is not available right now; try again in {retry_after_s} s."
        super().__init__(msg)
        self.retry_after_s = retry_after_s


def _describe(url: str | None) -> str:
    """``host:port/dbname`` of ``url``: never the user or password."""
    if not url:
        return "the database"
    try:
        u = make_url(url)
    except sqlalchemy.exc.ArgumentError:
        return "the database"
    return f"{u.host or 'localhost'}:{u.port or 5432}/{u.database or ''}"


@dataclass
class _Outage:
    since: float
    retry_at: float
    refused: int = 0


_outages: dict[str, _Outage] = {}
_outage_lock = threading.Lock()


def note_outage(url: str | None, detail: str) -> None:
    """Record that ``url`` could not be reached; log one line if this starts an outage."""
    key = url or ""
    now = time.monotonic()
    with _outage_lock:
        outage = _outages.get(key)
        if outage is None:
            _outages[key] = _Outage(since=now, retry_at=now + RETRY_AFTER_S)
        else:
            outage.retry_at = now + RETRY_AFTER_S
            outage.refused += 1
    if outage is None:
        first = detail.strip().splitlines()[0] if detail.strip() else "no detail"
        logger.warning(
            "database %s unavailable, answering 503 until it is back: %s", _describe(url), first
        )


def _check_outage(url: str) -> None:
    """Raise :class:`DatabaseUnavailable` while ``url`` is in its no-retry window."""
    outage = _outages.get(url)
    if outage is not None and time.monotonic() < outage.retry_at:
        with _outage_lock:
            outage.refused += 1
        raise DatabaseUnavailable(max(1, round(outage.retry_at - time.monotonic())))


def _outage_over(url: str) -> None:
    if url not in _outages:
        return
    with _outage_lock:
        outage = _outages.pop(url, None)
    if outage is not None:
        logger.warning(
            "database %s reachable again after %.0f s (%d requests answered 503)",
            _describe(url),
            time.monotonic() - outage.since,
            outage.refused + 1,
        )


def is_connection_error(exc: BaseException) -> bool:
    """Whether a driver error means the database is unreachable (not a bad query)."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    orig = getattr(exc, "orig", exc)
    if not isinstance(orig, psycopg2.OperationalError):
        return isinstance(orig, psycopg2.InterfaceError)  # "connection already closed"
    code = getattr(orig, "pgcode", None)
    return code is None or code.startswith("08") or code in _GONE_STATES


def app_database_url() -> str:
    """The database URL of the current app (resolved lazily on first use)."""
    url = current_app.config.get("DATABASE_URL")
    if not url:
        from gis.db import database_url
        from web.settings import web_database_url

        url = web_database_url(database_url(start=False))
        current_app.config["DATABASE_URL"] = url
    return url


def app_database_url_or_none() -> str | None:
    """The app's database URL if it is known (never starts resolving it)."""
    if not has_app_context():
        return None
    return current_app.config.get("DATABASE_URL") or None


def staff_database_url() -> str:
    """The URL of staff pages (``sigap_staff``): ``STAFF_DATABASE_URL``, else derived."""
    url = current_app.config.get("STAFF_DATABASE_URL")
    if not url:
        from gis.db import database_url
        from web.settings import staff_database_url as derive

        url = derive(database_url(start=False))
        current_app.config["STAFF_DATABASE_URL"] = url
    return url


@lru_cache(maxsize=8)
def web_engine(url: str) -> Engine:
    """One pooled engine per URL per process, with the web's session settings."""
    return create_engine(
        sqlalchemy_url(url),
        pool_pre_ping=True,
        pool_size=8,
        connect_args={"options": SESSION_OPTIONS, "connect_timeout": CONNECT_TIMEOUT_S},
    )


def connect(url: str):
    """A pooled DBAPI connection to ``url``; 503 while the database is unreachable."""
    _check_outage(url)
    try:
        conn = web_engine(url).raw_connection()
    except sqlalchemy.exc.DBAPIError as exc:
        if is_connection_error(exc):
            note_outage(url, str(exc.orig))
            raise DatabaseUnavailable() from exc
        raise
    _outage_over(url)
    return conn


@contextmanager
def cursor(url: str | None = None) -> Iterator:
    """A psycopg2 cursor on a pooled connection; commits nothing (read-only use)."""
    conn = connect(url or app_database_url())
    try:
        cur = conn.cursor()
        try:
            yield cur
        finally:
            cur.close()
        conn.rollback()
    except psycopg2.Error:
        release(conn, broken=True)
        raise
    else:
        conn.close()


def release(conn, *, broken: bool = False) -> None:
    """Give a pooled connection back; a broken one (the server went away) is discarded, so
    the pool neither reuses it nor logs a traceback trying to reset it."""
    if broken or getattr(conn, "closed", False):
        try:
            conn.invalidate()
        except Exception:  # noqa: BLE001 - already unusable
            logger.debug("invalidating a broken connection failed", exc_info=True)
    conn.close()


_TX = "_sigap_transactions"


@contextmanager
def transaction(url: str | None = None) -> Iterator:
    """A cursor on the request's transactional connection to ``url`` (default: the app's).

    Every call within one request shares the connection and its transaction, which is
    committed when the view answers with a status below 400 and rolled back otherwise
    (see the module docstring). Use :func:`staff_database_url` for staff writes.
    """
    key = url or app_database_url()
    open_tx: dict = g.setdefault(_TX, {})
    conn = open_tx.get(key)
    if conn is None:
        conn = connect(key)
        open_tx[key] = conn
    cur = conn.cursor()
    try:
        yield cur
    finally:
        cur.close()


def has_transaction(url: str) -> bool:
    """Whether this request has opened its transactional connection to ``url`` already."""
    return url in g.get(_TX, {})


def _commit(response):
    """``after_request``: commit the request's transactions if the answer is a success.

    A commit that fails (a deferred constraint, a lost connection) replaces the response with
    the app's error response for that exception: the client never sees a success that was
    not stored.
    """
    open_tx = g.get(_TX)
    if not open_tx or response.status_code >= 400:
        return response
    try:
        for conn in open_tx.values():
            conn.commit()
    except Exception as exc:  # noqa: BLE001 - answered by the app's error handlers
        return current_app.make_response(current_app.handle_user_exception(exc))
    return response


def _teardown(exc: BaseException | None) -> None:
    """``teardown_appcontext``: roll back what was not committed, return connections."""
    open_tx = g.pop(_TX, None) or {}
    for conn in open_tx.values():
        broken = False
        try:
            conn.rollback()
        except psycopg2.Error:
            broken = True
            logger.debug("rollback at teardown failed", exc_info=True)
        finally:
            release(conn, broken=broken)


def init_app(app: Flask) -> None:
    """Register the request-scoped transaction's commit and teardown on ``app``."""
    app.after_request(_commit)
    app.teardown_appcontext(_teardown)
