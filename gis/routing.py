"""The public routing API: nearest facilities and isochrones, with a router per process.

Import routing through this module (and :mod:`gis.network` for builds). The modules behind it:

* :mod:`gis.costs`: the cost model (travel time per segment and mode);
* :mod:`gis.graph`: CSR adjacency per mode, and :class:`gis.graph.ModeGraph`;
* :mod:`gis.snapping`: where a point joins the network;
* :mod:`gis.tables`: nearest-facility tables (multi-source Dijkstra from virtual nodes);
* :mod:`gis.reach`: bounded Dijkstra and reach polygons;
* :mod:`gis.router`: the queries over one loaded cache;
* :mod:`gis.network_cache`, :mod:`gis.network_data`, :mod:`gis.network`: the cache on disk,
  what it is built from, and the build.

Coverage analysis and what-if scenarios use :func:`nearest_facility_tables` (for any set of
facility points, optionally with closed segments), :func:`reverse_graph`,
:func:`bounded_dijkstra` and :func:`reach_polygon` over a mode's graph from
``get_router(url).mode_graph(mode)``.

Keeping the cache current
-------------------------
A process's first query on a database checks the cache against the database
(:func:`gis.network.rebuild_if_stale`: database identity, cost model, road and facility
stamps) and builds or rebuilds it if needed (a one-off, a second or so for a city extract).
After that the request path never queries PostGIS: a query only checks, at most every
:data:`RELOAD_CHECK_S` seconds, whether the manifest file changed, and reloads it. A
background thread repeats the database check at most every :data:`DB_CHECK_S` seconds (one
scan of ``road_segment`` and the facility layers) and rebuilds a stale cache, so a change the
process was not told about (a build into another cache directory, a failed rebuild after an
ingest, a dropped and recreated database) is picked up within that interval; until then the
previous cache answers. Builds run under a per-database lock, so other databases' queries do
not wait for them. :func:`warm_routing` loads everything when a server worker starts.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from gis import validate
from gis.costs import MODES
from gis.errors import NotFoundError, SigapError
from gis.graph import ModeGraph, reverse_graph
from gis.network import build_network, rebuild_if_stale
from gis.network_cache import MANIFEST, cache_root, load_network, read_manifest
from gis.reach import BoundedSearch, bounded_dijkstra, reach_polygon
from gis.router import Router
from gis.snapping import SNAP_LIMIT_M, Snap
from gis.tables import FacilityTables, nearest_facility_tables
from layers.vocab import FACILITY_CATEGORIES

logger = logging.getLogger(__name__)

__all__ = [
    "FACILITY_CATEGORIES",
    "MAX_ISOCHRONES",
    "MAX_K",
    "MAX_MINUTES",
    "MODES",
    "SNAP_LIMIT_M",
    "BoundedSearch",
    "FacilityTables",
    "ModeGraph",
    "Router",
    "Snap",
    "bounded_dijkstra",
    "clear_routers",
    "facility_categories",
    "get_router",
    "isochrone",
    "join_checks",
    "nearest_facilities",
    "nearest_facility_tables",
    "reach_polygon",
    "reverse_graph",
    "validate_category",
    "validate_k",
    "validate_minutes",
    "validate_mode",
    "validate_point",
    "warm_routing",
]
#: Largest ``k`` for k-nearest.
MAX_K = 10
#: Isochrone limits: at most this many values, each in (0, MAX_MINUTES].
MAX_ISOCHRONES = 6
MAX_MINUTES = 120.0
#: How often (seconds) a query checks whether the cache was rebuilt.
RELOAD_CHECK_S = 2.0
#: How often (seconds) a background thread checks the cache against the database.
DB_CHECK_S = 30.0


def facility_categories() -> tuple[str, ...]:
    """List every category a nearest-facility query accepts (:data:`FACILITY_CATEGORIES`)."""
    return FACILITY_CATEGORIES


# --- input validation (one rule each, in gis.validate) --------------------------------------


def validate_point(lat, lon) -> tuple[float, float]:
    """Parse ``(lat, lon)`` as floats in range (:func:`gis.validate.point`).

    Raises
    ------
    InvalidInputError
        Not numbers, or out of range (``param`` ``lat`` or ``lon``).
    """
    return validate.point(lat, lon)


def validate_mode(mode) -> str:
    """Check that ``mode`` is one of :data:`MODES`; :class:`InvalidInputError` if not."""
    return validate.choice(mode, "mode", MODES)


def validate_category(category) -> str:
    """Check that ``category`` is one of :data:`FACILITY_CATEGORIES`."""
    return validate.choice(category, "category", FACILITY_CATEGORIES)


def validate_k(k) -> int:
    """Parse how many facilities to rank: 1 to :data:`MAX_K`."""
    return validate.integer(k, "k", minimum=1, maximum=MAX_K)


def validate_minutes(minutes) -> list[float]:
    """Parse isochrone limits: 1 to :data:`MAX_ISOCHRONES` values in (0, :data:`MAX_MINUTES`]."""
    return validate.number_list(minutes, "minutes", low=0.0, high=MAX_MINUTES, most=MAX_ISOCHRONES)


# --- per-process cache of routers -----------------------------------------------------------


@dataclass
class _Entry:
    router: Router
    mtime_ns: int
    checked_at: float
    db_checked_at: float
    checking: bool = False


_routers: dict[Path, _Entry] = {}
#: Guards the dictionaries below (held only briefly, never during a build).
_routers_lock = threading.Lock()
#: One lock per cache root: loads and builds of one database; others' queries go on.
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


def _load(db_url: str, root: Path, *, check_db: bool) -> _Entry:
    """Load a fresh entry for ``root`` (the caller holds its lock).

    It is checked against the database first when ``check_db`` (a new process, or a
    stale-looking cache), and built when missing.
    """
    if check_db or read_manifest(root) is None:
        rebuild_if_stale(db_url)
    now = time.monotonic()
    mtime = _manifest_mtime(root)
    return _Entry(Router(load_network(root)), mtime, now, now)


def _refresh(db_url: str, root: Path) -> _Entry:
    """Give the entry for ``root``: loaded, or reloaded if the manifest changed (per-root lock)."""
    with _db_lock(root):
        entry = _routers.get(root)
        now = time.monotonic()
        if entry is not None and now - entry.checked_at < RELOAD_CHECK_S:
            return entry  # another thread refreshed it while we waited
        if entry is None:
            entry = _load(db_url, root, check_db=True)
        elif entry.mtime_ns != _manifest_mtime(root):
            checked = entry.db_checked_at
            entry = _load(db_url, root, check_db=False)
            entry.db_checked_at = checked
        else:
            entry.checked_at = now
        with _routers_lock:
            _routers[root] = entry
        return entry


def _check_database(db_url: str, root: Path, entry: _Entry) -> None:
    """Rebuild the cache if it no longer matches the database (background; see module doc).

    Requests notice a rebuild through the manifest's modification time.
    """
    try:
        # Not under the per-database lock: queries must not wait for the scan. A build is
        # serialised with any other by the cache's file lock.
        report = rebuild_if_stale(db_url)
        if report is not None:
            logger.info("network cache of %s was stale; rebuilt %s", root.name, report.version)
    except Exception:  # noqa: BLE001 - a background check must not kill the thread noisily
        logger.warning("checking the network cache of %s failed", root.name, exc_info=True)
    finally:
        entry.db_checked_at = time.monotonic()
        entry.checking = False


def _start_check(db_url: str, root: Path, entry: _Entry) -> None:
    with _routers_lock:
        if entry.checking:
            return
        entry.checking = True
        _checks[:] = [t for t in _checks if t.is_alive()]
        thread = threading.Thread(
            target=_check_database,
            args=(db_url, root, entry),
            name=f"sigap-network-check-{root.name}",
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


def get_router(url: str | None = None, *, mode: str | None = None) -> Router:
    """Give the process's router for the database at ``url``.

    The first call checks the cache against the database and builds it if needed; later calls
    reload when the manifest changed (checked at most every :data:`RELOAD_CHECK_S` s), start a
    background database check at most every :data:`DB_CHECK_S` s, and build ``mode`` if the
    cache lacks it. Builds hold only this database's lock.

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
    """
    db_url = _resolve_url(url)
    root = cache_root(db_url)
    entry = _routers.get(root)
    now = time.monotonic()
    if entry is None or now - entry.checked_at >= RELOAD_CHECK_S:
        entry = _refresh(db_url, root)
    if now - entry.db_checked_at >= DB_CHECK_S and not entry.checking:
        _start_check(db_url, root, entry)
    router = entry.router
    if mode is not None and mode not in router.net.modes:
        with _db_lock(root):
            current = read_manifest(root)
            if current is None or mode not in current.get("modes", {}):
                logger.info("the network cache lacks mode %s; building it", mode)
                build_network(db_url, modes=[mode])
            entry = _load(db_url, root, check_db=False)
            with _routers_lock:
                _routers[root] = entry
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

    Called once per gunicorn worker after it starts. A database without a road network is
    logged and left for the first query to report.

    Parameters
    ----------
    url : str
        Database URL.
    """
    try:
        router = get_router(url)
        for mode in MODES:
            router.mode_graph(mode)
    except SigapError as exc:
        logger.warning("routing not warmed up: %s", exc)


