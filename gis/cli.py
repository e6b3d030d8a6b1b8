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
    click.echo(f"{'layer':<14}{'rows':>8}{'new':>8}{'updated':>9}{'deleted':>9}")
    for layer, total in result.total.items():
        new, updated = result.new.get(layer, 0), result.updated.get(layer, 0)
        click.echo(f"{layer:<14}{total:>8}{new:>8}{updated:>9}{result.deleted.get(layer, 0):>9}")
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
    assert path is not None
    check_osm_file(path)
    url = database_url(start=True)
    extract, result = ingest_osm_file(path, url, progress=progress)
    click.echo(f"Loaded {extract.path.name} (sha256 {extract.sha256[:12]}...)")
    print_load_summary(extract, result)
    from gis.network import rebuild_if_built

    rebuilt = rebuild_if_built(url, progress=progress)
    if rebuilt is not None:
        click.echo(f"Routing network rebuilt ({rebuilt.seconds:.1f} s).")


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
    from gis.db import database_url
    from web.server import run_server

    url = database_url(start=True)
    click.echo(f"SIGAP is serving at http://{host}:{port}/  (Ctrl+C stops it)")
    run_server(url, host=host, port=port, workers=workers, debug=debug)


# --- routing --------------------------------------------------------------------------------
#: Accept negative coordinates as arguments (``sigap nearest -6.2 106.8``).
_POINT_ARGS = {"ignore_unknown_options": True}


@main.group(cls=SigapGroup)
def network() -> None:
    """Build and inspect the routing network (travel times per mode)."""


@network.command("build")
@click.option(
    "--mode",
    type=click.Choice(["all", "walk", "motorcycle", "car"]),
    default="all",
    show_default=True,
    help="Travel mode(s) to build; others keep their cached arrays if the roads are unchanged.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show progress bars (default: only on a terminal).",
)
def network_build(mode: str, progress: bool | None) -> None:
    """Compute travel times from road_segment, write them back and cache the network.

    Fills road_segment.cost_walk_s / cost_motorcycle_s / cost_car_s (NULL where the mode may
    not pass) and precomputes the nearest facility of every category from every node.
    """
    from gis.db import database_url
    from gis.network import SNAP_LIMIT_M, build_network

    report = build_network(database_url(start=True), modes=mode, progress=progress)
    click.echo(
        f"Built {', '.join(report.modes)} network: {report.nodes} nodes, {report.segments} "
        f"segments ({report.updated_rows} cost rows updated) in {report.seconds:.2f} s."
    )
    cats = ", ".join(f"{c} {n}" for c, n in report.categories.items()) or "none"
    click.echo(f"Facilities: {cats}")
    for off_mode, off_cats in report.off_network.items():
        off = ", ".join(f"{c} {len(ids)}" for c, ids in off_cats.items())
        click.echo(f"Off the {off_mode} network (over {SNAP_LIMIT_M:g} m from its roads): {off}")
    click.echo(f"Cache: {report.root / report.version}")


@network.command("status")
def network_status_cmd() -> None:
    """Show whether the cached network matches the roads and facilities in the database."""
    import json

    from gis.db import database_url
    from gis.network import network_status

    click.echo(json.dumps(network_status(database_url(start=True)), indent=1))


def _echo_json(data) -> None:
    import json

    click.echo(json.dumps(data, ensure_ascii=False))


def _fmt_duration(seconds: float) -> str:
    minutes, sec = divmod(round(seconds), 60)
    return f"{minutes} min {sec:02d} s" if minutes else f"{sec} s"


@main.command("nearest", context_settings=_POINT_ARGS)
@click.argument("lat", type=str)
@click.argument("lon", type=str)
@click.option(
    "--category",
    required=True,
    help="Office category (health, government, police, ...) or waste-bin kind "
    "(waste_basket, waste_disposal, recycling).",
)
@click.option(
    "--mode",
    default="walk",
    show_default=True,
    help="Travel mode: walk, motorcycle or car.",
)
@click.option("--k", "k", default="1", show_default=True, help="How many facilities (1-10).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead of a summary.")
def nearest_cmd(lat: str, lon: str, category: str, mode: str, k: str, as_json: bool) -> None:
    """The facilities of a category reachable soonest from LAT LON, with routes."""
    from gis.db import database_url
    from gis.errors import InvalidInputError
    from gis.routing import nearest_facilities, validate_point

    lat_f, lon_f = validate_point(lat, lon)
    try:
        k_int = int(k)
    except ValueError:
        msg = f"'k' must be a whole number from 1 to 10, got {k!r}."
        raise InvalidInputError(msg, param="k") from None
    url = database_url(start=True)
    result = nearest_facilities(lat_f, lon_f, category=category, mode=mode, k=k_int, url=url)
    if as_json:
        _echo_json(result)
        return
    snapped = result["snapped"]
    click.echo(
        f"From {result['origin']['lat']:.6f}, {result['origin']['lon']:.6f} by {mode} "
        f"(joined the road network {snapped['distance_m']:.0f} m away):"
    )
    if result["unreachable"]:
        click.echo(result["message"])
        return
    for r in result["results"]:
        fac = r["facility"]
        name = fac["name"] or f"{fac['layer']} {fac['id']}"
        click.echo(
            f"{r['rank']:>2}. {name} [{fac['kind']}]  {_fmt_duration(r['travel_time_s'])}  "
            f"{r['distance_m'] / 1000:.2f} km  ({len(r['segment_ids'])} road segments)"
        )
    if result.get("message"):
        click.echo(result["message"])


@main.command("isochrone", context_settings=_POINT_ARGS)
@click.argument("lat", type=str)
@click.argument("lon", type=str)
@click.argument("more_minutes", nargs=-1, type=str, metavar="")
@click.option(
    "--minutes",
    multiple=True,
    type=str,
    required=True,
    help="Travel time limit(s) in minutes: --minutes 5 10 15 (or 5,10,15).",
)
@click.option(
    "--mode",
    default="walk",
    show_default=True,
    help="Travel mode: walk, motorcycle or car.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the GeoJSON instead of a summary.")
def isochrone_cmd(
    lat: str, lon: str, more_minutes: tuple[str, ...], minutes: tuple[str, ...], mode: str, as_json
) -> None:
    """Areas reachable from LAT LON within each number of minutes, as GeoJSON polygons."""
    from gis.db import database_url
    from gis.errors import InvalidInputError
    from gis.routing import isochrone, validate_point

    lat_f, lon_f = validate_point(lat, lon)
    values: list[float] = []
    for raw in (*minutes, *more_minutes):
        for part in raw.split(","):
            try:
                values.append(float(part))
            except ValueError:
                msg = f"'minutes' must be numbers, got {part!r}."
                raise InvalidInputError(msg, param="minutes") from None
    result = isochrone(lat_f, lon_f, minutes=values, mode=mode, url=database_url(start=True))
    if as_json:
        _echo_json(result)
        return
    for f in result["features"]:
        p = f["properties"]
        click.echo(
            f"{p['minutes']:g} min by {p['mode']}: {p['reachable_nodes']} network nodes, "
            f"{f['geometry']['type']}"
        )
