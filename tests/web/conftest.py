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


@pytest.fixture(scope="session")
def routed_db(server_url, template_db):
    """Our own copy of Helsinki with the routing network built (the build writes costs)."""
    from gis.network import build_network
    from ingest.osm import ingest_osm_file
    from tests.conftest import create_database, drop_database, shared_file

    name = "sigap_test_web_routed"
    url = create_database(server_url, name, template=template_db)
    ingest_osm_file(shared_file("osm/helsinki.osm.pbf"), url, progress=False)
    conn = psycopg2.connect(libpq_url(url))
    with conn, conn.cursor() as cur:  # one kelurahan-like area for the planning map
        cur.execute(
            "INSERT INTO admin_area (source, source_id, name, admin_level, code, geom) VALUES"
            " ('test', 'area/1', 'Kelurahan Uji', 7, '31.71.01.1001',"
            " ST_Multi(ST_MakeEnvelope(24.940, 60.166, 24.948, 60.172, 4326)))"
        )
    conn.close()
    build_network(url, progress=False)
    yield url
    from gis.db import _engine_for
    from gis.routing import clear_routers

    clear_routers()
    _engine_for.cache_clear()
    drop_database(server_url, name)


@pytest.fixture(scope="session")
def routed_app(routed_db):
    return create_app({"DATABASE_URL": routed_db, "TESTING": True})


@pytest.fixture
def routed_client(routed_app):
    return routed_app.test_client()
