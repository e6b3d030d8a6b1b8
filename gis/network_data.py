"""What the routing network is built from, read from PostGIS; and the costs written back.

* :func:`read_segments`: every ``road_segment`` row (``u``, ``v``, ``highway``, ``oneway``,
  ``maxspeed``, ``length_m``, ``condition``, geometry) as arrays.
* :func:`read_facilities`: the features of every facility layer of the registry
  (:func:`layers.registry.facility_layers`), grouped by category: each feature's category is
  its layer's ``class_field`` column, and the categories are
  :data:`layers.vocab.FACILITY_CATEGORIES`. A new facility layer needs no code here.
* :func:`database_stamps`: fingerprints of the database and of those rows, to tell whether a
  cache is stale.
* :func:`write_costs`: the per-mode travel times, back into ``road_segment.cost_<mode>_s``.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from psycopg2 import sql

from gis.costs import MODES
from layers.registry import LayerSpec, facility_layers
from layers.vocab import FACILITY_CATEGORIES


@dataclass
class Segments:
    """Every ``road_segment`` row as arrays, ordered by ``id``.

    Parameters
    ----------
    id, u, v : ndarray of int64
        Segment id and its end nodes (OSM node ids).
    highway, maxspeed, condition : list of str
        OSM ``highway`` class, raw ``maxspeed`` tag (or None) and condition class.
    oneway : ndarray of bool
        One-way (``u`` -> ``v``) segments.
    length_m : ndarray of float
        Lengths in metres.
    geom_offsets : ndarray of int64 [E + 1]
        Index in ``geom_lonlat`` of each segment's first vertex.
    geom_lonlat : ndarray of float64 [M, 2]
        Every segment's vertices, segment after segment.
    """

    id: np.ndarray
    u: np.ndarray
    v: np.ndarray
    highway: list[str]
    oneway: np.ndarray
    maxspeed: list[str | None]
    length_m: np.ndarray
    condition: list[str]
    geom_offsets: np.ndarray
    geom_lonlat: np.ndarray

    def __len__(self) -> int:
        """Give the number of segments."""
        return len(self.id)


@dataclass
class Facilities:
    """Facilities per category: JSON-ready metadata and coordinates.

    Parameters
    ----------
    by_category : dict of str to list of dict
        Per category, its facilities (``id``, ``layer``, ``name``, ``category``, ``kind``,
        ``lat``, ``lon``) in the order of their layer and id.
    """

    by_category: dict[str, list[dict]] = field(default_factory=dict)


@contextlib.contextmanager
def transaction(url: str, *, repeatable: bool = False) -> Iterator:
    """Open a cursor inside one transaction (committed on success), on its own connection.

    Parameters
    ----------
    url : str
        Database URL.
    repeatable : bool
        Run at ``REPEATABLE READ``: every statement sees one snapshot.

    Yields
    ------
    cursor
        A psycopg2 cursor.
    """
    import psycopg2
    import psycopg2.extensions

    from gis.db import libpq_url

    conn = psycopg2.connect(libpq_url(url))
    try:
        if repeatable:
            conn.set_session(isolation_level=psycopg2.extensions.ISOLATION_LEVEL_REPEATABLE_READ)
        with conn, conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def read_segments(cur) -> Segments:
    """Read the routing-relevant columns of every ``road_segment`` row.

    Parameters
    ----------
    cur : cursor
        A cursor (:func:`transaction`).

    Returns
    -------
    Segments
        The rows, ordered by ``id``.
    """
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


def _facility_columns(spec: LayerSpec) -> tuple[sql.Composable, sql.Composable, sql.Composable]:
    """Give the SQL of a facility layer's category, name and kind (NULL where it has none)."""
    if not spec.class_field:
        msg = f"facility layer {spec.name!r} has no class_field to take categories from"
        raise ValueError(msg)
    category = sql.Identifier(spec.class_field)
    fields = set(spec.field_names)
    name = sql.Identifier("name") if "name" in fields else sql.SQL("NULL::text")
    kind = sql.Identifier("kind") if "kind" in fields else category
    return category, name, kind


