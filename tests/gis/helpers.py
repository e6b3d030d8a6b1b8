"""Database helpers shared by the routing-network tests (test_network.py, test_routing.py)."""

from __future__ import annotations

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url

from gis import routing
from gis.db import libpq_url
from gis.network import build_network, drop_cache
from ingest.osm import ingest_osm_file
from tests.conftest import _dispose, create_database, drop_database, query, shared_file

__all__ = ["drop_routed_db", "query", "recreate_keeping_cache", "routed_db"]


def routed_db(server_url: str, template_db: str, name: str, pbf: str, *, build: bool = True):
    """A new database ``name`` with the extract ``pbf`` (under ``shared/data``) ingested and,
    if ``build``, its routing network built; returns its URL."""
    url = create_database(server_url, name, template=template_db)
    ingest_osm_file(shared_file(pbf), url, progress=False)
    if build:
        build_network(url, progress=False)
    return url


def drop_routed_db(server_url: str, url: str, name: str) -> None:
    """Drop the database, its network cache and every loaded router."""
    drop_cache(url)
    routing.clear_routers()
    _dispose(url)
    drop_database(server_url, name)


def recreate_keeping_cache(server_url: str, url: str, name: str, template_db: str) -> None:
    """DROP and CREATE database ``name`` (from ``template_db``) and leave its network cache on
    disk, as a database administrator would outside SIGAP."""
    _dispose(url)
    admin = make_url(libpq_url(server_url)).set(database="postgres")
    conn = psycopg2.connect(admin.render_as_string(hide_password=False))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            ident = sql.Identifier(name)
            cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident))
            cur.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(ident, sql.Identifier(template_db))
            )
    finally:
        conn.close()
