"""OSM highway ways as routing-graph edges: which ways route, one-way rules, splitting at junctions.

Road ways are split at every node shared with another routable way (or visited twice by the
same way), so each ``road_segment`` row is one edge of the routing graph, joined to its
neighbours by the OSM node ids ``u`` and ``v``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
import shapely
from pyproj import Geod

from layers.vocab import NON_ROUTABLE_HIGHWAYS, road_condition

_GEOD = Geod(ellps="WGS84")

#: Values of ``oneway=*`` that mean "one way, in the direction the way is drawn".
_ONEWAY_YES = {"yes", "true", "1"}
#: Values that mean "one way, against the direction the way is drawn".
_ONEWAY_REVERSE = {"-1", "reverse"}
#: Highway classes that are one-way unless tagged otherwise.
_IMPLIED_ONEWAY_HIGHWAYS = {"motorway"}


def _oneway(tags: dict[str, str]) -> tuple[bool, bool]:
    """Return ``(oneway, reverse)`` for a highway's tags."""
    raw = tags.get("oneway", "").lower()
    if raw in _ONEWAY_REVERSE:
        return True, True
    if raw in _ONEWAY_YES:
        return True, False
    if raw == "no":
        return False, False
    if tags.get("junction") in ("roundabout", "circular"):
        return True, False
    return tags.get("highway") in _IMPLIED_ONEWAY_HIGHWAYS, False


def is_routable(tags: dict[str, str]) -> bool:
    """Tell whether a way with ``tags`` belongs to the routable network (roads, paths, ...)."""
    highway = tags.get("highway")
    if not highway or highway in NON_ROUTABLE_HIGHWAYS:
        return False
    return tags.get("area") != "yes"


def split_road_ways(
    road_ways: Iterable[tuple[int, dict[str, str], list[list[tuple[int, float, float]]]]],
    *,
    source: str = "osm",
) -> list[dict]:
    """Split highway ways at intersections into one row per network edge.

    A node is a split point when it is used by two or more runs of routable ways, or twice
    by one run (a loop). Run ends are always edge ends.

    Parameters
    ----------
    road_ways : iterable of (way id, tags, runs)
        Each run is a list of ``(node id, lon, lat)`` with two or more nodes.
    """
    road_ways = list(road_ways)
    uses: Counter[int] = Counter()
    for _, _, runs in road_ways:
        for run in runs:
            uses.update(n for n, _, _ in run)
    rows: list[dict] = []
    for way_id, tags, runs in road_ways:
        oneway, reverse = _oneway(tags)
        condition = road_condition(tags.get("smoothness"), tags.get("surface"))
        seen: Counter[str] = Counter()
        for run in runs:
            start = 0
            for i in range(1, len(run)):
                if i == len(run) - 1 or uses[run[i][0]] > 1:
                    piece = run[start : i + 1]
                    if reverse:
                        piece = piece[::-1]
                    # Keyed by its end nodes, so a piece keeps its id (and an inspected
                    # condition) when a newer extract splits the way elsewhere.
                    key = f"way/{way_id}/{piece[0][0]}-{piece[-1][0]}"
                    seen[key] += 1
                    if seen[key] > 1:
                        key = f"{key}/{seen[key]}"
                    rows.append(
                        {
                            "source": source,
                            "source_id": key,
                            "u": piece[0][0],
                            "v": piece[-1][0],
                            "osm_way_id": way_id,
                            "name": tags.get("name"),
                            "highway": tags["highway"],
                            "oneway": oneway,
                            "maxspeed": (tags.get("maxspeed") or None),
                            "surface": tags.get("surface"),
                            "smoothness": tags.get("smoothness"),
                            "condition": condition,
                            "coords": [(lon, lat) for _, lon, lat in piece],
                        }
                    )
                    start = i
    _add_lengths(rows)
    return rows


def _add_lengths(rows: list[dict]) -> None:
    """Geodesic length (WGS84) of every row's ``coords``; sets ``length_m`` and ``geom``."""
    if not rows:
        return
    counts = np.array([len(r["coords"]) for r in rows])
    xy = np.array([c for r in rows for c in r.pop("coords")], dtype=float)
    _, _, dist = _GEOD.inv(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # Pair i joins point i and i+1; pairs crossing from one row into the next are dropped.
    valid = np.ones(len(xy) - 1, dtype=bool)
    valid[(starts + counts - 1)[:-1]] = False
    dist = np.where(valid, dist, 0.0)
    lengths = np.add.reduceat(np.append(dist, 0.0), starts)
    lines = shapely.linestrings(xy, indices=np.repeat(np.arange(len(rows)), counts))
    for row, length, line in zip(rows, lengths, lines, strict=True):
        row["length_m"] = float(length)
        row["geom"] = line
