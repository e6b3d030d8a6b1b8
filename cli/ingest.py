"""``sigap ingest``: load outside data into the database, through the ingest service.

Each command reads its input with a loader of :mod:`ingest`, which loads through
:func:`ingest.service.load` (one transaction, then a refresh of a built routing network), and
prints what the load did. A Ctrl-C before the commit leaves the database as it was and says
so; one after the commit reports the load, which stands.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.context import CliContext, pass_cli, progress_option

if TYPE_CHECKING:
    from ingest.load import LoadResult


@click.group()
def ingest() -> None:
    """Load outside data into the database."""


def print_summary(result: LoadResult) -> None:
    """Print what one load did: its input, per-layer counts, rejects and the network refresh."""
    digest = f" (sha256 {result.sha256[:12]}...)" if result.sha256 else ""
    click.echo(f"Loaded {Path(result.source).name}{digest}")
    click.echo(f"{'layer':<14}{'rows':>8}{'new':>8}{'updated':>9}{'deleted':>9}")
    for layer, total in result.total.items():
        new, updated = result.new.get(layer, 0), result.updated.get(layer, 0)
        click.echo(f"{layer:<14}{total:>8}{new:>8}{updated:>9}{result.deleted.get(layer, 0):>9}")
    click.echo(f"rejected: {result.rejected} (details in ingest_run {result.run_id})")
    if result.network is not None:
        click.echo(f"Routing network rebuilt ({result.network.seconds:.1f} s).")


def report_load(load: Callable[[], LoadResult]) -> None:
    """Run ``load()`` (a loader call returning a LoadResult) and report it honestly."""
    from ingest.load import InterruptedAfterCommit

    try:
        result = load()
    except InterruptedAfterCommit as exc:
        print_summary(exc.result)
        click.echo(
            "Interrupted after the load was committed: the data above is loaded. The routing "
            "network was not refreshed; run 'sigap network build' to refresh it now.",
            err=True,
        )
        return
    except KeyboardInterrupt:
        msg = "Interrupted before the load was committed; nothing was written."
        raise click.ClickException(msg) from None
    print_summary(result)


@ingest.command("osm")
@click.argument("path", required=False)
@click.option("--place", help="Download this place by name through OSMnx (needs internet).")
@progress_option
@pass_cli
def ingest_osm(obj: CliContext, path: str | None, place: str | None, progress: bool | None):
    """Load an OSM extract (.osm.pbf, .osm, .osm.bz2, .osm.gz) into PostGIS.

    Offices, waste bins, road segments (the routing network) and administrative areas are
    loaded in one transaction; re-running it on the same file changes nothing. A routing
    network that was built is refreshed afterwards.
    """
    from ingest.osm import ingest_osm_file
    from ingest.overpass import download_place

    if bool(path) == bool(place):
        raise click.UsageError("Give either a PATH or --place, not both.")
    if place:
        path = str(download_place(place, obj.settings.data_dir / "downloads"))
    assert path is not None
    report_load(lambda: ingest_osm_file(path, obj.url, progress=progress)[1])
