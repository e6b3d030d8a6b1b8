r"""Rows of a registry layer as COPY text: checked column by column, NULLs kept NULL.

Values go to COPY as CSV. A missing value (None, a pandas or numpy NaN, NaT or ``pd.NA``)
becomes NULL, never the text ``nan``; every other text is quoted, so an empty string, ``\N``
or text with quotes, tabs, newlines or backslashes arrives as it was. Each field is encoded by
its registry type (:data:`layers.spec.FIELD_TYPES`) and checked against the registry: required
values present, values in the vocabulary, texts within ``max_length``, geometries of the
layer's type. A bad value is an :class:`~gis.errors.IngestError` naming the layer, the row,
the field and the reason.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import shapely
from psycopg2 import sql

from gis.errors import IngestError
from layers.spec import KEY_MAX_LENGTHS, FieldSpec, LayerSpec


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
    if geometry_type not in _GEOMETRY_TYPE_IDS:  # "Geometry": any type
        return list(shapely.to_wkb(arr, hex=True))
    wrong = shapely.get_type_id(arr) != _GEOMETRY_TYPE_IDS[geometry_type]
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise BadValue(i, f"is a {arr[i].geom_type}, not a {geometry_type}")
    return list(shapely.to_wkb(arr, hex=True))


# --- checking and encoding whole rows --------------------------------------------------------


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
    optional_geom = column == "geom" and not spec.geometry_required
    if nulls.any() and (f is None or f.required) and not optional_geom:
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


def copy_rows(cur, spec: LayerSpec, target: str, rows: Sequence[Mapping]) -> None:
    """COPY ``rows`` of layer ``spec`` into table ``target``, checked, in chunks.

    Parameters
    ----------
    cur : psycopg2 cursor
        Inside the caller's transaction.
    spec : LayerSpec
        The layer the rows belong to; its :attr:`~LayerSpec.load_columns` are written.
    target : str
        The table (the layer's own, or a staging table of the same columns).
    rows : sequence of mapping
        The rows; each chunk of :data:`COPY_CHUNK_ROWS` is one COPY.

    Raises
    ------
    IngestError
        A bad value or a ``(source, source_id)`` twice (see :func:`copy_text`).
    """
    _check_unique_keys(spec, rows)
    columns = spec.load_columns
    copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, NULL '')").format(
        sql.Identifier(target), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    statement = copy.as_string(cur)
    for start in range(0, len(rows), COPY_CHUNK_ROWS):
        chunk = rows[start : start + COPY_CHUNK_ROWS]
        cur.copy_expert(statement, io.StringIO(copy_text(spec, chunk, columns, first_row=start)))


# --- checked frames (the file loader), written without a Python step per row ------------------

_HEX_PAIRS = np.array([f"{b:02X}" for b in range(256)], dtype="S2").view(np.uint16)


def point_wkb_hex(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the hexadecimal WKB of points ``(x, y)`` as a numpy array of ``S42`` bytes.

    The same text as ``shapely.to_wkb(points, hex=True)`` (little-endian, 2D), built with
    array operations only: several times faster for a million points.

    Parameters
    ----------
    x, y : numpy.ndarray
        Coordinates (float).

    Returns
    -------
    numpy.ndarray of bytes (``S42``)
    """
    n = len(x)
    raw = np.empty((n, 21), dtype=np.uint8)
    raw[:, :5] = (1, 1, 0, 0, 0)  # little-endian, type 1 (Point)
    raw[:, 5:13] = np.ascontiguousarray(x, dtype="<f8").view(np.uint8).reshape(n, 8)
    raw[:, 13:21] = np.ascontiguousarray(y, dtype="<f8").view(np.uint8).reshape(n, 8)
    return _HEX_PAIRS[raw].view("S42").ravel()


def points_hex(x: np.ndarray, y: np.ndarray, present: np.ndarray) -> pd.Series:
    """Return the hexadecimal WKB of points ``(x, y)`` as :func:`geometry_hex` does.

    Parameters
    ----------
    x, y : numpy.ndarray
        Coordinates (float).
    present : numpy.ndarray of bool
        Rows that have a point; the others are NULL.

    Returns
    -------
    pandas.Series of str (``string[pyarrow]`` when every row has a point, else object)
    """
    import pyarrow as pa

    if present.all() and len(present):
        text = point_wkb_hex(x, y)
        n = len(text)
        offsets = pa.py_buffer(np.arange(0, 42 * (n + 1), 42, dtype=np.int32))
        arr = pa.StringArray.from_buffers(n, offsets, pa.py_buffer(text.tobytes()))
        return pd.Series(pd.arrays.ArrowStringArray(arr))
    out = np.full(len(present), None, dtype=object)
    if present.any():
        out[present] = point_wkb_hex(x[present], y[present]).astype(str)
    return pd.Series(out, dtype=object)


def geometry_hex(geoms: np.ndarray) -> pd.Series:
    """Return hexadecimal WKB text of each geometry (None stays NULL), Arrow-backed.

    Points take :func:`point_wkb_hex` and never become Python strings; other geometries go
    through shapely.

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries or None

    Returns
    -------
    pandas.Series of str (``string[pyarrow]``)
    """
    geoms = np.asarray(geoms, dtype=object)
    present = ~shapely.is_missing(geoms)
    points = present & (shapely.get_type_id(geoms) == 0) & ~shapely.is_empty(geoms)
    if points.all() and len(geoms):
        return points_hex(shapely.get_x(geoms), shapely.get_y(geoms), points)
    out = np.full(len(geoms), None, dtype=object)
    if points.any():
        pts = geoms[points]
        out[points] = point_wkb_hex(shapely.get_x(pts), shapely.get_y(pts)).astype(str)
    rest = present & ~points
    if rest.any():
        out[rest] = shapely.to_wkb(geoms[rest], hex=True)
    return pd.Series(out, dtype=object)


def _arrow_column(f: FieldSpec | None, values):
    """One column of a checked frame as an Arrow array COPY reads (NULL as null)."""
    import pyarrow as pa

    kind = "string" if f is None else f.type
    if kind == "number":
        return pa.array(pd.to_numeric(values, errors="raise"), type=pa.float64(), from_pandas=True)
    if kind == "integer":
        return pa.array(pd.array(values, dtype="Int64"), type=pa.int64())
    if kind == "boolean":
        return pa.array(pd.array(values, dtype="boolean"), type=pa.bool_())
    if kind == "datetime":
        stamps = pd.to_datetime(values, utc=True)
        text = np.datetime_as_string(stamps.to_numpy(dtype="datetime64[us]"), unit="us")
        text = np.char.add(text.astype(str), "Z")
        return pa.array(text, type=pa.string(), mask=np.asarray(pd.isna(stamps)))
    if kind == "array":
        return pa.array([None if v is None else pg_array(v) for v in values], type=pa.string())
    return pa.array(values, type=pa.string(), from_pandas=True)


def frame_copy_text(
    spec: LayerSpec, frame: pd.DataFrame, columns: Sequence[str], *, first_id: int | None = None
) -> bytes:
    """Return ``columns`` of a checked ``frame`` as COPY CSV bytes, with no per-row Python.

    The frame comes from the file loader, which has checked every value against the registry
    (required, vocabulary, type, length), and holds ``geom`` as hexadecimal WKB text and
    ``attributes`` as JSON text. Arrow writes the CSV: NULL as an empty unquoted cell, every
    text quoted.

    Parameters
    ----------
    spec : LayerSpec
        The layer the rows belong to.
    frame : pandas.DataFrame
        One column per name of ``columns`` (a missing column is all NULL).
    columns : sequence of str
        The columns to write, in order.
    first_id : int, optional
        Write a first column of ids ``first_id, first_id + 1, ...`` (the table's ``id``).

    Returns
    -------
    bytes
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    arrays = []
    if first_id is not None:
        arrays.append(pa.array(np.arange(first_id, first_id + len(frame), dtype=np.int64)))
        columns = ("id", *columns)
    for name in columns[len(arrays) :]:
        f = None if name in KEY_MAX_LENGTHS or name == "geom" else spec.field(name)
        if name in frame:
            values = frame[name]
            if f is not None and f.type == "array":
                values = values.to_numpy(dtype=object, na_value=None)
            arrays.append(_arrow_column(f, values))
        else:
            arrays.append(pa.nulls(len(frame), type=pa.string()))
    table = pa.table(arrays, names=[f"c{i}" for i in range(len(columns))])
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def copy_frame(
    cur,
    spec: LayerSpec,
    target: str,
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    first_id: int | None = None,
) -> None:
    """COPY a checked ``frame`` (see :func:`frame_copy_text`) into table ``target``.

    Parameters
    ----------
    cur : psycopg2 cursor
        Inside the caller's transaction.
    spec : LayerSpec
        The layer the rows belong to.
    target : str
        The layer's table or a staging table with ``columns``.
    frame : pandas.DataFrame
        Checked rows.
    columns : sequence of str, optional
        The columns to write; default :attr:`LayerSpec.load_columns`.
    first_id : int, optional
        Give the rows the ids ``first_id, first_id + 1, ...`` (column ``id``), reserved by
        the caller, instead of the column's default (a sequence).
    """
    if frame.empty:
        return
    cols = tuple(columns or spec.load_columns)
    named = ("id", *cols) if first_id is not None else cols
    copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, NULL '')").format(
        sql.Identifier(target), sql.SQL(", ").join(map(sql.Identifier, named))
    )
    text = frame_copy_text(spec, frame, cols, first_id=first_id)
    cur.copy_expert(copy.as_string(cur), io.BytesIO(text))
