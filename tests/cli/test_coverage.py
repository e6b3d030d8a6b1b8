"""``sigap coverage`` and ``sigap suggest``: the API's JSON, tables, what-if, and errors."""

from __future__ import annotations

import json
import os

import pyogrio
import pytest

from tests.gis.helpers import drop_routed_db, routed_db


@pytest.fixture(scope="module")
def db(server_url, template_db):
    name = f"sigap_test_route_cli_cov_{os.getpid()}"
    url = routed_db(server_url, template_db, name, "osm/helsinki.osm.pbf")
    yield url
    drop_routed_db(server_url, url, name)


def _run(runner, db, *args):
    return runner.invoke(list(args), env={"DATABASE_URL": db})


def test_coverage_json_is_the_library_answer(runner, db):
    from gis.coverage import coverage

    r = _run(
        runner, db, "coverage", "--category", "health", "--mode", "walk", "--minutes", "5", "--json"
    )
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got == coverage("health", "walk", 5, url=db, progress=False)
    text = _run(runner, db, "coverage", "--category", "health", "--mode", "walk", "--minutes", "5")
    assert text.exit_code == 0
    share = got["summary"]["share_length_beyond"]
    assert f"({100 * share:.1f} %)" in text.stdout


def test_coverage_tables_csv_and_gpkg(runner, db, tmp_path):
    r = _run(
        runner, db, "coverage", "--category", "health", "--minutes", "5", "--by", "hex", "--csv"
    )
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("key,id,name,code,admin_level,road_length_m")
    path = tmp_path / "areas.gpkg"
    g = _run(runner, db, "coverage", "--category", "health", "--minutes", "5", "--gpkg", str(path))
    assert g.exit_code == 0, g.output
    frame = pyogrio.read_dataframe(path, layer="areas")
    assert len(frame) == len(lines) - 1 > 3


def test_what_if_and_suggest(runner, db):
    s = _run(
        runner,
        db,
        "suggest",
        "--category",
        "health",
        "--mode",
        "car",
        "--minutes",
        "1.5",
        "--count",
        "1",
        "--json",
    )
    assert s.exit_code == 0, s.output
    site = json.loads(s.stdout)["sites"]["features"][0]["properties"]
    w = _run(
        runner,
        db,
        "coverage",
        "--category",
        "health",
        "--mode",
        "car",
        "--minutes",
        "1.5",
        "--add",
        f"{site['lat']},{site['lon']}",
        "--json",
    )
    assert w.exit_code == 0, w.output
    change = json.loads(w.stdout)["change"]["summary"]
    assert change["road_length_beyond_m"] == pytest.approx(
        -site["newly_covered_length_m"], abs=0.15
    )
    text = _run(
        runner,
        db,
        "suggest",
        "--category",
        "health",
        "--mode",
        "car",
        "--minutes",
        "1.5",
        "--count",
        "2",
    )
    assert text.exit_code == 0 and text.stdout.count("newly covers") == 2


def test_candidates_file(runner, db, tmp_path):
    from tests.conftest import query

    pts = query(
        db,
        "SELECT ST_Y(ST_StartPoint(geom)), ST_X(ST_StartPoint(geom)) FROM "
        "road_segment WHERE cost_car_s IS NOT NULL ORDER BY id LIMIT 50",
    )
    path = tmp_path / "cands.csv"
    path.write_text("name,lat,lon\n" + "".join(f"c{i},{a},{b}\n" for i, (a, b) in enumerate(pts)))
    r = _run(
        runner,
        db,
        "suggest",
        "--category",
        "health",
        "--mode",
        "car",
        "--minutes",
        "1.5",
        "--candidates",
        str(path),
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["candidates"]["source"] == "points"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["coverage", "--category", "health", "--minutes", "0"], "'minutes'"),
        (["coverage", "--category", "health", "--minutes", "241"], "'minutes'"),
        (["coverage", "--category", "nope", "--minutes", "5"], "'category'"),
        (
            ["coverage", "--category", "health", "--minutes", "5", "--close", "99999999999"],
            "Unknown road segment ids",
        ),
        (["coverage", "--category", "health", "--minutes", "5", "--add", "95,1"], "'lat'"),
        (["suggest", "--category", "health", "--minutes", "5", "--count", "51"], "'count'"),
    ],
)
def test_bad_input_is_one_error_line(runner, db, args, message):
    r = _run(runner, db, *args)
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith("Error: ") and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
