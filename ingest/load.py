"""Bulk load into PostGIS: COPY into a staging table, then upsert by ``(source, source_id)``.

Everything one ingest writes happens in one transaction: either every layer and the
``ingest_run`` record land, or nothing does.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import shapely
from psycopg2 import sql
from tqdm import tqdm

from gis.errors import IngestError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LayerTable:
    """How one layer's rows map onto its table."""

    table: str
    columns: tuple[str, ...]
    #: Columns whose stored value wins over the incoming one unless ``guard`` is true.
    protected: tuple[str, ...] = ()
    #: SQL condition (on the existing row) under which protected columns may be overwritten.
    guard: str | None = None
    #: A column naming the source object a row was cut from (a road's OSM way). Rows of an
    #: object present in the input but no longer produced by it are deleted.
    prune_by: str | None = None


LAYER_TABLES: dict[str, LayerTable] = {
    "admin_area": LayerTable("admin_area", ("name", "admin_level", "code", "population", "geom")),
    "office": LayerTable(
        "office",
        ("category", "name", "kind", "address", "phone", "opening_hours", "services", "geom"),
    ),
    "waste_bin": LayerTable(
        "waste_bin", ("kind", "name", "capacity_l", "fill_level", "last_emptied_at", "geom")
    ),
    "road_segment": LayerTable(
        "road_segment",
        (
            "u",
            "v",
            "osm_way_id",
            "name",
            "highway",
            "oneway",
            "maxspeed",
            "surface",
            "smoothness",
            "length_m",
            "condition",
            "geom",
        ),
        # A field inspection's condition survives a re-import of OSM data.
        protected=("condition",),
        guard="condition_source = 'osm'",
        prune_by="osm_way_id",
    ),
}


@dataclass
class LoadResult:
    """Rows per layer: ``total`` in the input, ``new``, ``updated`` and ``deleted``."""

    total: dict[str, int] = field(default_factory=dict)
    new: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None


def _pg_array(values: list) -> str:
    """A PostgreSQL array literal with every element quoted."""
    quoted = (str(v).replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{q}"' for q in quoted) + "}"


def _column_text(values: list) -> list[str | None]:
    """One column of rows as COPY text, converted in bulk (geometries as hex WKB)."""
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, shapely.Geometry):
        return list(shapely.to_wkb(np.asarray(values, dtype=object), hex=True))
    if isinstance(sample, bool):
        return [None if v is None else ("t" if v else "f") for v in values]
    if isinstance(sample, list):
        return [None if v is None else _pg_array(v) for v in values]
    if isinstance(sample, datetime):
        return [None if v is None else v.isoformat() for v in values]
    return [None if v is None else str(v) for v in values]


def _copy_rows(cur, stage: str, columns: Sequence[str], rows: Sequence[dict]) -> None:
    null = "\\N"
    text_columns = [
        [null if v is None else v for v in _column_text([r.get(c) for r in rows])] for c in columns
    ]
    buf = io.StringIO()
    csv.writer(buf).writerows(zip(*text_columns, strict=True))
    buf.seek(0)
    copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, NULL '\\N')").format(
        sql.Identifier(stage), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    cur.copy_expert(copy.as_string(cur), buf)


