"""Shared fixtures: a real PostGIS (never SQLite, never mocks) and the real OSM extracts.

The server is ``DATABASE_URL`` when set, else the project-local cluster (started if needed).
Tests never touch the ``sigap`` database itself: every test database is a copy of a
migrated template, ``sigap_test_<pid>_tpl``. A missing database or data file fails the run; it
never skips.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from click.testing import CliRunner, Result
from psycopg2 import sql
from sqlalchemy.engine import make_url

from gis.db import libpq_url, upgrade
from gis.settings import PROJECT_ROOT

SHARED_DATA = Path(os.environ.get("SIGAP_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
#: Names carry the pid, so two test runs on one server do not drop each other's databases.
TEMPLATE_DB = f"sigap_test_{os.getpid()}_tpl"
_counter = itertools.count()


def shared_file(relative: str) -> Path:
    """A file of ``../shared/data``, read in place. Missing: the test fails."""
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.fail(f"test data file missing: {path} (expected ../shared/data/{relative})")
    return path


def sigap(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the ``sigap`` command line in a subprocess with ``env`` as its environment."""
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


class SigapRunner(CliRunner):
    """Click's test runner for ``sigap``, in-process (Flask's ``app.test_cli_runner`` style).

    ``invoke(args, env=...)`` runs ``cli.main`` as ``sigap`` with ``env`` added to the
    environment (a None value removes a variable) and the settings re-read before and after,
    so each invocation sees its own environment.
    """

    def invoke(self, args=None, *, cli=None, **kwargs) -> Result:  # type: ignore[override]
        """Run ``sigap ARGS`` (``cli`` defaults to ``cli.main``)."""
        from cli import main
        from gis.settings import get_settings

        kwargs.setdefault("prog_name", "sigap")
        get_settings.cache_clear()
        try:
            return super().invoke(cli or main, args, **kwargs)
        finally:
            get_settings.cache_clear()


@pytest.fixture
def runner() -> SigapRunner:
    """Invoke the ``sigap`` command line in-process: ``runner.invoke(["db", "url"], env=...)``."""
    return SigapRunner()


def query(url: str, statement, params=None):
    """Run one statement on the database at ``url`` in its own committed transaction.

    Returns its rows, or None for a statement that returns none.
    """
    conn = psycopg2.connect(libpq_url(url))
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


@pytest.fixture
def cluster_base():
    """A directory for a throw-away local cluster under /var/tmp (reachable by ``postgres``);
    the cluster is stopped and the directory removed afterwards."""
    import shutil
    import tempfile

    from gis.cluster import LocalCluster

    base = Path(tempfile.mkdtemp(prefix="sigap-cluster-test-", dir="/var/tmp"))
    base.chmod(0o755)
    yield base / "pg"
    cluster = LocalCluster(base / "pg")
    if cluster.is_initialised():
        cluster.stop()
    shutil.rmtree(base, ignore_errors=True)


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from gis.cluster import local_cluster

    try:
        cluster = local_cluster()
        cluster.start()
    except Exception as exc:  # noqa: BLE001 - any failure here must fail the run, loudly
        pytest.fail(f"cannot start the local PostGIS cluster: {exc}")
    return cluster.url()


def _with_db(url: str, dbname: str) -> str:
    return make_url(libpq_url(url)).set(database=dbname).render_as_string(hide_password=False)


def _admin(server_url: str):
    conn = psycopg2.connect(_with_db(server_url, "postgres"))
    conn.autocommit = True
    return conn


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """(Re)create database ``name``, optionally as a copy of ``template``; return its URL."""
    drop_database(server_url, name)
    conn = _admin(server_url)
    try:
        with conn.cursor() as cur:
            query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            cur.execute(query)
    finally:
        conn.close()
    return _with_db(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` and any routing cache built for it."""
    from gis.network import drop_cache

    drop_cache(_with_db(server_url, name))
    conn = _admin(server_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        conn.close()


@pytest.fixture(scope="session")
def server_url() -> str:
    """URL of the PostgreSQL server the tests run against."""
    url = _server_url()
    try:
        _admin(url).close()
    except psycopg2.OperationalError as exc:
        pytest.fail(f"cannot connect to PostgreSQL at {make_url(url).host}: {exc}")
    return url


@pytest.fixture(scope="session")
def template_db(server_url: str):
    """A migrated, empty database used as the template of every test database."""
    url = create_database(server_url, TEMPLATE_DB)
    upgrade(url)
    _dispose(url)  # no pooled connection may hold the template open
    yield TEMPLATE_DB
    drop_database(server_url, TEMPLATE_DB)


@pytest.fixture
def fresh_db(server_url: str, template_db: str):
    """URL of a new, migrated, empty database; dropped after the test."""
    name = f"sigap_test_{os.getpid()}_{next(_counter)}"
    url = create_database(server_url, name, template=template_db)
    yield url
    _dispose(url)
    drop_database(server_url, name)


def _dispose(url: str) -> None:
    from gis.db import _engine_for

    for key in [url, libpq_url(url)]:
        try:
            _engine_for(key).dispose()
        except Exception:  # noqa: BLE001
            pass
    _engine_for.cache_clear()


def _ingested_db(server_url: str, template_db: str, city: str, files: list[str]):
    from ingest.osm import ingest_osm_file

    name = f"sigap_test_{os.getpid()}_{city}"
    url = create_database(server_url, name, template=template_db)
    for f in files:
        ingest_osm_file(shared_file(f), url, progress=False)
    yield url
    _dispose(url)
    drop_database(server_url, name)


@pytest.fixture(scope="session")
def helsinki_db(server_url: str, template_db: str):
    """URL of a database holding ``helsinki.osm.pbf``. Treat as read-only."""
    yield from _ingested_db(server_url, template_db, "helsinki", ["osm/helsinki.osm.pbf"])


@pytest.fixture(scope="session")
def andorra_db(server_url: str, template_db: str):
    """URL of a database holding ``andorra.osm.pbf``. Treat as read-only."""
    yield from _ingested_db(server_url, template_db, "andorra", ["osm/andorra.osm.pbf"])


@pytest.fixture(scope="session")
def buahbatu(server_url: str, template_db: str):
    """Buahbatu with Bandung's TPS, a depot, a TPA and a footway lane, network built
    (``tests/gis/collection_fixtures.py``). Tests that change it restore it."""
    from tests.gis.collection_fixtures import collection_db, drop_collection_db

    name = f"sigap_test_collection_{os.getpid()}"
    url = collection_db(server_url, template_db, name)
    yield url
    drop_collection_db(server_url, url, name)
