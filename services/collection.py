"""Collection planning as a service: one request (CLI options or API JSON) -> one plan.

``sigap collection plan`` and ``POST /api/collection/plan`` both call :func:`plan_request`
with the same fields, so they accept and refuse the same input:

===============  ==========================================================================
``date``          the day planned, ``YYYY-MM-DD`` (default today)
``trucks``        number of trucks (default 3)
``capacity_m3``   per truck (default 6)
``shift_h``       shift length in hours (default 8)
``start_time``    ``HH:MM`` (default 06:00)
``depot_id``      the depot (default the first)
``service_min``   minutes per stop (default 10); ``unload_min`` at the TPA (default 20)
``max_walk_m``    farthest a stop may be from the truck's road point (default 300)
``time_limit_s``  the solver's time limit in seconds (default 10, at most 600)
``seed``          the solver's seed (default 1)
``fill``          the day's fill list: ``[{"id": ..., "volume_m3"| "fill_level": ...}]``
===============  ==========================================================================
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date as Date
from typing import Any

from gis import validate
from gis.collection import plan_collection
from gis.collection_demand import DEFAULT_FLEET, FillEntry, fleet_from, parse_fill_rows
from gis.errors import InvalidInputError

logger = logging.getLogger(__name__)

#: Fields of a request besides the fleet's.
PLAN_FIELDS: tuple[str, ...] = ("date", "time_limit_s", "seed", "fill")
MAX_TIME_LIMIT_S = 600.0
DEFAULT_TIME_LIMIT_S = 10.0


def parse_day(raw: object) -> Date:
    """Read ``date`` (``YYYY-MM-DD``); :class:`InvalidInputError` naming it if it is not one."""
    try:
        return Date.fromisoformat(str(raw))
    except ValueError as exc:
        msg = f"'date' must be a date YYYY-MM-DD, got {raw!r}."
        raise validate.bad("date", msg) from exc


def plan_request(
    url: str,
    body: Mapping[str, Any],
    *,
    fill: list[FillEntry] | None = None,
    progress: bool | None = None,
    max_time_limit_s: float = MAX_TIME_LIMIT_S,
) -> dict[str, Any]:
    """Check a planning request and plan it.

    Parameters
    ----------
    url : str
        Database URL.
    body : mapping
        The fields of the module docstring (None values: defaults).
    fill : list of FillEntry, optional
        A fill file already read (the CLI's ``--fill FILE``); overrides ``body["fill"]``.
    progress : bool, optional
        Show progress while solving.
    max_time_limit_s : float
        Largest ``time_limit_s`` accepted (the API allows less than the CLI).

    Returns
    -------
    dict
        The plan (:func:`gis.collection.plan_collection`).

    Raises
    ------
    InvalidInputError
        A bad field, named in ``param``.
    """
    if not isinstance(body, Mapping):
        raise InvalidInputError("The body must be one JSON object.", code="invalid_body")
    fleet_keys = set(DEFAULT_FLEET.as_dict())
    unknown = sorted(set(body) - fleet_keys - set(PLAN_FIELDS))
    if unknown:
        known = ", ".join(sorted(fleet_keys | set(PLAN_FIELDS)))
        msg = f"Unknown field(s) {unknown}; known: {known}."
        raise validate.bad(unknown[0], msg)
    fleet = fleet_from({k: v for k, v in body.items() if k in fleet_keys})
    day = parse_day(body["date"]) if body.get("date") is not None else None
    limit = DEFAULT_TIME_LIMIT_S
    if body.get("time_limit_s") is not None:
        limit = validate.number(body["time_limit_s"], "time_limit_s")
        if not 0 < limit <= max_time_limit_s:
            msg = f"'time_limit_s' must be above 0 and at most {max_time_limit_s:g}, got {limit:g}."
            raise validate.bad("time_limit_s", msg)
    seed = 1
    if body.get("seed") is not None:
        seed = validate.integer(body["seed"], "seed", minimum=0, maximum=2**31 - 1)
    if fill is None and body.get("fill") is not None:
        raw = body["fill"]
        if not isinstance(raw, list):
            msg = "'fill' must be a list of {id, volume_m3 or fill_level} objects."
            raise validate.bad("fill", msg)
        fill = parse_fill_rows(raw, where="fill")
    return plan_collection(
        url, fleet=fleet, day=day, fill=fill, time_limit_s=limit, seed=seed, progress=progress
    )
