"""Where a complaint is: the check that it is near the road network, and its linked feature.

A complaint of a service with a link (:class:`layers.complaint_spec.ServiceLink`) stores the
id of the nearest feature of that layer:

* ``facility`` links (waste bins, offices): where the routing network exists, the feature
  reached soonest on foot from the complaint's point, over every class of the layer, from
  the precomputed nearest-facility tables of the walking network (the same answer
  ``/api/nearest`` gives, both ends snapped onto their roads); ``method = "network"``,
  ``walk_s`` the walking time;
* ``segment`` links (road damage, flooding): the road segment the point snaps to (the
  nearest segment of the walking network, which holds every road); ``method = "network"``;
* without a routing network (none built, or none this process may read), the nearest
  feature by straight-line (geodesic) distance from PostGIS; ``method = "straight_line"``.

``distance_m`` is always the straight-line distance from the complaint to the feature (for a
segment, to its nearest point).

Where a routing network exists, a point more than :data:`gis.routing.SNAP_LIMIT_M` from every
road is refused: a report there cannot be reached or acted on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg2
from psycopg2 import sql

from gis.errors import InvalidInputError, NotFoundError, SigapError
from gis.routing import SNAP_LIMIT_M, Router, get_router
from gis.snapping import Snap, haversine_m
from layers.complaint_spec import ServiceSpec
from layers.registry import get_layer

logger = logging.getLogger(__name__)

#: The mode whose network decides links and the near-network check: walking uses every road.
LINK_MODE = "walk"
#: How many nearest candidates by planar distance are compared geodesically.
_CANDIDATES = 8


@dataclass(frozen=True)
class Link:
    """The feature a complaint links to.

    Attributes
    ----------
    layer : str
        The layer's name (``waste_bin``, ``road_segment``, ``office``).
    feature_id : int
        The feature's id in that layer.
    method : str
        ``network`` or ``straight_line`` (see the module docstring).
    distance_m : float
        Straight-line distance from the complaint to the feature, metres.
    walk_s : float, optional
        Walking time to a facility on the network, seconds (``network`` facility links).
    """

    layer: str
    feature_id: int
    method: str
    distance_m: float
    walk_s: float | None = None


def network_router(routing_url: str | None) -> Router | None:
    """Return the routing network of ``routing_url``, or None when there is none to use.

    A database without a road network, or a cache this process may not build (the web role
    reading a stale cache), gives None and a log line; the complaint is then linked by
    straight-line distance.
    """
    if not routing_url:
        return None
    try:
        router = get_router(routing_url, mode=LINK_MODE)
        router.mode_graph(LINK_MODE)
        return router
    except NotFoundError:
        return None
    except (SigapError, psycopg2.Error, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        logger.warning("routing network not usable for complaint links: %s", first)
        return None


def snap_point(router: Router | None, lat: float, lon: float) -> Snap | None:
    """Snap ``(lat, lon)`` onto the walking network; None without a network.

    Raises
    ------
    InvalidInputError
        A network exists and no road is within :data:`SNAP_LIMIT_M` (``param`` ``lat``,
        code ``off_network``).
    """
    if router is None:
        return None
    snap = router.mode_graph(LINK_MODE).locate(lat, lon, SNAP_LIMIT_M)
    if snap is None:
        msg = (
            f"The point is more than {SNAP_LIMIT_M:g} m from any road; choose the place of the "
            "problem on the map, close to a road."
        )
        raise InvalidInputError(msg, code="off_network", param="lat")
    return snap


def _nearest_facility(router: Router, snap: Snap, layer: str, lat: float, lon: float):
    spec = get_layer(layer)
    assert spec is not None
    best: tuple[float, dict] | None = None
    for category in spec.classes:
        if not router.net.facilities.get(category):
            continue
        found = router.best_from_table(snap, LINK_MODE, category)
        if found is None:
            continue
        seconds, index, _route, _point = found
        if best is None or seconds < best[0]:
            best = (float(seconds), router.facilities(category)[index])
    if best is None:
        return None
    seconds, fac = best
    dist = float(haversine_m(lon, lat, fac["lon"], fac["lat"]))
    return Link(layer, int(fac["id"]), "network", round(dist, 2), round(seconds, 1))


def _straight_line(cur, layer: str, lat: float, lon: float) -> Link | None:
    spec = get_layer(layer)
    assert spec is not None
    cur.execute(
        sql.SQL(
            "SELECT id, ST_Distance(geom::geography, p::geography) AS d FROM ("
            " SELECT id, geom, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS p FROM {t}"
            " ORDER BY geom <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) LIMIT %(n)s"
            ") c ORDER BY d, id LIMIT 1"
        ).format(t=sql.Identifier(spec.table)),
        {"lat": lat, "lon": lon, "n": _CANDIDATES},
    )
    row = cur.fetchone()
    if row is None:
        return None
    return Link(layer, int(row[0]), "straight_line", float(row[1]))


def link_feature(
    cur, service: ServiceSpec, lat: float, lon: float, router: Router | None, snap: Snap | None
) -> Link | None:
    """Find the feature a complaint of ``service`` at ``(lat, lon)`` links to.

    Parameters
    ----------
    cur : cursor
        A database cursor (for the straight-line fallback).
    service : ServiceSpec
        The complaint's service; None is returned when it has no link.
    lat, lon : float
        The complaint's point (degrees).
    router : Router, optional
        The routing network (:func:`network_router`); None: straight-line distance.
    snap : Snap, optional
        The point snapped onto the walking network (:func:`snap_point`).

    Returns
    -------
    Link or None
        None when the service has no link or the layer has no feature.
    """
    link = service.link
    if link is None:
        return None
    if router is not None and snap is not None:
        if link.kind == "segment":
            segment_id = int(router.edge_id[snap.edge])
            return Link(link.layer, segment_id, "network", round(float(snap.distance_m), 2))
        found = _nearest_facility(router, snap, link.layer, lat, lon)
        if found is not None:
            return found
    return _straight_line(cur, link.layer, lat, lon)
