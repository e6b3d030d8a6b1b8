"""The routing network: travel-time costs per mode, built from ``road_segment``, cached as arrays.

Build (``sigap network build``)
-------------------------------
1. Read every ``road_segment`` row (``u``, ``v``, ``highway``, ``oneway``, ``maxspeed``,
   ``length_m``, ``condition``, geometry) from PostGIS.
2. Compute each edge's travel time per mode (:func:`edge_costs`) and write it back to
   ``road_segment.cost_walk_s`` / ``cost_motorcycle_s`` / ``cost_car_s`` (NULL where the mode
   may not pass), so pgRouting, networkx or plain SQL can reproduce every answer from the
   database alone.
3. Write compact arrays to ``<cache_dir>/network/<db key>/v<stamp>/`` as ``.npy`` files, which the
   query side memory-maps (:func:`load_network`): node coordinates, per-segment geometry and
   ids, one CSR adjacency per mode, and per mode and facility category the "nearest facility
   from every node" table (multi-source Dijkstra on the reversed graph).
4. Point ``current.json`` (the manifest, replaced atomically) at the new version. Readers
   check the manifest's modification time at most every few seconds and reload.

Steps 1 and 2 run in one ``REPEATABLE READ`` transaction that first takes
``LOCK TABLE road_segment IN SHARE ROW EXCLUSIVE MODE``: the stamps, segments and facilities
come from one snapshot and no road edit can land between reading a condition and writing the
costs derived from it (edits wait until the costs are written; readers never wait).

Cost model
----------
``cost_s = length_m / (speed_kph / 3.6) / condition_factor``, at least :data:`MIN_COST_S`.

* Which ``highway`` classes a mode may use, and their default speeds, are in
  :data:`PROFILES`. Walking may use every footway, path, steps and road except motorways;
  motorcycles may use ``path`` and ``track`` (the narrow *gang* of Indonesian towns) but, as on
  Indonesian toll roads, not motorways; cars may use neither paths nor footways.
* Speed: for motorcycle and car, the numeric ``maxspeed`` when it parses (``"50"``,
  ``"30 mph"``, ``"50;30"`` takes the lowest), else the class default, capped at the mode's
  maximum. Walking ignores ``maxspeed``.
* ``oneway`` binds motorcycle and car (travel only ``u`` -> ``v``); walking ignores it.
* Condition: a speed factor per class (:data:`CONDITION_FACTORS`). ``rusak_berat`` is much
  slower; ``tidak_dapat_dilalui`` removes the edge for every mode.

Facilities snap to the nearest node of each mode's largest strongly connected component, but
only within :data:`SNAP_LIMIT_M` (the limit origins have too). A facility further than that
from the mode's network is left out of that mode's tables (no route ends there; it is not
given a walk to the road either) and listed in the manifest's ``off_network``
(``{mode: {category: [facility id, ...]}}``) and in :attr:`BuildReport.off_network`.

Staleness
---------
The cache directory is named after ``host:port/dbname`` (:func:`database_key`); what it holds is
only trusted when its manifest matches on three counts:

* ``stamps["database"]``: the identity of the database (the cluster's ``system_identifier``
  and the database's oid in ``pg_database``, which changes on ``DROP``/``CREATE`` of a
  same-named database and differs between clusters on the same port);
* ``stamps["roads"]`` / ``stamps["facilities"]``: fingerprints of the rows it was built from,
  geometry included (:func:`database_stamps`);
* ``model``: a hash of the cost model (:func:`cost_model_hash`: :data:`PROFILES`, so speeds and
  condition factors, :data:`MIN_COST_S`, :data:`SNAP_LIMIT_M`, :data:`CACHE_FORMAT`). A cache
  built with another model counts as absent (:func:`read_manifest` returns None). Changing
  the *code* of the cost model (e.g. :func:`parse_maxspeed_kph`) must bump
  :data:`CACHE_FORMAT`.

``sigap ingest osm`` rebuilds after loading; anything else that changes roads or facilities
calls :func:`build_network` (roads) or :func:`refresh_facilities` (facilities only).
:func:`network_status` compares the manifest with the database, and :func:`rebuild_if_stale`
rebuilds what differs. Query processes (:mod:`gis.routing`) check this on first use and then
in a background thread at most every ``DB_CHECK_S`` seconds, never on the request path, so a
cache made stale behind their back (another cache directory, a failed rebuild, a recreated
database) is replaced within that interval.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree
from tqdm import tqdm

from gis.errors import InvalidInputError, NotFoundError
from layers.vocab import FACILITY_CATEGORIES, ROAD_CONDITIONS

logger = logging.getLogger(__name__)

MODES: tuple[str, ...] = ("walk", "motorcycle", "car")
#: Cache format; bump when the array layout changes so old caches are rebuilt.
CACHE_FORMAT = 4
#: No edge is cheaper than this, so zero-length segments stay real edges.
MIN_COST_S = 0.001
EARTH_RADIUS_M = 6_371_008.8
#: Origins and facilities further than this from every road the mode may use are off the
#: network (metres): an origin is refused, a facility is left out of that mode's tables.
SNAP_LIMIT_M = 1000.0


@dataclass(frozen=True)
class ModeProfile:
    """How one travel mode uses the network.

    Parameters
    ----------
    name : str
        ``walk``, ``motorcycle`` or ``car``.
    speeds_kph : dict
        Default speed (km/h) per allowed ``highway`` class; classes absent are not allowed.
    max_speed_kph : float
        Cap on any speed, including a tagged ``maxspeed``.
    use_maxspeed : bool
        Whether a tagged ``maxspeed`` replaces the class default.
    oneway : bool
        Whether ``oneway`` segments may only be travelled ``u`` -> ``v``.
    condition_factors : dict
        Speed multiplier per road condition class; None removes the edge.
    """

    name: str
    speeds_kph: dict[str, float]
    max_speed_kph: float
    use_maxspeed: bool
    oneway: bool
    condition_factors: dict[str, float | None]


_ROAD_SPEEDS_CAR = {
    "motorway": 80.0,
    "motorway_link": 50.0,
    "trunk": 60.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 35.0,
    "secondary": 40.0,
    "secondary_link": 30.0,
    "tertiary": 35.0,
    "tertiary_link": 25.0,
    "unclassified": 25.0,
    "road": 20.0,
    "residential": 20.0,
    "living_street": 10.0,
    "service": 15.0,
    "track": 10.0,
}
_ROAD_SPEEDS_MOTORCYCLE = {
    "trunk": 55.0,
    "trunk_link": 40.0,
    "primary": 45.0,
    "primary_link": 35.0,
    "secondary": 40.0,
    "secondary_link": 30.0,
    "tertiary": 35.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "road": 25.0,
    "residential": 25.0,
    "living_street": 15.0,
    "service": 20.0,
    "track": 15.0,
    "path": 10.0,  # gang / jalan setapak: motorcycles ride them, cars cannot
}
_WALK_CLASSES = (
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "road",
    "residential",
    "living_street",
    "service",
    "track",
    "path",
    "footway",
    "pedestrian",
    "cycleway",
    "bridleway",
    "crossing",
    "sidewalk",
)
_WALK_SPEEDS = {c: 5.0 for c in _WALK_CLASSES} | {"steps": 2.5}

PROFILES: dict[str, ModeProfile] = {
    "walk": ModeProfile(
        "walk",
        _WALK_SPEEDS,
        max_speed_kph=5.0,
        use_maxspeed=False,
        oneway=False,
        condition_factors={
            "baik": 1.0,
            "sedang": 1.0,
            "rusak_ringan": 0.9,
            "rusak_berat": 0.7,
            "tidak_dapat_dilalui": None,
            "unknown": 1.0,
        },
    ),
    "motorcycle": ModeProfile(
        "motorcycle",
        _ROAD_SPEEDS_MOTORCYCLE,
        max_speed_kph=80.0,
        use_maxspeed=True,
        oneway=True,
        condition_factors={
            "baik": 1.0,
            "sedang": 0.85,
            "rusak_ringan": 0.65,
            "rusak_berat": 0.35,
            "tidak_dapat_dilalui": None,
            "unknown": 1.0,
        },
    ),
    "car": ModeProfile(
        "car",
        _ROAD_SPEEDS_CAR,
        max_speed_kph=100.0,
        use_maxspeed=True,
        oneway=True,
        condition_factors={
            "baik": 1.0,
            "sedang": 0.8,
            "rusak_ringan": 0.6,
            "rusak_berat": 0.3,
            "tidak_dapat_dilalui": None,
            "unknown": 1.0,
        },
    ),
}
#: Condition factor per mode and class, for the docs and the tests.
CONDITION_FACTORS: dict[str, dict[str, float | None]] = {
    m: p.condition_factors for m, p in PROFILES.items()
}
assert all(set(f) == set(ROAD_CONDITIONS) for f in CONDITION_FACTORS.values())


def cost_model_hash() -> str:
    """A short hash of everything the cached costs and tables depend on besides the data:
    :data:`PROFILES`, :data:`MIN_COST_S`, :data:`SNAP_LIMIT_M` and :data:`CACHE_FORMAT`."""
    model = {
        "format": CACHE_FORMAT,
        "min_cost_s": MIN_COST_S,
        "snap_limit_m": SNAP_LIMIT_M,
        "profiles": {m: dataclasses.asdict(p) for m, p in sorted(PROFILES.items())},
    }
    return hashlib.sha256(json.dumps(model, sort_keys=True).encode()).hexdigest()[:16]


_MAXSPEED_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$")


def parse_maxspeed_kph(raw: str | None) -> float | None:
    """A raw OSM ``maxspeed`` in km/h, or None when it does not give a number.

    ``"50"`` -> 50, ``"30 mph"`` -> 48.28, ``"50;30"`` -> 30 (the lowest), ``"walk"`` -> 6,
    ``"RU:urban"``, ``"signals"``, ``"none"`` -> None (use the class default).
    """
    if not raw:
        return None
    values = []
    for part in raw.split(";"):
        part = part.strip().lower()
        if part == "walk":
            values.append(6.0)
            continue
        m = _MAXSPEED_NUMBER.match(part)
        if m:
            value = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
            if value > 0:
                values.append(value)
    return min(values) if values else None


def edge_costs(
    mode: str,
    highway: Sequence[str],
    maxspeed: Sequence[str | None],
    length_m: np.ndarray,
    condition: Sequence[str],
) -> np.ndarray:
    """Travel time in seconds of each segment for ``mode``; NaN where the mode may not pass.

    Parameters
    ----------
    mode : str
        One of :data:`MODES`.
    highway, maxspeed, condition : sequences of str
        Per segment: OSM ``highway`` class, raw ``maxspeed`` tag (or None), condition class.
    length_m : ndarray of float
        Per segment length in metres.
    """
    profile = PROFILES[mode]
    n = len(length_m)
    speed_kph = np.full(n, np.nan)
    factor = np.full(n, np.nan)
    speed_cache: dict[tuple[str, str | None], float] = {}
    for i in range(n):
        key = (highway[i], maxspeed[i] if profile.use_maxspeed else None)
        s = speed_cache.get(key)
        if s is None:
            default = profile.speeds_kph.get(key[0])
            if default is None:
                s = math.nan
            else:
                tagged = parse_maxspeed_kph(key[1]) if profile.use_maxspeed else None
                s = min(tagged or default, profile.max_speed_kph)
            speed_cache[key] = s
        speed_kph[i] = s
        f = profile.condition_factors.get(condition[i], 1.0)
        factor[i] = np.nan if f is None else f
    cost_s = np.asarray(length_m, dtype=float) / (speed_kph / 3.6) / factor
    return np.where(np.isnan(cost_s), np.nan, np.maximum(cost_s, MIN_COST_S))


# --- reading the database -------------------------------------------------------------------


@dataclass
class Segments:
    """Every ``road_segment`` row as arrays, ordered by ``id``."""

    id: np.ndarray  # int64
    u: np.ndarray  # int64 OSM node id
    v: np.ndarray
    highway: list[str]
    oneway: np.ndarray  # bool
    maxspeed: list[str | None]
    length_m: np.ndarray
    condition: list[str]
    geom_offsets: np.ndarray  # int64 [E + 1]
    geom_lonlat: np.ndarray  # float64 [M, 2]

    def __len__(self) -> int:
        return len(self.id)


@dataclass
class Facilities:
    """Facilities per category: JSON-ready metadata and coordinates."""

    by_category: dict[str, list[dict]] = field(default_factory=dict)


def _connect(url: str):
    import psycopg2

    from gis.db import libpq_url

    return psycopg2.connect(libpq_url(url))


@contextlib.contextmanager
def _transaction(url: str, *, repeatable: bool = False) -> Iterator:
    """A cursor inside one transaction (committed on success), on a connection of its own."""
    import psycopg2.extensions

    conn = _connect(url)
    try:
        if repeatable:
            conn.set_session(isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ)
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def read_segments(url: str) -> Segments:
    """Read the routing-relevant columns of every ``road_segment`` row."""
    with _transaction(url) as cur:
        return _read_segments(cur)


def _read_segments(cur) -> Segments:
    import shapely

    cur.execute(
        "SELECT id, u, v, highway, oneway, maxspeed, length_m, condition, "
        "ST_AsBinary(geom) FROM road_segment ORDER BY id"
    )
    rows = cur.fetchall()
    if not rows:
        return _empty_segments()
    cols = list(zip(*rows, strict=True))
    geoms = shapely.from_wkb([bytes(b) for b in cols[8]])
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    counts = np.bincount(index, minlength=len(rows))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Segments(
        id=np.asarray(cols[0], dtype=np.int64),
        u=np.asarray(cols[1], dtype=np.int64),
        v=np.asarray(cols[2], dtype=np.int64),
        highway=list(cols[3]),
        oneway=np.asarray(cols[4], dtype=bool),
        maxspeed=list(cols[5]),
        length_m=np.asarray(cols[6], dtype=float),
        condition=list(cols[7]),
        geom_offsets=offsets,
        geom_lonlat=np.ascontiguousarray(coords, dtype=float),
    )


def _empty_segments() -> Segments:
    return Segments(
        id=np.zeros(0, np.int64),
        u=np.zeros(0, np.int64),
        v=np.zeros(0, np.int64),
        highway=[],
        oneway=np.zeros(0, bool),
        maxspeed=[],
        length_m=np.zeros(0),
        condition=[],
        geom_offsets=np.zeros(1, np.int64),
        geom_lonlat=np.zeros((0, 2)),
    )


def read_facilities(url: str) -> Facilities:
    """Offices by category and waste bins by kind, with the fields the API returns."""
    with _transaction(url) as cur:
        return _read_facilities(cur)


def _read_facilities(cur) -> Facilities:
    out = Facilities({c: [] for c in FACILITY_CATEGORIES})
    cur.execute("SELECT id, name, category, kind, ST_Y(geom), ST_X(geom) FROM office ORDER BY id")
    for fid, name, category, kind, lat, lon in cur.fetchall():
        if category in out.by_category:
            out.by_category[category].append(
                _facility(fid, "office", name, category, kind, lat, lon)
            )
    cur.execute("SELECT id, name, kind, ST_Y(geom), ST_X(geom) FROM waste_bin ORDER BY id")
    for fid, name, kind, lat, lon in cur.fetchall():
        if kind in out.by_category:
            out.by_category[kind].append(_facility(fid, "waste_bin", name, kind, kind, lat, lon))
    return out


def _facility(fid, layer, name, category, kind, lat, lon) -> dict:
    return {
        "id": int(fid),
        "layer": layer,
        "name": name,
        "category": category,
        "kind": kind,
        "lat": float(lat),
        "lon": float(lon),
    }


_ROAD_STAMP_SQL = (
    "SELECT count(*), md5(coalesce(string_agg(concat_ws('|', id, u, v, highway, oneway, "
    "maxspeed, round(length_m::numeric, 3), condition, md5(ST_AsEWKB(geom))), ',' ORDER BY id), "
    "'')) FROM road_segment"
)
_IDENTITY_SQL = (
    "SELECT (SELECT system_identifier FROM pg_control_system()), oid FROM pg_database "
    "WHERE datname = current_database()"
)
_FACILITY_STAMP_SQL = (
    "SELECT md5(coalesce((SELECT string_agg(concat_ws('|', id, category, name, kind, "
    "ST_AsEWKB(geom)), ',' ORDER BY id) FROM office), '') || '/' || "
    "coalesce((SELECT string_agg(concat_ws('|', id, kind, name, ST_AsEWKB(geom)), ',' "
    "ORDER BY id) FROM waste_bin), ''))"
)


def database_stamps(url: str) -> dict[str, str]:
    """Fingerprints of the database and the rows the network is built from:
    ``{"database": ..., "roads": ..., "facilities": ...}``.

    ``database`` is ``<cluster system_identifier>/<database oid>``: it changes when a database
    of the same name is dropped and created again, or another cluster answers on that port.
    One full scan of each table; used by builds, status checks and the routers' background
    check, never by a query.
    """
    with _transaction(url, repeatable=True) as cur:
        return _database_stamps(cur)


def _database_stamps(cur) -> dict[str, str]:
    cur.execute(_IDENTITY_SQL)
    system_id, oid = cur.fetchone()
    cur.execute(_ROAD_STAMP_SQL)
    count, road_md5 = cur.fetchone()
    cur.execute(_FACILITY_STAMP_SQL)
    (fac_md5,) = cur.fetchone()
    return {
        "database": f"{system_id}/{oid}",
        "roads": f"{count}:{road_md5}",
        "facilities": str(fac_md5),
    }


def _roads_changed(manifest: dict | None, stamps: dict[str, str]) -> bool:
    """Whether the roads (or the database itself) differ from those ``manifest`` was built on."""
    old = (manifest or {}).get("stamps", {})
    return old.get("database") != stamps["database"] or old.get("roads") != stamps["roads"]


def write_costs(url: str, ids: np.ndarray, costs: dict[str, np.ndarray]) -> int:
    """Write per-mode travel times to ``road_segment.cost_<mode>_s`` (NULL where NaN).

    Only rows whose values change are updated; ``updated_at`` is left alone (it records
    changes of the data, not of derived costs). Returns the number of rows updated.
    """
    with _transaction(url) as cur:
        return _write_costs(cur, ids, costs)


def _write_costs(cur, ids: np.ndarray, costs: dict[str, np.ndarray]) -> int:
    import io

    from psycopg2 import sql

    if not costs or len(ids) == 0:
        return 0
    modes = [m for m in MODES if m in costs]
    buf = io.StringIO()
    columns = [ids.astype(np.int64)] + [costs[m] for m in modes]
    for row in zip(*columns, strict=True):
        buf.write(str(int(row[0])))
        for value in row[1:]:
            buf.write("\t\\N" if np.isnan(value) else f"\t{float(value)!r}")
        buf.write("\n")
    buf.seek(0)
    cur.execute(
        sql.SQL("CREATE TEMP TABLE stage_cost (id bigint, {}) ON COMMIT DROP").format(
            sql.SQL(", ").join(
                sql.SQL("{} double precision").format(sql.Identifier(m)) for m in modes
            )
        )
    )
    cur.copy_expert("COPY stage_cost FROM STDIN", buf)
    targets = [sql.Identifier(f"cost_{m}_s") for m in modes]
    sources = [sql.SQL("s.{}").format(sql.Identifier(m)) for m in modes]
    cur.execute(
        sql.SQL(
            "UPDATE road_segment r SET {sets} FROM stage_cost s WHERE r.id = s.id "
            "AND ({cur}) IS DISTINCT FROM ({new})"
        ).format(
            sets=sql.SQL(", ").join(
                sql.SQL("{} = {}").format(t, s) for t, s in zip(targets, sources, strict=True)
            ),
            cur=sql.SQL(", ").join(sql.SQL("r.{}").format(t) for t in targets),
            new=sql.SQL(", ").join(sources),
        )
    )
    return int(cur.rowcount)


# --- arrays ---------------------------------------------------------------------------------


class LocalProjection:
    """Equirectangular projection around ``(lat0, lon0)``: metres, accurate at city scale.

    Distortion grows with distance from ``lat0`` (about 0.3 % at 100 km north or south);
    distances that are reported to users are computed on the sphere instead.
    """

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0 = float(lat0)
        self.lon0 = float(lon0)
        self.kx = EARTH_RADIUS_M * math.cos(math.radians(self.lat0)) * math.pi / 180.0
        self.ky = EARTH_RADIUS_M * math.pi / 180.0

    def forward(self, lon, lat):
        return (np.asarray(lon) - self.lon0) * self.kx, (np.asarray(lat) - self.lat0) * self.ky

    def inverse(self, x, y):
        return np.asarray(x) / self.kx + self.lon0, np.asarray(y) / self.ky + self.lat0

    def forward_xy(self, lonlat: np.ndarray) -> np.ndarray:
        out = np.empty(lonlat.shape, dtype=float)
        out[:, 0] = (lonlat[:, 0] - self.lon0) * self.kx
        out[:, 1] = (lonlat[:, 1] - self.lat0) * self.ky
        return out


def haversine_m(lon1, lat1, lon2, lat2):
    """Great-circle distance in metres (vectorised; plain floats take a faster scalar path)."""
    if all(type(v) is float for v in (lon1, lat1, lon2, lat2)):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        h = (
            math.sin((p2 - p1) / 2) ** 2
            + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
        )
        return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(h, 1.0)))
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def mode_csr(
    n_nodes: int, edge_u: np.ndarray, edge_v: np.ndarray, cost_s: np.ndarray, oneway: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Forward adjacency of one mode as CSR arrays.

    Each passable segment gives ``u -> v``, and ``v -> u`` unless ``oneway`` is true for it.
    Parallel edges keep the cheapest; self-loops are dropped (never on a shortest path).

    Returns
    -------
    indptr : int32 or int64 [n_nodes + 1]
    indices : int32, head node of each entry, sorted within each row
    weight : float64, travel time in seconds
    edge : int32, segment index ``e`` when travelled ``u -> v``, ``~e`` when ``v -> u``
    """
    ok = ~np.isnan(cost_s) & (edge_u != edge_v)
    e = np.flatnonzero(ok)
    two = e[~oneway[e]]
    rows = np.concatenate([edge_u[e], edge_v[two]])
    cols = np.concatenate([edge_v[e], edge_u[two]])
    weight = np.concatenate([cost_s[e], cost_s[two]])
    code = np.concatenate([e, ~two]).astype(np.int32)
    order = np.lexsort((weight, cols, rows))
    rows, cols, weight, code = rows[order], cols[order], weight[order], code[order]
    keep = np.ones(len(rows), dtype=bool)
    keep[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    rows, cols, weight, code = rows[keep], cols[keep], weight[keep], code[keep]
    counts = np.bincount(rows, minlength=n_nodes)
    itype = np.int32 if len(rows) < 2**31 else np.int64
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(itype)
    return indptr, cols.astype(np.int32), weight.astype(np.float64), code


def csr_graph(indptr: np.ndarray, indices: np.ndarray, weight: np.ndarray) -> csr_array:
    """A scipy CSR graph over the given arrays, without copying them."""
    n = len(indptr) - 1
    return csr_array((weight, indices, indptr), shape=(n, n), copy=False)


def largest_component(graph: csr_array) -> np.ndarray:
    """Boolean mask of the nodes of the largest strongly connected component with an edge."""
    n = graph.shape[0]
    if graph.nnz == 0:
        return np.zeros(n, dtype=bool)
    _, labels = connected_components(graph, directed=True, connection="strong")
    has_edge = (np.diff(graph.indptr) > 0) | (np.bincount(graph.indices, minlength=n) > 0)
    sizes = np.bincount(labels[has_edge])
    return (labels == int(np.argmax(sizes))) & has_edge


def nearest_table(
    reverse_graph: csr_array, fac_node: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which facility is nearest from every node, by travel time.

    One multi-source Dijkstra from the facilities' nodes over the reversed graph.

    Parameters
    ----------
    reverse_graph : csr_array
        The transposed forward graph of a mode (an entry ``v -> u`` for each edge ``u -> v``).
    fac_node : ndarray of int
        Node index of each facility (-1: not on the network).

    Returns
    -------
    dist_s : float64 [N], travel time to the nearest facility (inf: none reachable)
    next_node : int32 [N], the next node on the way there (-9999 at a facility or unreachable)
    facility : int32 [N], index into ``fac_node`` of that facility (-1 unreachable)
    """
    n = reverse_graph.shape[0]
    valid = fac_node >= 0
    if not valid.any():
        return np.full(n, np.inf), np.full(n, -9999, np.int32), np.full(n, -1, np.int32)
    sources = np.unique(fac_node[valid])
    dist, pred, src = dijkstra(
        reverse_graph, directed=True, indices=sources, min_only=True, return_predecessors=True
    )
    first_fac = np.full(n, -1, np.int32)
    idx = np.flatnonzero(valid)[::-1]  # the first facility at a node wins
    first_fac[fac_node[idx]] = idx
    facility = np.where(src >= 0, first_fac[np.maximum(src, 0)], -1).astype(np.int32)
    return dist, pred.astype(np.int32), facility


#: ``code`` of a node with no next hop (a facility's node, or no facility reachable).
NO_HOP = np.iinfo(np.int32).min


def next_hop_codes(
    indptr: np.ndarray, indices: np.ndarray, edge: np.ndarray, next_node: np.ndarray
) -> np.ndarray:
    """Segment code (as in :func:`mode_csr`) of each node's next hop; :data:`NO_HOP` if none.

    One vectorised pass over the forward adjacency: the entry ``n -> next_node[n]`` is unique
    because parallel edges were merged.
    """
    n = len(indptr) - 1
    row = np.repeat(np.arange(n, dtype=np.int32), np.diff(indptr))
    hit = indices == next_node[row]
    code = np.full(n, NO_HOP, np.int32)
    code[row[hit]] = edge[hit]
    return code


@dataclass
class NodeIndex:
    """A KD-tree over the nodes of a mode's largest strongly connected component."""

    tree: cKDTree | None
    nodes: np.ndarray

    @classmethod
    def build(cls, node_xy: np.ndarray, main: np.ndarray) -> NodeIndex:
        nodes = np.flatnonzero(main)
        return cls(cKDTree(node_xy[nodes]) if len(nodes) else None, nodes)


def category_tables(
    mode: str,
    arrays: dict[str, np.ndarray],
    reverse: csr_array,
    index: NodeIndex,
    fac_xy: np.ndarray,
) -> dict[str, np.ndarray]:
    """The nearest-facility arrays of one mode and category (file name suffix -> array).

    ``fac_node``: each facility's node, -1 when it is further than :data:`SNAP_LIMIT_M` from
    every node of the mode's main component (off the network: no route ends there);
    ``dist``: seconds from every node to its nearest facility (float32); ``code``: the segment
    of each node's next hop towards it; ``fac``: which facility (index into the category's
    list).
    """
    fac_node = np.full(len(fac_xy), -1, np.int32)
    if index.tree is not None and len(fac_xy):
        _, pos = index.tree.query(fac_xy, distance_upper_bound=SNAP_LIMIT_M)
        near = pos < len(index.nodes)  # cKDTree: pos == n where nothing is within the bound
        fac_node[near] = index.nodes[pos[near]]
    dist, nxt, fac = nearest_table(reverse, fac_node)
    code = next_hop_codes(
        arrays[f"{mode}.indptr"], arrays[f"{mode}.indices"], arrays[f"{mode}.edge"], nxt
    )
    return {"fac_node": fac_node, "dist": dist.astype(np.float32), "code": code, "fac": fac}


@dataclass
class NetworkArrays:
    """Everything the cache holds: arrays by file name, and JSON metadata."""

    arrays: dict[str, np.ndarray]
    meta: dict


def build_arrays(
    seg: Segments,
    costs: dict[str, np.ndarray],
    facilities: Facilities,
    *,
    progress: bool | None = None,
) -> NetworkArrays:
    """Turn segments, per-mode costs and facilities into the cache arrays.

    Parameters
    ----------
    seg : Segments
        The road network (graph edges with geometry).
    costs : dict
        ``mode -> cost_s`` per segment (NaN: impassable for that mode).
    facilities : Facilities
        Facilities per category; each is snapped to the nearest node of a mode's largest
        strongly connected component.
    """
    nodes, inverse = np.unique(np.concatenate([seg.u, seg.v]), return_inverse=True)
    n_nodes, n_edges = len(nodes), len(seg)
    edge_u = inverse[:n_edges].astype(np.int32)
    edge_v = inverse[n_edges:].astype(np.int32)
    node_lonlat = np.zeros((n_nodes, 2))
    if n_edges:
        node_lonlat[edge_u] = seg.geom_lonlat[seg.geom_offsets[:-1]]
        node_lonlat[edge_v] = seg.geom_lonlat[seg.geom_offsets[1:] - 1]
    lat0 = float(np.median(node_lonlat[:, 1])) if n_nodes else 0.0
    lon0 = float(np.median(node_lonlat[:, 0])) if n_nodes else 0.0
    proj = LocalProjection(lat0, lon0)
    node_xy = proj.forward_xy(node_lonlat)
    arrays: dict[str, np.ndarray] = {
        "node_osm_id": nodes.astype(np.int64),
        "node_lonlat": node_lonlat,
        "edge_id": seg.id.astype(np.int64),
        "edge_u": edge_u,
        "edge_v": edge_v,
        "edge_length_m": seg.length_m.astype(float),
        "edge_oneway": seg.oneway.astype(bool),
        "geom_offsets": seg.geom_offsets.astype(np.int64),
        "geom_lonlat": seg.geom_lonlat,
    }
    arrays["geom_xy"], arrays["geom_cum_m"] = projected_geometry(
        proj, seg.geom_lonlat, seg.geom_offsets
    )
    cats: dict[str, list[dict]] = {c: f for c, f in facilities.by_category.items() if f}
    meta: dict = {"lat0": lat0, "lon0": lon0, "n_nodes": n_nodes, "n_edges": n_edges}
    meta["modes"] = {}
    steps = [(m, c) for m in costs for c in cats]
    bar = tqdm(total=len(steps), desc="Nearest-facility tables", disable=_disable(progress))
    with bar:
        for mode, cost in costs.items():
            oneway = seg.oneway if PROFILES[mode].oneway else np.zeros(n_edges, bool)
            indptr, indices, weight, code = mode_csr(n_nodes, edge_u, edge_v, cost, oneway)
            arrays[f"edge_cost_{mode}"] = cost.astype(float)
            arrays[f"{mode}.indptr"] = indptr
            arrays[f"{mode}.indices"] = indices
            arrays[f"{mode}.weight"] = weight
            arrays[f"{mode}.edge"] = code
            graph = csr_graph(indptr, indices, weight)
            main = largest_component(graph)
            reverse = graph.T.tocsr()
            index = NodeIndex.build(node_xy, main)
            meta["modes"][mode] = {"entries": int(len(indices)), "main_nodes": int(main.sum())}
            for cat, facs in cats.items():
                fac_xy = proj.forward_xy(_facility_lonlat(facs))
                tables = category_tables(mode, arrays, reverse, index, fac_xy)
                arrays.update({f"{mode}.{cat}.{k}": v for k, v in tables.items()})
                _note_off_network(meta, mode, cat, facs, tables["fac_node"])
                bar.update(1)
    meta["facilities"] = cats
    return NetworkArrays(arrays, meta)


def _note_off_network(meta: dict, mode: str, cat: str, facs: list[dict], fac_node) -> None:
    """Record (and log) the facilities of ``cat`` that are off ``mode``'s network."""
    off = [int(facs[i]["id"]) for i in np.flatnonzero(np.asarray(fac_node) < 0)]
    if off:
        meta.setdefault("off_network", {}).setdefault(mode, {})[cat] = off
        logger.warning(
            "%d %s facilities are more than %g m from the %s network and are left out: ids %s",
            len(off),
            cat,
            SNAP_LIMIT_M,
            mode,
            off[:10],
        )


def _facility_lonlat(facs: list[dict]) -> np.ndarray:
    return np.array([[f["lon"], f["lat"]] for f in facs], dtype=float).reshape(-1, 2)


def _disable(progress: bool | None) -> bool | None:
    return None if progress is None else not progress


# --- the cache on disk ----------------------------------------------------------------------


def database_key(url: str) -> str:
    """A short, stable name for a database: a hash of ``host:port/dbname`` (no credentials)."""
    from sqlalchemy.engine import make_url

    from gis.db import libpq_url

    u = make_url(libpq_url(url))
    ident = f"{u.host or 'localhost'}:{u.port or 5432}/{u.database or ''}"
    digest = hashlib.sha256(ident.encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", u.database or "db")[:40]
    return f"{safe}-{digest}"


def cache_root(url: str, cache_dir: Path | None = None) -> Path:
    """The network cache directory of the database at ``url``."""
    from gis.settings import get_settings

    base = cache_dir or get_settings().cache_dir
    return Path(base) / "network" / database_key(url)


MANIFEST = "current.json"


@contextlib.contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_cache(root: Path, net: NetworkArrays, extra_meta: dict | None = None) -> dict:
    """Write a new version under ``root`` and point the manifest at it (atomically).

    Old versions are deleted; processes that still map them keep working (POSIX semantics).
    """
    root.mkdir(parents=True, exist_ok=True)
    version = f"v{time.time_ns()}"
    tmp = root / f".{version}.tmp"
    tmp.mkdir()
    for name, arr in net.arrays.items():
        np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)
    with open(tmp / "facilities.json", "w") as fh:
        json.dump(net.meta.get("facilities", {}), fh)
    tmp.rename(root / version)
    manifest = {k: v for k, v in net.meta.items() if k != "facilities"}
    manifest.update(extra_meta or {})
    manifest.update(
        {
            "format": CACHE_FORMAT,
            "model": cost_model_hash(),
            "version": version,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "categories": sorted(net.meta.get("facilities", {})),
        }
    )
    tmp_manifest = root / f".{MANIFEST}.{os.getpid()}"
    tmp_manifest.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp_manifest, root / MANIFEST)
    # Keep the previous version too: a process that read the old manifest a moment ago may
    # still be opening its files. Older ones go.
    versions = sorted(
        (p for p in root.iterdir() if p.is_dir() and p.name.startswith("v")),
        key=lambda p: int(p.name[1:]),
    )
    for old in versions[:-2]:
        shutil.rmtree(old, ignore_errors=True)
    return manifest


def _read_manifest_file(root: Path) -> dict | None:
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def read_manifest(root: Path) -> dict | None:
    """The manifest of the cache at ``root``, or None if there is none or it is outdated:
    another :data:`CACHE_FORMAT`, another cost model (:func:`cost_model_hash`), or its
    version directory is gone. Whether it matches the *database* is :func:`network_status`'s
    question (that needs a query)."""
    manifest = _read_manifest_file(root)
    if (
        manifest is None
        or manifest.get("format") != CACHE_FORMAT
        or manifest.get("model") != cost_model_hash()
        or not (root / str(manifest.get("version"))).is_dir()
    ):
        return None
    return manifest


@dataclass
class Network:
    """A loaded (memory-mapped) network cache."""

    root: Path
    manifest: dict
    arrays: dict[str, np.ndarray]
    facilities: dict[str, list[dict]]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def modes(self) -> list[str]:
        return list(self.manifest.get("modes", {}))

    @property
    def n_nodes(self) -> int:
        return int(self.manifest["n_nodes"])

    def projection(self) -> LocalProjection:
        return LocalProjection(self.manifest["lat0"], self.manifest["lon0"])

    def geometry_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Projected segment vertices (metres) and each vertex's distance along its segment
        from the segment's start (metres), as stored in the cache (shared, memory-mapped)."""
        return self.arrays["geom_xy"], self.arrays["geom_cum_m"]


def projected_geometry(
    proj: LocalProjection, lonlat: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Segment vertices in ``proj`` (metres) and their distance along their segment (metres)."""
    xy = proj.forward_xy(lonlat)
    step = np.zeros(len(xy))
    if len(xy) > 1:
        step[1:] = np.hypot(*np.diff(xy, axis=0).T)
    starts = offsets[:-1]
    counts = np.diff(offsets)
    step[starts[counts > 0]] = 0.0
    cum = np.cumsum(step)
    cum -= np.repeat(cum[starts[counts > 0]], counts[counts > 0])
    return xy, cum


def load_network(root: Path, *, writable_weights: bool = True) -> Network:
    """Memory-map the current version of the cache at ``root``.

    Arrays are read-only maps shared by every process, except the per-mode ``weight`` arrays,
    which are copy-on-write (``writable_weights``) so a query can adjust one entry privately.

    Raises
    ------
    NotFoundError
        No network has been built here.
    """
    for attempt in range(3):
        manifest = read_manifest(root)
        if manifest is None:
            msg = "No routing network has been built for this database; run 'sigap network build'."
            raise NotFoundError(msg)
        try:
            return _load_version(root, manifest, writable_weights)
        except FileNotFoundError:  # replaced by a concurrent build while we read it
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _load_version(root: Path, manifest: dict, writable_weights: bool) -> Network:
    vdir = root / manifest["version"]
    arrays: dict[str, np.ndarray] = {}
    for path in vdir.glob("*.npy"):
        name = path.name[:-4]
        writable = writable_weights and name.endswith(".weight")
        arr = np.load(path, mmap_mode="c" if writable else "r", allow_pickle=False)
        arrays[name] = arr.view(np.ndarray) if isinstance(arr, np.memmap) else arr
    facilities = json.loads((vdir / "facilities.json").read_text())
    return Network(root, manifest, arrays, facilities)


# --- build ----------------------------------------------------------------------------------


@dataclass
class BuildReport:
    """What a build did."""

    root: Path
    version: str
    modes: list[str]
    segments: int
    nodes: int
    updated_rows: int
    categories: dict[str, int]
    seconds: float
    #: ``{mode: {category: [facility id, ...]}}`` of facilities beyond :data:`SNAP_LIMIT_M`
    off_network: dict[str, dict[str, list[int]]] = field(default_factory=dict)


def parse_modes(mode: str | Iterable[str] | None) -> list[str]:
    """``"all"``/None -> every mode; else validate the given mode(s)."""
    if mode is None or mode == "all":
        return list(MODES)
    modes = [mode] if isinstance(mode, str) else list(mode)
    for m in modes:
        if m not in MODES:
            msg = f"Unknown mode '{m}'; choose one of {', '.join(MODES)}."
            raise InvalidInputError(msg, param="mode")
    return modes


def build_network(
    url: str,
    *,
    modes: str | Iterable[str] | None = None,
    cache_dir: Path | None = None,
    progress: bool | None = None,
) -> BuildReport:
    """Build the routing network of the database at ``url``.

    Computes travel times, writes them back to ``road_segment``, precomputes the
    nearest-facility tables and writes a new cache version.

    Parameters
    ----------
    url : str
        Database URL.
    modes : str or iterable of str, optional
        ``"all"`` (default) or some of :data:`MODES`. Modes not named keep their cached arrays
        when the roads have not changed since they were built, and are dropped otherwise (a
        later query rebuilds them).
    cache_dir : Path, optional
        Cache base directory (default: the settings' ``cache_dir``).
    progress : bool, optional
        Show progress bars; default only on a terminal.
    """
    t0 = time.perf_counter()
    wanted = parse_modes(modes)
    root = cache_root(url, cache_dir)
    with _build_lock(root):
        previous = read_manifest(root)
        # One snapshot for the stamps, roads and facilities; road edits wait until the costs
        # derived from them are written (SHARE ROW EXCLUSIVE: readers pass, writers and other
        # builds wait). The lock comes before the first query, so the snapshot follows it.
        with _transaction(url, repeatable=True) as cur:
            cur.execute("LOCK TABLE road_segment IN SHARE ROW EXCLUSIVE MODE")
            stamps = _database_stamps(cur)
            seg = _read_segments(cur)
            facilities = _read_facilities(cur)
            if previous and not _roads_changed(previous, stamps):
                keep = [m for m in previous.get("modes", {}) if m not in wanted]
            else:
                keep = []
            build_modes = [m for m in MODES if m in wanted or m in keep]
            costs = {
                m: edge_costs(m, seg.highway, seg.maxspeed, seg.length_m, seg.condition)
                for m in build_modes
            }
            updated = _write_costs(cur, seg.id, {m: costs[m] for m in wanted})
        net = build_arrays(seg, costs, facilities, progress=progress)
        manifest = write_cache(root, net, {"stamps": stamps})
    report = BuildReport(
        root=root,
        version=manifest["version"],
        modes=build_modes,
        segments=len(seg),
        nodes=int(manifest["n_nodes"]),
        updated_rows=updated,
        categories={c: len(f) for c, f in net.meta["facilities"].items()},
        seconds=time.perf_counter() - t0,
        off_network=manifest.get("off_network", {}),
    )
    logger.info("built network %s in %.2f s", report.version, report.seconds)
    return report


def refresh_facilities(
    url: str, *, cache_dir: Path | None = None, progress: bool | None = None
) -> BuildReport:
    """Recompute only the nearest-facility tables (facilities changed, roads did not).

    Falls back to a full :func:`build_network` when there is no cache yet or the roads changed.
    """
    t0 = time.perf_counter()
    root = cache_root(url, cache_dir)
    previous = read_manifest(root)
    stamps = database_stamps(url)
    if previous is None or _roads_changed(previous, stamps):
        return build_network(url, cache_dir=cache_dir, progress=progress)
    with _build_lock(root):
        old = load_network(root, writable_weights=False)
        with _transaction(url, repeatable=True) as cur:
            stamps = _database_stamps(cur)
            facilities = _read_facilities(cur)
        moved = _roads_changed(old.manifest, stamps)  # changed while we waited for the lock?
        if not moved:
            cats = {c: f for c, f in facilities.by_category.items() if f}
            manifest = _write_tables(root, old, cats, stamps)
    if moved:  # outside the lock: build_network takes it itself
        return build_network(url, cache_dir=cache_dir, progress=progress)
    return BuildReport(
        root=root,
        version=manifest["version"],
        modes=list(manifest["modes"]),
        segments=int(manifest["n_edges"]),
        nodes=int(manifest["n_nodes"]),
        updated_rows=0,
        categories={c: len(f) for c, f in cats.items()},
        seconds=time.perf_counter() - t0,
        off_network=manifest.get("off_network", {}),
    )


def _write_tables(root: Path, old: Network, cats: dict[str, list[dict]], stamps: dict) -> dict:
    """A new cache version: ``old``'s graph with nearest-facility tables for ``cats``."""
    arrays = {k: v for k, v in old.arrays.items() if k.count(".") < 2}
    proj = old.projection()
    node_xy = proj.forward_xy(np.asarray(old.arrays["node_lonlat"]))
    dropped = ("version", "built_at", "off_network")
    meta = {k: v for k, v in old.manifest.items() if k not in dropped}
    for mode in old.modes:
        graph = csr_graph(
            old.arrays[f"{mode}.indptr"],
            old.arrays[f"{mode}.indices"],
            np.asarray(old.arrays[f"{mode}.weight"]),
        )
        reverse = graph.T.tocsr()
        index = NodeIndex.build(node_xy, largest_component(graph))
        for cat, facs in cats.items():
            fac_xy = proj.forward_xy(_facility_lonlat(facs))
            tables = category_tables(mode, arrays, reverse, index, fac_xy)
            arrays.update({f"{mode}.{cat}.{k}": v for k, v in tables.items()})
            _note_off_network(meta, mode, cat, facs, tables["fac_node"])
    meta["facilities"] = cats
    meta["stamps"] = stamps
    return write_cache(root, NetworkArrays(arrays, meta))


def network_status(url: str, *, cache_dir: Path | None = None) -> dict:
    """Whether the cached network matches the database and the code.

    Returns ``{"built", "stale", "version", ...}``; ``model_changed`` (the cost model or cache
    format differ: a cache built by other code, which counts as not built),
    ``database_changed`` (another database of that name, see :func:`database_stamps`),
    ``roads_changed`` (roads or database) and ``facilities_changed``.
    """
    root = cache_root(url, cache_dir)
    manifest = read_manifest(root)
    if manifest is None:
        raw = _read_manifest_file(root)
        return {
            "built": False,
            "stale": True,
            "model_changed": raw is not None,
            "version": None,
            "path": str(root),
        }
    stamps = database_stamps(url)
    old = manifest.get("stamps", {})
    return {
        "built": True,
        "stale": old != stamps,
        "model_changed": False,
        "database_changed": old.get("database") != stamps["database"],
        "roads_changed": _roads_changed(manifest, stamps),
        "facilities_changed": old.get("facilities") != stamps["facilities"],
        "version": manifest["version"],
        "built_at": manifest.get("built_at"),
        "modes": list(manifest.get("modes", {})),
        "path": str(root),
    }


def rebuild_if_stale(
    url: str, *, cache_dir: Path | None = None, progress: bool | None = None
) -> BuildReport | None:
    """Rebuild what changed (roads: everything; facilities only: the tables); None if current."""
    status = network_status(url, cache_dir=cache_dir)
    if not status["stale"]:
        return None
    if status["built"] and not status["roads_changed"]:
        return refresh_facilities(url, cache_dir=cache_dir, progress=progress)
    return build_network(url, cache_dir=cache_dir, progress=progress)


def rebuild_if_built(
    url: str, *, cache_dir: Path | None = None, progress: bool | None = None
) -> BuildReport | None:
    """After an ingest: bring an existing cache up to date; do nothing when none was built
    (the first query, or ``sigap network build``, builds it)."""
    if read_manifest(cache_root(url, cache_dir)) is None:
        return None
    return rebuild_if_stale(url, cache_dir=cache_dir, progress=progress)


def drop_cache(url: str, *, cache_dir: Path | None = None) -> None:
    """Delete the network cache of the database at ``url`` (e.g. when the database is dropped)."""
    shutil.rmtree(cache_root(url, cache_dir), ignore_errors=True)