def upsert_layer(cur, layer: str, rows: Sequence[dict]) -> tuple[int, int, int]:
    """COPY ``rows`` into a staging table and upsert them into ``layer``'s table.

    Rows are matched on ``(source, source_id)``. Unchanged rows are not touched. When the
    table holds no rows of these sources yet, the rows are copied straight into it.

    Returns
    -------
    (new, updated, deleted) : tuple of int
    """
    spec = LAYER_TABLES[layer]
    if not rows:
        return 0, 0, 0
    cols = ("source", "source_id", *spec.columns)
    table = sql.Identifier(spec.table)
    sources = sorted({r["source"] for r in rows})
    cur.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE source = ANY(%s))").format(table),
        (sources,),
    )
    if not cur.fetchone()[0]:
        # First load of this source: nothing to match against, COPY straight into the table.
        _copy_rows(cur, spec.table, cols, rows)
        return len(rows), 0, 0
    stage = f"stage_{spec.table}"
    cur.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(stage), sql.SQL(", ").join(map(sql.Identifier, cols)), table
        )
    )
    _copy_rows(cur, stage, cols, rows)

    def incoming(col: str) -> sql.Composable:
        if col in spec.protected and spec.guard:
            return sql.SQL("CASE WHEN {t}.{g} THEN EXCLUDED.{c} ELSE {t}.{c} END").format(
                t=table, g=sql.SQL(spec.guard), c=sql.Identifier(col)
            )
        return sql.SQL("EXCLUDED.{}").format(sql.Identifier(col))

    updates = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(c), incoming(c)) for c in spec.columns
    )
    current = sql.SQL(", ").join(
        sql.SQL("{}.{}").format(table, sql.Identifier(c)) for c in spec.columns
    )
    wanted = sql.SQL(", ").join(incoming(c) for c in spec.columns)
    query = sql.SQL(
        "INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} "
        "ON CONFLICT (source, source_id) DO UPDATE SET {updates}, updated_at = now() "
        "WHERE ({current}) IS DISTINCT FROM ({wanted}) "
        "RETURNING (xmax = 0) AS inserted"
    ).format(
        table=table,
        cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
        stage=sql.Identifier(stage),
        updates=updates,
        current=current,
        wanted=wanted,
    )
    cur.execute(query)
    flags = [r[0] for r in cur.fetchall()]
    new = sum(flags)
    deleted = 0
    if spec.prune_by:
        prune = sql.SQL(
            "DELETE FROM {table} t WHERE t.source = ANY(%s) "
            "AND t.{col} IN (SELECT DISTINCT {col} FROM {stage}) "
            "AND NOT EXISTS (SELECT 1 FROM {stage} s "
            "WHERE s.source = t.source AND s.source_id = t.source_id)"
        ).format(table=table, col=sql.Identifier(spec.prune_by), stage=sql.Identifier(stage))
        cur.execute(prune, (sources,))
        deleted = cur.rowcount
    return new, len(flags) - new, deleted


def load_layers(
    conn,
    layers: Mapping[str, Sequence[dict]],
    *,
    source: str,
    sha256: str | None,
    rejects: Sequence[dict] = (),
    started_at: datetime | None = None,
    progress: bool | None = None,
) -> LoadResult:
    """Load every layer and record an ``ingest_run``, in one transaction on ``conn``.

    Parameters
    ----------
    conn : psycopg2 connection
        Committed on success, rolled back on any failure.
    layers : dict
        Layer name (a key of ``LAYER_TABLES``) -> rows.
    source : str
        The path or URL that was read, recorded in ``ingest_run``.
    """
    result = LoadResult()
    started_at = started_at or datetime.now(UTC)
    disable = None if progress is None else not progress
    try:
        with conn.cursor() as cur:
            for layer, rows in tqdm(
                layers.items(), desc="Loading", unit=" layers", disable=disable, leave=False
            ):
                new, updated, deleted = upsert_layer(cur, layer, rows)
                result.total[layer] = len(rows)
                result.new[layer] = new
                result.updated[layer] = updated
                result.deleted[layer] = deleted
                logger.info(
                    "%s: %d rows, %d new, %d updated, %d deleted",
                    layer,
                    len(rows),
                    new,
                    updated,
                    deleted,
                )
            cur.execute(
                "INSERT INTO ingest_run (source, sha256, started_at, finished_at, counts, "
                "new_counts, updated_counts, deleted_counts, rejected, rejects, status) "
                "VALUES (%s, %s, %s, now(), %s, %s, %s, %s, %s, %s, 'ok') RETURNING id",
                (
                    source,
                    sha256,
                    started_at,
                    json.dumps(result.total),
                    json.dumps(result.new),
                    json.dumps(result.updated),
                    json.dumps(result.deleted),
                    len(rejects),
                    json.dumps(list(rejects)),
                ),
            )
            result.run_id = cur.fetchone()[0]
        conn.commit()
    except Exception as exc:
        conn.rollback()
        if isinstance(exc, IngestError):
            raise
        msg = f"Loading {source} failed; nothing was written. {type(exc).__name__}: {exc}"
        raise IngestError(msg) from exc
    return result
