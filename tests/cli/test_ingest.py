"""``sigap ingest osm``: a thin shell over the OSM loader; bad input and Ctrl-C told honestly.

Every check ends in the database: what the command says happened is what the tables hold.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import query, shared_file

TABLES = ("admin_area", "office", "waste_bin", "road_segment", "ingest_run")


def table_counts(url: str) -> dict[str, int]:
    """Rows per table; ``ingest_run`` counts the runs that loaded (failed runs are recorded too,
    see :func:`failed_runs`)."""
    counts = {t: query(url, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}  # noqa: S608
    counts["ingest_run"] = query(url, "SELECT count(*) FROM ingest_run WHERE status = 'ok'")[0][0]
    return counts


def failed_runs(url: str) -> list[tuple[str, str]]:
    """``(status, error)`` of each run that wrote nothing."""
    rows = query(url, "SELECT status, rejects FROM ingest_run WHERE status <> 'ok' ORDER BY id")
    return [(status, rejects[0]["error"]) for status, rejects in rows]


def truncated_pbf(tmp_path: Path) -> Path:
    data = shared_file("osm/helsinki.osm.pbf").read_bytes()
    path = tmp_path / "truncated.osm.pbf"
    path.write_bytes(data[: len(data) // 2])
    return path


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


BAD_INPUTS = {
    "missing": (lambda tmp: tmp / "nope.osm.pbf", "file not found"),
    "directory": (lambda tmp: tmp, "is a directory"),
    "directory named like a file": (
        lambda tmp: (tmp / "d.osm.pbf").mkdir() or tmp / "d.osm.pbf",
        "is a directory",
    ),
    "empty": (lambda tmp: _write(tmp / "empty.osm.pbf", ""), "empty"),
    "not osm": (lambda tmp: _write(tmp / "x.osm", "id,name\n1,a\n"), "not an OpenStreetMap file"),
    "csv renamed pbf": (lambda tmp: _write(tmp / "y.osm.pbf", "hello"), "not an OpenStreetMap"),
    "truncated pbf": (truncated_pbf, "cannot be read"),
    "wrong extension": (lambda tmp: _write(tmp / "roads.geojson", "{}"), "unsupported file type"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_a_one_line_error_and_leaves_the_database_untouched(
    fresh_db, tmp_path, runner, case
):
    make, message = BAD_INPUTS[case]
    path = make(tmp_path)
    before = table_counts(fresh_db)
    result = runner.invoke(["ingest", "osm", str(path)], env={"DATABASE_URL": fresh_db})
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0] and str(path) in lines[0]
    assert table_counts(fresh_db) == before
    if case != "missing":  # the run is recorded, with the reason
        ((status, error),) = failed_runs(fresh_db)
        assert status == "failed" and message in error


def test_bad_input_through_the_installed_command(fresh_db, tmp_path):
    """The same, through the ``sigap`` script a user runs: no traceback, exit code 1."""
    sigap = Path(sys.executable).with_name("sigap")
    env = {**os.environ, "DATABASE_URL": fresh_db}
    proc = subprocess.run(
        [str(sigap), "ingest", "osm", str(tmp_path)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 1
    assert proc.stderr == f"Error: {tmp_path}: is a directory; expected an OSM file " + (
        "(.osm.pbf, .pbf, .osm, .osm.bz2, .osm.gz).\n"
    )
    assert proc.stdout == ""


def test_prints_per_layer_counts_that_match_the_database(fresh_db, runner):
    path = shared_file("osm/krems.osm.gz")
    result = runner.invoke(["ingest", "osm", str(path)], env={"DATABASE_URL": fresh_db})
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line}
    counts = table_counts(fresh_db)
    for table in ("office", "waste_bin", "road_segment", "admin_area"):
        assert int(lines[table][0]) == int(lines[table][1]) == counts[table]
    ((run_id, rejected),) = query(fresh_db, "SELECT id, rejected FROM ingest_run")
    assert f"rejected: {rejected} (details in ingest_run {run_id})" in result.stdout
    assert "Routing network" not in result.stdout  # none was built, none is refreshed


def test_either_a_path_or_a_place(runner, fresh_db):
    result = runner.invoke(["ingest", "osm"], env={"DATABASE_URL": fresh_db})
    assert result.exit_code == 2 and "Give either a PATH or --place" in result.stderr


def test_place_download_offline_fails_at_once_with_advice(fresh_db, runner):
    env = {
        "DATABASE_URL": fresh_db,
        "SIGAP_OVERPASS_URL": "http://127.0.0.1:9/api/interpreter",  # a refusing loopback port
    }
    result = runner.invoke(["ingest", "osm", "--place", "Surabaya, Indonesia"], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Cannot reach the OpenStreetMap servers")
    assert "pass the file instead" in result.stderr


# --- Ctrl-C ----------------------------------------------------------------------------------


def _interrupt_main_thread_when(event: threading.Event, check) -> threading.Thread:
    """Send SIGINT to this process once ``event`` is set and ``check()`` holds."""

    def run() -> None:
        if event.wait(60) and check():
            os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_after_the_commit_reports_the_load(fresh_db, runner, monkeypatch):
    """SIGINT while the network refresh runs: the load stands, and the command says so."""
    import ingest.service

    refreshing = threading.Event()

    def slow_refresh(url, *, progress=None):
        refreshing.set()
        time.sleep(60)  # the SIGINT ends this sleep
        pytest.fail("no SIGINT arrived")

    monkeypatch.setattr(ingest.service, "refresh_network", slow_refresh)
    committed = lambda: table_counts(fresh_db)["ingest_run"] == 1  # noqa: E731
    thread = _interrupt_main_thread_when(refreshing, committed)
    path = shared_file("osm/krems.osm.gz")
    result = runner.invoke(["ingest", "osm", str(path)], env={"DATABASE_URL": fresh_db})
    thread.join(5)
    assert result.exit_code == 0, result.output
    assert "Error" not in result.output
    assert "Interrupted after the load was committed: the data above is loaded." in result.stderr
    assert "not refreshed" in result.stderr
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line}
    counts = table_counts(fresh_db)
    for table in ("office", "waste_bin", "road_segment", "admin_area"):
        assert int(lines[table][0]) == counts[table]
    assert counts["road_segment"] > 0 and counts["ingest_run"] == 1


def test_ctrl_c_before_the_commit_writes_nothing(fresh_db, runner, monkeypatch):
    """SIGINT after one layer was written inside the transaction: it is rolled back."""
    import ingest.load

    copy_rows = ingest.load.copy_rows
    calls = []

    def copy_then_interrupt(cur, spec, target, rows):
        copy_rows(cur, spec, target, rows)
        calls.append(spec.name)
        if len(calls) == 2:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(ingest.load, "copy_rows", copy_then_interrupt)
    before = table_counts(fresh_db)
    path = shared_file("osm/krems.osm.gz")
    result = runner.invoke(["ingest", "osm", str(path)], env={"DATABASE_URL": fresh_db})
    assert len(calls) == 2
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Interrupted before the load was committed; nothing was written.\n"
    )
    assert result.stdout == ""
    assert table_counts(fresh_db) == before
    assert [s for s, _ in failed_runs(fresh_db)] == ["interrupted"]


def test_ctrl_c_to_a_real_process_while_it_reads(fresh_db):
    """A real SIGINT to ``sigap ingest osm`` while it reads the file (its progress bar shows)."""
    env = {**os.environ, "DATABASE_URL": fresh_db, "PYTHONUNBUFFERED": "1"}
    path = shared_file("osm/andorra.osm.pbf")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "ingest", "osm", str(path), "--progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    seen = ""
    while "Reading andorra.osm.pbf" not in seen:
        char = proc.stderr.read(1)
        assert char, f"the command ended before reading: {seen}"
        seen += char
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    err = seen + err
    assert proc.returncode == 1, (out, err)
    assert "Error: Interrupted before the load was committed; nothing was written." in err
    assert "Traceback" not in err
    assert table_counts(fresh_db) == dict.fromkeys(TABLES, 0)
    assert [s for s, _ in failed_runs(fresh_db)] == ["interrupted"]


def test_an_unmigrated_database_says_what_to_do(server_url, runner):
    from tests.conftest import create_database, drop_database

    name = f"sigap_test_{os.getpid()}_bare"
    url = create_database(server_url, name)
    try:
        path = shared_file("osm/krems.osm.gz")
        result = runner.invoke(["ingest", "osm", str(path)], env={"DATABASE_URL": url})
    finally:
        drop_database(server_url, name)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Loading "), result.stderr
    assert "nothing was written" in lines[0] and "Run 'sigap db upgrade'." in lines[0]
