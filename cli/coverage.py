"""``sigap coverage`` and ``sigap suggest``: planning analyses over the routing network.

Thin commands over :mod:`gis.coverage`: ``--json`` prints the API's JSON unchanged
(``/api/coverage``, ``/api/scenario`` and ``/api/suggest`` give the same). ``coverage`` with
``--close``, ``--close-polygon``, ``--add`` or ``--remove`` runs a what-if scenario.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import click

from cli.context import CliContext, echo_json, pass_cli, progress_option


def _common(fn):
    fn = click.option(
        "--category",
        required=True,
        help="Facility category (health, government, ...) or waste-bin kind.",
    )(fn)
    fn = click.option("--mode", default="walk", show_default=True, help="walk, motorcycle or car.")(
        fn
    )
    fn = click.option(
        "--minutes",
        required=True,
        help="T: the travel time limit in minutes (above 0, at most 240).",
    )(fn)
    fn = click.option(
        "--by",
        type=click.Choice(["admin_area", "hex"]),
        default=None,
        help="Areas: admin areas (default when loaded) or an H3 hexagon grid.",
    )(fn)
    fn = click.option(
        "--admin-level", default=None, help="Level of admin areas (default: finest)."
    )(fn)
    fn = click.option("--hex-resolution", default=None, help="H3 resolution of the hexagon grid.")(
        fn
    )
    return progress_option(fn)


def _ids(raw: tuple[str, ...]) -> list[str] | None:
    items = [p.strip() for r in raw for p in r.split(",") if p.strip()]
    return items or None


def _points(raw: tuple[str, ...]) -> list[dict] | None:
    out = []
    for r in raw:
        parts = r.split(",")
        if len(parts) != 2:
            raise click.BadParameter(f"expected LAT,LON, got {r!r}", param_hint="--add")
        out.append({"lat": parts[0].strip(), "lon": parts[1].strip()})
    return out or None


def _polygon(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from exc
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        feats = data.get("features") or []
        if len(feats) != 1:
            raise click.ClickException(f"{path}: expected one polygon feature, got {len(feats)}")
        data = feats[0]
    return data


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _print_summary(s: dict, demand_unit: str) -> None:
    click.echo(
        f"Road beyond T: {s['road_length_beyond_m'] / 1000:.1f} of {s['road_length_m'] / 1000:.1f}"
        f" km ({_pct(s['share_length_beyond'])}); nodes beyond T: {s['nodes_beyond']} of "
        f"{s['nodes']} ({s['nodes_unreachable']} reach no facility)"
    )
    if s.get("population") is not None:
        click.echo(f"People beyond T: {s['population_beyond']:.0f} of {s['population']}")


def _print_areas(features: list[dict]) -> None:
    for f in features:
        p = f["properties"]
        name = p["name"] or p["key"]
        acc = "-" if p["accessibility"] is None else f"{p['accessibility']:.4g}"
        people = "" if p["population_beyond"] is None else f", {p['population_beyond']:.0f} people"
        click.echo(
            f"  {name}: {_pct(p['share_beyond'])} of {p['road_length_m'] / 1000:.1f} km beyond T"
            f"{people}; accessibility {acc}"
        )


@click.command("coverage")
@_common
@click.option("--close", multiple=True, help="What-if: close road_segment ids (comma-separated).")
@click.option(
    "--close-polygon",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="What-if: close every road intersecting this GeoJSON polygon (a flood area).",
)
@click.option("--add", multiple=True, help="What-if: add a facility at LAT,LON (repeatable).")
@click.option("--remove", multiple=True, help="What-if: leave out facility ids (comma-separated).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the per-area table as CSV.")
@click.option(
    "--gpkg",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the per-area table to this GeoPackage file.",
)
@pass_cli
def coverage(
    obj: CliContext,
    category: str,
    mode: str,
    minutes: str,
    by: str | None,
    admin_level: str | None,
    hex_resolution: str | None,
    progress: bool | None,
    close: tuple[str, ...],
    close_polygon: Path | None,
    add: tuple[str, ...],
    remove: tuple[str, ...],
    as_json: bool,
    as_csv: bool,
    gpkg: Path | None,
) -> None:
    """Where the network is more than T minutes from a facility, per area; with --close,
    --close-polygon, --add or --remove, the same under a what-if scenario."""
    from gis import coverage as cov
    from web.planning_export import area_table_csv, area_table_gpkg

    if sum([as_json, as_csv, gpkg is not None]) > 1:
        raise click.UsageError("choose one of --json, --csv and --gpkg")
    args = {"by": by, "admin_level": admin_level, "hex_resolution": hex_resolution}
    what = {
        "close_segments": _ids(close),
        "close_polygon": _polygon(close_polygon),
        "add_facilities": _points(add),
        "remove_facilities": _ids(remove),
    }
    if any(v is not None for v in what.values()):
        answer = cov.scenario(
            category, mode, minutes, url=obj.url, progress=progress, gaps=as_json, **what, **args
        )
        body = answer["result"]
    else:
        answer = cov.coverage(
            category, mode, minutes, url=obj.url, progress=progress, gaps=as_json, **args
        )
        body = answer
    if as_json:
        echo_json(answer)
        return
    if as_csv:
        click.echo(area_table_csv(answer), nl=False)
        return
    if gpkg is not None:
        gpkg.write_bytes(area_table_gpkg(answer))
        click.echo(f"Wrote {len(body['areas']['features'])} areas to {gpkg}")
        return
    click.echo(
        f"{answer['category']} by {answer['mode']} within {answer['minutes']:g} min "
        f"({answer['areas_kind']}):"
    )
    if answer["analysis"] == "scenario":
        click.echo("Baseline:")
        _print_summary(answer["baseline"]["summary"], body["demand_unit"])
        click.echo(f"Scenario ({len(answer['scenario']['closed_segment_ids'])} roads closed):")
    _print_summary(body["summary"], body["demand_unit"])
    _print_areas(body["areas"]["features"])
    if body["outside"]["road_length_m"] > 0:
        o = body["outside"]
        click.echo(
            f"  (outside every area: {o['road_length_beyond_m'] / 1000:.1f} of "
            f"{o['road_length_m'] / 1000:.1f} km beyond T)"
        )


def _read_candidates(path: Path) -> list[tuple[str, str]]:
    """Points from a CSV with ``lat`` and ``lon`` columns, or a GeoJSON of Points."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".geojson", ".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{path}: not valid JSON ({exc.msg})") from exc
        out = []
        for i, f in enumerate(data.get("features", []) if isinstance(data, dict) else []):
            geom = (f or {}).get("geometry") or {}
            if geom.get("type") != "Point":
                raise click.ClickException(f"{path}: feature {i} is not a Point")
            lon, lat = geom["coordinates"][:2]
            out.append((lat, lon))
        return out
    reader = csv.DictReader(text.splitlines())
    fields = {f.lower(): f for f in reader.fieldnames or []}
    lat_f = fields.get("lat") or fields.get("latitude")
    lon_f = fields.get("lon") or fields.get("lng") or fields.get("longitude")
    if not lat_f or not lon_f:
        raise click.ClickException(f"{path}: needs 'lat' and 'lon' columns")
    return [(row[lat_f], row[lon_f]) for row in reader]


