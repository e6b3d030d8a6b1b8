"""One router per process and database, kept current without making a request wait.

:func:`get_router` gives the process's :class:`gis.router.Router` for a database. What keeps
it current:

* **First use.** The process checks the cache against the database
  (:func:`gis.network.rebuild_if_stale`: database identity, cost model, road and facility
  stamps), builds or rebuilds it if it may (see *Read-only routers*), loads it and applies
  the road-condition changes made since it was built.
* **A watcher thread per database** (:class:`_Watcher`), started with the router:

  - it listens for road-condition changes (``NOTIFY``, :mod:`gis.road_conditions`; polled
    every :data:`WATCH_S` s, and read from the database every :data:`POLL_S` s in case a
    notification was lost) and gives the router the new costs (:mod:`gis.live`): the
    affected weights and nearest-facility tables, computed in this thread and swapped in;
  - it checks the manifest every :data:`MANIFEST_CHECK_S` s and loads a new cache version
    (written by a build anywhere: ``sigap network build``, an ingest, the owner's network
    keeper) with the live changes made since applied and the modes in use warmed, then
    swaps it in.

  Requests only read the current router; the request path never queries PostGIS. (As a
  fallback, a request that finds the manifest changed :data:`RELOAD_CHECK_S` s after the
  last check loads the new version itself.)
* **A background check of the database** at most every :data:`DB_CHECK_S` s (one scan of
  ``road_segment`` and the facility layers) rebuilds a stale cache, so a change the process
  was not told about (a build into another cache directory, a failed rebuild after an
  ingest, a dropped and recreated database) is picked up within that interval.

Read-only routers
-----------------
A role that may not update ``road_segment`` (the web role ``sigap_web``) cannot build: its
routers are read-only. They never attempt a build; when the background check finds the
cache stale they log one line (once, until it is current again) and keep serving the last
good cache, with the live road-condition changes applied. The owner keeps the cache current
(``sigap serve``'s network keeper, :mod:`gis.network_keeper`). With no cache at all, or
without a mode asked for, a read-only router raises
``psycopg2.errors.InsufficientPrivilege`` (the web answers 503 and logs what to run).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gis.costs import MODES
from gis.errors import NotFoundError
from gis.live import apply_costs, live_costs
from gis.network import build_network, network_status, rebuild_if_stale
from gis.network_cache import MANIFEST, cache_root, load_network, read_manifest
from gis.network_data import transaction
from gis.road_conditions import ConditionListener, changed_segment_costs, condition_seq
from gis.router import Router

logger = logging.getLogger(__name__)

#: How often (seconds) a request checks whether the cache was rebuilt (a fallback: the
#: watcher thread checks every :data:`MANIFEST_CHECK_S`).
RELOAD_CHECK_S = 2.0
#: How often (seconds) a background thread checks the cache against the database.
DB_CHECK_S = 30.0
#: How often (seconds) the watcher polls for road-condition notifications.
WATCH_S = 0.05
#: How often (seconds) the watcher checks the manifest for a new cache version.
MANIFEST_CHECK_S = 0.25
#: How often (seconds) the watcher reads the newest road-condition change without a
#: notification (lost notifications, a listening connection that is down).
POLL_S = 5.0
#: Seconds between attempts to reach the database after a failure.
RETRY_S = 2.0


@dataclass
class _Entry:
    """The process's router for one database, and what keeps it current."""

    db_url: str
    root: Path
    router: Router
    mtime_ns: int
    read_only: bool
    #: the newest road-condition change the router reflects
    live_seq: int
    checked_at: float = field(default_factory=time.monotonic)
    db_checked_at: float = field(default_factory=time.monotonic)
    checking: bool = False
    stale_logged: bool = False
    watcher: _Watcher | None = None
    #: one reload or live update at a time (computed outside the database lock)
    updating: threading.Lock = field(default_factory=threading.Lock)


_routers: dict[Path, _Entry] = {}
#: Guards the dictionaries below (held only briefly, never during a build).
_routers_lock = threading.Lock()
#: One lock per cache root: loads, builds and swaps of one database; others' queries go on.
_db_locks: dict[Path, threading.Lock] = {}
_checks: list[threading.Thread] = []
_default_url: list[str] = []


