"""The inputs of a collection plan: the fleet, and each stop's volume for one day.

Fleet
-----
:class:`Fleet` holds the trucks of one plan. Its defaults (:data:`DEFAULT_FLEET`) are a city's
usual *dump truck*: 6 m³, an 8-hour shift from 06:00, 10 minutes to empty a TPS or bin into
the truck, 20 minutes to unload at the TPA. A stop may be at most ``max_walk_m`` (300 m) from
the road point where the truck stops (the crew carries the carts). Every value is overridable
(``sigap collection plan --trucks --capacity --shift ...``, the API's JSON).

Demand for a day
----------------
Per stop (a ``waste_bin`` row, TPS or bin), the volume to collect that day, first found of:

1. a *fill file* for the day: a CSV (or the API's ``fill`` list) of ``id`` (the bin's id, or
   its ``source_id`` such as Bandung's ``id_tps``) and either ``volume_m3`` or ``fill_level``
   (0-1, times the bin's ``capacity_l``); a bin not in the file collects nothing that day;
2. else the stop's daily inflow, ``attributes.sampah_masuk`` (m³ per day, Bandung's TPS list);
3. else ``capacity_l / 1000 * fill_level``.

Stops with zero (or no) volume are left out of the plan, and counted.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gis import validate
from gis.errors import InvalidInputError

logger = logging.getLogger(__name__)

#: Column names of a fill file, first found wins.
FILL_ID_COLUMNS: tuple[str, ...] = ("id", "id_tps", "source_id")
FILL_VOLUME_COLUMNS: tuple[str, ...] = ("volume_m3", "m3", "volume")
FILL_LEVEL_COLUMNS: tuple[str, ...] = ("fill_level", "tingkat_isi", "fill")
#: Bounds of the fleet's settings (what the CLI and API accept).
MAX_TRUCKS = 200
MAX_SHIFT_H = 24.0


@dataclass(frozen=True)
class Fleet:
    """The trucks of one plan.

    Parameters
    ----------
    trucks : int
        How many trucks (all alike), at least 1.
    capacity_m3 : float
        What one truck carries before it must unload (m³), > 0.
    shift_h : float
        Length of a shift, from leaving the depot to being back there (hours), > 0.
    start_time : str
        When the shift starts, ``HH:MM`` (arrival times are given from it).
    depot_id : int, optional
        ``depot.id`` the trucks start and end at; default the depot with the lowest id.
    service_min : float
        Minutes to empty one stop into the truck (per visit).
    unload_min : float
        Minutes to unload at a disposal site.
    max_walk_m : float
        Farthest a stop may be from the truck's road point (metres).
    """

    trucks: int = 3
    capacity_m3: float = 6.0
    shift_h: float = 8.0
    start_time: str = "06:00"
    depot_id: int | None = None
    service_min: float = 10.0
    unload_min: float = 20.0
    max_walk_m: float = 300.0

    @property
    def shift_s(self) -> float:
        """The shift in seconds."""
        return self.shift_h * 3600.0

    @property
    def start_s(self) -> int:
        """Seconds after midnight when the shift starts."""
        hours, minutes = self.start_time.split(":")
        return int(hours) * 3600 + int(minutes) * 60

    def as_dict(self) -> dict[str, Any]:
        """Give the fleet as JSON-ready data."""
        return {
            "trucks": self.trucks,
            "capacity_m3": self.capacity_m3,
            "shift_h": self.shift_h,
            "start_time": self.start_time,
            "depot_id": self.depot_id,
            "service_min": self.service_min,
            "unload_min": self.unload_min,
            "max_walk_m": self.max_walk_m,
        }


#: The documented defaults.
DEFAULT_FLEET = Fleet()


def fleet_from(values: Mapping[str, Any], base: Fleet = DEFAULT_FLEET) -> Fleet:
    """Check and apply fleet settings given by a user (CLI options, API JSON).

    Parameters
    ----------
    values : mapping
        Any of :class:`Fleet`'s fields; None values keep ``base``'s.
    base : Fleet
        The defaults.

    Returns
    -------
    Fleet
        The fleet.

    Raises
    ------
    InvalidInputError
        An unknown field, or a value of the wrong type or out of range (``param`` names it).
    """
    known = set(base.as_dict())
    unknown = sorted(set(values) - known)
    if unknown:
        msg = f"Unknown fleet setting(s) {unknown}; known: {', '.join(sorted(known))}."
        raise validate.bad(unknown[0], msg)
    v = {k: x for k, x in values.items() if x is not None}
    out: dict[str, Any] = {}
    if "trucks" in v:
        trucks = v["trucks"]
        if isinstance(trucks, str | int) and not isinstance(trucks, bool):
            try:
                trucks = int(trucks)
            except ValueError:
                pass
        if not isinstance(trucks, int) or isinstance(trucks, bool) or trucks < 1:
            msg = f"'trucks' must be a whole number of at least 1, got {v['trucks']!r}."
            raise validate.bad("trucks", msg)
        if trucks > MAX_TRUCKS:
            msg = f"'trucks' must be at most {MAX_TRUCKS}, got {trucks}."
            raise validate.bad("trucks", msg)
        out["trucks"] = trucks
    for name, high in (
        ("capacity_m3", 100.0),
        ("shift_h", MAX_SHIFT_H),
        ("service_min", 240.0),
        ("unload_min", 240.0),
        ("max_walk_m", 1000.0),
    ):
        if name in v:
            value = validate.number(v[name], name)
            low_ok = value >= 0 if name in ("service_min", "unload_min") else value > 0
            if not low_ok or value > high:
                rule = "at least 0" if name in ("service_min", "unload_min") else "above 0"
                msg = f"'{name}' must be {rule} and at most {high:g}, got {v[name]!r}."
                raise validate.bad(name, msg)
            out[name] = value
    if "start_time" in v:
        out["start_time"] = _clock(v["start_time"])
    if "depot_id" in v:
        out["depot_id"] = validate.integer(v["depot_id"], "depot_id", minimum=1, maximum=2**31 - 1)
    return replace(base, **out)


def _clock(raw: object) -> str:
    text = str(raw).strip()
    parts = text.split(":")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        h, m = int(parts[0]), int(parts[1])
        if 0 <= h < 24 and 0 <= m < 60:
            return f"{h:02d}:{m:02d}"
    msg = f"'start_time' must be a clock time HH:MM, got {raw!r}."
    raise validate.bad("start_time", msg)


@dataclass
class Stop:
    """One place to collect from on the day.

    Attributes
    ----------
    id : int
        ``waste_bin.id``.
    source_id : str
        Its id in the source file (Bandung's ``id_tps``).
    name, address : str or None
        For the route sheet.
    lon, lat : float
        Where it is (degrees).
    demand_m3 : float
        Volume to collect (m³).
    demand_from : str
        ``fill_file``, ``sampah_masuk`` or ``fill_level``.
    """

    id: int
    source_id: str
    name: str | None
    address: str | None
    lon: float
    lat: float
    demand_m3: float
    demand_from: str


@dataclass
class FillEntry:
    """One row of a fill file: a volume in m³, or a fill level (0-1)."""

    key: str
    volume_m3: float | None
    fill_level: float | None
    row: int


def read_fill_file(path: str | Path) -> list[FillEntry]:
    """Read a day's fill file (CSV: ``id`` and ``volume_m3`` or ``fill_level``).

    Parameters
    ----------
    path : str or Path
        The CSV (``,`` or ``;``, UTF-8).

    Returns
    -------
    list of FillEntry
        One per row.

    Raises
    ------
    InvalidInputError
        Unreadable, no id column, no volume or fill column, or a bad value; the message names
        the file, the row and the column.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot read the fill file ({exc.__class__.__name__}: {exc})."
        raise InvalidInputError(msg, param="fill") from exc
    dialect = ";" if text.count(";") > text.count(",") else ","
    rows = list(csv.DictReader(io.StringIO(text), delimiter=dialect))
    if not rows:
        msg = f"{path}: the fill file has no rows of data."
        raise InvalidInputError(msg, param="fill")
    return parse_fill_rows(rows, where=str(path))


def parse_fill_rows(rows: Iterable[Mapping[str, Any]], *, where: str = "fill") -> list[FillEntry]:
    """Check the rows of a fill file or of the API's ``fill`` list.

    Parameters
    ----------
    rows : iterable of mapping
        Each with an id column (:data:`FILL_ID_COLUMNS`) and a volume
        (:data:`FILL_VOLUME_COLUMNS`, m³) or a fill level (:data:`FILL_LEVEL_COLUMNS`, 0-1).
    where : str
        The file name, or ``fill`` for the API, for messages.

    Returns
    -------
    list of FillEntry
        One per row, ``row`` 1 for the first.

    Raises
    ------
    InvalidInputError
        Naming ``where``, the row and the column.
    """
    out: list[FillEntry] = []
    for n, raw in enumerate(rows, start=1):
        if not isinstance(raw, Mapping):
            msg = f"{where}: row {n} must be an object with 'id' and 'volume_m3' or 'fill_level'."
            raise InvalidInputError(msg, param="fill")
        row = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
        key = _first(row, FILL_ID_COLUMNS)
        if key is None or str(key).strip() == "":
            msg = f"{where}: row {n} has no id (a column {' or '.join(FILL_ID_COLUMNS)})."
            raise InvalidInputError(msg, param="fill")
        volume = _first(row, FILL_VOLUME_COLUMNS)
        level = _first(row, FILL_LEVEL_COLUMNS)
        if volume in (None, "") and level in (None, ""):
            msg = f"{where}: row {n} ({key}) has neither volume_m3 nor fill_level."
            raise InvalidInputError(msg, param="fill")
        entry = FillEntry(str(key).strip(), None, None, n)
        if volume not in (None, ""):
            entry.volume_m3 = _bounded(volume, f"{where}: row {n}, volume_m3", 0.0, 1000.0)
        else:
            entry.fill_level = _bounded(level, f"{where}: row {n}, fill_level", 0.0, 1.0)
        out.append(entry)
    return out


def _first(row: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if name in row and row[name] not in (None, ""):
            return row[name]
    return None


def _bounded(raw: object, where: str, low: float, high: float) -> float:
    try:
        value = validate.number(str(raw).strip().replace(",", "."), "fill")
    except InvalidInputError:
        value = math.nan
    if not (low <= value <= high):
        msg = f"{where} must be a number from {low:g} to {high:g}, got {raw!r}."
        raise InvalidInputError(msg, param="fill")
    return value


_STOPS_SQL = """
SELECT id, source_id, name, attributes ->> 'lokasi_tps', ST_X(geom), ST_Y(geom),
       capacity_l, fill_level, attributes ->> 'sampah_masuk'
FROM waste_bin ORDER BY id
"""


def daily_stops(cur, fill: list[FillEntry] | None = None) -> tuple[list[Stop], int]:
    """Read the stops and their volume for the day (module docstring).

    Parameters
    ----------
    cur : cursor
        A psycopg2 cursor.
    fill : list of FillEntry, optional
        The day's fill file; None: the daily inflow, else capacity times fill level.

    Returns
    -------
    stops : list of Stop
        Stops with a volume above zero, by id.
    left_out : int
        Stops with no volume (zero or unknown), left out.

    Raises
    ------
    InvalidInputError
        Ids in the fill file that match no bin (all of them listed), or a fill level for a
        bin without a capacity.
    """
    cur.execute(_STOPS_SQL)
    rows = cur.fetchall()
    by_key: dict[str, int] = {}
    for i, r in enumerate(rows):
        by_key[str(r[0])] = i
        by_key.setdefault(str(r[1]), i)
    wanted: dict[int, FillEntry] = {}
    if fill is not None:
        unknown = [e.key for e in fill if e.key not in by_key]
        if unknown:
            shown = ", ".join(unknown[:20]) + (" ..." if len(unknown) > 20 else "")
            msg = f"The fill file names {len(unknown)} unknown stop id(s): {shown}."
            raise InvalidInputError(msg, code="unknown_ids", param="fill")
        wanted = {by_key[e.key]: e for e in fill}
    stops: list[Stop] = []
    left_out = 0
    for i, (bid, sid, name, addr, lon, lat, cap_l, level, inflow) in enumerate(rows):
        volume, source = 0.0, "fill_file"
        if fill is not None:
            e = wanted.get(i)
            if e is not None and e.volume_m3 is not None:
                volume = e.volume_m3
            elif e is not None:
                if cap_l is None:
                    msg = (
                        f"fill file row {e.row} ({e.key}): a fill level needs the bin's "
                        "capacity_l, which it does not have; give volume_m3."
                    )
                    raise InvalidInputError(msg, param="fill")
                volume = float(cap_l) / 1000.0 * float(e.fill_level or 0.0)
        elif inflow not in (None, ""):
            volume, source = _float_or_zero(inflow), "sampah_masuk"
        elif cap_l is not None and level is not None:
            volume, source = float(cap_l) / 1000.0 * float(level), "fill_level"
        if volume > 0:
            stops.append(Stop(bid, sid, name, addr, lon, lat, round(volume, 4), source))
        else:
            left_out += 1
    return stops, left_out


def _float_or_zero(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) and value > 0 else 0.0


_PLACES_SQL = "SELECT id, name, address, ST_X(geom), ST_Y(geom) FROM {} ORDER BY id"


def read_places(cur, table: str) -> list[dict]:
    """Read the depots or disposal sites: ``id``, ``name``, ``address``, ``lon``, ``lat``.

    Parameters
    ----------
    cur : cursor
        A psycopg2 cursor.
    table : str
        ``depot`` or ``disposal_site``.

    Returns
    -------
    list of dict
        By id.
    """
    from psycopg2 import sql

    cur.execute(sql.SQL(_PLACES_SQL).format(sql.Identifier(table)))
    return [
        {"id": r[0], "name": r[1], "address": r[2], "lon": r[3], "lat": r[4]}
        for r in cur.fetchall()
    ]
