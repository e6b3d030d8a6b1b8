"""``sigap serve``: gunicorn by default, on the host and port asked for."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from cli import main

SIGAP = str(Path(sys.executable).parent / "sigap")


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


def test_serve_help_documents_every_option():
    out = CliRunner().invoke(main, ["serve", "--help"]).output
    for option in ("--host", "--port", "--workers", "--debug"):
        assert option in out
    assert "gunicorn" in out


def test_serve_runs_gunicorn_and_answers(fresh_db):
    """On our own Helsinki copy: each worker warms routing up, which builds the network
    (writing cost columns and a cache on disk) before it answers."""
    from gis.network import cache_root, read_manifest
    from tests.web.conftest import forget_database, helsinki_copy

    url = helsinki_copy(fresh_db)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url}
    proc = subprocess.Popen(
        [SIGAP, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        resp = _get(f"http://127.0.0.1:{port}/api/layers")
        assert resp.status == 200
        assert resp.headers["Server"].startswith("gunicorn")
        page = _get(f"http://127.0.0.1:{port}/")
        assert b"folium-map" in page.read()
        assert read_manifest(cache_root(url)) is not None  # the worker warmed up first
    finally:
        proc.terminate()
        out, _err = proc.communicate(timeout=30)
        forget_database(url)
    assert f"http://127.0.0.1:{port}/" in out


def test_serve_refuses_production_without_a_secret_key(helsinki_db, monkeypatch):
    from gis.settings import get_settings

    monkeypatch.setenv("SIGAP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", helsinki_db)
    monkeypatch.delenv("SIGAP_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["serve", "--port", str(_free_port())])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "Error: SIGAP_SECRET_KEY must be set" in result.output
