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
:mod:`gis.router_cache` keeps one router per process and database: the first query checks
the cache against the database and builds it if needed (and if the role may: the web role's
routers are read-only); after that a watcher thread follows road-condition changes (applied
live, :mod:`gis.live`) and new cache versions, and swaps them in, so the request path never
queries PostGIS and never waits for a build. :func:`warm_routing` loads everything when a
server worker starts; :func:`sync_road_conditions` applies the changes made so far at once.
"""

from __future__ import annotations

import logging

from gis import validate
from gis.costs import MODES
from gis.graph import ModeGraph, reverse_graph
from gis.reach import BoundedSearch, bounded_dijkstra, reach_polygon
from gis.router import Router
from gis.router_cache import (
    clear_routers,
    get_router,
    join_checks,
    sync_road_conditions,
    warm_routing,
)
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
    "sync_road_conditions",
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
