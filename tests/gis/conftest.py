"""Routing fixtures: real extracts ingested and built once per session, and the reference."""

from __future__ import annotations

import os

import pytest

from tests.gis.helpers import drop_routed_db, routed_db
from tests.gis.reference import Reference


def _routed(server_url: str, template_db: str, label: str, path: str):
    name = f"sigap_test_route_{label}_{os.getpid()}"
    url = routed_db(server_url, template_db, name, path)
    yield url
    drop_routed_db(server_url, url, name)


@pytest.fixture(scope="session")
def hel(server_url, template_db):
    """Helsinki, ingested and built; read-only."""
    yield from _routed(server_url, template_db, "hel", "osm/helsinki.osm.pbf")


@pytest.fixture(scope="session")
def andorra(server_url, template_db):
    """Andorra, ingested and built; read-only."""
    yield from _routed(server_url, template_db, "and", "osm/andorra.osm.pbf")


@pytest.fixture(scope="session")
def krems(server_url, template_db):
    """Krems (``.osm.gz``), ingested and built; read-only."""
    yield from _routed(server_url, template_db, "krems", "osm/krems.osm.gz")


@pytest.fixture
def hel_mutable(server_url, template_db):
    """A Helsinki database of this test's own, which it may change."""
    name = f"sigap_test_route_mut_{os.getpid()}"
    url = routed_db(server_url, template_db, name, "osm/helsinki.osm.pbf")
    yield url
    drop_routed_db(server_url, url, name)


@pytest.fixture(scope="session")
def refs():
    """``refs(url, mode)``: the networkx reference of a read-only database, built once."""
    cache: dict[tuple[str, str], Reference] = {}

    def get(url: str, mode: str) -> Reference:
        if (url, mode) not in cache:
            cache[(url, mode)] = Reference(url, mode)
        return cache[(url, mode)]

    return get
