"""Running the web app: gunicorn with gevent workers, or Flask's development server (``--debug``).

Worker model
------------
gunicorn's ``gevent`` worker: each connection is a greenlet, not a thread, so idle or slow
clients cost a little memory but never hold a worker. A client has :data:`HEADER_TIMEOUT_S`
seconds to send its request line and headers (gunicorn's ``keepalive`` timeout, which the
gevent worker applies to reading every request, the first one included); after that the
connection is closed. Request bodies are bounded by ``MAX_CONTENT_LENGTH``. The threaded
(``gthread``) worker, used before, held one of its 4 threads per half-sent request, so 8 idle
connections stopped 2 workers. psycopg2 is not made cooperative (no psycogreen): a database
query holds its worker for its duration (milliseconds for the map pages), and code that holds
a lock across a query (the routing cache's file lock) cannot deadlock two greenlets. In
production put a reverse proxy in front (``docs/deployment.md``), which also buffers slow
clients and terminates TLS.

Database roles
--------------
``run_server`` receives the owner's URL (the CLI resolves ``DATABASE_URL`` or the local
cluster). Before serving it brings the routing network up to date *as the owner* (building
writes ``road_segment.cost_*_s``), then serves as ``sigap_web`` (:mod:`web.settings`), which
may read the network cache but never builds it (read-only routers, :mod:`gis.router_cache`).
While it serves, a network keeper process runs as the owner (:mod:`gis.network_keeper`): it
writes the costs of segments whose condition staff changed and rebuilds the cache in the
background; ``sigap ingest`` and ``sigap network build`` rebuild too. Workers apply
road-condition changes live and swap to each new cache version.
"""

from __future__ import annotations

import logging
import os
import warnings

import gevent
import psycopg2
import psycopg2.errors
from gunicorn.workers import ggevent

from gis.db import libpq_url
from gis.errors import DatabaseError
from web import create_app
from web.settings import (
    WEB_ROLE,
    staff_database_url,
    trusted_hosts,
    web_database_url,
)

logger = logging.getLogger(__name__)

#: gunicorn's gevent worker, with threads left as real threads (see :class:`GeventWorker`).
WORKER_CLASS = "web.server.GeventWorker"
#: Seconds a client has to send a request's line and headers; also how long an idle
#: kept-alive connection stays open.
HEADER_TIMEOUT_S = 10
#: Connections one worker serves at once (each a greenlet).
WORKER_CONNECTIONS = 1000
#: Seconds a worker may stay silent (one request running) before gunicorn restarts it.
WORKER_TIMEOUT_S = 60


class GeventWorker(ggevent.GeventWorker):
    """gunicorn's gevent worker, fair between connections, with ``threading`` unpatched.

    * Fairness: after each request the connection's greenlet yields to the hub
      (``gevent.sleep(0)``). gevent reads a socket without yielding when data is already
      there, so without this a few kept-alive connections are served over and over while
      the others wait: measured with wrk, 8 connections, one worker, a 1 ms handler:
      p50 1.7 ms but p99 1.5 s; with the yield p50 13 ms, p99 20 ms, the same throughput.
    * Real threads: sockets, ``time.sleep`` and the rest are made cooperative, so each
      connection is a greenlet, but threads stay OS threads, so the routing module's
      background check of the database (a full scan every 30 s, :mod:`gis.routing`) runs
      beside the request greenlets as it did under the threaded worker. Locks stay real
      locks, which is safe because no code here holds one while it waits on a client socket,
      the only place a greenlet yields.
    """

    def patch(self) -> None:
        from gevent import monkey, socket

        monkey.patch_all(thread=False)
        listeners: list = self.sockets  # type: ignore[has-type]
        self.sockets = [
            socket.socket(s.FAMILY, socket.SOCK_STREAM, fileno=s.sock.detach()) for s in listeners
        ]

    def handle_request(self, listener_name, req, sock, addr):
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            gevent.sleep(0)  # let the other connections' requests run


