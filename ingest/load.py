r"""Bulk load into PostGIS: COPY into a staging table, then upsert by ``(source, source_id)``.

What a layer's rows hold comes from the layer registry (:mod:`layers.registry`): the columns
to fill (:attr:`~layers.registry.LayerSpec.load_columns`), their types, which are required,
their vocabularies and lengths, and how a re-import treats them. Rows are checked column by
column before anything is written; a bad value is an :class:`~gis.errors.IngestError` naming
the layer, the row, the field and the reason.

Values go to COPY as CSV. A missing value (None, a pandas or numpy NaN, NaT or ``pd.NA``)
becomes NULL, never the text ``nan``; every other text is quoted, so an empty string, ``\N``
or text with quotes, tabs, newlines or backslashes arrives as it was.

Everything one ingest writes happens in one transaction: either every layer and the
``ingest_run`` record land, or nothing does. A Ctrl-C that arrives while the commit is under
way is held until it has finished, then raised as :class:`InterruptedAfterCommit`, so the
caller can tell the user honestly that the data was loaded.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import psycopg2.errors
import shapely
from psycopg2 import sql
from tqdm import tqdm

from gis.errors import IngestError
from layers.registry import LAYERS, SOURCE_COLUMNS, FieldSpec, LayerSpec

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


# --- values to COPY text ---------------------------------------------------------------------


class BadValue(ValueError):
    """Value ``index`` of a column cannot be stored; ``reason`` says why."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