@click.command("suggest")
@_common
@click.option("--count", default="1", show_default=True, help="How many new sites (1-50).")
@click.option(
    "--candidates",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Candidate points: a CSV with lat and lon columns, or a GeoJSON of Points "
    "(default: nodes on roads of class tertiary or higher).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@pass_cli
def suggest(
    obj: CliContext,
    category: str,
    mode: str,
    minutes: str,
    by: str | None,
    admin_level: str | None,
    hex_resolution: str | None,
    progress: bool | None,
    count: str,
    candidates: Path | None,
    as_json: bool,
) -> None:
    """The COUNT new sites that would bring the most people (or road) within T minutes."""
    from gis import coverage as cov

    points = None if candidates is None else _read_candidates(candidates)
    answer = cov.suggest(
        category,
        mode,
        minutes,
        count,
        url=obj.url,
        candidates=points,
        by=by,
        admin_level=admin_level,
        hex_resolution=hex_resolution,
        progress=progress,
    )
    if as_json:
        echo_json(answer)
        return
    click.echo(f"{answer['category']} by {answer['mode']} within {answer['minutes']:g} min:")
    click.echo(f"Now {_pct(answer['baseline']['share_length_beyond'])} of the road is beyond T.")
    for f in answer["sites"]["features"]:
        s = f["properties"]
        people = ""
        if s["newly_covered_people"] is not None:
            people = f", {s['newly_covered_people']:.0f} people"
        click.echo(
            f"{s['rank']:>2}. {s['lat']:.6f}, {s['lon']:.6f}: newly covers "
            f"{s['newly_covered_length_m'] / 1000:.1f} km of road{people}; "
            f"then {_pct(s['share_length_beyond_after'])} beyond T"
        )
    if answer.get("message"):
        click.echo(answer["message"])
