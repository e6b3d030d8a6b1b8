"""``sigap db``: the local PostGIS cluster (or ``DATABASE_URL``'s server) and migrations."""

from __future__ import annotations

import sys

import click

from cli.context import CliContext, pass_cli


@click.group()
def db() -> None:
    """Manage the database (the local cluster unless DATABASE_URL is set)."""


def _cluster_or_none(obj: CliContext):
    from gis.cluster import local_cluster

    if obj.settings.database_url:
        return None
    return local_cluster(obj.settings)


@db.command("start")
@pass_cli
def db_start(obj: CliContext) -> None:
    """Start the local PostGIS cluster (a no-op if it is running)."""
    cluster = _cluster_or_none(obj)
    if cluster is None:
        click.echo("DATABASE_URL is set; using that server, not starting a local one.")
        return
    started = cluster.start()
    click.echo(("Started" if started else "Already running") + f": {cluster.url()}")


@db.command("stop")
@pass_cli
def db_stop(obj: CliContext) -> None:
    """Stop the local PostGIS cluster."""
    cluster = _cluster_or_none(obj)
    if cluster is None:
        click.echo("DATABASE_URL is set; there is no local cluster to stop.")
        return
    click.echo("Stopped." if cluster.stop() else "Not running.")


@db.command("status")
@pass_cli
def db_status(obj: CliContext) -> None:
    """Show whether the database is running, and where (exit code 3 when stopped)."""
    cluster = _cluster_or_none(obj)
    if cluster is None:
        from sqlalchemy import text

        from gis.db import get_engine

        with get_engine(obj.url).connect() as conn:
            server = conn.execute(text("SHOW server_version")).scalar()
            postgis = conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            ).scalar()
        extension = f"PostGIS {postgis}" if postgis else "no PostGIS yet (run 'sigap db upgrade')"
        click.echo(f"DATABASE_URL server is up: PostgreSQL {server}, {extension}.")
        return
    if cluster.is_running():
        click.echo(f"running  {cluster.url()}  data: {cluster.pgdata}")
    else:
        click.echo(f"stopped  data: {cluster.pgdata}")
        sys.exit(3)


@db.command("url")
@pass_cli
def db_url(obj: CliContext) -> None:
    """Print the database URL that works (without starting anything)."""
    from gis.db import database_url

    click.echo(database_url(obj.settings, start=False))


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_cli
def db_upgrade(obj: CliContext, revision: str) -> None:
    """Apply the Alembic migrations (starts the local cluster if needed)."""
    from gis.db import upgrade

    upgrade(obj.url, revision)
    click.echo(f"Database migrated to {revision}.")


@db.command("downgrade")
@click.argument("revision")
@pass_cli
def db_downgrade(obj: CliContext, revision: str) -> None:
    """Roll the migrations back to REVISION (e.g. 'base')."""
    from gis.db import downgrade

    downgrade(obj.url, revision)
    click.echo(f"Database downgraded to {revision}.")
