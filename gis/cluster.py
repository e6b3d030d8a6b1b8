"""A project-local PostgreSQL + PostGIS cluster for development, tests and the demo.

The cluster lives under ``<data dir>/pg``: ``pgdata/`` (the cluster), ``postgres.log``,
``port`` (the port it listens on) and the unix socket. It listens on 127.0.0.1 only.

PostgreSQL refuses to run as root. When this process is root, ``initdb`` and ``pg_ctl`` run
as the ``postgres`` user through ``runuser``, and the cluster directory is handed to that user.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import logging
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from gis.errors import DatabaseError

logger = logging.getLogger(__name__)

DB_NAME = "sigap"
PG_USER = "postgres"


def pg_bindir() -> Path:
    """Directory of the newest installed PostgreSQL server binaries."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    msg = (
        "PostgreSQL server binaries not found. Install them with "
        "'sudo apt-get install postgresql-15-postgis-3' (or run 'make setup')."
    )
    raise DatabaseError(msg)


def _is_root() -> bool:
    return os.geteuid() == 0


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class LocalCluster:
    """The project-local cluster under ``base`` (normally ``<data dir>/pg``).

    Parameters
    ----------
    base : Path
        Directory holding the cluster, its log, socket and port file.
    preferred_port : int
        Port to use when it is free; otherwise a free one is picked and remembered.
    fast : bool
        Disable fsync and full-page writes. Only for disposable test clusters.
    """

    base: Path
    preferred_port: int = 54329
    fast: bool = False

    @property
    def pgdata(self) -> Path:
        """The cluster's data directory, ``<base>/pgdata``."""
        return self.base / "pgdata"

    @property
    def logfile(self) -> Path:
        """The server log, ``<base>/postgres.log``."""
        return self.base / "postgres.log"

    @property
    def portfile(self) -> Path:
        """The file remembering the port the cluster listens on."""
        return self.base / "port"

    @property
    def socket_dir(self) -> Path:
        """The directory of the server's unix socket."""
        return self.base

    # -- running commands as the right user ------------------------------------------------

    def _run(self, args: list[str | Path], *, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if _is_root():
            cmd = ["runuser", "-u", PG_USER, "--", *cmd]
        logger.debug("running %s", cmd)
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()
            msg = f"'{Path(args[0]).name}' failed: {detail}. See {self.logfile}."
            raise DatabaseError(msg)
        return proc

    def _prepare_dirs(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        if _is_root():
            pw = pwd.getpwnam(PG_USER)
            for path in [self.base, *self.base.rglob("*")]:
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_uid != pw.pw_uid:
                        os.chown(path, pw.pw_uid, pw.pw_gid, follow_symlinks=False)
            probe = self._run(["test", "-w", str(self.base)], check=False)
            if probe.returncode != 0:
                msg = (
                    f"The 'postgres' user cannot write to {self.base} (a parent directory is "
                    "not accessible to it). Set SIGAP_DATA_DIR to a directory it can reach, "
                    "for example /var/tmp/sigap."
                )
                raise DatabaseError(msg)
        if self.pgdata.exists():
            self.pgdata.chmod(0o700)

    # -- state ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the cluster listens on: the remembered one, else the preferred one."""
        if self.portfile.exists():
            with contextlib.suppress(ValueError):
                return int(self.portfile.read_text().strip())
        return self.preferred_port

    def is_initialised(self) -> bool:
        """Whether ``initdb`` has run in :attr:`pgdata`."""
        return (self.pgdata / "PG_VERSION").exists()

    def _pg_ctl_says_running(self) -> bool:
        proc = self._run([pg_bindir() / "pg_ctl", "status", "-D", self.pgdata], check=False)
        return proc.returncode == 0

    def _accepts_connections(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
        except OSError:
            return False
        return True

    def is_running(self) -> bool:
        """Tell whether the cluster runs: its ``postmaster.pid`` is alive and its port answers.

        After a crash or a machine restart the recorded pid may belong to another process;
        the port check tells that apart from a live server.
        """
        if not self.is_initialised():
            return False
        return self._pg_ctl_says_running() and self._accepts_connections()

    @contextlib.contextmanager
    def _lock(self):
        """Serialise start/stop between concurrent ``sigap`` processes."""
        self.base.mkdir(parents=True, exist_ok=True)
        with open(self.base / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def url(self, dbname: str = DB_NAME) -> str:
        """Return the URL of database ``dbname`` on this cluster."""
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{dbname}"

    # -- lifecycle ------------------------------------------------------------------------

    def init(self) -> None:
        """Create the cluster with ``initdb`` if it does not exist yet."""
        if self.is_initialised():
            return
        self._prepare_dirs()
        self._run(
            [
                pg_bindir() / "initdb",
                "-D",
                self.pgdata,
                "-U",
                PG_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ]
        )

    def _recover_stale_pid(self) -> None:
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (ValueError, IndexError, OSError):
            pid = -1
        if pid > 0 and _pid_alive(pid) and self.is_running():
            return
        if pid > 0 and _pid_alive(pid) and self._pg_ctl_says_running():
            logger.warning("pid %s in postmaster.pid is not our server (no answer on port)", pid)
        logger.warning("removing stale postmaster.pid (pid %s is not running)", pid)
        pidfile.unlink(missing_ok=True)
        for lock in self.socket_dir.glob(".s.PGSQL.*.lock"):
            lock.unlink(missing_ok=True)

    def _choose_port(self) -> int:
        port = self.port
        if not _port_is_free(port):
            new_port = _free_port()
            logger.warning("port %d is taken by another program; using %d", port, new_port)
            port = new_port
        self.portfile.write_text(f"{port}\n")
        return port

    def start(self) -> bool:
        """Start the cluster. Returns False when it was already running (a no-op)."""
        with self._lock():
            return self._start()

    def _start(self) -> bool:
        self.init()
        if self.is_running():
            self.ensure_database(DB_NAME)
            return False
        self._prepare_dirs()
        self._recover_stale_pid()
        port = self._choose_port()
        self._prepare_dirs()
        opts = f"-p {port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
        if self.fast:
            opts += " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        self._run(
            [
                pg_bindir() / "pg_ctl",
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                self.pgdata,
                "-l",
                self.logfile,
                "-o",
                opts,
            ]
        )
        self.ensure_database(DB_NAME)
        return True

    def stop(self) -> bool:
        """Stop the cluster. Returns False when it was not running."""
        with self._lock():
            if not self.is_running():
                return False
            self._run([pg_bindir() / "pg_ctl", "stop", "-w", "-m", "fast", "-D", self.pgdata])
            return True

    def ensure_database(self, dbname: str) -> None:
        """Create ``dbname`` with PostGIS if it does not exist yet."""
        import psycopg2
        import psycopg2.errors
        from psycopg2 import sql

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg2.connect(self.url("postgres"), connect_timeout=5)
                break
            except psycopg2.OperationalError as exc:
                if time.monotonic() > deadline:
                    msg = f"The local database does not answer on port {self.port}: {exc}"
                    raise DatabaseError(msg) from exc
                time.sleep(0.2)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
                if cur.fetchone() is None:
                    with contextlib.suppress(psycopg2.errors.DuplicateDatabase):
                        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        finally:
            conn.close()


def _postgres_can_reach(path: Path) -> bool:
    """Tell whether the ``postgres`` user can enter every directory above ``path``."""
    pw = pwd.getpwnam(PG_USER)
    for parent in path.resolve().parents:
        if not parent.exists():
            continue  # will be created by us, world-traversable
        st = parent.stat()
        if st.st_uid == pw.pw_uid:
            mode_ok = st.st_mode & 0o100
        elif st.st_gid == pw.pw_gid:
            mode_ok = st.st_mode & 0o010
        else:
            mode_ok = st.st_mode & 0o001
        if not mode_ok:
            return False
    return True


def cluster_dir(data_dir: Path) -> Path:
    """Where the cluster of ``data_dir`` lives.

    Normally ``<data dir>/pg``. As root, when the ``postgres`` user cannot enter a parent
    directory (a checkout under ``/root``, say), the cluster goes to ``/var/tmp/sigap-<hash>``
    instead; the name is derived from the data dir, so every command finds the same one.
    """
    base = data_dir / "pg"
    if _is_root() and not _postgres_can_reach(base):
        digest = hashlib.sha1(str(data_dir.resolve()).encode()).hexdigest()[:12]
        fallback = Path("/var/tmp") / f"sigap-{digest}" / "pg"
        logger.info("postgres cannot reach %s; using %s", base, fallback)
        return fallback
    return base


def local_cluster(settings=None) -> LocalCluster:
    """Return the cluster under the configured data directory."""
    from gis.settings import get_settings

    s = settings or get_settings()
    return LocalCluster(base=cluster_dir(s.data_dir), preferred_port=s.pg_port)
