"""Road reports to routes: how soon ``/api/nearest`` answers with a changed road condition.

The graph is the routing benchmark's synthetic road grid of about 100k nodes
(:func:`bench.routing.synthetic`), loaded into a scratch PostGIS database as ``road_segment``
and ``office`` rows; ``sigap serve --workers 2`` serves it (workers as ``sigap_web``, the
network keeper as the owner). Then, repeatedly, from a random origin: a segment on the current
best car route is closed by staff (``set_road_condition(..., "tidak_dapat_dilalui")`` as
``sigap_staff``), and the latency is measured from the call to the first ``/api/nearest``
answer that routes around it, and to the moment every worker does (one kept-alive connection
per worker, told apart through ``/proc``); then the report is cleared
(``restore_road_condition``) and the same is measured until the old route is back.

Baseline in the same run: the in-process update of one process (read the changed segments,
patch the weights and the nearest-facility tables the change affects: :mod:`gis.live`)
against a full ``build_network`` of the same database.

Run: ``.venv/bin/python -m bench road_reports`` (part of ``make bench``).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

from bench._common import drop_scratch_database, free_port, scratch_database, worker_connections
from bench.routing import CATEGORY, synthetic
from gis.live import apply_costs, live_costs
from gis.network import (
    build_network,
    cache_root,
    drop_cache,
    load_network,
    restore_road_condition,
    set_road_condition,
)
from gis.network_data import transaction
from gis.road_conditions import changed_segment_costs, condition_seq
from gis.router import Router

DB = "sigap_bench_road_reports"
SIZE = 100_000
#: Changes (each followed by its restore) measured against the live server.
CHANGES = 12
WORKERS = 2
MODE = "car"
RNG = np.random.default_rng(20261202)


def _load(url: str) -> int:
    """Write the synthetic graph and its facilities into ``road_segment`` and ``office``."""
    seg, facilities = synthetic(SIZE)
    buf = io.StringIO()
    xy = seg.geom_lonlat
    for i in range(len(seg)):
        a, b = int(seg.geom_offsets[i]), int(seg.geom_offsets[i + 1])
        line = ",".join(f"{x!r} {y!r}" for x, y in xy[a:b].tolist())
        buf.write(
            f"{int(seg.id[i])}\tsynthetic\t{int(seg.id[i])}\t{int(seg.u[i])}\t{int(seg.v[i])}\t"
            f"{seg.highway[i]}\t{'t' if seg.oneway[i] else 'f'}\t{float(seg.length_m[i])!r}\t"
            f"{seg.condition[i]}\tSRID=4326;LINESTRING({line})\n"
        )
    buf.seek(0)
    with transaction(url) as cur:
        cur.copy_expert(
            "COPY road_segment (id, source, source_id, u, v, highway, oneway, length_m, "
            "condition, geom) FROM STDIN",
            buf,
        )
        facs = facilities.by_category[CATEGORY]
        rows = io.StringIO(
            "".join(
                f"synthetic\t{f['id']}\t{CATEGORY}\t{f['name']}\tamenity=clinic\t"
                f"SRID=4326;POINT({f['lon']!r} {f['lat']!r})\n"
                for f in facs
            )
        )
        cur.copy_expert(
            "COPY office (source, source_id, category, name, kind, geom) FROM STDIN", rows
        )
    return len(seg)


def _get(conn: http.client.HTTPConnection, path: str) -> dict:
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"{resp.status}: {body[:200]!r}")
    return json.loads(body)


def _until(conns, path: str, done) -> tuple[float, float]:
    """Seconds until the first answer satisfying ``done``, and until every connection's."""
    t0 = time.perf_counter()
    first, seen = None, set()
    while len(seen) < len(conns):
        for i, conn in enumerate(conns):
            if i not in seen and done(_get(conn, path)):
                seen.add(i)
                if first is None:
                    first = time.perf_counter() - t0
        if time.perf_counter() - t0 > 30:
            raise RuntimeError("no answer with the new costs within 30 s")
    return first or 0.0, time.perf_counter() - t0


def _origins(url: str, n: int) -> list[tuple[float, float]]:
    with transaction(url) as cur:
        cur.execute(
            "SELECT ST_Y(ST_LineInterpolatePoint(geom, 0.5)), ST_X(ST_LineInterpolatePoint("
            "geom, 0.5)) FROM road_segment WHERE highway = 'residential' ORDER BY random() "
            "LIMIT %s",
            (n,),
        )
        return [(float(a), float(b)) for a, b in cur.fetchall()]


