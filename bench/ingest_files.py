"""File ingest, end to end (file read to commit), against ``GeoDataFrame.to_postgis``.

Two generated files, written once to a temporary folder:

- **1M points** as a CSV (``id, nama, kategori, latitude, longitude, kapasitas``): what a city
  sends. ``sigap ingest file --layer offices`` maps ``kategori`` through the vocabulary, checks
  every row, keeps ``kapasitas`` in ``attributes`` and streams 100k-row chunks through COPY;
- **200k road segments** as a GeoPackage of lines (``id, nama_jalan, highway, surface``): what a
  public-works office sends; ``--layer roads`` derives end nodes, lengths and conditions.

Each run is a separate process (``python -m bench.ingest_files run ...``) that reports its
wall time, its CPU time (user + system, every thread) and its own peak RSS (``VmHWM``, see
:func:`peak_rss_mb`); the target table is emptied before each. The PostgreSQL backends' CPU
time of the run is read from the postmaster's ``/proc/PID/stat`` (the user and system time
of its exited children, :func:`server_cpu_s`), so the figures mean something on a machine
that other jobs keep busy: rows per CPU-second (client + server) do not depend on the load,
wall-clock rows per second do.

Baselines, in the same run on the same file and table: pandas/geopandas read the file and
build the same rows (no checks), then

- ``GeoDataFrame.to_postgis`` as it is: in geopandas 1.x its default already ends in a COPY
  (``geopandas.io.sql._psql_insert_copy``);
- pandas ``to_sql`` of the EWKB rows ``to_postgis`` sends, with a COPY ``method=`` callable
  (the pandas documentation's ``psql_insert_copy``);
- the same with pandas' default method (``INSERT`` through ``executemany``), timed on the
  first 50k rows: it is that slow.

The load average of the machine is printed before and after. ``python -m bench.ingest_files
points`` runs the points file only.
"""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench._common import drop_scratch_database, scratch_database

POINTS = 1_000_000
ROADS = 200_000
DEFAULT_METHOD_ROWS = 50_000
DB = "sigap_bench_files"


# --- the generated files ---------------------------------------------------------------------


def write_points(path: Path, n: int = POINTS) -> None:
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(
        {
            "id": np.char.add("PKM-", np.arange(n).astype(str)),
            "nama": np.char.add("Puskesmas ", np.arange(n).astype(str)),
            "kategori": rng.choice(["puskesmas", "sekolah", "kantor_pos", "kelurahan"], n),
            "latitude": rng.uniform(-7.0, -6.1, n).round(6),
            "longitude": rng.uniform(106.6, 107.8, n).round(6),
            "kapasitas": rng.integers(5, 500, n),
        }
    )
    frame.to_csv(path, index=False)


def write_roads(path: Path, n: int = ROADS) -> None:
    import geopandas as gpd
    import shapely

    side = int(np.ceil(np.sqrt(n / 2)))
    step = 0.001
    i, j = np.divmod(np.arange(side * side), side)
    x0, y0 = 106.7 + j * step, -6.3 + i * step
    horizontal = shapely.linestrings(
        np.stack([np.stack([x0, x0 + step], 1), np.stack([y0, y0], 1)], 2)
    )
    vertical = shapely.linestrings(
        np.stack([np.stack([x0, x0], 1), np.stack([y0, y0 + step], 1)], 2)
    )
    geoms = np.concatenate([horizontal, vertical])[:n]
    rng = np.random.default_rng(9)
    gdf = gpd.GeoDataFrame(
        {
            "id": np.arange(n),
            "nama_jalan": np.char.add("Jalan ", (np.arange(n) % 5000).astype(str)),
            "highway": rng.choice(["residential", "tertiary", "service"], n),
            "surface": rng.choice(["asphalt", "concrete", "gravel", "unpaved"], n),
        },
        geometry=geoms,
        crs=4326,
    )
    gdf.to_file(path, layer="jalan", driver="GPKG")


# --- one measured run, in its own process ----------------------------------------------------


def _copy_method(table, conn, keys, data_iter) -> None:
    """pandas' documented COPY ``method=`` for ``to_sql`` (``psql_insert_copy``)."""
    dbapi_conn = conn.connection
    with dbapi_conn.cursor() as cur:
        buf = io.StringIO()
        csv.writer(buf).writerows(data_iter)
        buf.seek(0)
        columns = ", ".join(f'"{k}"' for k in keys)
        cur.copy_expert(f"COPY {table.name} ({columns}) FROM STDIN WITH CSV", buf)


