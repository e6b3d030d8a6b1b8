"""The project-local PostGIS cluster: start, no-op start, stale pid, port clash, root and not.

Each test makes its own throw-away cluster under /var/tmp (reachable by the ``postgres`` user).
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path

import psycopg2

from gis.cluster import LocalCluster, _free_port

IS_ROOT = os.geteuid() == 0


def postgis_version(url: str) -> str:
    conn = psycopg2.connect(url, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            cur.execute("SELECT postgis_lib_version()")
            return cur.fetchone()[0]
    finally:
        conn.commit()
        conn.close()


def _lifecycle(base: Path, port: int) -> dict:
    cluster = LocalCluster(base, preferred_port=port, fast=True)
    first = cluster.start()
    second = cluster.start()
    version = postgis_version(cluster.url())
    stopped = cluster.stop()
    return {
        "first": first,
        "second": second,
        "version": version,
        "stopped": stopped,
        "running_after_stop": cluster.is_running(),
        "owner": pwd.getpwuid((base / "pgdata").stat().st_uid).pw_name,
    }


def test_start_is_idempotent_and_serves_postgis(cluster_base):
    result = _lifecycle(cluster_base, _free_port())
    assert result["first"] is True
    assert result["second"] is False  # already running: a no-op
    assert result["version"].startswith("3.")
    assert result["stopped"] is True and result["running_after_stop"] is False
    assert result["owner"] == ("postgres" if IS_ROOT else pwd.getpwuid(os.geteuid()).pw_name)


def _run_as_unprivileged(base: Path, port: int) -> dict:
    """Run the lifecycle in a forked child that has dropped root for the postgres user."""
    pw = pwd.getpwnam("postgres")
    base.parent.mkdir(parents=True, exist_ok=True)
    os.chown(base.parent, pw.pw_uid, pw.pw_gid)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        code = 0
        try:
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            os.environ["HOME"] = pw.pw_dir
            payload = repr(_lifecycle(base, port))
        except BaseException as exc:  # noqa: BLE001 - report anything to the parent
            payload = repr({"error": f"{type(exc).__name__}: {exc}"})
            code = 1
        os.write(write_fd, payload.encode())
        os.close(write_fd)
        os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        payload = fh.read()
    os.waitpid(pid, 0)
    import ast

    return ast.literal_eval(payload)


def test_start_as_a_normal_user(cluster_base):
    """As root (CI) the test above covers root (runuser); here a forked child drops to the
    ``postgres`` user. Run by a normal user, both tests run as that user."""
    if not IS_ROOT:
        result = _lifecycle(cluster_base, _free_port())
        assert result["first"] is True and result["second"] is False
        return
    result = _run_as_unprivileged(cluster_base, _free_port())
    assert "error" not in result, result
    assert result["first"] is True and result["second"] is False
    assert result["version"].startswith("3.")
    assert result["owner"] == "postgres"


def test_stale_pid_file_after_a_crash_is_recovered(cluster_base):
    cluster = LocalCluster(cluster_base, preferred_port=_free_port(), fast=True)
    cluster.start()
    pid = int((cluster.pgdata / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    assert (cluster.pgdata / "postmaster.pid").exists()  # the crash left it behind
    assert cluster.start() is True
    assert postgis_version(cluster.url()).startswith("3.")
    cluster.stop()


def test_pid_file_naming_a_live_unrelated_process_is_recovered(cluster_base):
    """After a machine restart the old pid may belong to some other process."""
    cluster = LocalCluster(cluster_base, preferred_port=_free_port(), fast=True)
    cluster.start()
    pidfile = cluster.pgdata / "postmaster.pid"
    saved = pidfile.read_text()
    cluster.stop()
    other = subprocess.Popen(["sleep", "60"])
    try:
        lines = saved.splitlines()
        lines[0] = str(other.pid)
        pidfile.write_text("\n".join(lines) + "\n")
        assert cluster.is_running() is False
        assert cluster.start() is True
        assert postgis_version(cluster.url()).startswith("3.")
    finally:
        other.kill()
        other.wait()
        cluster.stop()


def test_port_taken_by_another_program_picks_a_free_one(cluster_base):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        cluster = LocalCluster(cluster_base, preferred_port=taken, fast=True)
        cluster.start()
        try:
            assert cluster.port != taken
            assert (cluster_base / "port").read_text().strip() == str(cluster.port)
            assert f":{cluster.port}/" in cluster.url()
            assert postgis_version(cluster.url()).startswith("3.")
            # a later command reads the remembered port
            assert LocalCluster(cluster_base, preferred_port=taken).url() == cluster.url()
        finally:
            cluster.stop()
