"""File ingest, end to end (file read to commit), against ``GeoDataFrame.to_postgis``.

Two generated files, written once to a temporary folder:

- **1M points** as a CSV (``id, nama, kategori, latitude, longitude, kapasitas``): what a city
  sends. ``sigap ingest file --layer offices`` maps ``kategori`` through the vocabulary, checks
  every row, keeps ``kapasitas`` in ``attributes`` and streams 100k-row chunks through COPY;
- **200k road segments** as a GeoPackage of lines (``id, nama_jalan, highway, surface``): what a
  public-works office sends; ``--layer roads`` derives end nodes, lengths and conditions.

Each run is a separate process (``python -m bench.ingest_files run ...``) that reports its
wall time and its own peak RSS (``VmHWM``, see :func:`peak_rss_mb`); the target table is
emptied before each. Baselines, in the same run on the same file and table: pandas/geopandas
read the file and build the same rows (no checks), then

- ``GeoDataFrame.to_postgis`` as it is: in geopandas 1.x its default already ends in a COPY
  (``geopandas.io.sql._psql_insert_copy``);
- pandas ``to_sql`` of the EWKB rows ``to_postgis`` sends, with a COPY ``method=`` callable
  (the pandas documentation's ``psql_insert_copy``);
- the same with pandas' default method (``INSERT`` through ``executemany``), timed on the
  first 50k rows: it is that slow. The load average of the
machine is printed before and after.
"""

from __future__ import annotations

import csv
import io
import json
import os
import resource
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
    """Load ``path`` one way; return rows, seconds and this process's peak RSS (MB)."""
    t0 = time.perf_counter()
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
    seconds = time.perf_counter() - t0
    return {"rows": count, "seconds": seconds, "peak_mb": peak_rss_mb(), **detail}


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


def measure(how: str, kind: str, path: Path, url: str, rows: int | None = None) -> dict:
    """Run :func:`run_one` in a new process; return what it reported."""
    args = [sys.executable, "-m", "bench.ingest_files", "run", how, kind, str(path), url]
    args.append(str(rows or 0))
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _truncate(url: str, table: str) -> None:
    import psycopg2

    from gis.db import libpq_url

    conn = psycopg2.connect(libpq_url(url))
    with conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {table}")  # noqa: S608 - a constant table name
    conn.close()


def main() -> None:
    load_before = os.getloadavg()
    url = scratch_database(DB)
    tmp = Path(tempfile.mkdtemp(prefix="sigap-bench-files-"))
    points, roads = tmp / "puskesmas_1m.csv", tmp / "jalan_200k.gpkg"
    write_points(points)
    write_roads(roads)
    print(
        f"files: {points.name} {points.stat().st_size / 1e6:.0f} MB, "
        f"{roads.name} {roads.stat().st_size / 1e6:.0f} MB; load average {load_before[0]:.2f}"
    )
    header = (
        f"{'data':<22}{'method':<34}{'rows':>9}{'s':>8}{'rows/s':>10}{'peak MB':>9}{'ratio':>8}"
    )
    print(header)
    for kind, path, table in (("points", points, "office"), ("roads", roads, "road_segment")):
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
            r = measure("sigap" if how == "sigap-again" else how, kind, path, url, rows)
            results[how] = r
        ours = results["sigap"]["rows"] / results["sigap"]["seconds"]
        names = {
            "sigap": "sigap ingest file (first load)",
            "sigap-again": "sigap, same file again (unchanged)",
            "to_postgis": "to_postgis() as is (COPY inside)",
            "copy": "to_sql(method=COPY callable)",
            "default": f"to_sql() default INSERT, {DEFAULT_METHOD_ROWS // 1000}k rows",
        }
        for how, r in results.items():
            rate = r["rows"] / r["seconds"]
            ratio = "" if how.startswith("sigap") else f"{ours / rate:.1f}x"
            label = f"{kind} ({'1M CSV' if kind == 'points' else '200k GPKG'})"
            print(
                f"{label:<22}{names[how]:<34}{r['rows']:>9}{r['seconds']:>8.1f}{rate:>10.0f}"
                f"{r['peak_mb']:>9.0f}{ratio:>8}"
            )
    load_after = os.getloadavg()
    print(
        f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"on {os.cpu_count()} cores"
    )
    drop_scratch_database(DB)
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        _, _, how, kind, path, url, rows = sys.argv
        print(json.dumps(run_one(how, kind, path, url, int(rows) or None)))
    else:
        main()
