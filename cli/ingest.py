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
    from ingest.files import FileResult
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


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        w, s, e, n = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("expected WEST,SOUTH,EAST,NORTH in degrees") from None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise click.BadParameter("expected WEST < EAST within ±180 and SOUTH < NORTH within ±90")
    return w, s, e, n


def print_file_summary(result: FileResult) -> None:
    """Print what one file load did: mapping, loaded/updated/unchanged/rejected, reports."""
    head = "Dry run (nothing written): " if result.dry_run else "Loaded "
    click.echo(f"{head}{Path(result.load.source).name} into {result.layer}")
    for line in result.mapping:
        click.echo(f"  {line}")
    new = result.new if result.layer in result.load.new else 0
    click.echo(
        f"rows: {result.rows}  loaded: {new}  updated: {result.updated}  "
        f"unchanged: {result.unchanged}  rejected: {result.rejected}"
    )
    for layer in result.load.total:
        if layer != result.layer:
            click.echo(f"{layer}: {result.load.updated.get(layer, 0)} updated")
    for note in result.load.notes:
        click.echo(note)
    if result.unmatched:
        click.echo(f"unmatched: {len(result.unmatched)}")
        for line in result.unmatched[:20]:
            click.echo(f"  {line}")
    if result.rejects_path is not None:
        click.echo(f"rejected rows and reasons: {result.rejects_path}")
    if result.load.run_id is not None:
        click.echo(f"ingest_run {result.load.run_id}")
    if result.load.network is not None:
        click.echo(f"Routing network rebuilt ({result.load.network.seconds:.1f} s).")


@ingest.command("file")
@click.argument("path")
@click.option(
    "--layer",
    required=True,
    help="offices, bins, roads, inspections, areas or complaints (or a registry layer name).",
)
@click.option("--sublayer", help="GeoPackage layer, zip member or Excel sheet to read.")
@click.option(
    "--crs",
    help="CRS of the file's coordinates, e.g. EPSG:23879 (default: the file's; CSV: EPSG:4326).",
)
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Fill FIELD from COLUMN (also source_id, lat, lon, wkt). Repeatable.",
)
@click.option(
    "--set",
    "constants",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Give FIELD a value for every row. Repeatable.",
)
@click.option(
    "--source", help="Name of this data source (default: the file name); re-imports match on it."
)
@click.option(
    "--join", help="Update existing rows matched on this field (e.g. code) instead of adding rows."
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False),
    help="Where to write the rejected rows (default: next to the input).",
)
@click.option("--bbox", help="Declared extent WEST,SOUTH,EAST,NORTH; rows outside it are rejected.")
@click.option(
    "--tolerance",
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Inspections: metres between a point or line and its road segment.",
)
@click.option("--dry-run", is_flag=True, help="Check and count, write nothing.")
@progress_option
@pass_cli
def ingest_file_command(
    obj: CliContext,
    path: str,
    layer: str,
    sublayer: str | None,
    crs: str | None,
    mapping: tuple[str, ...],
    constants: tuple[str, ...],
    source: str | None,
    join: str | None,
    rejects: str | None,
    bbox: str | None,
    tolerance: float,
    dry_run: bool,
    progress: bool | None,
):
    """Load a GeoJSON, GeoPackage, Shapefile, CSV, Excel or OSM XML file into a layer.

    Columns are mapped to fields by common Indonesian and English names (see the README);
    other columns are kept in 'attributes'. Bad rows are written to a reject report and the
    rest load in one transaction; running it again changes nothing.
    """
    from ingest.fieldmap import parse_pairs
    from ingest.files import ingest_file
    from ingest.load import InterruptedAfterCommit

    extent = _bbox(bbox)
    try:
        result = ingest_file(
            path,
            obj.url,
            layer=layer,
            sublayer=sublayer,
            crs=crs,
            mapping=parse_pairs(mapping, "--map"),
            constants=parse_pairs(constants, "--set"),
            source=source,
            join=join,
            rejects=rejects,
            dry_run=dry_run,
            bbox=extent,
            tolerance_m=tolerance,
            progress=progress,
        )
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
    print_file_summary(result)
