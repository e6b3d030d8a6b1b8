"""Parsing and validating request parameters, independent of Flask.

Every API parameter goes through one of these, and each of these through the strict parsers
of :mod:`gis.validate` (the CLI and the library use the same ones): ``k=1_0`` or an empty
``f=`` is refused, not read as 10 or the default. Every failure raises
:class:`gis.errors.InvalidInputError` with ``code="invalid_parameter"`` naming the parameter,
which the API answers with HTTP 400 ``{"error": {"code", "message", "param"}}``.
"""

from __future__ import annotations

from collections.abc import Mapping

from gis import validate
from gis.routing import validate_minutes
from layers.registry import facility_layers

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


def facility_categories() -> tuple[str, ...]:
    """Every category ``/api/nearest`` accepts: the class values of the registry's facility
    layers (office categories, then waste-bin kinds), in registry order."""
    out: dict[str, None] = {}
    for spec in facility_layers():
        out.update(dict.fromkeys(spec.classes))
    return tuple(out)


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
    if raw is None:
        return None
    return validate.integer(raw, param, minimum=minimum, maximum=maximum)


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` in degrees (EPSG:4326), or None when absent."""
    if raw is None:
        return None
    return validate.bbox(raw)


def parse_lat_lon(args: Mapping[str, str]) -> tuple[float, float]:
    """Required ``lat`` (-90..90) and ``lon`` (-180..180), in degrees."""
    for param in ("lat", "lon"):
        if args.get(param) is None:
            raise validate.bad(param, f"'{param}' is required.")
    return validate.point(args["lat"], args["lon"])


def parse_choice(
    args: Mapping[str, str], param: str, choices: tuple[str, ...], *, default: str | None
) -> str:
    """One of ``choices``; ``default`` when absent (required when ``default`` is None).

    An empty value (``?f=``) is an error, not the default.
    """
    raw = args.get(param)
    if raw is None:
        if default is None:
            msg = f"'{param}' is required; one of: {', '.join(choices)}."
            raise validate.bad(param, msg)
        return default
    return validate.choice(raw, param, choices)


def parse_tile(z: object, x: object, y: object) -> tuple[int, int, int]:
    """Tile coordinates: ``z`` from :data:`MIN_TILE_ZOOM` to :data:`MAX_TILE_ZOOM`, ``x`` and
    ``y`` from 0 to ``2**z - 1``."""
    zoom = validate.integer(z, "z", minimum=MIN_TILE_ZOOM, maximum=MAX_TILE_ZOOM)
    last = (1 << zoom) - 1
    return (
        zoom,
        validate.integer(x, "x", minimum=0, maximum=last),
        validate.integer(y, "y", minimum=0, maximum=last),
    )


def parse_minutes(raw: str | None) -> list[float]:
    """Comma-separated isochrone limits in minutes (default :data:`DEFAULT_MINUTES`);
    checked by :func:`gis.routing.validate_minutes`, the rule the CLI shares."""
    if raw is None:
        return list(DEFAULT_MINUTES)
    return validate_minutes(raw)