def _baseline_frame(kind: str, path: str, rows: int | None):
    import geopandas as gpd

    from layers.file_rows import line_lengths_m, node_ids

    if kind == "points":
        frame = pd.read_csv(path, nrows=rows)
        gdf = gpd.GeoDataFrame(
            {
                "source": "baseline",
                "source_id": frame["id"].astype(str),
                "name": frame["nama"],
                "category": "health",
            },
            geometry=gpd.points_from_xy(frame["longitude"], frame["latitude"], crs=4326),
        )
        return gdf.rename_geometry("geom"), "office"
    import shapely

    gdf = gpd.read_file(path, rows=rows)
    geoms = gdf.geometry.to_numpy()
    start, end = shapely.get_point(geoms, 0), shapely.get_point(geoms, -1)
    out = gpd.GeoDataFrame(
        {
            "source": "baseline",
            "source_id": gdf["id"].astype(str),
            "u": node_ids(shapely.get_x(start), shapely.get_y(start)),
            "v": node_ids(shapely.get_x(end), shapely.get_y(end)),
            "name": gdf["nama_jalan"],
            "highway": gdf["highway"],
            "oneway": False,
            "surface": gdf["surface"],
            "length_m": line_lengths_m(geoms),
            "condition": "unknown",
        },
        geometry=gdf.geometry,
    )
    return out.rename_geometry("geom"), "road_segment"


def run_one(how: str, kind: str, path: str, url: str, rows: int | None) -> dict:
    """Load ``path`` one way; return rows, seconds, CPU seconds and peak RSS (MB)."""
    t0, cpu0 = time.perf_counter(), _cpu_s()
    if how == "sigap":
        from ingest.files import ingest_file

        layer = "offices" if kind == "points" else "roads"
        result = ingest_file(
            path, url, layer=layer, source="bench", progress=False, refresh_network=False
        )
        count = result.rows - result.rejected
        detail = {"new": result.new, "unchanged": result.unchanged, "rejected": result.rejected}
    else:
        from sqlalchemy import create_engine

        from gis.db import sqlalchemy_url

        gdf, table = _baseline_frame(kind, path, rows)
        engine = create_engine(sqlalchemy_url(url))
        if how == "to_postgis":
            gdf.to_postgis(table, engine, if_exists="append", index=False)
        else:  # pandas to_sql on the EWKB text to_postgis sends, INSERT or COPY
            import shapely

            frame = pd.DataFrame(gdf.drop(columns="geom"))
            frame["geom"] = shapely.to_wkb(
                shapely.set_srid(gdf.geometry.values._data, 4326), hex=True, include_srid=True
            )
            method = _copy_method if how == "copy" else "multi" if how == "multi" else None
            frame.to_sql(table, engine, if_exists="append", index=False, method=method)
        engine.dispose()
        count, detail = len(gdf), {}
    seconds, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    return {"rows": count, "seconds": seconds, "cpu_s": cpu, "peak_mb": peak_rss_mb(), **detail}


def _cpu_s() -> float:
    """User + system CPU seconds of this process so far (every thread)."""
    t = os.times()
    return t.user + t.system


def postmaster_pid(url: str) -> int | None:
    """The PostgreSQL server's postmaster (the parent of a backend), if it runs here."""
    import psycopg2

    from gis.db import libpq_url

    conn = psycopg2.connect(libpq_url(url))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            backend = int(cur.fetchone()[0])
    finally:
        conn.close()
    try:
        return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None  # a server on another machine


def server_cpu_s(postmaster: int) -> float:
    """CPU seconds (user + system) of the postmaster's exited, reaped children.

    A backend's time is added here when its connection closes, so the difference over a run
    whose connections have all closed is the time the server spent on it (plus any other
    backend or autovacuum worker that ended meanwhile: the bench turns autovacuum off for
    its tables).
    """
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    cutime, cstime = int(fields[13]), int(fields[14])  # fields 16 and 17 of proc(5)
    return (cutime + cstime) / os.sysconf("SC_CLK_TCK")


def _wait_for_backends(postmaster: int, database: str, timeout_s: float = 30.0) -> None:
    """Wait until no backend of ``database`` is left (their CPU time is then counted)."""
    from bench._common import child_pids

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = []
        for pid in child_pids(postmaster):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if f" {database} ".encode() in title:
                alive.append(pid)
        if not alive:
            return
        time.sleep(0.05)


