"""Fixtures for the services: a Helsinki database with its routing network, connections as
the web and staff roles (the roles the services run as in ``sigap serve``), staff accounts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest

from gis.db import libpq_url
from tests.conftest import create_database, drop_database, query
from web.settings import STAFF_ROLE, WEB_ROLE, role_url


def as_web(url: str) -> str:
    return role_url(url, WEB_ROLE)


def as_staff(url: str) -> str:
    return role_url(url, STAFF_ROLE)


@contextmanager
def transaction(url: str) -> Iterator:
    """A cursor in one transaction on ``url``: committed if the block succeeds."""
    conn = psycopg2.connect(libpq_url(url))
    try:
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


@pytest.fixture(scope="session")
def complaints_db(server_url, template_db):
    """Our own Helsinki copy with the routing network built (as the owner). Tests add
    complaints to it; each test uses its own points or idempotency keys."""
    from gis.network import build_network
    from ingest.osm import ingest_osm_file
    from tests.conftest import shared_file
    from tests.web.conftest import forget_database

    name = f"sigap_test_services_{os.getpid()}"
    url = create_database(server_url, name, template=template_db)
    ingest_osm_file(shared_file("osm/helsinki.osm.pbf"), url, progress=False)
    build_network(url, progress=False)
    yield url
    forget_database(url)
    drop_database(server_url, name)


@pytest.fixture(scope="session")
def staff_accounts(complaints_db):
    """One account per role in ``complaints_db``: role -> StaffAccount."""
    from layers.complaint_catalogue import STAFF_ROLES
    from services.accounts import create_user

    out = {}
    with transaction(complaints_db) as cur:
        for role in STAFF_ROLES:
            out[role] = create_user(cur, f"svc-{role}", role, f"password-of-{role}")
    return out


def count(url: str, statement: str, params=None) -> int:
    return query(url, statement, params)[0][0]
