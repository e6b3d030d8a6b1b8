"""Parsing and validating request parameters, independent of Flask.

Every failure raises :class:`gis.errors.InvalidInputError` naming the parameter, which the
app turns into HTTP 400 ``{"error": {"code", "message", "param"}}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from gis.errors import InvalidInputError
from gis.routing import validate_minutes

#: Features per page when ``limit`` is not given.
DEFAULT_LIMIT = 1000
#: The largest ``limit`` a client may ask for (documented in the OpenAPI description).
MAX_LIMIT = 10000
#: The most features a CSV or GeoPackage export without ``limit`` may hold; a larger
#: export is refused (HTTP 422), so no request loads a whole large layer into memory.
MAX_EXPORT_FEATURES = 50_000
#: The largest ``offset``; deeper paging should narrow the bbox instead.
MAX_OFFSET = 1_000_000
#: Output formats of ``/api/layers/<name>/items``.
FORMATS: tuple[str, ...] = ("geojson", "csv", "gpkg")
#: Smallest vector-tile zoom level served: a lower-zoom tile covers a whole region's roads
#: (a z12 tile is about 10 km wide at the equator).
MIN_TILE_ZOOM = 12
#: Largest vector-tile zoom level served.
MAX_TILE_ZOOM = 22
#: Isochrone limits when ``minutes`` is not given.
DEFAULT_MINUTES: tuple[float, ...] = (5.0, 10.0, 15.0)


def _bad(param: str, message: str) -> InvalidInputError:
    return InvalidInputError(message, code="invalid_parameter", param=param)


def _finite(raw: str, param: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        msg = f"'{param}' must be a number, got {raw!r}."
        raise _bad(param, msg) from None
    if not math.isfinite(value):
        msg = f"'{param}' must be a finite number."
        raise _bad(param, msg)
    return value


def parse_int(
    args: Mapping[str, str],
    param: str,
    *,
    default: int,
    minimum: int,
    maximum: int,
) -> int:
    """An integer parameter within ``[minimum, maximum]``, or ``default`` when absent."""
    value = parse_optional_int(args, param, minimum=minimum, maximum=maximum)
    return default if value is None else value


def parse_optional_int(
    args: Mapping[str, str], param: str, *, minimum: int, maximum: int
) -> int | None:
    """An integer parameter within ``[minimum, maximum]``, or None when absent."""
    raw = args.get(param)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        msg = f"'{param}' must be a whole number, got {raw!r}."
        raise _bad(param, msg) from None
    if not minimum <= value <= maximum:
        msg = f"'{param}' must be between {minimum} and {maximum}, got {value}."
        raise _bad(param, msg)
    return value


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` in degrees (EPSG:4326), or None when absent."""
    if raw is None or raw == "":
        return None
    parts = raw.split(",")
    if len(parts) != 4:
        msg = f"'bbox' needs 4 numbers minlon,minlat,maxlon,maxlat; got {len(parts)}."
        raise _bad("bbox", msg)
    minlon, minlat, maxlon, maxlat = (_finite(p.strip(), "bbox") for p in parts)
    for lon in (minlon, maxlon):
        if not -180.0 <= lon <= 180.0:
            raise _bad("bbox", "'bbox' longitudes must be between -180 and 180.")
    for lat in (minlat, maxlat):
        if not -90.0 <= lat <= 90.0:
            raise _bad("bbox", "'bbox' latitudes must be between -90 and 90.")
    if minlon > maxlon or minlat > maxlat:
        raise _bad("bbox", "'bbox' minimum must not be larger than its maximum.")
    return minlon, minlat, maxlon, maxlat


def parse_lat_lon(args: Mapping[str, str]) -> tuple[float, float]:
    """Required ``lat`` (-90..90) and ``lon`` (-180..180), in degrees."""
    out = []
    for param, limit in (("lat", 90.0), ("lon", 180.0)):
        raw = args.get(param)
        if raw is None or raw == "":
            msg = f"'{param}' is required."
            raise _bad(param, msg)
        value = _finite(raw, param)
        if not -limit <= value <= limit:
            msg = f"'{param}' must be between {-limit:g} and {limit:g}, got {value:g}."
            raise _bad(param, msg)
        out.append(value)
    return out[0], out[1]


def parse_choice(
    args: Mapping[str, str], param: str, choices: tuple[str, ...], *, default: str | None
) -> str:
    """One of ``choices``; ``default`` when absent (required when ``default`` is None)."""
    raw = args.get(param)
    if raw is None or raw == "":
        if default is None:
            msg = f"'{param}' is required; one of: {', '.join(choices)}."
            raise _bad(param, msg)
        return default
    if raw not in choices:
        msg = f"'{param}' must be one of: {', '.join(choices)}; got {raw!r}."
        raise _bad(param, msg)
    return raw


def parse_minutes(raw: str | None) -> list[float]:
    """Comma-separated isochrone limits in minutes.

    The numbers are parsed here; their count and range are checked by
    :func:`gis.routing.validate_minutes` (at most ``MAX_ISOCHRONES`` values, each in
    ``(0, MAX_MINUTES]``), so the API and the CLI share one rule.
    """
    if raw is None or raw == "":
        return list(DEFAULT_MINUTES)
    return validate_minutes([_finite(p.strip(), "minutes") for p in raw.split(",")])
