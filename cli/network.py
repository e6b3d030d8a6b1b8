"""``sigap network``: build and inspect the routing network (travel times per mode)."""

from __future__ import annotations

import json

import click

from cli.context import CliContext, pass_cli, progress_option


@click.group()
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
@progress_option
@pass_cli
def network_build(obj: CliContext, mode: str, progress: bool | None) -> None:
    """Compute travel times from road_segment, write them back and cache the network.

    Fills road_segment.cost_walk_s / cost_motorcycle_s / cost_car_s (NULL where the mode may
    not pass) and precomputes the nearest facility of every category from every node.
    """
    from gis.network import SNAP_LIMIT_M, build_network

    report = build_network(obj.url, modes=mode, progress=progress)
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
@pass_cli
def network_status(obj: CliContext) -> None:
    """Show whether the cached network matches the roads and facilities in the database."""
    from gis.network import network_status as status

    click.echo(json.dumps(status(obj.url), indent=1))
