"""``sigap collection plan``: a day's truck routes to the TPS and bins, unloading at the TPA.

A thin command over :func:`services.collection.plan_request` (the API's
``POST /api/collection/plan`` takes the same fields): ``--json`` prints the API's JSON,
``--gpx DIR`` writes a GPX file per truck, otherwise a table per truck.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.context import CliContext, echo_json, pass_cli, progress_option


@click.group("collection")
def collection() -> None:
    """Sanitation collection routes on the truck network."""


@collection.command("plan")
@click.option("--date", "day", default=None, help="The day planned, YYYY-MM-DD (default today).")
@click.option(
    "--fill",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The day's fill file: CSV of id and volume_m3 or fill_level (default: each TPS's "
    "sampah_masuk, else capacity x fill level).",
)
@click.option("--trucks", default=None, help="Number of trucks (default 3).")
@click.option("--capacity", default=None, help="Capacity of a truck in m3 (default 6).")
@click.option("--shift", default=None, help="Shift length in hours (default 8).")
@click.option("--start", "start_time", default=None, help="Shift start HH:MM (default 06:00).")
@click.option("--depot", "depot_id", default=None, help="Depot id (default the first depot).")
@click.option("--service-min", default=None, help="Minutes per stop (default 10).")
@click.option("--unload-min", default=None, help="Minutes to unload at the TPA (default 20).")
@click.option(
    "--max-walk", default=None, help="Farthest a stop may be from a truck road, m (default 300)."
)
@click.option("--time-limit", default=None, help="Solver time limit in seconds (default 10).")
@click.option("--seed", default=None, help="Solver seed (default 1): same inputs, same plan.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@click.option(
    "--gpx",
    "gpx_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write one GPX file per truck into this directory.",
)
@progress_option
@pass_cli
def plan(
    obj: CliContext,
    day: str | None,
    fill: Path | None,
    trucks: str | None,
    capacity: str | None,
    shift: str | None,
    start_time: str | None,
    depot_id: str | None,
    service_min: str | None,
    unload_min: str | None,
    max_walk: str | None,
    time_limit: str | None,
    seed: str | None,
    as_json: bool,
    gpx_dir: Path | None,
    progress: bool | None,
) -> None:
    """Plan the day's collection routes (PyVRP, multi-trip unloading at the TPA)."""
    from gis.collection_demand import read_fill_file
    from gis.collection_export import truck_gpx, visit_labels
    from services.collection import plan_request

    body = {
        "date": day,
        "trucks": trucks,
        "capacity_m3": capacity,
        "shift_h": shift,
        "start_time": start_time,
        "depot_id": depot_id,
        "service_min": service_min,
        "unload_min": unload_min,
        "max_walk_m": max_walk,
        "time_limit_s": time_limit,
        "seed": seed,
    }
    entries = read_fill_file(fill) if fill is not None else None
    result = plan_request(obj.url, body, fill=entries, progress=progress)
    if as_json:
        echo_json(result)
        return
    if gpx_dir is not None:
        gpx_dir.mkdir(parents=True, exist_ok=True)
        for t in result["trucks"]:
            if t["visits"]:
                path = gpx_dir / f"truk-{t['truck']}-{result['date']}.gpx"
                path.write_text(truck_gpx(result, t), encoding="utf-8")
                click.echo(f"Wrote {path}")
    tot = result["totals"]
    click.echo(
        f"Plan for {result['date']}: {tot['stops_served']} of {tot['stops']} stops served, "
        f"{tot['volume_m3']:.1f} m3 by {tot['trucks_used']} trucks, "
        f"{tot['drive_time_s'] / 3600:.2f} h driving, {tot['distance_m'] / 1000:.1f} km; "
        f"{tot['stops_unserved']} stops with volume left ({tot['unserved_m3']:.1f} m3)."
    )
    for t in result["trucks"]:
        if not t["visits"]:
            click.echo(f"Truck {t['truck']}: not needed")
            continue
        click.echo(
            f"Truck {t['truck']}: {t['stops']} stops, {t['trips']} trips to the TPA, "
            f"{t['volume_m3']:.1f} m3, {t['drive_time_s'] / 60:.0f} min driving, "
            f"{t['distance_m'] / 1000:.1f} km, back at {t['end']}"
        )
        for label, v in zip(visit_labels(t), t["visits"], strict=True):
            what = f"{v['volume_m3']:g} m3" if v["kind"] == "stop" else ""
            click.echo(f"  {v['arrival']}  {label:>4}  {v.get('name') or ''}  {what}".rstrip())
    reasons: dict[str, int] = {}
    for u in result["unserved"]:
        reasons[u["reason"]] = reasons.get(u["reason"], 0) + 1
    for reason, n in sorted(reasons.items()):
        click.echo(f"Unserved ({reason}): {n}")
