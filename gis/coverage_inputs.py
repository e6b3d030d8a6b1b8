"""What coverage analysis reads from PostGIS besides the routing network's cache.

* :func:`read_edge_classes`: the ``highway`` class of every segment of the cache (candidate
  sites, residential roads);
* :func:`read_admin_areas` and :func:`admin_levels`: the ``admin_area`` layer (population may
  be NULL);
* :func:`read_capacities`: each facility's capacity for the accessibility score;
* :func:`planning_stamp`: a fingerprint of all that, for the result cache.

Capacity
--------
The capacity of a facility is read from its layer's table: a numeric column ``capacity`` if
the table has one, else the key ``capacity`` of a JSONB column ``attributes`` if the table has
one (file ingest keeps a file's extra columns there), else 1. A missing, non-numeric or
non-positive value is 1. :data:`CAPACITY_COLUMN` and :data:`ATTRIBUTES_COLUMN` are the hook.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np
from psycopg2 import sql

from gis.network_data import transaction
from layers.registry import facility_layers

logger = logging.getLogger(__name__)

#: A numeric column holding a facility's capacity, when its table has one.
CAPACITY_COLUMN = "capacity"
#: A JSONB column of extra attributes; its key :data:`CAPACITY_COLUMN` is used otherwise.
ATTRIBUTES_COLUMN = "attributes"
NUMERIC_TYPES = frozenset({"integer", "bigint", "smallint", "numeric", "real", "double precision"})


def read_edge_classes(url: str, edge_id: np.ndarray) -> np.ndarray:
    """Read the ``highway`` class of each segment, in the cache's segment order.

    Parameters
    ----------
    url : str
        Database URL.
    edge_id : ndarray of int64 [E]
        ``road_segment.id`` of each segment of the cache.

    Returns
    -------
    ndarray of object [E]
        The class of each segment (``""`` for a segment no longer in the table).
    """
    with transaction(url) as cur:
        cur.execute("SELECT id, highway FROM road_segment ORDER BY id")
        rows = cur.fetchall()
    out = np.full(len(edge_id), "", dtype=object)
    if not rows:
        return out
    ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    cls = np.array([r[1] for r in rows], dtype=object)
    ids_e = np.asarray(edge_id, dtype=np.int64)
    pos = np.clip(np.searchsorted(ids, ids_e), 0, len(ids) - 1)
    hit = ids[pos] == ids_e
    out[hit] = cls[pos[hit]]
    return out


def admin_levels(url: str) -> list[int | None]:
    """List the ``admin_level`` values present in ``admin_area``, most detailed last."""
    with transaction(url) as cur:
        cur.execute("SELECT DISTINCT admin_level FROM admin_area ORDER BY admin_level NULLS FIRST")
        return [r[0] for r in cur.fetchall()]


def read_admin_areas(url: str, admin_level: int | None) -> list[tuple]:
    """Read the administrative areas of one level (or every area when None).

    Parameters
    ----------
    url : str
        Database URL.
    admin_level : int or None
        The level; None reads every area.

    Returns
    -------
    list of tuple
        ``(id, name, code, admin_level, population, WKB geometry)`` ordered by id.
    """
    select = "SELECT id, name, code, admin_level, population, ST_AsBinary(geom) FROM admin_area"
    with transaction(url) as cur:
        if admin_level is None:
            cur.execute(select + " ORDER BY id")
        else:
            cur.execute(select + " WHERE admin_level = %s ORDER BY id", (admin_level,))
        return cur.fetchall()


def _columns(cur, table: str) -> dict[str, str]:
    cur.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    )
    return dict(cur.fetchall())


def capacity_sql(cur, table: str) -> sql.Composable:
    """Give the SQL expression of a facility's capacity in ``table`` (see the module doc)."""
    cols = _columns(cur, table)
    if cols.get(CAPACITY_COLUMN) in NUMERIC_TYPES:
        return sql.SQL("{}::float8").format(sql.Identifier(CAPACITY_COLUMN))
    if cols.get(ATTRIBUTES_COLUMN) == "jsonb":
        return sql.SQL(
            "CASE WHEN jsonb_typeof({a} -> %(key)s) = 'number' THEN ({a} ->> %(key)s)::float8 END"
        ).format(a=sql.Identifier(ATTRIBUTES_COLUMN))
    return sql.SQL("NULL::float8")


def read_capacities(url: str, facilities: list[dict]) -> np.ndarray:
    """Read each facility's capacity (1 where none is recorded; see the module docstring).

    Parameters
    ----------
    url : str
        Database URL.
    facilities : list of dict
        The facilities of one category (``id`` and ``layer``), as the network cache lists
        them.

    Returns
    -------
    ndarray of float64 [K]
        Capacities, in the order given.
    """
    out = np.ones(len(facilities))
    by_layer: dict[str, list[int]] = {}
    for i, f in enumerate(facilities):
        by_layer.setdefault(f["layer"], []).append(i)
    specs = {s.name: s for s in facility_layers()}
    with transaction(url) as cur:
        for layer, idx in by_layer.items():
            spec = specs.get(layer)
            if spec is None:
                continue
            expr = capacity_sql(cur, spec.table)
            cur.execute(
                sql.SQL("SELECT id, {} FROM {} WHERE id = ANY(%(ids)s)").format(
                    expr, sql.Identifier(spec.table)
                ),
                {"ids": [int(facilities[i]["id"]) for i in idx], "key": CAPACITY_COLUMN},
            )
            found = {int(r[0]): r[1] for r in cur.fetchall()}
            for i in idx:
                value = found.get(int(facilities[i]["id"]))
                if value is not None and np.isfinite(value) and value > 0:
                    out[i] = float(value)
    return out


def planning_stamp(url: str) -> str:
    """Fingerprint what coverage reads besides the network: admin areas and capacities.

    Parameters
    ----------
    url : str
        Database URL.

    Returns
    -------
    str
        A hex digest that changes when an area (geometry, population, name, code, level) or
        a facility's capacity changes.
    """
    parts = []
    with transaction(url) as cur:
        cur.execute(
            "SELECT md5(coalesce(string_agg(concat_ws('|', id, name, code, admin_level, "
            "population, md5(ST_AsEWKB(geom))), ',' ORDER BY id), '')) FROM admin_area"
        )
        parts.append(cur.fetchone()[0])
        for spec in facility_layers():
            expr = capacity_sql(cur, spec.table)
            cur.execute(
                sql.SQL(
                    "SELECT md5(coalesce(string_agg(concat_ws('|', id, {}), ',' ORDER BY id), ''))"
                    " FROM {}"
                ).format(expr, sql.Identifier(spec.table)),
                {"key": CAPACITY_COLUMN},
            )
            parts.append(cur.fetchone()[0])
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:16]