def gunicorn_options(host: str, port: int, workers: int | None) -> dict[str, object]:
    """The gunicorn settings ``sigap serve`` runs with."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers or os.cpu_count() or 2,
        "worker_class": WORKER_CLASS,
        "worker_connections": WORKER_CONNECTIONS,
        "keepalive": HEADER_TIMEOUT_S,
        "timeout": WORKER_TIMEOUT_S,
        "accesslog": None,
        "loglevel": "warning",
        "proc_name": "sigap",
        "control_socket_disable": True,  # no shared ~/.gunicorn/gunicorn.ctl between servers
    }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def prepare_network(owner_url: str) -> None:
    """Build or refresh the routing network as the database owner (before serving).

    Raises
    ------
    DatabaseError
        The database is not migrated or cannot be read.
    """
    from gis.network import rebuild_if_stale

    try:
        report = rebuild_if_stale(owner_url)
    except psycopg2.errors.UndefinedTable as exc:
        msg = "The database has no SIGAP tables yet: run 'sigap db upgrade' first."
        raise DatabaseError(msg) from exc
    except psycopg2.Error as exc:
        msg = f"Cannot prepare the routing network: {_first_line(exc)}"
        raise DatabaseError(msg) from exc
    if report is not None:
        logger.info("routing network built before serving (%.1f s)", report.seconds)


def check_web_role(web_url: str) -> None:
    """Connect once as the web role, so a missing role or password fails here, clearly.

    Raises
    ------
    DatabaseError
        The web role cannot connect (not created, wrong password, no access).
    """
    try:
        psycopg2.connect(libpq_url(web_url), connect_timeout=10).close()
    except psycopg2.Error as exc:
        msg = (
            f"Cannot connect as the web role '{WEB_ROLE}': {_first_line(exc)}. Run "
            "'sigap db upgrade' (migration 0003 creates the role), or set "
            "SIGAP_WEB_DATABASE_URL with its password."
        )
        raise DatabaseError(msg) from exc


def run_server(url: str, *, host: str, port: int, workers: int | None, debug: bool) -> None:
    """Serve the app for the database at ``url`` until interrupted.

    Parameters
    ----------
    url : str
        The owner's database URL. The app itself connects as ``sigap_web``
        (``SIGAP_WEB_DATABASE_URL``, or this URL with that user).
    host, port : str, int
        Address to listen on.
    workers : int, optional
        Worker processes (default: one per CPU core).
    debug : bool
        Flask's development server with the debugger instead of gunicorn (never in
        production).

    Raises
    ------
    DatabaseError
        The database is not migrated, or the web role cannot connect.
    ConfigError
        The configuration is not usable (e.g. production without a secret key).
    """
    web_url = web_database_url(url)
    config = {
        "DATABASE_URL": web_url,
        "STAFF_DATABASE_URL": staff_database_url(url),
        "TRUSTED_HOSTS": trusted_hosts(host),
    }
    app = create_app(config)  # configuration errors surface here, before anything starts
    server_pid = os.getpid()
    prepare_network(url)
    check_web_role(web_url)
    from gis.network_keeper import start_keeper

    keeper = start_keeper(url)  # the owner keeps costs and cache current (ends with us)
    try:
        _serve(app, config, host=host, port=port, workers=workers, debug=debug, web_url=web_url)
    finally:
        if os.getpid() == server_pid:  # not in a gunicorn worker leaving through here
            keeper.terminate()


def _serve(app, config, *, host, port, workers, debug, web_url) -> None:
    """Serve ``app`` with gunicorn (or Flask's server with ``debug``) until interrupted."""
    if debug:
        app.run(host=host, port=port, debug=True, use_reloader=False)
        return
    from gevent.monkey import MonkeyPatchWarning
    from gunicorn.app.base import BaseApplication

    # The worker patches after the CLI imported urllib3 (through osmnx); the web process makes
    # no outgoing TLS connection with Python's ssl module (libpq has its own), so gevent's
    # warning about an ssl module imported before patching does not apply.
    warnings.filterwarnings("ignore", category=MonkeyPatchWarning)

    def _warm(worker) -> None:
        from gis.routing import warm_routing

        try:
            warm_routing(web_url)
        except Exception as exc:  # noqa: BLE001 - a worker must start; the first query reports
            logger.warning("routing not warmed up: %s", _first_line(exc))

    class _Gunicorn(BaseApplication):
        def load_config(self):
            for key, value in gunicorn_options(host, port, workers).items():
                self.cfg.set(key, value)
            self.cfg.set("post_worker_init", _warm)

        def load(self):
            # in the worker, after gevent's monkey-patching: locks and pools made now are
            # gevent's
            return create_app(config)

    _Gunicorn().run()
