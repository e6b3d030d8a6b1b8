"""Validating user input, once, for the command line, the API and library callers alike.

Every function takes the raw value (a string from a URL or a command line, or a Python
number from a library caller), checks it, and returns it typed, or raises
:class:`gis.errors.InvalidInputError` with ``code="invalid_parameter"`` and ``param`` naming
the parameter. The API turns that into HTTP 400, the CLI into ``Error: ...`` and exit 1.

Numbers are parsed strictly: ``"1_0"``, ``" 5"``, ``"0x10"``, ``"inf"`` and ``"nan"`` are
refused, although Python's ``int()`` and ``float()`` accept some of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from gis.errors import InvalidInputError

CODE = "invalid_parameter"

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def bad(param: str, message: str) -> InvalidInputError:
    """Make the error for a bad value of ``param``."""
    return InvalidInputError(message, code=CODE, param=param)


def number(raw: object, param: str) -> float:
    """Parse a finite number from ``raw`` (a decimal string, an int or a float).

    Parameters
    ----------
    raw : str, int or float
        The value as given.
    param : str
        Its name, for the error message.
    """
    if isinstance(raw, bool):
        raw = None
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str) and _FLOAT.fullmatch(raw):
        value = float(raw)
    else:
        msg = f"'{param}' must be a number, got {raw!r}."
        raise bad(param, msg)
    if not math.isfinite(value):
        msg = f"'{param}' must be a finite number, got {raw!r}."
        raise bad(param, msg)
    return value


def integer(raw: object, param: str, *, minimum: int, maximum: int) -> int:
    """Parse a whole number in ``[minimum, maximum]`` from a digit string or an int."""
    if isinstance(raw, bool):
        raw = None
    if isinstance(raw, int):
        value = int(raw)
    elif isinstance(raw, str) and _INT.fullmatch(raw):
        value = int(raw)
    else:
        msg = f"'{param}' must be a whole number from {minimum} to {maximum}, got {raw!r}."
        raise bad(param, msg)
    if not minimum <= value <= maximum:
        msg = f"'{param}' must be a whole number from {minimum} to {maximum}, got {value}."
        raise bad(param, msg)
    return value


def in_range(raw: object, param: str, low: float, high: float) -> float:
    """Parse a number in ``[low, high]``."""
    value = number(raw, param)
    if not low <= value <= high:
        msg = f"'{param}' must be between {low:g} and {high:g}, got {raw!r}."
        raise bad(param, msg)
    return value


def point(lat: object, lon: object) -> tuple[float, float]:
    """``(lat, lon)`` in degrees (WGS84), latitude in [-90, 90] and longitude in [-180, 180]."""
    return in_range(lat, "lat", -90.0, 90.0), in_range(lon, "lon", -180.0, 180.0)


def choice(raw: object, param: str, choices: Iterable[str]) -> str:
    """One of ``choices``, compared exactly (case matters)."""
    options = tuple(choices)
    if not isinstance(raw, str) or raw not in options:
        msg = f"'{param}' must be one of: {', '.join(options)}; got {raw!r}."
        raise bad(param, msg)
    return raw


def bbox(raw: object, param: str = "bbox") -> tuple[float, float, float, float]:
    """``minlon,minlat,maxlon,maxlat`` in degrees (EPSG:4326), as a string or a sequence."""
    parts = raw.split(",") if isinstance(raw, str) else list(raw)  # type: ignore[call-overload]
    if len(parts) != 4:
        msg = f"'{param}' needs 4 numbers minlon,minlat,maxlon,maxlat; got {len(parts)}."
        raise bad(param, msg)
    minlon, minlat, maxlon, maxlat = (number(p, param) for p in parts)
    if not (-180.0 <= minlon <= 180.0 and -180.0 <= maxlon <= 180.0):
        raise bad(param, f"'{param}' longitudes must be between -180 and 180.")
    if not (-90.0 <= minlat <= 90.0 and -90.0 <= maxlat <= 90.0):
        raise bad(param, f"'{param}' latitudes must be between -90 and 90.")
    if minlon > maxlon or minlat > maxlat:
        raise bad(param, f"'{param}' minimum must not be larger than its maximum.")
    return minlon, minlat, maxlon, maxlat


def number_list(
    raw: object, param: str, *, low: float, high: float, most: int, low_open: bool = True
) -> list[float]:
    """Parse one or more numbers: a comma-separated string, a number or a sequence.

    Each must be in ``(low, high]`` (``[low, high]`` when not ``low_open``), at most ``most``
    of them; they come back sorted largest first, duplicates removed.
    """
    if isinstance(raw, str):
        items: Sequence[object] = raw.split(",")
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        items = [raw]
    elif isinstance(raw, Sequence):
        items = raw
    else:
        items = []
    if not items:
        msg = f"'{param}' must be one or more numbers."
        raise bad(param, msg)
    if len(items) > most:
        msg = f"'{param}' may hold at most {most} values."
        raise bad(param, msg)
    out = set()
    for item in items:
        value = number(item.strip() if isinstance(item, str) else item, param)
        if value < low or (low_open and value == low) or value > high:
            bound = "above" if low_open else "at least"
            msg = f"Each of '{param}' must be a number {bound} {low:g} and at most {high:g}."
            raise bad(param, msg)
        out.add(value)
    return sorted(out, reverse=True)
