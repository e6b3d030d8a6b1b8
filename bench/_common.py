"""Shared benchmark plumbing: a scratch database, a timer, and finding a server's workers."""

from __future__ import annotations

import http.client
import os
import socket
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url

from gis.db import database_url, libpq_url, upgrade
from gis.settings import PROJECT_ROOT

#: The project's real test data (``../shared/data``), read in place; benchmarks that need it
#: say so when it is missing.
SHARED_DATA = Path(os.environ.get("SIGAP_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def _admin_connection():
    server = libpq_url(database_url(start=True))
    admin = make_url(server).set(database="postgres").render_as_string(hide_password=False)
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    return server, conn


def scratch_database(name: str) -> str:
    """(Re)create database ``name`` on the configured server, migrated; return its URL."""
    drop_scratch_database(name)
    server, conn = _admin_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return url


def drop_scratch_database(name: str) -> None:
    """Drop database ``name`` (made by :func:`scratch_database`) if it exists."""
    _, conn = _admin_connection()
    try:
        with conn.cursor() as cur:
            ident = sql.Identifier(name)
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
    finally:
        conn.close()


def timed(fn: Callable[[], object], *, repeat: int = 3) -> float:
    """Median wall time of ``fn`` in seconds over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from ``/proc``)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def connection_owner(conn: http.client.HTTPConnection, port: int, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the server end of ``conn`` (a loopback connection to ``port``):
    the worker that serves it (Linux: ``/proc/net/tcp`` and ``/proc/PID/fd``)."""
    assert conn.sock is not None
    local = f"0100007F:{port:04X}"
    remote = f"0100007F:{conn.sock.getsockname()[1]:04X}"
    inode = next(
        (
            parts[9]
            for parts in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines())
            if len(parts) > 9 and parts[1] == local and parts[2] == remote
        ),
        None,
    )
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
        except OSError:
            continue
    return None


def worker_connections(port: int, master: int, workers: int) -> list[http.client.HTTPConnection]:
    """One kept-alive connection to each of the ``workers`` worker processes of the server
    ``master`` (new connections until every worker has one; fewer if that fails)."""
    candidates = [
        p for p in child_pids(master) if "sigap" in Path(f"/proc/{p}/cmdline").read_text()
    ]
    conns: dict[int, http.client.HTTPConnection] = {}
    for _ in range(80):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/layers")
        conn.getresponse().read()
        pid = connection_owner(conn, port, candidates)
        if pid is not None and pid not in conns:
            conns[pid] = conn
        else:
            conn.close()
        if len(conns) == workers:
            break
    return list(conns.values())