def _resolve_url(url: str | None) -> str:
    if url:
        return url
    if not _default_url:
        from gis.db import database_url

        _default_url.append(database_url(start=False))
    return _default_url[0]


def _manifest_mtime(root: Path) -> int:
    try:
        return (root / MANIFEST).stat().st_mtime_ns
    except FileNotFoundError:
        return -1


def _db_lock(root: Path) -> threading.Lock:
    with _routers_lock:
        return _db_locks.setdefault(root, threading.Lock())


def may_build(db_url: str) -> bool:
    """Tell whether the role of ``db_url`` may build the network (update ``road_segment``).

    Parameters
    ----------
    db_url : str
        Database URL.

    Returns
    -------
    bool
        False for a read-only role such as ``sigap_web``.
    """
    with transaction(db_url) as cur:
        cur.execute("SELECT has_table_privilege('road_segment', 'UPDATE')")
        return bool(cur.fetchone()[0])


def _cannot_build(what: str) -> Exception:
    import psycopg2.errors

    msg = (
        f"{what}, and this database role may not build it; run 'sigap network build' as "
        "the database owner (a running 'sigap serve' keeps it current)"
    )
    return psycopg2.errors.InsufficientPrivilege(msg)


@contextlib.contextmanager
def _cursor(db_url: str, conn=None) -> Iterator:
    """Open a cursor on ``conn`` (autocommit, e.g. the watcher's), else on a new connection."""
    if conn is None:
        with transaction(db_url) as cur:
            yield cur
    else:
        with conn.cursor() as cur:
            yield cur


def _live(db_url: str, router: Router, conn=None) -> tuple[Router, int]:
    """Apply the road-condition changes made since ``router``'s cache was built.

    The newest sequence number is read before the segments: a change committed in between
    is applied now and read again next time (applying is idempotent), never missed.
    """
    base = int(router.net.manifest.get("condition_seq", 0))
    with _cursor(db_url, conn) as cur:
        seq = condition_seq(cur)
        if seq <= base:
            return router, seq
        seq, ids, costs = changed_segment_costs(cur, base, router.net.modes)
    update = apply_costs(router, live_costs(router.net, ids, costs))
    if update.changed:
        logger.info(
            "road conditions applied live: %s segments changed, %d tables recomputed, %.0f ms",
            update.changed,
            len(update.tables),
            update.seconds * 1e3,
        )
    return update.router, seq


def _load(db_url: str, root: Path, read_only: bool, *, check_db: bool) -> _Entry:
    """Load a fresh entry for ``root`` (the caller holds its lock)."""
    if check_db or read_manifest(root) is None:
        if not read_only:
            rebuild_if_stale(db_url)
        elif read_manifest(root) is None:
            raise _cannot_build("The routing network has not been built")
    mtime = _manifest_mtime(root)
    router, seq = _live(db_url, Router(load_network(root)))
    return _Entry(db_url, root, router, mtime, read_only, seq)


def _warm(router: Router, modes) -> None:
    """Build the graphs of ``modes`` now (and their main component, which live updates use)."""
    for mode in modes:
        if mode in router.net.modes:
            router.mode_graph(mode).main_nodes  # noqa: B018 - computed and kept


def _reload(entry: _Entry) -> bool:
    """Load the cache version the manifest points at now, and swap it into ``entry``.

    The caller holds ``entry.updating``; the new router is loaded, brought up to date and
    warmed before the swap, so queries go on with the old one meanwhile.

    Returns
    -------
    bool
        Whether a new version was loaded.
    """
    entry.checked_at = time.monotonic()
    mtime = _manifest_mtime(entry.root)
    if mtime == entry.mtime_ns:
        return False
    if read_manifest(entry.root) is None:  # gone, or another model: keep the last good one
        entry.mtime_ns = mtime
        return False
    router, seq = _live(entry.db_url, Router(load_network(entry.root)))
    _warm(router, entry.router.loaded_modes)
    with _db_lock(entry.root):
        entry.router, entry.live_seq, entry.mtime_ns = router, seq, mtime
    return True


