"""Bulk load into PostGIS: COPY into a staging table, then upsert by ``(source, source_id)``.

What a layer's rows hold comes from the layer registry (:mod:`layers.registry`): the columns
to fill (:attr:`~layers.spec.LayerSpec.load_columns`) and how a re-import treats them. The rows
are checked and written as COPY text by :mod:`ingest.encode`.

Everything one ingest writes happens in one transaction: either every layer and the
``ingest_run`` record land, or nothing does. A Ctrl-C that arrives while the commit is under
way is held until it has finished, then raised as :class:`InterruptedAfterCommit`, so the
caller can tell the user honestly that the data was loaded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import psycopg2.errors
from psycopg2 import sql
from tqdm import tqdm

from gis.errors import IngestError
from ingest.encode import copy_rows
from layers.registry import LAYERS, SOURCE_COLUMNS, LayerSpec

if TYPE_CHECKING:
    from gis.network import BuildReport

logger = logging.getLogger(__name__)


@dataclass
class LoadResult:
    """What one load did, per layer: ``total`` rows in the input, ``new``, ``updated``, ``deleted``.

    Attributes
    ----------
    run_id : int or None
        The ``ingest_run`` row recording the load; None until it is written.
    committed : bool
        Whether the load's transaction committed.
    network : BuildReport or None
        The routing network refresh that followed the load (:mod:`ingest.service`), or None
        when no network was built or it was not refreshed.
    interrupted : bool
        A Ctrl-C arrived after the commit: the data is loaded, the network was not refreshed.
    """

    total: dict[str, int] = field(default_factory=dict)
    new: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    source: str = ""
    sha256: str | None = None
    rejected: int = 0
    run_id: int | None = None
    committed: bool = False
    network: BuildReport | None = None
    interrupted: bool = False


class InterruptedAfterCommit(KeyboardInterrupt):
    """A Ctrl-C arrived after the load committed; ``result`` says what was loaded.

    Parameters
    ----------
    result : LoadResult
        The committed load, with ``interrupted`` set.
    """

    def __init__(self, result: LoadResult) -> None:
        super().__init__("interrupted after the load was committed")
        self.result = result


# --- Ctrl-C around the commit ----------------------------------------------------------------


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold a SIGINT that arrives inside the block; raise ``KeyboardInterrupt`` when it ends.

    Only the main thread receives signals; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous != signal.SIG_IGN:
                raise KeyboardInterrupt


# --- upsert ----------------------------------------------------------------------------------


def layer_spec(layer: str) -> LayerSpec:
    """Return the registry spec of ``layer``; ``IngestError`` when there is no such layer.

    Parameters
    ----------
    layer : str
        A layer name of :data:`layers.registry.LAYERS`.

    Returns
    -------
    LayerSpec

    Raises
    ------
    IngestError
        The layer is unknown, or ingest writes none of its fields.
    """
    spec = LAYERS.get(layer)
    if spec is None:
        msg = f"unknown layer {layer!r}; the layers are {', '.join(LAYERS)}."
        raise IngestError(msg, param="layer")
    return spec


def upsert_layer(cur, layer: str, rows: Sequence[Mapping]) -> tuple[int, int, int]:
    """COPY ``rows`` into a staging table and upsert them into ``layer``'s table.

    Rows are matched on ``(source, source_id)``. Unchanged rows are not touched; a field with
    ``overwrite_when`` keeps its stored value unless the stored row allows it. When the table
    holds no rows of these sources yet, the rows are copied straight into it. With the
    layer's ``prune_by``, rows of a source object present in the input but no longer
    produced by it are deleted.

    Parameters
    ----------
    cur : psycopg2 cursor
        Inside the caller's transaction.
    layer : str
        Layer name in the registry.
    rows : sequence of mapping
        ``source``, ``source_id``, ``geom`` and the layer's loaded fields.

    Returns
    -------
    (new, updated, deleted) : tuple of int

    Raises
    ------
    IngestError
        Unknown layer or a bad value (see :func:`copy_text`).
    """
    spec = layer_spec(layer)
    if not rows:
        return 0, 0, 0
    cols = spec.load_columns
    table = sql.Identifier(spec.table)
    sources = sorted({str(r.get("source")) for r in rows})
    cur.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE source = ANY(%s))").format(table),
        (sources,),
    )
    if not cur.fetchone()[0]:
        # First load of this source: nothing to match against, COPY straight into the table.
        copy_rows(cur, spec, spec.table, rows)
        return len(rows), 0, 0
    stage = f"stage_{spec.table}"
    cur.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(stage), sql.SQL(", ").join(map(sql.Identifier, cols)), table
        )
    )
    copy_rows(cur, spec, stage, rows)

    def incoming(name: str) -> sql.Composable:
        f = None if name == "geom" else spec.field(name)
        if f is None or f.overwrite_when is None:
            return sql.SQL("EXCLUDED.{}").format(sql.Identifier(name))
        guard_column, guard_value = f.overwrite_when
        return sql.SQL("CASE WHEN {t}.{g} = {v} THEN EXCLUDED.{c} ELSE {t}.{c} END").format(
            t=table,
            g=sql.Identifier(guard_column),
            v=sql.Literal(guard_value),
            c=sql.Identifier(name),
        )

    names = cols[len(SOURCE_COLUMNS) :]  # the loaded fields and geom
    updates = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(n), incoming(n)) for n in names
    )
    current = sql.SQL(", ").join(sql.SQL("{}.{}").format(table, sql.Identifier(n)) for n in names)
    wanted = sql.SQL(", ").join(incoming(n) for n in names)
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


def _committed(conn, result: LoadResult) -> bool:
    """Tell whether the load committed: its run was recorded and no transaction is open."""
    import psycopg2.extensions as ext

    try:
        idle = conn.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
    except Exception:  # noqa: BLE001 - a broken connection did not commit
        return False
    return result.run_id is not None and idle


def load_layers(
    conn,
    layers: Mapping[str, Sequence[Mapping]],
    *,
    source: str,
    sha256: str | None,
    rejects: Sequence[dict] = (),
    started_at: datetime | None = None,
    progress: bool | None = None,
    result: LoadResult | None = None,
) -> LoadResult:
    """Load every layer and record an ``ingest_run``, in one transaction on ``conn``.

    Parameters
    ----------
    conn : psycopg2 connection
        Committed on success, rolled back on any failure.
    layers : mapping of str to sequence of mapping
        Layer name (a key of :data:`layers.registry.LAYERS`) -> rows.
    source : str
        The path or URL that was read, recorded in ``ingest_run``.
    sha256 : str or None
        The input's checksum, recorded in ``ingest_run``.
    rejects : sequence of dict
        Objects of the input that were not loaded, with reasons, recorded in ``ingest_run``.
    started_at : datetime, optional
        When reading the input began; default now.
    progress : bool, optional
        Show a progress bar; default: only when stderr is a terminal.
    result : LoadResult, optional
        The result to fill in, so a caller holding it sees what was committed even when an
        exception interrupts it.

    Returns
    -------
    LoadResult

    Raises
    ------
    IngestError
        A bad row or a database error; nothing was written.
    InterruptedAfterCommit
        A Ctrl-C arrived after the commit had begun; the load is committed.
    KeyboardInterrupt
        A Ctrl-C arrived before the commit; nothing was written.
    """
    result = result if result is not None else LoadResult()
    result.source, result.sha256, result.rejected = source, sha256, len(rejects)
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
        with deferred_interrupt():
            conn.commit()
            result.committed = True
    except BaseException as exc:
        if result.committed or _committed(conn, result):
            result.committed = True
            if isinstance(exc, KeyboardInterrupt):
                result.interrupted = True
                if isinstance(exc, InterruptedAfterCommit):
                    raise
                raise InterruptedAfterCommit(result) from exc
            raise
        result.run_id = None
        with contextlib.suppress(Exception):
            conn.rollback()
        if isinstance(exc, IngestError):
            msg = f"{source}: {exc.message.rstrip('.')}; nothing was written."
            raise IngestError(msg, code=exc.code, param=exc.param) from exc
        if not isinstance(exc, Exception):
            raise
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        msg = f"Loading {source} failed; nothing was written. {type(exc).__name__}: {detail}"
        if isinstance(exc, psycopg2.errors.UndefinedTable):
            msg += ". Is the database migrated? Run 'sigap db upgrade'."
        raise IngestError(msg) from exc
    return result