def clear_routers() -> None:
    """Forget every loaded router (tests; after deleting a cache); wait for running checks."""
    join_checks()
    with _routers_lock:
        _routers.clear()
        _default_url.clear()


# --- the public API -------------------------------------------------------------------------


def nearest_facilities(
    lat: float, lon: float, *, category: str, mode: str, k: int = 1, url: str | None = None
) -> dict:
    """Find the ``k`` facilities of ``category`` reachable soonest from ``(lat, lon)``.

    Both ends join the network on a segment (see :mod:`gis.router`): the times and distances
    include the part-segments at both ends, and each route ends at its facility's point on
    the road.

    Parameters
    ----------
    lat, lon : float
        Origin in degrees (WGS84).
    category : str
        An office category (``health``, ``government``, ...) or a waste-bin kind.
    mode : str
        ``walk``, ``motorcycle`` or ``car``.
    k : int
        How many facilities, 1 to :data:`MAX_K`, ranked by travel time.
    url : str, optional
        Database whose network to use (default: the configured database).

    Returns
    -------
    dict
        ``origin``; ``snapped`` (the origin's road point: ``lat``, ``lon``, ``distance_m``,
        ``segment_id``, ``fraction``); ``mode``; ``category``; ``results``, each with
        ``rank``, ``facility``, ``travel_time_s``, ``distance_m``, ``route`` (a GeoJSON
        LineString from the origin's road point to the facility's), ``segment_ids`` and
        ``facility_snap`` (the facility's road point, like ``snapped``, with the straight
        ``distance_m`` from it to the facility); and ``unreachable`` (+ ``message``).

    Raises
    ------
    InvalidInputError
        Bad ``lat``, ``lon``, ``category``, ``mode`` or ``k``.
    NotFoundError
        No facility of that category, or no road network in the database.
    UnprocessableError
        The point is more than :data:`SNAP_LIMIT_M` metres from any road usable by ``mode``.
    """
    lat, lon = validate_point(lat, lon)
    mode = validate_mode(mode)
    category = validate_category(category)
    k = validate_k(k)
    return get_router(url, mode=mode).rank_facilities(lat, lon, category=category, mode=mode, k=k)


