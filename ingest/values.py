"""Values of an input file as SIGAP's types, whole columns at a time (Arrow and numpy).

Texts are stripped (an empty cell is NULL), numbers accept a decimal comma, dates a time zone
or none (UTC), and the columns without a field of their own become one JSON object per row
(:func:`attributes_json`). No function here takes a Python step per row on the common path.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd

_NEEDS_ESCAPE = r'[\\"\x00-\x1f]'
_JSON_NUMBER = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$"


def as_texts(raw: pd.Series) -> pd.Series:
    """Values as stripped texts (None where empty); a whole float is written as an integer."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(raw.array, pd.arrays.ArrowStringArray):  # the CSV reader's text columns
        arr = _arrow_strings(raw)
    elif pd.api.types.is_string_dtype(raw.dtype) or raw.dtype == object:
        try:
            arr = pa.array(raw.to_numpy(dtype=object, na_value=None), type=pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arr = None
    else:
        arr = None
    if arr is not None:
        trimmed = pc.utf8_trim_whitespace(arr)
        trimmed = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
        return pd.Series(trimmed.to_numpy(zero_copy_only=False), dtype=object)

    def one(v):
        if isinstance(v, str):
            return v.strip() or None
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, float | np.floating) and float(v).is_integer():
            v = int(v)
        return str(v).strip() or None

    values = raw.to_numpy(dtype=object, na_value=None)
    return pd.Series([one(v) for v in values], dtype=object)


def _arrow_floats(raw: pd.Series) -> np.ndarray | None:
    """Texts parsed as floats by Arrow (NaN where empty), or None if any is not a number."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(raw, type=pa.string(), from_pandas=True)
        trimmed = pc.utf8_trim_whitespace(arr)
        trimmed = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
        floats = pc.cast(trimmed, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    values = floats.to_numpy(zero_copy_only=False)
    if not np.isfinite(values[~np.isnan(values)]).all():
        return None  # "inf" is not a coordinate: the slow path names it
    return values


def as_numbers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values as floats (NaN where empty) and a mask of values that are not numbers.

    A decimal comma (``-6,88077``, common with ``;``-separated files) is read as a point.
    """
    raw = raw.reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.astype(float).to_numpy()
        return values, np.zeros(len(values), dtype=bool)
    fast = _arrow_floats(raw)
    if fast is not None:
        return fast, np.zeros(len(fast), dtype=bool)
    text = as_texts(raw)
    numbers = pd.to_numeric(text, errors="coerce")
    retry = numbers.isna() & text.notna()
    if retry.any():
        swapped = text[retry].astype(str).str.replace(",", ".", regex=False)
        numbers[retry] = pd.to_numeric(swapped, errors="coerce")
    values = numbers.astype(float).to_numpy()
    with np.errstate(invalid="ignore"):
        bad = (text.notna() & (text != "")).to_numpy() & ~np.isfinite(values)
    return np.where(bad, np.nan, values), bad


def as_datetimes(raw: pd.Series) -> pd.Series:
    """Dates and times in UTC (a time without zone is taken as UTC); NaT where unreadable."""
    raw = raw.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return pd.to_datetime(raw, utc=True)
    text = raw.astype(object).where(raw.notna(), None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": we try both
        try:
            return pd.to_datetime(text, utc=True, errors="raise")
        except (ValueError, TypeError, OverflowError):
            return pd.to_datetime(text, utc=True, errors="coerce", format="mixed")


def text_lengths(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Length of each text (0 for None) and whether it holds a NUL character."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(column.to_numpy(dtype=object, na_value=None), type=pa.string())
    lengths = pc.fill_null(pc.utf8_length(arr), 0).to_numpy(zero_copy_only=False)
    nul = pc.fill_null(pc.match_substring(arr, "\x00"), False).to_numpy(zero_copy_only=False)
    return lengths, nul


def _arrow_strings(values: pd.Series):
    """Return a column as an Arrow string array (null where missing, other values ``str(v)``).

    A column read as Arrow-backed text (the CSV reader's) is taken as it is, without a
    Python object per value.
    """
    import pyarrow as pa

    if isinstance(values.array, pd.arrays.ArrowStringArray):
        arr = pa.array(values.array)
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        return arr.cast(pa.string())
    text = (
        values.astype(object)
        .where(values.notna(), None)
        .map(lambda v: v if isinstance(v, str) or v is None else str(v))
    )
    return pa.array(text, type=pa.string(), from_pandas=True)


def attributes_json(frame: pd.DataFrame) -> pd.Series:
    """One JSON object per row of ``frame``'s columns (original names); empty cells left out.

    Texts that are JSON numbers (``39.49``, not ``007``) are written as numbers, so a city's
    ``sampah_masuk`` stays a number; everything else as text. Built with Arrow's string
    kernels, without a Python step per row. A row with no value gets None.

    Parameters
    ----------
    frame : pandas.DataFrame
        The columns to keep.

    Returns
    -------
    pandas.Series of str or None
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(frame)
    if not len(frame.columns) or not n:
        return pd.Series([None] * n, dtype=object)
    pieces = []
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_bool_dtype(values.dtype):
            arr = pa.array(
                values.map({True: "true", False: "false"}), type=pa.string(), from_pandas=True
            )
            number = pa.array(np.ones(n, dtype=bool))
        else:
            if pd.api.types.is_numeric_dtype(values.dtype):
                floats = values.astype(float)
                ints = floats.notna() & np.isfinite(floats) & (floats == floats.round())
                text = floats.map(repr).where(
                    ~ints, floats.map(lambda v: str(int(v)) if np.isfinite(v) else None)
                )
                text = text.where(np.isfinite(floats), None)
                arr = pa.array(text, type=pa.string(), from_pandas=True)
            else:
                arr = _arrow_strings(values)
            arr = pc.if_else(pc.equal(pc.utf8_length(arr), 0), pa.scalar(None, pa.string()), arr)
            number = pc.match_substring_regex(arr, _JSON_NUMBER)
        escaped = arr
        if pc.any(pc.match_substring_regex(arr, _NEEDS_ESCAPE)).as_py():
            for old, new in (
                ("\\", "\\\\"),
                ('"', '\\"'),
                ("\n", "\\n"),
                ("\r", "\\r"),
                ("\t", "\\t"),
            ):
                escaped = pc.replace_substring(escaped, old, new)
            escaped = pc.replace_substring_regex(escaped, r"[\x00-\x1f]", " ")
        quoted = pc.binary_join_element_wise('"', escaped, '"', "")
        value = pc.if_else(pc.fill_null(number, False), arr, quoted)
        key = json.dumps(str(name), ensure_ascii=False)
        pieces.append(pc.binary_join_element_wise(key + ":", value, ""))
    joined = pc.binary_join_element_wise(*pieces, ",", null_handling="skip")
    wrapped = pc.binary_join_element_wise("{", joined, "}", "")
    wrapped = pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), wrapped)
    return pd.Series(wrapped.to_numpy(zero_copy_only=False), dtype=object)