def peak_rss_mb() -> float:
    """This process's peak resident memory (MB): ``VmHWM``, which starts afresh at exec.

    ``getrusage(RUSAGE_SELF).ru_maxrss`` would do, but Linux carries it across ``exec`` from
    the forking parent (here the benchmark, holding the generated data).
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(
    how: str,
    kind: str,
    path: Path,
    url: str,
    rows: int | None = None,
    postmaster: int | None = None,
) -> dict:
    """Run :func:`run_one` in a new process; return what it reported, with the server's CPU
    seconds (``server_cpu_s``, None when the server is not local)."""
    args = [sys.executable, "-m", "bench.ingest_files", "run", how, kind, str(path), url]
    args.append(str(rows or 0))
    before = server_cpu_s(postmaster) if postmaster else None
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["server_cpu_s"] = None
    if postmaster and before is not None:
        _wait_for_backends(postmaster, DB)
        out["server_cpu_s"] = server_cpu_s(postmaster) - before
    return out


def _truncate(url: str, table: str) -> None:
    import psycopg2

    from gis.db import libpq_url

    conn = psycopg2.connect(libpq_url(url))
    with conn, conn.cursor() as cur:
        # CASCADE: road_condition_change_segment refers to road_segment (empty here too).
        cur.execute(f"TRUNCATE {table} CASCADE")  # noqa: S608 - a constant table name
        # No autovacuum worker ending inside a run's server CPU window (server_cpu_s).
        cur.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")  # noqa: S608
    conn.close()


def main(kinds: tuple[str, ...] = ("points", "roads")) -> None:
    """Write the files, load each one every way, print the table (``kinds``: which files)."""
    tmp = Path(tempfile.mkdtemp(prefix="sigap-bench-files-"))
    try:
        _main(kinds, tmp)
    finally:  # a failed run leaves neither 100 MB of files nor its database behind
        shutil.rmtree(tmp, ignore_errors=True)
        drop_scratch_database(DB)


def _main(kinds: tuple[str, ...], tmp: Path) -> None:
    load_before = os.getloadavg()
    url = scratch_database(DB)
    postmaster = postmaster_pid(url)
    points, roads = tmp / "puskesmas_1m.csv", tmp / "jalan_200k.gpkg"
    files = {"points": (points, "office"), "roads": (roads, "road_segment")}
    if "points" in kinds:
        write_points(points)
    if "roads" in kinds:
        write_roads(roads)
    paths = [files[k][0] for k in kinds]
    sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.0f} MB" for p in paths)
    print(f"files: {sizes}; load average {load_before[0]:.2f}")
    print(
        "cpu s: user + system of the loading process (every thread); db cpu s: of the "
        "PostgreSQL backends; rows/cpu-s: rows per CPU-second of both"
    )
    header = (
        f"{'data':<22}{'method':<36}{'rows':>8}{'s':>7}{'rows/s':>8}{'cpu s':>7}{'db cpu s':>9}"
        f"{'rows/cpu-s':>11}{'peak MB':>8}{'ratio':>7}{'cpu ratio':>10}"
    )
    print(header)
    for kind in kinds:
        path, table = files[kind]
        results = {}
        runs = (
            ("sigap", None),
            ("sigap-again", None),
            ("to_postgis", None),
            ("copy", None),
            ("default", DEFAULT_METHOD_ROWS),
        )
        for how, rows in runs:
            if how != "sigap-again":
                _truncate(url, table)
            r = measure("sigap" if how == "sigap-again" else how, kind, path, url, rows, postmaster)
            results[how] = r
        ours = results["sigap"]["rows"] / results["sigap"]["seconds"]
        ours_cpu = _per_cpu_s(results["sigap"])
        names = {
            "sigap": "sigap ingest file (first load)",
            "sigap-again": "sigap, same file again (unchanged)",
            "to_postgis": "to_postgis() as is (COPY inside)",
            "copy": "to_sql(method=COPY callable)",
            "default": f"to_sql() default INSERT, {DEFAULT_METHOD_ROWS // 1000}k rows",
        }
        for how, r in results.items():
            rate, per_cpu = r["rows"] / r["seconds"], _per_cpu_s(r)
            ratio = cpu_ratio = ""
            if not how.startswith("sigap"):
                ratio = f"{ours / rate:.1f}x"
                cpu_ratio = f"{ours_cpu / per_cpu:.1f}x"
            label = f"{kind} ({'1M CSV' if kind == 'points' else '200k GPKG'})"
            db_cpu = "-" if r["server_cpu_s"] is None else f"{r['server_cpu_s']:.1f}"
            print(
                f"{label:<22}{names[how]:<36}{r['rows']:>8}{r['seconds']:>7.1f}{rate:>8.0f}"
                f"{r['cpu_s']:>7.1f}{db_cpu:>9}{per_cpu:>11.0f}{r['peak_mb']:>8.0f}{ratio:>7}"
                f"{cpu_ratio:>10}",
                flush=True,
            )
    load_after = os.getloadavg()
    print(
        f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"on {os.cpu_count()} cores"
    )


def _per_cpu_s(r: dict) -> float:
    """Rows per CPU-second of the loading process and the server's backends together."""
    return r["rows"] / (r["cpu_s"] + (r["server_cpu_s"] or 0.0))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        _, _, how, kind, path, url, rows = sys.argv
        print(json.dumps(run_one(how, kind, path, url, int(rows) or None)))
    else:  # python -m bench.ingest_files [points] [roads]
        main(tuple(sys.argv[1:]) or ("points", "roads"))