def _in_process(url: str, staff: str) -> tuple[float, int, int]:
    """Median seconds of one process's live update after closing one route segment."""
    router = Router(load_network(cache_root(url)))
    for mode in router.net.modes:
        router.mode_graph(mode)
    base = int(router.net.manifest.get("condition_seq", 0))
    times, recomputed, total = [], 0, 0
    for lat, lon in _origins(url, 5):
        res = router.rank_facilities(lat, lon, category=CATEGORY, mode=MODE)
        if not res["results"] or len(res["results"][0]["segment_ids"]) < 4:
            continue
        sid = res["results"][0]["segment_ids"][len(res["results"][0]["segment_ids"]) // 2]
        change = set_road_condition(staff, [sid], "tidak_dapat_dilalui", source="bench")
        t0 = time.perf_counter()
        with transaction(url) as cur:
            condition_seq(cur)
            _, ids, costs = changed_segment_costs(cur, base, router.net.modes)
        update = apply_costs(router, live_costs(router.net, ids, costs))
        times.append(time.perf_counter() - t0)
        recomputed, total = len(update.tables), len(router.net.modes)
        restore_road_condition(staff, change)
    return statistics.median(times), recomputed, total


def main() -> None:
    url = scratch_database(DB)
    try:
        _bench(url)
    finally:
        drop_cache(url)
        drop_scratch_database(DB)


def _bench(url: str) -> None:
    t0 = time.perf_counter()
    n_seg = _load(url)
    print(f"synthetic graph: {n_seg:,} road segments loaded in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    report = build_network(url, progress=False)
    build_s = time.perf_counter() - t0
    print(f"build_network: {report.nodes:,} nodes, {build_s:.1f} s")
    from sqlalchemy.engine import make_url

    staff = make_url(url).set(username="sigap_staff").render_as_string(hide_password=False)

    live_s, recomputed, modes = _in_process(url, staff)
    build_network(url, progress=False)  # current again after those changes
    print(
        f"one process's live update after closing a route segment (read it, patch the weights, "
        f"mend or recompute the affected tables: {recomputed} of {modes} {CATEGORY} tables): "
        f"{live_s * 1e3:.0f} ms; full build_network {build_s:.1f} s: x{build_s / live_s:,.0f}"
    )

    port = free_port()
    sigap = shutil.which("sigap", path=str(Path(sys.executable).parent)) or "sigap"
    server = subprocess.Popen(
        [sigap, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)],
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    closed, restored, everyone = [], [], []
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/layers", timeout=5)  # noqa: S310
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("sigap serve did not start") from None
                time.sleep(0.5)
        conns = worker_connections(port, server.pid, WORKERS)
        print(f"sigap serve: {len(conns)} workers reached on their own connections")
        for lat, lon in _origins(url, 4 * CHANGES):
            if len(closed) == CHANGES:
                break
            path = f"/api/nearest?lat={lat}&lon={lon}&category={CATEGORY}&mode={MODE}"
            before = _get(conns[0], path)
            if not before["results"] or len(before["results"][0]["segment_ids"]) < 4:
                continue
            ids = before["results"][0]["segment_ids"]
            sid = ids[len(ids) // 2]
            t0 = time.perf_counter()
            change = set_road_condition(staff, [sid], "tidak_dapat_dilalui", source="bench")
            call = time.perf_counter() - t0
            first, all_ = _until(
                conns,
                path,
                lambda a, s=sid: not a["results"] or s not in a["results"][0]["segment_ids"],
            )
            closed.append(call + first)
            everyone.append(call + all_)
            t0 = time.perf_counter()
            restore_road_condition(staff, change)
            call = time.perf_counter() - t0
            first, all_ = _until(
                conns, path, lambda a, i=ids: a["results"] and a["results"][0]["segment_ids"] == i
            )
            restored.append(call + first)
            everyone.append(call + all_)
            time.sleep(0.5)
        for conn in conns:
            conn.close()
    finally:
        server.terminate()
        server.wait(timeout=60)

    def pct(values: list[float], q: float) -> float:
        return float(np.percentile(np.asarray(values) * 1e3, q))

    both = closed + restored
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"road report -> first /api/nearest answer with the new costs ({report.nodes:,} nodes, "
        f"{WORKERS} workers, {len(closed)} closures + {len(restored)} restores; machine load "
        f"average {load}):"
    )
    print(
        f"  closure  p50 {pct(closed, 50):6.0f} ms  p95 {pct(closed, 95):6.0f} ms\n"
        f"  restore  p50 {pct(restored, 50):6.0f} ms  p95 {pct(restored, 95):6.0f} ms\n"
        f"  both     p50 {pct(both, 50):6.0f} ms  p95 {pct(both, 95):6.0f} ms   target <= 2000 ms\n"
        f"  every worker answering with them: p50 {pct(everyone, 50):6.0f} ms  "
        f"p95 {pct(everyone, 95):6.0f} ms\n"
        f"  baseline: a full build_network takes {build_s * 1e3:,.0f} ms "
        f"(x{build_s / (statistics.median(both)):,.0f} the p50)"
    )


if __name__ == "__main__":
    main()