def _show(value: Any) -> str:
    """Return a short, one-line rendering of a value for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _as_objects(values: Sequence) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=len(values))


def null_mask(values: Sequence) -> np.ndarray:
    """Return a boolean array: True where a value is missing (None, NaN, NaT, ``pd.NA``).

    Parameters
    ----------
    values : sequence
        One column of values, of any types (lists, dicts and geometries count as present).

    Returns
    -------
    numpy.ndarray of bool
    """
    return np.asarray(pd.isna(_as_objects(values)), dtype=bool)


_NOT_TEXT = (list, tuple, set, dict, np.ndarray, shapely.Geometry)


def _text(i: int, value: Any) -> str:
    if isinstance(value, _NOT_TEXT):
        raise BadValue(i, f"is {_show(value)}, not a text")
    return str(value)


def _texts(values: Sequence, max_length: int | None = None) -> list[str]:
    """``values`` as texts (numbers are written out); no NUL characters, none too long."""
    texts = [v if type(v) is str else _text(i, v) for i, v in enumerate(values)]
    if "\x00" in "".join(texts):
        i = next(i for i, t in enumerate(texts) if "\x00" in t)
        raise BadValue(i, "contains a NUL character, which PostgreSQL cannot store")
    if max_length is not None and texts and max(map(len, texts)) > max_length:
        i = next(i for i, t in enumerate(texts) if len(t) > max_length)
        raise BadValue(i, f"is {len(texts[i])} characters long; at most {max_length} fit")
    return texts


def _encode_strings(values: Sequence, f: FieldSpec) -> list[str]:
    return ['"' + t.replace('"', '""') + '"' for t in _texts(values, f.max_length)]


def _encode_numbers(values: Sequence, f: FieldSpec) -> list[str]:
    try:
        numbers = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        for i, v in enumerate(values):
            try:
                float(v)
            except (TypeError, ValueError):
                raise BadValue(i, f"is {_show(v)}, not a number") from None
        raise
    if numbers.ndim != 1:
        raise BadValue(0, "is not a single number")
    return [repr(x) for x in numbers.tolist()]


def _integer(i: int, v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)) and math.isfinite(v) and float(v).is_integer():
        return str(int(v))
    if isinstance(v, str):
        text = v.strip()
        if text.lstrip("+-").isdigit():
            return text
    raise BadValue(i, f"is {_show(v)}, not a whole number")


def _encode_integers(values: Sequence, f: FieldSpec) -> list[str]:
    try:
        arr = np.asarray(values)
    except ValueError:  # lists of different lengths among the values
        arr = np.empty(0, dtype=object)
    if len(arr) == len(values) and arr.ndim == 1 and arr.dtype.kind in "iu":
        return [str(x) for x in arr.tolist()]
    return [_integer(i, v) for i, v in enumerate(values)]


def _boolean(i: int, v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "t" if v else "f"
    if isinstance(v, (int, np.integer)) and v in (0, 1):
        return "t" if v else "f"
    raise BadValue(i, f"is {_show(v)}, not true or false")


def _encode_booleans(values: Sequence, f: FieldSpec) -> list[str]:
    return [_boolean(i, v) for i, v in enumerate(values)]


def _datetime(i: int, v: Any) -> str:
    if isinstance(v, (datetime, date)):
        return _quote(v.isoformat())
    if isinstance(v, np.datetime64):
        return _quote(pd.Timestamp(v).isoformat())
    if isinstance(v, str):
        return _quote(_texts([v])[0])
    raise BadValue(i, f"is {_show(v)}, not a date and time")


def _encode_datetimes(values: Sequence, f: FieldSpec) -> list[str]:
    return [_datetime(i, v) for i, v in enumerate(values)]


def pg_array(items: Sequence) -> str:
    r"""Return a PostgreSQL array literal of ``items``, every element quoted (None: NULL).

    Parameters
    ----------
    items : sequence
        The elements; each is written as its ``str``.

    Returns
    -------
    str
        For example ``{"a","b \"c\"",NULL}``.
    """
    out = []
    for item in items:
        if item is None or (isinstance(item, float) and math.isnan(item)):
            out.append("NULL")
        else:
            text = str(item).replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'"{text}"')
    return "{" + ",".join(out) + "}"


def _encode_arrays(values: Sequence, f: FieldSpec) -> list[str]:
    out = []
    for i, v in enumerate(values):
        if not isinstance(v, (list, tuple, np.ndarray)):
            raise BadValue(i, f"is {_show(v)}, not a list")
        items = list(v)
        _texts([x for x in items if x is not None])  # no NUL characters
        out.append(_quote(pg_array(items)))
    return out


def _json_ready(value: Any) -> Any:
    """``value`` with NaN, NaT and ``pd.NA`` as None, numpy scalars and times as JSON types."""
    if isinstance(value, str):
        if "\x00" in value:
            msg = "a text in it contains a NUL character"
            raise ValueError(msg)
        return value
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_ready(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _encode_objects(values: Sequence, f: FieldSpec) -> list[str]:
    out = []
    for i, v in enumerate(values):
        if not isinstance(v, (Mapping, list, tuple)):
            raise BadValue(i, f"is {_show(v)}, not a JSON object")
        try:
            text = json.dumps(_json_ready(v), ensure_ascii=False, default=str)
        except (TypeError, ValueError) as exc:
            raise BadValue(i, f"cannot be written as JSON ({exc})") from None
        out.append(_quote(text))
    return out


_ENCODERS: dict[str, Callable[[Sequence, FieldSpec], list[str]]] = {
    "string": _encode_strings,
    "number": _encode_numbers,
    "integer": _encode_integers,
    "boolean": _encode_booleans,
    "datetime": _encode_datetimes,
    "array": _encode_arrays,
    "object": _encode_objects,
}

_GEOMETRY_TYPE_IDS = {
    "Point": 0,
    "LineString": 1,
    "Polygon": 3,
    "MultiPoint": 4,
    "MultiLineString": 5,
    "MultiPolygon": 6,
}


def _encode_geometries(values: Sequence, geometry_type: str) -> list[str]:
    arr = _as_objects(values)
    ok = shapely.is_geometry(arr)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise BadValue(i, f"is {_show(values[i])}, not a geometry")
    wrong = shapely.get_type_id(arr) != _GEOMETRY_TYPE_IDS[geometry_type]
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise BadValue(i, f"is a {arr[i].geom_type}, not a {geometry_type}")
    return list(shapely.to_wkb(arr, hex=True))


# --- checking and encoding whole rows --------------------------------------------------------


#: Longest ``source`` and ``source_id`` the tables hold (``varchar``).
KEY_MAX_LENGTHS: dict[str, int] = {"source": 64, "source_id": 128}

#: Rows per COPY: bounds the memory of the text buffer, not the transaction.
COPY_CHUNK_ROWS = 50_000


def _row_error(
    spec: LayerSpec, rows: Sequence[Mapping], i: int, column: str, reason: str, first_row: int
) -> IngestError:
    source_id = rows[i].get("source_id")
    where = f"row {first_row + i + 1}"
    if source_id is not None and column != "source_id":
        where += f" (source_id {source_id})"
    msg = f"layer {spec.name}, {where}: '{column}' {reason}"
    return IngestError(msg, param=column)


def _column_cells(spec: LayerSpec, column: str, values: list) -> list[str]:
    """CSV cells of one column, '' for NULL. Raises ``BadValue``."""
    nulls = null_mask(values)
    f = None if column in KEY_MAX_LENGTHS or column == "geom" else spec.field(column)
    if nulls.any() and (f is None or f.required):
        raise BadValue(int(np.flatnonzero(nulls)[0]), "is missing")
    if f is not None and f.vocab:
        allowed = f.vocab
        for i, v in enumerate(values):
            if not nulls[i] and v not in allowed:
                raise BadValue(i, f"is {_show(v)}, not one of {', '.join(allowed)}")
    has_nulls = bool(nulls.any())
    present = (
        [v for v, null in zip(values, nulls, strict=True) if not null] if has_nulls else values
    )
    if column == "geom":
        cells = _encode_geometries(present, spec.geometry_type)
    elif f is None:
        cells = ['"' + t.replace('"', '""') + '"' for t in _texts(present, KEY_MAX_LENGTHS[column])]
    else:
        cells = _ENCODERS[f.type](present, f)
    if not has_nulls:
        return cells
    out = [""] * len(values)
    for i, cell in zip(np.flatnonzero(~nulls).tolist(), cells, strict=True):
        out[i] = cell
    return out


def copy_text(
    spec: LayerSpec, rows: Sequence[Mapping], columns: Sequence[str], *, first_row: int = 0
) -> str:
    """Return ``rows`` as COPY CSV text for ``columns`` of ``spec``, checked column by column.

    Parameters
    ----------
    spec : LayerSpec
        The layer the rows belong to.
    rows : sequence of mapping
        One mapping per row; a key that is absent counts as NULL.
    columns : sequence of str
        The columns to write, in order (normally :attr:`LayerSpec.load_columns`).
    first_row : int
        Index of ``rows[0]`` in the whole input, for row numbers in error messages.

    Returns
    -------
    str
        One CSV line per row: NULL as an empty unquoted cell, texts quoted.

    Raises
    ------
    IngestError
        A required value is missing, a value is not of the field's type, not in its
        vocabulary or too long; the message names the layer, row and field.
    """
    cells = []
    for column in columns:
        values = [r.get(column) for r in rows]
        try:
            cells.append(_column_cells(spec, column, values))
        except BadValue as bad:
            raise _row_error(spec, rows, bad.index, column, bad.reason, first_row) from None
    return "".join(",".join(row) + "\n" for row in zip(*cells, strict=True))


def _check_unique_keys(spec: LayerSpec, rows: Sequence[Mapping]) -> None:
    seen: set[tuple] = set()
    for i, r in enumerate(rows):
        key = (r.get("source"), r.get("source_id"))
        if key in seen:
            raise _row_error(spec, rows, i, "source_id", "appears twice in the input", 0)
        seen.add(key)


def _copy_rows(cur, spec: LayerSpec, target: str, rows: Sequence[Mapping]) -> None:
    """COPY ``rows`` into table ``target`` in chunks of :data:`COPY_CHUNK_ROWS`."""
    _check_unique_keys(spec, rows)
    columns = spec.load_columns
    copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, NULL '')").format(
        sql.Identifier(target), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    statement = copy.as_string(cur)
    for start in range(0, len(rows), COPY_CHUNK_ROWS):
        chunk = rows[start : start + COPY_CHUNK_ROWS]
        cur.copy_expert(statement, io.StringIO(copy_text(spec, chunk, columns, first_row=start)))


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
        _copy_rows(cur, spec, spec.table, rows)
        return len(rows), 0, 0
    stage = f"stage_{spec.table}"
    cur.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(stage), sql.SQL(", ").join(map(sql.Identifier, cols)), table
        )
    )
    _copy_rows(cur, spec, stage, rows)

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
