"""``sigap nearest`` and ``sigap isochrone``: routing queries from a point.

Arguments are parsed by the routing API's validators (one rule each, in :mod:`gis.validate`)
before the database is touched; the commands then call the API and format its answer.
"""

from __future__ import annotations

import click

from cli.context import CliContext, echo_json, pass_cli

#: Accept negative coordinates as arguments (``sigap nearest -6.2 106.8``).
POINT_ARGS = {"ignore_unknown_options": True}


def format_duration(seconds: float) -> str:
    """``"3 min 05 s"`` or ``"42 s"``."""
    minutes, sec = divmod(round(seconds), 60)
    return f"{minutes} min {sec:02d} s" if minutes else f"{sec} s"


@click.command("nearest", context_settings=POINT_ARGS)
@click.argument("lat", type=str)
@click.argument("lon", type=str)
@click.option(
    "--category",
    required=True,
    help="Office category (health, government, police, ...) or waste-bin kind "
    "(waste_basket, waste_disposal, recycling).",
)
@click.option("--mode", default="walk", show_default=True, help="walk, motorcycle or car.")
@click.option("--k", "k", default="1", show_default=True, help="How many facilities (1-10).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead of a summary.")
@pass_cli
def nearest(
    obj: CliContext, lat: str, lon: str, category: str, mode: str, k: str, as_json: bool
) -> None:
    """The facilities of a category reachable soonest from LAT LON, with routes."""
    from gis import routing

    lat_f, lon_f = routing.validate_point(lat, lon)
    k_int = routing.validate_k(k)
    result = routing.nearest_facilities(
        lat_f, lon_f, category=category, mode=mode, k=k_int, url=obj.url
    )
    if as_json:
        echo_json(result)
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
            f"{r['rank']:>2}. {name} [{fac['kind']}]  {format_duration(r['travel_time_s'])}  "
            f"{r['distance_m'] / 1000:.2f} km  ({len(r['segment_ids'])} road segments; "
            f"the route ends {r['facility_snap']['distance_m']:.0f} m from it)"
        )
    if result.get("message"):
        click.echo(result["message"])


@click.command("isochrone", context_settings=POINT_ARGS)
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
@click.option("--mode", default="walk", show_default=True, help="walk, motorcycle or car.")
@click.option("--json", "as_json", is_flag=True, help="Print the GeoJSON instead of a summary.")
@pass_cli
def isochrone(
    obj: CliContext,
    lat: str,
    lon: str,
    more_minutes: tuple[str, ...],
    minutes: tuple[str, ...],
    mode: str,
    as_json: bool,
) -> None:
    """Areas reachable from LAT LON within each number of minutes, as GeoJSON polygons."""
    from gis import routing

    lat_f, lon_f = routing.validate_point(lat, lon)
    values = routing.validate_minutes(
        [p for raw in (*minutes, *more_minutes) for p in raw.split(",")]
    )
    result = routing.isochrone(lat_f, lon_f, minutes=values, mode=mode, url=obj.url)
    if as_json:
        echo_json(result)
        return
    for f in result["features"]:
        p = f["properties"]
        click.echo(
            f"{p['minutes']:g} min by {p['mode']}: {p['reachable_nodes']} network nodes, "
            f"{f['geometry']['type']}"
        )
