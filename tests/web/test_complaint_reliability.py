"""Reliability of the intake against a live ``sigap serve`` on loopback (gunicorn, 2 workers).

* Concurrent submission: 500 POSTs from 50 concurrent clients. Every 201 is in the database
  exactly once, every other answer is an error (the invalid ones, on purpose), and retries
  with the idempotency key, one by one and at the same moment, make no duplicate.
* Database outage: the database's cluster is stopped and started again while submissions
  arrive. The clients get 503 with ``Retry-After`` quickly, never a hang; nothing answered
  201 is lost; the server recovers without a restart.

The figures (requests per second, latencies) are printed; the benchmark is
``bench/complaints.py``.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import query
from tests.web.test_server import SIGAP, _free_port, _get

CLIENTS = 50
PER_CLIENT = 10
#: Every this many requests of a client is invalid on purpose (an off-earth latitude).
INVALID_EVERY = 7
NO_LIMIT = {
    "SIGAP_PUBLIC_POST_LIMIT": "1000000/60",
    "SIGAP_OPEN311_POST_LIMIT": "1000000/60",
}
#: Longest any answer may take during the outage (the connect timeout is 5 s).
NO_HANG_S = 8.0


class Server:
    """``sigap serve`` in a subprocess, its log in a file (a pipe nobody reads would fill up
    and stop the server)."""

    def __init__(self, url: str, workers: int, env: dict[str, str], log) -> None:
        import os
        import subprocess

        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc = subprocess.Popen(
            [SIGAP, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
            + ["--workers", str(workers)],
            env={**os.environ, "DATABASE_URL": url, **env},
            stdout=log,
            stderr=log,
        )

    def stop(self) -> str:
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.log.flush()
        self.log.seek(0)
        try:
            return self.log.read().decode(errors="replace")
        finally:
            self.log.close()


def post(base: str, body: dict, key: str, timeout_s: float = 30.0) -> tuple[int, dict, float]:
    """POST a complaint; return (status, JSON body, seconds)."""
    data = json.dumps(body).encode()
    req = urllib.request.Request(
        base + "/api/complaints",
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read()), time.monotonic() - t0
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        out = json.loads(raw) if raw.startswith(b"{") else {"raw": raw.decode(errors="replace")}
        out["_retry_after"] = exc.headers.get("Retry-After")
        return exc.code, out, time.monotonic() - t0


def _body(marker: str, i: int, invalid: bool = False) -> dict:
    return {
        "service_code": "sampah",
        "lat": 95 if invalid else 60.1690 + (i % 20) * 0.0001,
        "lon": 24.9440,
        "description": f"{marker} #{i}",
    }


@pytest.mark.slow
def test_500_posts_from_50_clients_land_exactly_once(complaint_db, tmp_path):
    marker = f"conc-{uuid.uuid4().hex[:8]}"
    srv = Server(complaint_db, 2, NO_LIMIT, (tmp_path / "serve.log").open("w+b"))
    try:
        _get(srv.base + "/api/complaints/catalogue")

        def client(c: int) -> list[tuple]:
            out = []
            for j in range(PER_CLIENT):
                i = c * PER_CLIENT + j
                invalid = i % INVALID_EVERY == 0
                key = f"{marker}-{i}"
                status, body, secs = post(srv.base, _body(marker, i, invalid), key)
                out.append((i, key, invalid, status, body, secs))
            return out

        t0 = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = [r for batch in pool.map(client, range(CLIENTS)) for r in batch]
        elapsed = time.monotonic() - t0
        accepted = {
            key: body["tracking_id"] for _, key, _, status, body, _ in results if status == 201
        }
        # every answer is a 201 or an error with a JSON body; the invalid ones are errors
        for _i, _key, invalid, status, body, _ in results:
            if invalid:
                assert status == 400 and body["error"]["param"] == "lat"
            else:
                assert status == 201, (status, body)
        latencies = sorted(r[5] for r in results)
        print(
            f"\n{len(results)} POSTs from {CLIENTS} clients in {elapsed:.1f} s "
            f"({len(results) / elapsed:.0f}/s); p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {latencies[int(0.99 * len(latencies)) - 1] * 1000:.0f} ms"
        )
        # retries: one by one, and two at the same moment for the same key
        retry_keys = list(accepted)[:50]

        def retry(key: str) -> tuple[int, str]:
            i = int(key.rsplit("-", 1)[1])
            status, body, _ = post(srv.base, _body(marker, i), key)
            return status, body.get("tracking_id")

        with ThreadPoolExecutor(CLIENTS) as pool:
            retried = list(pool.map(retry, retry_keys + retry_keys))
        assert {s for s, _ in retried} == {200}
        assert [t for _, t in retried] == [accepted[k] for k in retry_keys + retry_keys]
        # new keys sent twice at once: one is stored, both answers name it
        fresh = [f"{marker}-twin-{n}" for n in range(25)]
        barrier = threading.Barrier(2 * len(fresh))

        def twin(key: str) -> tuple[int, str]:
            barrier.wait()
            status, body, _ = post(srv.base, _body(marker, 9999), key)
            return status, body.get("tracking_id")

        with ThreadPoolExecutor(2 * len(fresh)) as pool:
            twins = list(pool.map(twin, fresh + fresh))
        for n, key in enumerate(fresh):
            a, b = twins[n], twins[n + len(fresh)]
            assert sorted((a[0], b[0])) == [200, 201] and a[1] == b[1], key
            accepted[key] = a[1]
    finally:
        log = srv.stop()
        # the server counted 575 posts from 127.0.0.1 (under a limit raised for this test):
        # later tests on this database post from that address under the normal limit
        query(complaint_db, "DELETE FROM rate_limit_hit")
    assert "Traceback" not in log, log[-3000:]
    rows = query(
        complaint_db,
        "SELECT idempotency_key, tracking_id FROM complaint WHERE description LIKE %s",
        (f"{marker} #%",),
    )
    assert len(rows) == len({k for k, _ in rows})  # no key twice
    assert dict(rows) == accepted  # every 201 exactly once, nothing else
    expected = CLIENTS * PER_CLIENT - len(
        [i for i in range(CLIENTS * PER_CLIENT) if i % INVALID_EVERY == 0]
    )
    assert len(rows) == expected + len(fresh)


@pytest.fixture
def own_cluster(cluster_base):
    """A throw-away local cluster (fsync on), migrated, that the test may stop and start."""
    from gis.cluster import LocalCluster
    from gis.db import upgrade
    from tests.web.test_server import _free_port

    cluster = LocalCluster(cluster_base, preferred_port=_free_port())
    cluster.start()
    upgrade(cluster.url())
    yield cluster


@pytest.mark.slow
def test_a_database_outage_is_503_quickly_loses_nothing_and_recovers(own_cluster, tmp_path):
    cluster = own_cluster
    url = cluster.url()
    marker = f"outage-{uuid.uuid4().hex[:8]}"
    srv = Server(url, 2, NO_LIMIT, (tmp_path / "serve.log").open("w+b"))
    results: list[tuple[float, int, dict, float]] = []
    lock = threading.Lock()
    stop = threading.Event()
    t_start = time.monotonic()
    try:
        _get(srv.base + "/api/complaints/catalogue")

        def submitter(c: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                at = time.monotonic() - t_start
                status, body, secs = post(
                    srv.base, _body(marker, c * 100000 + n), f"{marker}-{c}-{n}", timeout_s=20
                )
                with lock:
                    results.append((at, status, body, secs))
                if status == 503:
                    time.sleep(0.2)

        threads = [threading.Thread(target=submitter, args=(c,)) for c in range(8)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        t_down = time.monotonic() - t_start
        cluster.stop()
        time.sleep(4.0)
        t_up = time.monotonic() - t_start
        cluster.start()
        t_running = time.monotonic() - t_start
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with lock:
                recovered = [r for r in results if r[0] > t_up + 0.5 and r[1] == 201]
            if len(recovered) >= 20:
                break
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(60)
    finally:
        stop.set()
        log = srv.stop()
    assert "Traceback" not in log, log[-3000:]
    assert log.count("unavailable") <= 4, log[-3000:]  # one line per outage and worker
    statuses = {r[1] for r in results}
    assert statuses <= {201, 503}, statuses
    before = [r for r in results if r[0] + r[3] < t_down and r[1] == 201]
    during = [r for r in results if t_down < r[0] < t_up - 0.5]
    after = [r for r in results if r[0] > t_up + 0.5 and r[1] == 201]
    assert before and during and len(after) >= 20, (len(before), len(during), len(after))
    unavailable = [r for r in results if r[1] == 503]
    assert unavailable, "no 503 during the outage"
    for _, _, body, _ in unavailable:
        assert body["error"]["code"] == "unavailable" and body["_retry_after"].isdigit()
        assert "psycopg2" not in json.dumps(body) and "postgres" not in json.dumps(body)
    slowest = max(r[3] for r in results)
    assert slowest < NO_HANG_S, slowest
    answered = {r[2]["tracking_id"] for r in results if r[1] == 201}
    stored = {
        t
        for (t,) in query(
            url, "SELECT tracking_id FROM complaint WHERE description LIKE %s", (f"{marker} #%",)
        )
    }
    assert answered <= stored  # nothing answered 201 is lost
    print(
        f"\noutage: {len(results)} answers, {len(before)} 201 before, "
        f"{len([r for r in during if r[1] == 503])} 503 of {len(during)} during the "
        f"{t_up - t_down:.1f} s outage, {len(after)} 201 after; slowest answer {slowest:.2f} s; "
        f"503 answered in p50 {statistics.median(r[3] for r in unavailable) * 1000:.0f} ms, "
        f"max {max(r[3] for r in unavailable) * 1000:.0f} ms; stored {len(stored)}, "
        f"answered 201 {len(answered)}; the cluster took {t_running - t_up:.1f} s to start, "
        f"the first 201 came {min(r[0] + r[3] for r in after) - t_running:.1f} s after that"
    )