def _refresh(entry: _Entry) -> None:
    """Reload ``entry`` if the manifest changed (a request's fallback).

    Requests get here only when the watcher has not checked for :data:`RELOAD_CHECK_S` s.
    """
    with entry.updating:
        if time.monotonic() - entry.checked_at < RELOAD_CHECK_S:
            return  # the watcher (or another request) checked while we waited
        _reload(entry)


# --- the watcher ------------------------------------------------------------------------------


class _Watcher(threading.Thread):
    """Follow road-condition changes and new cache versions of one database (see module doc)."""

    def __init__(self, entry: _Entry) -> None:
        super().__init__(name=f"sigap-routing-watch-{entry.root.name}", daemon=True)
        self.entry = entry
        self.stop = threading.Event()
        self.listener = ConditionListener(entry.db_url)

    def run(self) -> None:
        entry = self.entry
        next_manifest = next_poll = time.monotonic()
        failing = False
        while not self.stop.is_set():
            if not entry.root.is_dir():  # the cache was dropped (its database too)
                break
            now = time.monotonic()
            try:
                notified = self.listener.poll()
                if notified is None:
                    raise ConnectionError("cannot listen for road-condition changes")
                if now >= next_manifest:
                    next_manifest = now + MANIFEST_CHECK_S
                    with entry.updating:
                        _reload(entry)
                if notified or now >= next_poll:
                    next_poll = now + POLL_S
                    self._apply_changes()
                if failing:
                    logger.info("routing: following %s's road changes again", entry.root.name)
                failing = False
            except Exception as exc:  # noqa: BLE001 - a watcher must keep watching
                if not failing:
                    logger.info(
                        "routing: cannot follow %s now (%s); retrying",
                        entry.root.name,
                        str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc),
                    )
                failing = True
                self.stop.wait(RETRY_S)
                continue
            self.stop.wait(WATCH_S)
        self.listener.close()

    def _apply_changes(self) -> None:
        _apply_changes(self.entry, self.listener.conn)


def _apply_changes(entry: _Entry, conn=None) -> None:
    """Give ``entry``'s router the road-condition changes made since (computed, then swapped).

    ``conn``: an autocommit connection to use (the watcher's listening one).
    """
    with _cursor(entry.db_url, conn) as cur:
        seq = condition_seq(cur)
    if seq == entry.live_seq:
        return
    with entry.updating:
        new, seq = _live(entry.db_url, entry.router, conn)
        with _db_lock(entry.root):
            entry.router, entry.live_seq = new, seq


def _start_watcher(entry: _Entry) -> None:
    watcher = _Watcher(entry)
    entry.watcher = watcher
    watcher.start()


# --- the background database check -----------------------------------------------------------


def _check_database(entry: _Entry) -> None:
    """Rebuild the cache if it no longer matches the database (background; module doc).

    A read-only router only logs that it is stale (once, until it is current again).
    """
    try:
        # Not under the per-database lock: queries must not wait for the scan. A build is
        # serialised with any other by the cache's file lock.
        if entry.read_only:
            status = network_status(entry.db_url)
            if status["stale"] and not entry.stale_logged:
                logger.warning(
                    "the routing network cache of %s is older than the database; serving it "
                    "(road-condition changes applied live) until the owner rebuilds it",
                    entry.root.name,
                )
            entry.stale_logged = bool(status["stale"])
            return
        report = rebuild_if_stale(entry.db_url)
        if report is not None:
            logger.info(
                "network cache of %s was stale; rebuilt %s", entry.root.name, report.version
            )
    except Exception as exc:  # noqa: BLE001 - a background check must not kill the thread noisily
        logger.warning(
            "checking the network cache of %s failed: %s",
            entry.root.name,
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
        )
    finally:
        entry.db_checked_at = time.monotonic()
        entry.checking = False


