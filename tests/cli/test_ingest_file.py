"""``sigap ingest file``: a thin shell; unreadable files, Ctrl-C, road inspections and routing.

Each unreadable-file case has its own test; every one ends in the database (nothing written,
the failed run recorded).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from tests.conftest import query, shared_file

DATA_TABLES = ("office", "waste_bin", "road_segment", "admin_area", "complaint", "road_inspection")


def data_counts(url: str) -> dict[str, int]:
    return {t: query(url, f"SELECT count(*) FROM {t}")[0][0] for t in DATA_TABLES}  # noqa: S608


def run_file(runner, url: str, *args: str):
    return runner.invoke(["ingest", "file", *args], env={"DATABASE_URL": url})


def assert_unreadable(runner, url: str, path: Path, message: str, *args: str) -> None:
    before = data_counts(url)
    result = run_file(runner, url, str(path), "--layer", "bins", *args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.output
    assert data_counts(url) == before
    ((status, rejects),) = query(url, "SELECT status, rejects FROM ingest_run")
    assert status == "failed" and message in rejects[0]["error"]


def test_wrong_extension(fresh_db, tmp_path, runner):
    path = tmp_path / "tps.docx"
    path.write_text("hello")
    assert_unreadable(runner, fresh_db, path, "unsupported file type '.docx'")


def test_corrupt_zip(fresh_db, tmp_path, runner):
    path = tmp_path / "tps.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip file at all")
    assert_unreadable(runner, fresh_db, path, "is not a valid zip file")


def _shapefile(tmp_path: Path) -> Path:
    gdf = gpd.GeoDataFrame(
        {"id": [1], "nama": ["TPS"]}, geometry=[shapely.Point(107.6, -6.9)], crs=4326
    )
    path = tmp_path / "tps.shp"
    gdf.to_file(path)
    return path


@pytest.mark.parametrize("sidecar", [".dbf", ".shx"])
def test_missing_shapefile_sidecar(fresh_db, tmp_path, runner, sidecar):
    path = _shapefile(tmp_path)
    path.with_suffix(sidecar).unlink()
    assert_unreadable(runner, fresh_db, path, f"the Shapefile's {sidecar} file is missing")


def test_missing_sidecar_inside_a_zip(fresh_db, tmp_path, runner):
    path = _shapefile(tmp_path)
    zipped = tmp_path / "tps.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for suffix in (".shp", ".shx", ".prj"):  # no .dbf
            zf.write(path.with_suffix(suffix), "tps" + suffix)
    assert_unreadable(runner, fresh_db, zipped, "tps.shp: the Shapefile's .dbf file is missing")


def test_empty_file(fresh_db, tmp_path, runner):
    path = tmp_path / "tps.csv"
    path.write_text("")
    assert_unreadable(runner, fresh_db, path, "file is empty (0 bytes)")


def test_header_only(fresh_db, tmp_path, runner):
    path = tmp_path / "tps.csv"
    path.write_text("id;nama;latitude;longitude\n")
    assert_unreadable(runner, fresh_db, path, "has a header but no rows of data")


def test_excel_with_no_sheet_of_data(fresh_db, tmp_path, runner):
    path = tmp_path / "tps.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame().to_excel(writer, sheet_name="Kosong", index=False)
        pd.DataFrame(columns=["id", "nama"]).to_excel(writer, sheet_name="Judul", index=False)
    assert_unreadable(runner, fresh_db, path, "no sheet has a header and rows of data")


def test_an_excel_sheet_loads(fresh_db, tmp_path, runner):
    path = tmp_path / "puskesmas.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame().to_excel(writer, sheet_name="Catatan", index=False)
        pd.DataFrame(
            {
                "kode": ["P-01", "P-02"],
                "nama": ["Puskesmas Menteng", "Puskesmas Tanah Abang"],
                "lintang": [-6.1962, -6.2030],
                "bujur": [106.8317, 106.8130],
                "jumlah_dokter": [4, 6],
            }
        ).to_excel(writer, sheet_name="Data", index=False)
    result = run_file(
        runner,
        fresh_db,
        str(path),
        "--layer",
        "offices",
        "--set",
        "category=puskesmas",
        "--map",
        "source_id=kode",
    )
    assert result.exit_code == 0, result.output
    assert "rows: 2  loaded: 2  updated: 0  unchanged: 0  rejected: 0" in result.stdout
    rows = query(fresh_db, "SELECT source_id, category, attributes FROM office ORDER BY 1")
    assert rows == [
        ("P-01", "health", {"jumlah_dokter": 4}),
        ("P-02", "health", {"jumlah_dokter": 6}),
    ]


def test_no_coordinate_columns(fresh_db, tmp_path, runner):
    path = tmp_path / "tps.csv"
    path.write_text("id,nama\n1,TPS\n")
    assert_unreadable(runner, fresh_db, path, "no coordinate columns found")


def test_the_summary_and_the_reject_report_next_to_the_input(fresh_db, tmp_path, runner):
    path = tmp_path / "tps.csv"
    path.write_text("id,nama,latitude,longitude\n1,A,-6.9,107.6\n2,B,107.6,-6.9\n")
    result = run_file(runner, fresh_db, str(path), "--layer", "bins", "--set", "kind=tps")
    assert result.exit_code == 0, result.output
    assert "rows: 2  loaded: 1  updated: 0  unchanged: 0  rejected: 1" in result.stdout
    report = tmp_path / "tps.csv.rejects.csv"
    assert f"rejected rows and reasons: {report}" in result.stdout
    assert pd.read_csv(report)["reject_row"].tolist() == [2]
    dry = run_file(runner, fresh_db, str(path), "--layer", "bins", "--set", "kind=tps", "--dry-run")
    assert dry.exit_code == 0 and dry.stdout.startswith("Dry run (nothing written)")
    assert query(fresh_db, "SELECT count(*) FROM ingest_run") == [(1,)]


# --- Ctrl-C ----------------------------------------------------------------------------------


def test_sigint_mid_load_leaves_the_tables_unchanged(fresh_db, tmp_path):
    """A real SIGINT to ``sigap ingest file`` while it reads and copies a large file."""
    n = 400_000
    rng = np.random.default_rng(7)
    path = tmp_path / "banyak.csv"
    pd.DataFrame(
        {
            "id": np.arange(n),
            "nama": "TPS",
            "latitude": rng.uniform(-6.95, -6.90, n).round(6),
            "longitude": rng.uniform(107.60, 107.65, n).round(6),
        }
    ).to_csv(path, index=False)
    env = {**os.environ, "DATABASE_URL": fresh_db, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "ingest",
            "file",
            str(path),
            "--layer",
            "bins",
            "--set",
            "kind=tps",
            "--progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    seen = ""
    while "100000" not in seen:  # the progress bar: the first chunk was read and copied
        char = proc.stderr.read(1)
        assert char, f"the command ended before loading: {seen}"
        seen += char
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    err = seen + err
    assert proc.returncode == 1, (out, err)
    assert "Error: Interrupted before the load was committed; nothing was written." in err
    assert "Traceback" not in err
    assert data_counts(fresh_db) == dict.fromkeys(DATA_TABLES, 0)
    assert query(fresh_db, "SELECT status FROM ingest_run") == [("interrupted",)]


# --- road inspections ------------------------------------------------------------------------


@pytest.fixture
def krems_network(fresh_db):
    from gis.network import build_network, drop_cache
    from ingest.osm import ingest_osm_file

    ingest_osm_file(shared_file("osm/krems.osm.gz"), fresh_db, progress=False)
    build_network(fresh_db, progress=False)
    yield fresh_db
    drop_cache(fresh_db)


def _segments(url: str, n: int):
    return query(
        url,
        "SELECT id, osm_way_id, ST_X(ST_LineInterpolatePoint(geom, 0.5)), "
        "ST_Y(ST_LineInterpolatePoint(geom, 0.5)) FROM road_segment "
        "WHERE highway IN ('residential', 'tertiary', 'secondary') AND cost_car_s IS NOT NULL "
        "ORDER BY id LIMIT %s",
        (n,),
    )


def test_inspections_change_road_conditions_and_routing_picks_them_up(
    krems_network, tmp_path, runner
):
    from gis.network import network_status

    url = krems_network
    (seg_a, way_a, _, _), (seg_b, _, xb, yb) = _segments(url, 2)[:2]
    path = tmp_path / "survei_jalan.csv"
    path.write_text(
        "id_survei,osm_way_id,kondisi,tanggal_survei,lat,lon,petugas\n"
        f"S1,{way_a},tidak dapat dilalui,2026-11-20,,,Budi\n"
        f"S2,,Rusak Berat,2026-11-21,{yb},{xb},Sari\n"
        "S3,,baik,2026-11-22,-6.2,106.8,Budi\n"  # far from every road: unmatched
    )
    result = run_file(runner, url, str(path), "--layer", "inspections")
    assert result.exit_code == 0, result.output
    assert "rows: 3  loaded: 3" in result.stdout
    assert "unmatched: 1" in result.stdout and "inspection S3" in result.stdout
    assert "Routing network rebuilt" in result.stdout
    way_rows = query(
        url,
        "SELECT DISTINCT condition, condition_source, inspected_at::date::text FROM road_segment "
        "WHERE osm_way_id = %s",
        (way_a,),
    )
    assert way_rows == [("tidak_dapat_dilalui", "inspection", "2026-11-20")]
    assert query(url, "SELECT condition FROM road_segment WHERE id = %s", (seg_b,)) == [
        ("rusak_berat",)
    ]
    # the network was rebuilt from the new conditions: impassable roads have no car cost
    assert query(
        url,
        "SELECT count(*) FROM road_segment WHERE osm_way_id = %s AND cost_car_s IS NOT NULL",
        (way_a,),
    ) == [(0,)]
    status = network_status(url)
    assert status["built"] and not status["stale"]
    history = query(url, "SELECT source_id, matched, attributes FROM road_inspection ORDER BY 1")
    assert [(s, m > 0) for s, m, _ in history] == [("S1", True), ("S2", True), ("S3", False)]
    assert history[0][2] == {"petugas": "Budi"}

    # an older inspection of the same road does not win; a newer one does
    older = tmp_path / "survei_lama.csv"
    older.write_text(f"id_survei,osm_way_id,kondisi,tanggal_survei\nL1,{way_a},baik,2025-01-01\n")
    assert run_file(runner, url, str(older), "--layer", "inspections").exit_code == 0
    assert query(
        url, "SELECT DISTINCT condition FROM road_segment WHERE osm_way_id = %s", (way_a,)
    ) == [("tidak_dapat_dilalui",)]
    newer = tmp_path / "survei_baru.csv"
    newer.write_text(f"id_survei,osm_way_id,kondisi,tanggal_survei\nN1,{way_a},sedang,2026-12-01\n")
    assert run_file(runner, url, str(newer), "--layer", "inspections").exit_code == 0
    assert query(
        url, "SELECT DISTINCT condition FROM road_segment WHERE osm_way_id = %s", (way_a,)
    ) == [("sedang",)]
    assert query(url, "SELECT count(*) FROM road_inspection") == [(5,)]  # every record kept
    # and the same file again changes nothing
    again = run_file(runner, url, str(newer), "--layer", "inspections")
    assert "road_segment: 0 updated" in again.stdout