def isochrone(
    lat: float, lon: float, *, minutes: list[float], mode: str, url: str | None = None
) -> dict:
    """Draw what is reachable from ``(lat, lon)`` within each of ``minutes``, by ``mode``.

    Parameters
    ----------
    lat, lon : float
        Origin in degrees (WGS84).
    minutes : list of float
        1 to :data:`MAX_ISOCHRONES` travel times, each in (0, :data:`MAX_MINUTES`].
    mode : str
        ``walk``, ``motorcycle`` or ``car``.
    url : str, optional
        Database whose network to use (default: the configured database).

    Returns
    -------
    dict
        A GeoJSON FeatureCollection, one Feature per value of ``minutes`` (largest first),
        with properties ``minutes``, ``mode``, ``reachable_nodes`` and a Polygon or
        MultiPolygon in EPSG:4326.

    Raises
    ------
    InvalidInputError
        Bad ``lat``, ``lon``, ``minutes`` or ``mode``.
    UnprocessableError
        The point is more than :data:`SNAP_LIMIT_M` metres from any road usable by ``mode``.
    """
    lat, lon = validate_point(lat, lon)
    mode = validate_mode(mode)
    values = validate_minutes(minutes)
    return get_router(url, mode=mode).isochrone(lat, lon, minutes=values, mode=mode)