def _start_check(entry: _Entry) -> None:
    with _routers_lock:
        if entry.checking:
            return
        entry.checking = True
        _checks[:] = [t for t in _checks if t.is_alive()]
        thread = threading.Thread(
            target=_check_database,
            args=(entry,),
            name=f"sigap-network-check-{entry.root.name}",
            daemon=True,
        )
        _checks.append(thread)
    thread.start()


def join_checks(timeout_s: float = 60.0) -> None:
    """Wait for running background database checks (tests, shutdown)."""
    with _routers_lock:
        threads = list(_checks)
    for thread in threads:
        thread.join(timeout_s)


def sync_road_conditions(url: str | None = None) -> None:
    """Apply the road-condition changes made so far to this process's router, now.

    The watcher does this within a fraction of a second anyway; this is for a caller that
    must see its own change at once (tests, scripts). No-op without a router.

    Parameters
    ----------
    url : str, optional
        Database URL (default: the configured database).
    """
    entry = _routers.get(cache_root(_resolve_url(url)))
    if entry is not None:
        _apply_changes(entry)


# --- the public entry points ------------------------------------------------------------------


def get_router(url: str | None = None, *, mode: str | None = None) -> Router:
    """Give the process's router for the database at ``url``.

    The first call checks the cache against the database, builds it if needed and allowed,
    and starts the watcher; later calls return the current router at once (a background
    database check runs at most every :data:`DB_CHECK_S` s). A mode the cache lacks is
    built (a read-only router raises instead). Builds hold only this database's lock.

    Parameters
    ----------
    url : str, optional
        Database URL (default: the configured database).
    mode : str, optional
        A mode the caller needs; built if the cache lacks it.

    Returns
    -------
    Router
        The router; ``router.mode_graph(mode)`` gives a mode's graph for coverage analysis.

    Raises
    ------
    NotFoundError
        The database has no road network.
    psycopg2.errors.InsufficientPrivilege
        A read-only role, and no cache (or not that mode) to read.
    """
    db_url = _resolve_url(url)
    root = cache_root(db_url)
    entry = _routers.get(root)
    if entry is None:
        with _db_lock(root):
            entry = _routers.get(root)
            if entry is None:
                entry = _load(db_url, root, not may_build(db_url), check_db=True)
                with _routers_lock:
                    _routers[root] = entry
    if entry.watcher is None or not entry.watcher.is_alive():
        _start_watcher(entry)  # its cache was dropped and built again
    now = time.monotonic()
    if now - entry.checked_at >= RELOAD_CHECK_S:
        _refresh(entry)
    if now - entry.db_checked_at >= DB_CHECK_S and not entry.checking:
        _start_check(entry)
    router = entry.router
    if mode is not None and mode not in router.net.modes:
        if entry.read_only:
            raise _cannot_build(f"The routing network has no '{mode}' mode")
        with entry.updating:
            current = read_manifest(root)
            if current is None or mode not in current.get("modes", {}):
                logger.info("the network cache lacks mode %s; building it", mode)
                build_network(db_url, modes=[mode])
            _reload(entry)
            router = entry.router
    if router.net.n_nodes == 0:
        msg = (
            "The database has no road network; load one with 'sigap ingest osm FILE' "
            "and run 'sigap network build'."
        )
        raise NotFoundError(msg)
    return router


def warm_routing(url: str) -> None:
    """Load the routing network and each mode's graph now, not on a user's first request.

    Called once per gunicorn worker after it starts. A database without a road network (or a
    read-only role without a cache) is logged and left for the first query to report.

    Parameters
    ----------
    url : str
        Database URL.
    """
    from gis.errors import SigapError

    try:
        router = get_router(url)
        _warm(router, MODES)
    except SigapError as exc:
        logger.warning("routing not warmed up: %s", exc)


def clear_routers() -> None:
    """Forget every loaded router (tests; after deleting a cache); stop watchers and checks."""
    join_checks()
    with _routers_lock:
        entries = list(_routers.values())
        _routers.clear()
        _default_url.clear()
    for entry in entries:
        if entry.watcher is not None:
            entry.watcher.stop.set()
    for entry in entries:
        if entry.watcher is not None:
            entry.watcher.join(10.0)