def read_facilities(cur) -> Facilities:
    """Read the features of every facility layer, by category.

    The layers are :func:`layers.registry.facility_layers`; a feature's category is its
    layer's ``class_field`` column, and features whose category is not one of
    :data:`layers.vocab.FACILITY_CATEGORIES` are left out.

    Parameters
    ----------
    cur : cursor
        A cursor (:func:`transaction`).

    Returns
    -------
    Facilities
        Every category (empty lists included), each with its facilities.
    """
    out = Facilities({c: [] for c in FACILITY_CATEGORIES})
    for spec in facility_layers():
        category, name, kind = _facility_columns(spec)
        cur.execute(
            sql.SQL(
                "SELECT id, {name}, {category}, {kind}, ST_Y(geom), ST_X(geom) FROM {table} "
                "ORDER BY id"
            ).format(name=name, category=category, kind=kind, table=sql.Identifier(spec.table))
        )
        for fid, fname, fcat, fkind, lat, lon in cur.fetchall():
            if fcat in out.by_category:
                out.by_category[fcat].append(
                    {
                        "id": int(fid),
                        "layer": spec.name,
                        "name": fname,
                        "category": fcat,
                        "kind": fkind,
                        "lat": float(lat),
                        "lon": float(lon),
                    }
                )
    return out


_ROAD_STAMP_SQL = (
    "SELECT count(*), md5(coalesce(string_agg(concat_ws('|', id, u, v, highway, oneway, "
    "maxspeed, round(length_m::numeric, 3), condition, md5(ST_AsEWKB(geom))), ',' ORDER BY id), "
    "'')) FROM road_segment"
)
_IDENTITY_SQL = (
    "SELECT (SELECT system_identifier FROM pg_control_system()), oid FROM pg_database "
    "WHERE datname = current_database()"
)


def _facility_stamp_sql() -> sql.Composed:
    parts = []
    for spec in facility_layers():
        category, name, kind = _facility_columns(spec)
        parts.append(
            sql.SQL(
                "coalesce((SELECT string_agg(concat_ws('|', id, {category}, {name}, {kind}, "
                "ST_AsEWKB(geom)), ',' ORDER BY id) FROM {table}), '')"
            ).format(category=category, name=name, kind=kind, table=sql.Identifier(spec.table))
        )
    joined = sql.SQL(" || '/' || ").join(parts) if parts else sql.SQL("''")
    return sql.SQL("SELECT md5({})").format(joined)


def database_stamps(cur) -> dict[str, str]:
    """Fingerprint the database and the rows the network is built from.

    ``database`` is ``<cluster system_identifier>/<database oid>``: it changes when a database
    of the same name is dropped and created again, or another cluster answers on that port.
    ``roads`` and ``facilities`` hash every row (geometry included) of ``road_segment`` and of
    the facility layers. One full scan of each table; used by builds, status checks and the
    routers' background check, never by a query.

    Parameters
    ----------
    cur : cursor
        A cursor, best at ``REPEATABLE READ`` (:func:`transaction`).

    Returns
    -------
    dict
        ``{"database": ..., "roads": ..., "facilities": ...}``.
    """
    cur.execute(_IDENTITY_SQL)
    system_id, oid = cur.fetchone()
    cur.execute(_ROAD_STAMP_SQL)
    count, road_md5 = cur.fetchone()
    cur.execute(_facility_stamp_sql())
    (fac_md5,) = cur.fetchone()
    return {
        "database": f"{system_id}/{oid}",
        "roads": f"{count}:{road_md5}",
        "facilities": str(fac_md5),
    }


def roads_changed(manifest: dict | None, stamps: dict[str, str]) -> bool:
    """Tell whether the roads (or the database) differ from those ``manifest`` was built on.

    Parameters
    ----------
    manifest : dict or None
        A cache's manifest.
    stamps : dict
        :func:`database_stamps` now.

    Returns
    -------
    bool
        True when the database identity or the road stamp differ.
    """
    old = (manifest or {}).get("stamps", {})
    return old.get("database") != stamps["database"] or old.get("roads") != stamps["roads"]


def write_costs(cur, ids: np.ndarray, costs: dict[str, np.ndarray]) -> int:
    """Write per-mode travel times to ``road_segment.cost_<mode>_s`` (NULL where NaN).

    Only rows whose values change are updated; ``updated_at`` is left alone (it records
    changes of the data, not of derived costs).

    Parameters
    ----------
    cur : cursor
        A cursor inside the build's transaction.
    ids : ndarray of int
        ``road_segment.id`` of each value.
    costs : dict of str to ndarray
        Per mode, the seconds of each segment (NaN: impassable).

    Returns
    -------
    int
        Number of rows updated.
    """
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
