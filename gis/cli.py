"""The ``sigap`` command line: a thin click layer over library functions."""

from __future__ import annotations

import logging
import sys

import click

from gis.errors import SigapError


class SigapGroup(click.Group):
    """Turns domain errors into ``Error: ...`` and exit code 1, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SigapError as exc:
            raise click.ClickException(exc.message) from exc


@click.group(cls=SigapGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
def main(verbose: bool) -> None:
    """SIGAP: public-service GIS. Load OSM data, route to services, serve maps."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


# --- database -------------------------------------------------------------------------------
@main.group(cls=SigapGroup)
def db() -> None:
    """Manage the database (the local cluster unless DATABASE_URL is set)."""


def _cluster_or_none():
    from gis.cluster import local_cluster
    from gis.settings import get_settings

    if get_settings().database_url:
        return None
    return local_cluster()


@db.command("start")
def db_start() -> None:
    """Start the local PostGIS cluster (a no-op if it is running)."""
    cluster = _cluster_or_none()
    if cluster is None:
        click.echo("DATABASE_URL is set; using that server, not starting a local one.")
        return
    started = cluster.start()
    click.echo(("Started" if started else "Already running") + f": {cluster.url()}")


@db.command("stop")
def db_stop() -> None:
    """Stop the local PostGIS cluster."""
    cluster = _cluster_or_none()
    if cluster is None:
        click.echo("DATABASE_URL is set; there is no local cluster to stop.")
        return
    click.echo("Stopped." if cluster.stop() else "Not running.")


@db.command("status")
def db_status() -> None:
    """Show whether the database is running, and where."""
    cluster = _cluster_or_none()
    if cluster is None:
        from sqlalchemy import text

        from gis.db import get_engine

        with get_engine().connect() as conn:
            version = conn.execute(text("SELECT postgis_full_version()")).scalar()
        click.echo(f"DATABASE_URL server is up. {version}")
        return
    if cluster.is_running():
        click.echo(f"running  {cluster.url()}  data: {cluster.pgdata}")
    else:
        click.echo(f"stopped  data: {cluster.pgdata}")
        sys.exit(3)


@db.command("url")
def db_url() -> None:
    """Print the database URL that works."""
    from gis.db import database_url

    click.echo(database_url(start=False))


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations (starts the local cluster if needed)."""
    from gis.db import database_url, upgrade

    upgrade(database_url(start=True), revision)
    click.echo(f"Database migrated to {revision}.")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Roll the migrations back to REVISION (e.g. 'base')."""
    from gis.db import database_url, downgrade

    downgrade(database_url(start=True), revision)
    click.echo(f"Database downgraded to {revision}.")


# --- ingest ---------------------------------------------------------------------------------
@main.group(cls=SigapGroup)
def ingest() -> None:
    """Load outside data into the database."""


def print_load_summary(extract, result) -> None:
    """Per-layer counts of one ingest, as a small table."""
    click.echo(f"{'layer':<14}{'rows':>8}{'new':>8}{'updated':>9}")
    for layer, total in result.total.items():
        click.echo(
            f"{layer:<14}{total:>8}{result.new.get(layer, 0):>8}{result.updated.get(layer, 0):>9}"
        )
    rejected = len(extract.rejects)
    click.echo(f"rejected: {rejected} (details in ingest_run {result.run_id})")


@ingest.command("osm")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--place", help="Download this place by name through OSMnx (needs internet).")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show progress bars (default: only on a terminal).",
)
def ingest_osm(path: str | None, place: str | None, progress: bool | None) -> None:
    """Load an OSM extract (.osm.pbf, .osm, .osm.bz2, .osm.gz) into PostGIS.

    Offices, waste bins, road segments (the routing network) and administrative areas are
    loaded in one transaction; re-running it on the same file changes nothing.
    """
    from gis.db import database_url
    from gis.settings import get_settings
    from ingest.osm import check_osm_file, download_place, ingest_osm_file

    if bool(path) == bool(place):
        raise click.UsageError("Give either a PATH or --place, not both.")
    if place:
        path = str(download_place(place, get_settings().data_dir / "downloads"))
    check_osm_file(path)
    url = database_url(start=True)
    extract, result = ingest_osm_file(path, url, progress=progress)
    click.echo(f"Loaded {extract.path.name} (sha256 {extract.sha256[:12]}...)")
    print_load_summary(extract, result)


# --- web server -----------------------------------------------------------------------------
@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="gunicorn worker processes (default: one per CPU core).",
)
@click.option(
    "--debug",
    is_flag=True,
    help="Run Flask's development server with the debugger instead of gunicorn (never in "
    "production).",
)
def serve(host: str, port: int, workers: int | None, debug: bool) -> None:
    """Serve the maps and the API (gunicorn; the Flask dev server only with --debug)."""
    import os

    from gis.db import database_url
    from web import create_app

    url = database_url(start=True)
    app = create_app({"DATABASE_URL": url})
    click.echo(f"SIGAP is serving at http://{host}:{port}/  (Ctrl+C stops it)")
    if debug:
        app.run(host=host, port=port, debug=True, use_reloader=False)
        return
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers or os.cpu_count() or 2)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", None)
            self.cfg.set("loglevel", "warning")
            self.cfg.set("proc_name", "sigap")

        def load(self):
            return app

    _Gunicorn().run()
