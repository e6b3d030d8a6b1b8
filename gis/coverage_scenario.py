"""What-if scenarios: roads closed, facilities added or removed, without touching the data.

A scenario is applied to the loaded network in memory only: closed segments come out of a
copy of the mode's graph (:meth:`gis.graph.ModeGraph.without`: no traffic, nothing snaps to
them), and the facilities are the stored ones less those removed plus those added; the
nearest-facility tables are then computed for that set on that graph
(:func:`gis.routing.nearest_facility_tables`). Nothing is written to PostGIS or the network
cache.

Input (JSON, as ``POST /api/scenario`` takes it, or keyword arguments):

* ``close_segments``: ``road_segment`` ids; an unknown id is refused;
* ``close_polygon``: a GeoJSON Polygon or MultiPolygon (WGS84), e.g. a flood area: every
  segment that intersects it is closed;
* ``add_facilities``: points ``{"lat", "lon"}`` (optionally ``name`` and ``capacity``), e.g.
  the suggested sites;
* ``remove_facilities``: ids of facilities of the category (of its layer); an unknown id is
  refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import shapely

from gis import validate
from gis.graph import ModeGraph

#: Most segments, points and facility ids one scenario may list.
MAX_ITEMS = 10_000
MAX_ADDED = 200


@dataclass
class Scenario:
    """A normalised what-if scenario.

    Attributes
    ----------
    close_segments : list of int
        Segment ids closed by id (sorted, unique).
    close_polygon : dict or None
        The GeoJSON geometry whose segments are closed.
    add_facilities : list of dict
        ``{"lat", "lon", "name", "capacity"}`` per added facility, in order.
    remove_facilities : list of int
        Ids of removed facilities (sorted, unique).
    """

    close_segments: list[int] = field(default_factory=list)
    close_polygon: dict | None = None
    add_facilities: list[dict] = field(default_factory=list)
    remove_facilities: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether the scenario changes nothing."""
        return not (
            self.close_segments
            or self.close_polygon
            or self.add_facilities
            or self.remove_facilities
        )

    def as_dict(self) -> dict:
        """Give the normalised scenario as JSON-ready data (part of the cache key)."""
        return {
            "close_segments": self.close_segments,
            "close_polygon": self.close_polygon,
            "add_facilities": self.add_facilities,
            "remove_facilities": self.remove_facilities,
        }


def _id_list(raw: object, param: str) -> list[int]:
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise validate.bad(param, f"'{param}' must be a list of whole numbers.")
    if len(items) > MAX_ITEMS:
        raise validate.bad(param, f"'{param}' may list at most {MAX_ITEMS} ids.")
    out = {validate.integer(i, param, minimum=1, maximum=2**63 - 1) for i in items}
    return sorted(out)


def _polygon(raw: object) -> dict | None:
    if raw is None:
        return None
    param = "close_polygon"
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise validate.bad(param, f"'{param}' is not valid JSON: {exc.msg}.") from exc
    if isinstance(raw, dict) and raw.get("type") == "Feature":
        raw = raw.get("geometry")
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        msg = f"'{param}' must be a GeoJSON Polygon or MultiPolygon geometry."
        raise validate.bad(param, msg)
    try:
        geom = shapely.from_geojson(json.dumps(raw))
    except Exception as exc:  # noqa: BLE001 - GEOS's errors vary; all mean a bad geometry
        raise validate.bad(param, f"'{param}' is not a valid polygon: {exc}.") from exc
    if geom.is_empty:
        raise validate.bad(param, f"'{param}' is empty.")
    lon_lo, lat_lo, lon_hi, lat_hi = geom.bounds
    if not (-180 <= lon_lo <= lon_hi <= 180 and -90 <= lat_lo <= lat_hi <= 90):
        raise validate.bad(param, f"'{param}' must be in WGS84 degrees (lon, lat).")
    return json.loads(shapely.to_geojson(geom))


def _points(raw: object) -> list[dict]:
    param = "add_facilities"
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise validate.bad(param, f'\'{param}\' must be a list of {{"lat", "lon"}} points.')
    if len(raw) > MAX_ADDED:
        raise validate.bad(param, f"'{param}' may list at most {MAX_ADDED} points.")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or "lat" not in item or "lon" not in item:
            msg = f"'{param}' item {i} must be an object with 'lat' and 'lon'."
            raise validate.bad(param, msg)
        lat, lon = validate.point(item["lat"], item["lon"])
        name = item.get("name")
        if name is not None and not isinstance(name, str):
            raise validate.bad(param, f"'{param}' item {i}: 'name' must be text.")
        cap = item.get("capacity", 1)
        capacity = validate.in_range(cap, f"{param}[{i}].capacity", 1e-9, 1e9)
        out.append({"lat": lat, "lon": lon, "name": name, "capacity": capacity})
    return out


def parse_scenario(
    close_segments: object = None,
    close_polygon: object = None,
    add_facilities: object = None,
    remove_facilities: object = None,
) -> Scenario:
    """Check and normalise a scenario's parts (see the module docstring).

    Raises
    ------
    InvalidInputError
        A part is malformed (``param`` names it).
    """
    return Scenario(
        close_segments=_id_list(close_segments, "close_segments"),
        close_polygon=_polygon(close_polygon),
        add_facilities=_points(add_facilities),
        remove_facilities=_id_list(remove_facilities, "remove_facilities"),
    )


def closed_by_polygon(graph: ModeGraph, polygon: dict) -> np.ndarray:
    """Find the segments that intersect a polygon.

    Parameters
    ----------
    graph : ModeGraph
        Any graph of the network (geometry is shared).
    polygon : dict
        GeoJSON Polygon or MultiPolygon (WGS84).

    Returns
    -------
    ndarray of int64
        Segment indices, sorted.
    """
    from gis.coverage_areas import segment_lines

    proj = graph.proj
    geom = shapely.from_geojson(json.dumps(polygon))

    def to_xy(coords: np.ndarray) -> np.ndarray:
        x, y = proj.forward(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    geom = shapely.make_valid(shapely.transform(geom, to_xy))
    lines = segment_lines(graph, proj)
    tree = shapely.STRtree(lines)
    return np.unique(tree.query(geom, predicate="intersects")).astype(np.int64)


def closed_segments(graph: ModeGraph, scenario: Scenario) -> np.ndarray:
    """Give the segment indices a scenario closes (by id and by polygon).

    Raises
    ------
    InvalidInputError
        Some ids are not segments of the network (``param`` ``close_segments``).
    """
    edge_id = np.asarray(graph.edge_id, dtype=np.int64)
    parts = [np.zeros(0, np.int64)]
    if scenario.close_segments:
        wanted = np.asarray(scenario.close_segments, dtype=np.int64)
        order = np.argsort(edge_id)
        pos = np.clip(np.searchsorted(edge_id[order], wanted), 0, len(order) - 1)
        found = edge_id[order][pos] == wanted if len(order) else np.zeros(len(wanted), bool)
        if not found.all():
            unknown = wanted[~found][:10].tolist()
            more = " ..." if (~found).sum() > 10 else ""
            msg = f"Unknown road segment ids in 'close_segments': {unknown}{more}."
            raise validate.bad("close_segments", msg)
        parts.append(order[pos])
    if scenario.close_polygon:
        parts.append(closed_by_polygon(graph, scenario.close_polygon))
    return np.unique(np.concatenate(parts))
