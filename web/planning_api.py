"""The planning API: coverage gaps, where to build, what-if (``/api/coverage``, ...).

Thin views over :mod:`gis.coverage`: they parse the parameters, call one function and return
its JSON unchanged (the CLI's ``--json`` prints the same). ``f=csv`` or ``f=gpkg`` downloads
the per-area table instead (:mod:`web.planning_export`). An answer is cached by its inputs
(:mod:`gis.coverage_cache`); ``X-Sigap-Cache: hit`` says it came from the cache.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2.errors
from flask import Blueprint, Response, jsonify, request

from gis import coverage as cov
from gis import coverage_cache, validate
from gis.routing import MODES
from web import errors, params
from web.db import DatabaseUnavailable, app_database_url
from web.planning_export import area_table_csv, area_table_gpkg, file_stem

logger = logging.getLogger(__name__)

bp = Blueprint("planning_api", __name__, url_prefix="/api")
errors.register_format(bp, errors.json_error)

#: Output formats of ``/api/coverage`` and ``/api/scenario``.
FORMATS: tuple[str, ...] = ("json", "csv", "gpkg")
#: ``minutes`` when not given.
DEFAULT_MINUTES = 15.0
#: ``Retry-After`` of a 503 while the routing network waits for the owner's build.
RETRY_AFTER_S = 30
#: Keys a scenario body may have.
SCENARIO_KEYS: frozenset[str] = frozenset(
    {
        "category",
        "mode",
        "minutes",
        "by",
        "admin_level",
        "hex_resolution",
        "gaps",
        "close_segments",
        "close_polygon",
        "add_facilities",
        "remove_facilities",
    }
)


@contextmanager
def _routing() -> Iterator[None]:
    """A cache the web role may not build (missing or stale): 503, and the log says why."""
    try:
        yield
    except psycopg2.errors.InsufficientPrivilege as exc:
        logger.error(
            "the routing network is missing or out of date and the web role may not build it;"
            " run 'sigap network build' (as the database owner): %s",
            str(exc).strip().splitlines()[0],
        )
        raise DatabaseUnavailable(RETRY_AFTER_S) from exc


def _flag(raw: object, param: str, default: bool) -> bool:
    if raw is None:
        return default
    if raw in (True, "true", "1"):
        return True
    if raw in (False, "false", "0"):
        return False
    raise validate.bad(param, f"'{param}' must be true or false, got {raw!r}.")


def _area_args(args) -> dict:
    return {
        "by": args.get("by"),
        "admin_level": args.get("admin_level"),
        "hex_resolution": args.get("hex_resolution"),
    }


def _answer(answer: dict, fmt: str, hit: bool) -> Response:
    if fmt == "csv":
        resp = Response(area_table_csv(answer), mimetype="text/csv")
    elif fmt == "gpkg":
        resp = Response(area_table_gpkg(answer), mimetype="application/geopackage+sqlite3")
    else:
        resp = jsonify(answer)
    if fmt != "json":
        resp.headers["Content-Disposition"] = f'attachment; filename="{file_stem(answer)}.{fmt}"'
    resp.headers["X-Sigap-Cache"] = "hit" if hit else "miss"
    return resp


def _cached(fn, *args, **kwargs) -> tuple[dict, bool]:
    """Call ``fn``; tell whether its answer came from the cache."""
    coverage_cache.reset_hit()
    answer = fn(*args, **kwargs)
    return answer, coverage_cache.was_hit()


@bp.get("/coverage")
def coverage():
    """Coverage gaps of a category by a mode within T minutes, per area."""
    args = request.args
    fmt = params.parse_choice(args, "f", FORMATS, default="json")
    category = params.parse_choice(args, "category", params.facility_categories(), default=None)
    mode = params.parse_choice(args, "mode", MODES, default="walk")
    minutes = args.get("minutes", DEFAULT_MINUTES)
    gaps = _flag(args.get("gaps"), "gaps", fmt == "json")
    with _routing():
        answer, hit = _cached(
            cov.coverage,
            category,
            mode,
            minutes,
            url=app_database_url(),
            gaps=gaps,
            progress=False,
            **_area_args(args),
        )
    return _answer(answer, fmt, hit)


def _candidates(raw: str | None) -> list[tuple[str, str]] | None:
    if raw is None:
        return None
    out = []
    for part in raw.split(";"):
        pair = part.split(",")
        if len(pair) != 2:
            msg = f"'candidates' must be 'lat,lon;lat,lon;...', got {part!r}."
            raise validate.bad("candidates", msg)
        out.append((pair[0], pair[1]))
    return out


@bp.get("/suggest")
def suggest():
    """The ``count`` new sites that would newly cover the most demand within T."""
    args = request.args
    category = params.parse_choice(args, "category", params.facility_categories(), default=None)
    mode = params.parse_choice(args, "mode", MODES, default="walk")
    minutes = args.get("minutes", DEFAULT_MINUTES)
    count = args.get("count", "1")
    with _routing():
        answer, hit = _cached(
            cov.suggest,
            category,
            mode,
            minutes,
            count,
            url=app_database_url(),
            candidates=_candidates(args.get("candidates")),
            progress=False,
            **_area_args(args),
        )
    return _answer(answer, "json", hit)


@bp.post("/scenario")
def scenario():
    """Coverage with roads closed and facilities added or removed, against the baseline."""
    fmt = params.parse_choice(request.args, "f", FORMATS, default="json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise validate.bad("body", "The request body must be a JSON object.")
    unknown = sorted(set(body) - SCENARIO_KEYS)
    if unknown:
        msg = f"Unknown keys in the scenario: {', '.join(unknown)}."
        raise validate.bad(unknown[0], msg)
    if body.get("category") is None:
        raise validate.bad("category", "'category' is required.")
    with _routing():
        answer, hit = _cached(
            cov.scenario,
            body.get("category"),
            body.get("mode", "walk"),
            body.get("minutes", DEFAULT_MINUTES),
            url=app_database_url(),
            close_segments=body.get("close_segments"),
            close_polygon=body.get("close_polygon"),
            add_facilities=body.get("add_facilities"),
            remove_facilities=body.get("remove_facilities"),
            gaps=_flag(body.get("gaps"), "gaps", fmt == "json"),
            progress=False,
            **_area_args(body),
        )
    return _answer(answer, fmt, hit)
