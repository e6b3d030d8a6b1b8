"""``sigap serve`` (web/server.py): gunicorn with gevent workers, as the ``sigap_web`` role,
routing network built by the owner first, slow clients dropped without blocking others."""

from __future__ import annotations

import concurrent.futures
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from tests.conftest import create_database, drop_database, query
from web import server

SIGAP = str(Path(sys.executable).parent / "sigap")
#: The issue's probe: this many connections that send part of a request and then nothing.
IDLE_SOCKETS = 16
#: Normal requests sent while they are open, and how fast each must be answered.
NORMAL_REQUESTS = 24
ANSWER_WITHIN_S = 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5)  # noqa: S310 - loopback only
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


class Served:
    """``sigap serve`` in a subprocess on a free port."""

    def __init__(self, url: str, workers: int = 1, env: dict[str, str] | None = None):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [SIGAP, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
            + ["--workers", str(workers)],
            env={**os.environ, "DATABASE_URL": url, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> tuple[str, str]:
        self.proc.terminate()
        return self.proc.communicate(timeout=30)


@pytest.fixture(scope="module")
def served(own_db):
    """``sigap serve`` with one worker on our own Helsinki copy, network not built yet."""
    from tests.web.conftest import helsinki_copy

    url = helsinki_copy(own_db("served"))
    ((started,),) = query(url, "SELECT now()")
    srv = Served(url)
    srv.started = started  # type: ignore[attr-defined]
    try:
        _get(srv.base + "/api/layers")
        yield url, srv
    finally:
        srv.stop()


def test_serve_help_documents_every_option():
    out = CliRunner().invoke(main, ["serve", "--help"]).output
    for option in ("--host", "--port", "--workers", "--debug"):
        assert option in out
    assert "gunicorn" in out


def test_gunicorn_runs_gevent_workers_with_a_header_timeout():
    from gunicorn.util import load_class
    from gunicorn.workers.ggevent import GeventWorker

    opts = server.gunicorn_options("127.0.0.1", 8000, 3)
    assert issubclass(load_class(opts["worker_class"]), GeventWorker)
    assert opts["workers"] == 3 and opts["bind"] == "127.0.0.1:8000"
    assert opts["keepalive"] == server.HEADER_TIMEOUT_S <= 10


def test_serve_answers_as_the_web_role_after_the_owner_built_the_network(served):
    """The owner built the network before serving (the web role may not write costs), and
    every connection the app holds is the web role's."""
    from gis.network import cache_root, read_manifest

    url, srv = served
    resp = _get(srv.base + "/api/layers")
    assert resp.status == 200
    assert resp.headers["Server"].startswith("gunicorn")
    assert b"folium-map" in _get(srv.base + "/").read()
    assert read_manifest(cache_root(url)) is not None
    (costs,) = query(url, "SELECT count(*) FROM road_segment WHERE cost_walk_s IS NOT NULL")[0]
    assert costs > 0
    near = _get(srv.base + "/api/nearest?lat=60.17&lon=24.944&category=health&mode=walk")
    assert near.status == 200
    dbname = url.rsplit("/", 1)[1]
    users = query(  # connections opened since the server started, still open
        url,
        "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = %s"
        " AND backend_start > %s AND pid <> pg_backend_pid()",
        (dbname, srv.started),
    )
    assert {u for (u,) in users} == {"sigap_web"}


def _half_sent(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and then nothing
    return sock


def _timed_get(url: str) -> float:
    t0 = time.monotonic()
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback only
        resp.read()
        assert resp.status == 200
    return time.monotonic() - t0


def test_slow_clients_neither_block_others_nor_stay_connected(served):
    """16 connections that send half a request and stop, against ONE worker: every normal
    request is still answered within 1 s, and the server closes the idle ones within
    about 10 s (``HEADER_TIMEOUT_S``)."""
    _url, srv = served
    t_open = time.monotonic()
    idle = [_half_sent(srv.port) for _ in range(IDLE_SOCKETS)]
    try:
        time.sleep(0.3)  # the server has accepted them all
        urls = [srv.base + "/api/layers", srv.base + "/api/openapi.json"] * (NORMAL_REQUESTS // 2)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            times = list(pool.map(_timed_get, urls))
        assert max(times) < ANSWER_WITHIN_S, times
        closed_after = []
        for sock in idle:
            assert sock.recv(1024) == b""  # closed by the server, no answer
            closed_after.append(time.monotonic() - t_open)
        assert server.HEADER_TIMEOUT_S - 1 <= min(closed_after)
        assert max(closed_after) <= server.HEADER_TIMEOUT_S + 3, closed_after
    finally:
        for sock in idle:
            sock.close()
    assert _timed_get(srv.base + "/api/layers") < ANSWER_WITHIN_S


def test_serve_refuses_a_database_that_is_not_migrated(server_url):
    name = f"sigap_test_web_bare_{os.getpid()}"
    url = create_database(server_url, name)  # no PostGIS, no tables
    try:
        result = CliRunner().invoke(main, ["serve", "--port", str(_free_port())], env=_env(url))
    finally:
        drop_database(server_url, name)
    assert result.exit_code == 1
    assert "Error: The database has no SIGAP tables yet: run 'sigap db upgrade'" in result.output


def test_serve_says_when_the_web_role_cannot_connect(fresh_db):
    bad = fresh_db.replace("postgres@", "sigap_no_such_role@", 1)
    assert bad != fresh_db
    env = {**_env(fresh_db), "SIGAP_WEB_DATABASE_URL": bad}
    result = CliRunner().invoke(main, ["serve", "--port", str(_free_port())], env=env)
    assert result.exit_code == 1
    assert "Error: Cannot connect as the web role 'sigap_web'" in result.output
    assert "SIGAP_WEB_DATABASE_URL" in result.output


def _env(url: str) -> dict[str, str]:
    from gis.settings import get_settings
    from web.settings import get_web_settings

    get_settings.cache_clear()
    get_web_settings.cache_clear()
    return {"DATABASE_URL": url}


@pytest.fixture(autouse=True)
def _fresh_settings():
    from gis.settings import get_settings
    from web.settings import get_web_settings

    yield
    get_settings.cache_clear()
    get_web_settings.cache_clear()


def test_serve_refuses_production_without_a_secret_key(helsinki_db, monkeypatch):
    monkeypatch.setenv("SIGAP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", helsinki_db)
    monkeypatch.delenv("SIGAP_SECRET_KEY", raising=False)
    from gis.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(main, ["serve", "--port", str(_free_port())])
    monkeypatch.undo()
    assert result.exit_code == 1
    assert "Error: SIGAP_SECRET_KEY must be set" in result.output
