"""``sigap db``: the local cluster's life cycle, ``DATABASE_URL``, and migrations."""

from __future__ import annotations

import os

import psycopg2

from gis.cluster import _free_port
from tests.conftest import _with_db, query, sigap


def test_cli_start_status_url_stop(cluster_base):
    env = {
        **os.environ,
        "SIGAP_DATA_DIR": str(cluster_base.parent),
        "SIGAP_PG_PORT": str(_free_port()),
    }
    env.pop("DATABASE_URL", None)
    started = sigap("db", "start", env=env)
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("Started")
    again = sigap("db", "start", env=env)
    assert again.stdout.startswith("Already running")
    url = sigap("db", "url", env=env).stdout.strip()
    assert url == f"postgresql://postgres@127.0.0.1:{env['SIGAP_PG_PORT']}/sigap"
    psycopg2.connect(url).close()  # the database "sigap" exists
    assert sigap("db", "status", env=env).stdout.startswith("running")
    assert sigap("db", "stop", env=env).stdout.startswith("Stopped")
    status = sigap("db", "status", env=env)
    assert status.returncode == 3 and status.stdout.startswith("stopped")


def test_database_url_is_used_instead_of_a_local_cluster(cluster_base, server_url, runner):
    env = {"SIGAP_DATA_DIR": str(cluster_base.parent), "DATABASE_URL": server_url}
    assert runner.invoke(["db", "url"], env=env).stdout.strip() == server_url
    started = runner.invoke(["db", "start"], env=env)
    assert started.exit_code == 0 and "DATABASE_URL is set" in started.stdout
    assert not cluster_base.exists()  # nothing local was created


def test_status_of_a_database_url_server(fresh_db, server_url, runner):
    ((version,),) = query(fresh_db, "SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
    status = runner.invoke(["db", "status"], env={"DATABASE_URL": fresh_db})
    assert status.exit_code == 0, status.output
    assert status.stdout.startswith("DATABASE_URL server is up: PostgreSQL 1")
    assert status.stdout.endswith(f", PostGIS {version}.\n")
    bare = _with_db(server_url, "postgres")  # a database without the extension
    status = runner.invoke(["db", "status"], env={"DATABASE_URL": bare})
    assert status.exit_code == 0, status.output
    assert status.stdout.endswith("no PostGIS yet (run 'sigap db upgrade').\n")


def test_db_commands_without_a_server_say_what_to_do(cluster_base, runner):
    env = {"SIGAP_DATA_DIR": str(cluster_base.parent), "DATABASE_URL": None}
    result = runner.invoke(["db", "url"], env=env)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: The local database is not running. Start it with 'sigap db start'."
    )


def test_downgrade_and_upgrade(fresh_db, runner):
    env = {"DATABASE_URL": fresh_db}
    down = runner.invoke(["db", "downgrade", "base"], env=env)
    assert down.exit_code == 0, down.output
    assert query(fresh_db, "SELECT to_regclass('office')") == [(None,)]
    up = runner.invoke(["db", "upgrade"], env=env)
    assert up.exit_code == 0 and up.stdout == "Database migrated to head.\n"
    assert query(fresh_db, "SELECT to_regclass('office')::text") == [("office",)]
