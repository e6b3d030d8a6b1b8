"""``sigap collection plan`` on Buahbatu with Bandung's TPS (the ``buahbatu`` fixture)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from tests.gis.collection_fixtures import near_tps, write_fill

FAST = ["--time-limit", "10", "--no-progress"]


def _fill(buahbatu, tmp_path):
    ids = near_tps(buahbatu)
    assert len(ids) >= 8
    return write_fill(tmp_path / "fill.csv", [(sid, 2.0) for sid in ids[:8]])


def test_plan_prints_a_table_per_truck(runner, buahbatu, tmp_path):
    r = runner.invoke(
        ["collection", "plan", "--fill", str(_fill(buahbatu, tmp_path)), "--trucks", "2", *FAST],
        env={"DATABASE_URL": buahbatu},
    )
    assert r.exit_code == 0, r.output
    assert "8 of 8 stops served" in r.output and "Truck 1:" in r.output
    assert "Pool Buahbatu" in r.output and "TPA" in r.output


def test_json_is_the_api_answer_and_gpx_files_are_written(runner, buahbatu, tmp_path):
    fill = str(_fill(buahbatu, tmp_path))
    args = ["collection", "plan", "--fill", fill, "--date", "2026-12-01", "--trucks", "1", *FAST]
    r = runner.invoke([*args, "--json"], env={"DATABASE_URL": buahbatu})
    assert r.exit_code == 0, r.output
    plan = json.loads(r.output)
    assert plan["date"] == "2026-12-01" and plan["totals"]["stops_served"] == 8
    out = tmp_path / "gpx"
    r = runner.invoke([*args, "--gpx", str(out)], env={"DATABASE_URL": buahbatu})
    assert r.exit_code == 0, r.output
    (gpx,) = out.glob("*.gpx")
    root = ET.parse(gpx).getroot()
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    names = [w.findtext("g:name", namespaces=ns) for w in root.findall("g:wpt", ns)]
    assert names[0].startswith("Pool") and names[1].startswith("1.")
    assert len(root.findall("g:trk/g:trkseg", ns)) == len(plan["trucks"][0]["legs"])


def test_bad_input_is_one_error_line(runner, buahbatu, tmp_path):
    env = {"DATABASE_URL": buahbatu}
    cases = [
        (["--trucks", "0"], "'trucks' must be a whole number of at least 1"),
        (["--capacity", "0"], "'capacity_m3' must be above 0"),
        (["--date", "kemarin"], "'date' must be a date"),
    ]
    unknown = write_fill(tmp_path / "u.csv", [("TU001", 1), ("XX9", 2)])
    cases.append((["--fill", str(unknown)], "unknown stop id(s): XX9"))
    for extra, message in cases:
        r = runner.invoke(["collection", "plan", *extra, *FAST], env=env)
        assert r.exit_code == 1, (extra, r.output)
        assert r.output.startswith("Error: ") and message in r.output, r.output
        assert "Traceback" not in r.output
