"""Database access for the web layer: one pooled engine per URL, raw DBAPI cursors.

The URL comes from ``app.config["DATABASE_URL"]``, so tests point the app at their own
database. Queries are parameterised; identifiers come from the layer registry only and are
quoted with ``psycopg2.sql``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from flask import current_app
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from gis.db import sqlalchemy_url

#: Session settings of the web's connections. JIT compilation costs about 20 ms per query
#: and never pays off for the short queries of a web request.
SESSION_OPTIONS = "-c jit=off -c statement_timeout=30000"

logger = logging.getLogger(__name__)


def app_database_url() -> str:
    """The database URL of the current app (resolved lazily on first use)."""
    url = current_app.config.get("DATABASE_URL")
    if not url:
        from gis.db import database_url

        url = database_url(start=False)
        current_app.config["DATABASE_URL"] = url
    return url


@lru_cache(maxsize=8)
def web_engine(url: str) -> Engine:
    """One pooled engine per URL per process, with the web's session settings."""
    return create_engine(
        sqlalchemy_url(url),
        pool_pre_ping=True,
        pool_size=8,
        connect_args={"options": SESSION_OPTIONS},
    )


@contextmanager
def cursor(url: str | None = None) -> Iterator:
    """A psycopg2 cursor on a pooled connection; commits nothing (read-only use)."""
    conn = web_engine(url or app_database_url()).raw_connection()
    try:
        cur = conn.cursor()
        try:
            yield cur
        finally:
            cur.close()
        conn.rollback()
    finally:
        conn.close()
