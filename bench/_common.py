"""Shared benchmark plumbing: a scratch database and a timer."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url

from gis.db import database_url, libpq_url, upgrade
from gis.settings import PROJECT_ROOT

#: The project's real test data (``../shared/data``), read in place; benchmarks that need it
#: say so when it is missing.
SHARED_DATA = Path(os.environ.get("SIGAP_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def _admin_connection():
    server = libpq_url(database_url(start=True))
    admin = make_url(server).set(database="postgres").render_as_string(hide_password=False)
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    return server, conn


def scratch_database(name: str) -> str:
    """(Re)create database ``name`` on the configured server, migrated; return its URL."""
    drop_scratch_database(name)
    server, conn = _admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def drop_scratch_database(name: str) -> None:
    """Drop database ``name`` (made by :func:`scratch_database`) if it exists."""
    _, conn = _admin_connection()
    try:
        with conn.cursor() as cur:
            ident = sql.Identifier(name)
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
    finally:
        conn.close()


def timed(fn: Callable[[], object], *, repeat: int = 3) -> float:
    """Median wall time of ``fn`` in seconds over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
