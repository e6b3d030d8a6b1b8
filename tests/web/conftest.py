"""Fixtures for the web layer: the app on the Helsinki database, a test client, helpers."""

from __future__ import annotations

import psycopg2
import pytest

from gis.db import libpq_url
from web import create_app


@pytest.fixture(scope="session")
def app(helsinki_db):
    return create_app({"DATABASE_URL": helsinki_db, "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def db_rows(helsinki_db):
    """Run one SQL query directly on the Helsinki database (the independent side of a check)."""

    def run(query: str, params=None) -> list[tuple]:
        conn = psycopg2.connect(libpq_url(helsinki_db))
        try:
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall()
        finally:
            conn.close()

    return run
