"""Working days in Indonesia: weekends, national public holidays and *cuti bersama*.

A working day is a Monday to Friday that is neither a national public holiday (from the
maintained ``holidays`` package, ``holidays.ID``, category ``public``) nor a cuti bersama day
(the tracked file ``data/calendar/cuti_bersama.csv``, see its README, or
``SIGAP_CUTI_BERSAMA_FILE``). Days are local days in ``SIGAP_TIMEZONE`` (WIB by default).

Deadlines count whole working days **after** the day something happened and end at the end
of the last one (23:59:59.999999 local time): a complaint received on Friday with a 3-day
level is due at the end of Wednesday; one received on a Saturday, at the end of Wednesday
too. :func:`get_calendar` gives the process-wide calendar; the complaint clocks
(:mod:`services.complaints`) and bookings (issue 12) share it.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays

from gis.errors import ConfigError
from services.config import get_service_settings

logger = logging.getLogger(__name__)

#: Columns of the cuti bersama file.
CUTI_COLUMNS: tuple[str, ...] = ("date", "name", "source")
#: Earliest and latest year the calendar answers for (a guard against runaway loops).
MIN_YEAR, MAX_YEAR = 2000, 2100


def load_cuti_bersama(path: Path) -> dict[date, str]:
    """Read a cuti bersama file: ``date,name,source``, one row per day.

    Parameters
    ----------
    path : Path
        The CSV file.

    Returns
    -------
    dict of date to str
        Day -> name.

    Raises
    ------
    ConfigError
        The file is missing, or a row is malformed; the message names the file, the row
        and the field.
    """
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if tuple(reader.fieldnames or ()) != CUTI_COLUMNS:
                msg = f"{path}: the header must be {','.join(CUTI_COLUMNS)}"
                raise ConfigError(msg)
            out: dict[date, str] = {}
            for row_no, row in enumerate(reader, start=2):
                raw = (row.get("date") or "").strip()
                try:
                    day = date.fromisoformat(raw)
                except ValueError as exc:
                    msg = f"{path}, row {row_no}, field 'date': not a YYYY-MM-DD date: {raw!r}"
                    raise ConfigError(msg) from exc
                name = (row.get("name") or "").strip()
                if not name:
                    msg = f"{path}, row {row_no}, field 'name': empty"
                    raise ConfigError(msg)
                if day in out:
                    msg = f"{path}, row {row_no}, field 'date': {day} is listed twice"
                    raise ConfigError(msg)
                out[day] = name
    except OSError as exc:
        msg = f"Cannot read the cuti bersama file {path}: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    return out


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days of one time zone, with its cuti bersama days.

    Parameters
    ----------
    tz : ZoneInfo
        Local time zone.
    cuti_bersama : mapping of date to str
        Cuti bersama days and their names.
    """

    tz: ZoneInfo
    cuti_bersama: Mapping[date, str]

    def closed_reason(self, day: date) -> str | None:
        """Say why ``day`` is not a working day, or None when it is one.

        The reason is ``"weekend"``, the public holiday's or the cuti bersama day's name.
        """
        if day.weekday() >= 5:
            return "weekend"
        name = _public_holidays(day.year).get(day)
        if name is not None:
            return name
        return self.cuti_bersama.get(day)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day."""
        return self.closed_reason(day) is None

    def closed_days(self, year: int) -> dict[date, str]:
        """Return the public holidays and cuti bersama days of ``year`` (not weekends)."""
        out = dict(_public_holidays(year))
        for day, name in self.cuti_bersama.items():
            if day.year == year:
                out.setdefault(day, name)
        return dict(sorted(out.items()))

    def next_working_day(self, day: date, *, inclusive: bool = False) -> date:
        """Return the first working day after ``day`` (or ``day`` itself, ``inclusive``)."""
        d = day if inclusive else day + timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
            if d.year > MAX_YEAR:
                msg = "no working day found before the year 2100"
                raise ValueError(msg)
        return d

    def local_date(self, moment: datetime) -> date:
        """Return the local calendar day of an aware ``moment``."""
        return _aware(moment).astimezone(self.tz).date()

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Return the end of the ``days``-th working day after ``start``'s local day.

        Parameters
        ----------
        start : datetime
            An aware moment (a complaint's receipt).
        days : int
            Working days, at least 1.

        Returns
        -------
        datetime
            23:59:59.999999 local time of that day, aware (in the calendar's zone).
        """
        if days < 1:
            msg = f"days must be at least 1, got {days}"
            raise ValueError(msg)
        d = self.local_date(start)
        for _ in range(days):
            d = self.next_working_day(d)
        return datetime.combine(d, time.max, tzinfo=self.tz)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Count the working days after ``start``'s local day up to and including ``end``'s.

        0 when both fall on the same day or ``end`` is earlier. It is the measure the due
        dates use: a complaint closed within N working days has ``working_days_between <= N``.
        """
        a, b = self.local_date(start), self.local_date(end)
        n, d = 0, a
        while d < b:
            d += timedelta(days=1)
            if self.is_working_day(d):
                n += 1
        return n


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        msg = "a naive datetime has no time zone; pass an aware one"
        raise ValueError(msg)
    return moment


@lru_cache(maxsize=256)
def _public_holidays(year: int) -> dict[date, str]:
    if not MIN_YEAR <= year <= MAX_YEAR:
        msg = f"year {year} is outside {MIN_YEAR}-{MAX_YEAR}"
        raise ValueError(msg)
    return dict(holidays.country_holidays("ID", years=year, categories=("public",)).items())


@lru_cache(maxsize=1)
def get_calendar() -> WorkingCalendar:
    """Return the process-wide calendar (``SIGAP_TIMEZONE``, the cuti bersama file).

    Raises
    ------
    ConfigError
        The cuti bersama file is missing or malformed.
    """
    s = get_service_settings()
    cal = WorkingCalendar(tz=s.tz, cuti_bersama=load_cuti_bersama(s.cuti_bersama_file))
    logger.debug("calendar: %s, %d cuti bersama days", s.timezone, len(cal.cuti_bersama))
    return cal


def now_utc() -> datetime:
    """Return the current moment, aware, in UTC."""
    return datetime.now(UTC)
