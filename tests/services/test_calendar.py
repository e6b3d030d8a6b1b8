"""services/calendar.py: working days across weekends, public holidays and cuti bersama."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import holidays
import pytest

from gis.errors import ConfigError
from services.calendar import WorkingCalendar, get_calendar, load_cuti_bersama
from services.config import DEFAULT_CUTI_BERSAMA_FILE

WIB = ZoneInfo("Asia/Jakarta")


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=WIB)


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return get_calendar()


def test_the_tracked_file_is_the_calendar(cal):
    assert cal.tz == WIB
    assert cal.cuti_bersama == load_cuti_bersama(DEFAULT_CUTI_BERSAMA_FILE)
    assert date(2026, 3, 18) in cal.cuti_bersama


@pytest.mark.parametrize(
    ("day", "reason"),
    [
        (date(2026, 3, 14), "weekend"),  # Saturday
        (date(2026, 3, 19), "Day of Silence"),  # Nyepi, a public holiday (holidays.ID)
        (date(2026, 3, 18), "Cuti bersama Hari Suci Nyepi Tahun Baru Saka 1948"),  # file
        (date(2026, 12, 24), "Cuti bersama Hari Raya Natal"),
        (date(2026, 12, 25), "Christmas Day"),
        (date(2026, 3, 25), None),  # a Wednesday
    ],
)
def test_closed_reason(cal, day, reason):
    assert cal.closed_reason(day) == reason
    assert cal.is_working_day(day) == (reason is None)


def test_three_working_days_across_cuti_bersama_a_holiday_and_a_weekend(cal):
    # Tue 17 March 2026, 10:00 WIB. Then: Wed 18 cuti bersama (Nyepi), Thu 19 Nyepi,
    # Fri 20 cuti bersama (Idul Fitri), Sat 21 Idul Fitri, Sun 22, Mon 23 and Tue 24 cuti
    # bersama; working days 1, 2, 3 are Wed 25, Thu 26, Fri 27.
    start = datetime(2026, 3, 17, 10, 0, tzinfo=WIB)
    assert cal.add_working_days(start, 1) == _end_of(date(2026, 3, 25))
    assert cal.add_working_days(start, 3) == _end_of(date(2026, 3, 27))
    # five working days reach into the next week: Mon 30, Tue 31
    assert cal.add_working_days(start, 5) == _end_of(date(2026, 3, 31))
    assert cal.working_days_between(start, datetime(2026, 3, 27, 16, tzinfo=WIB)) == 3
    assert cal.working_days_between(start, datetime(2026, 3, 24, 23, tzinfo=WIB)) == 0


def test_christmas_cuti_bersama_and_weekend(cal):
    start = datetime(2026, 12, 23, 15, 30, tzinfo=WIB)  # Wednesday
    # Thu 24 cuti bersama, Fri 25 Christmas, weekend: the first working day is Mon 28
    assert cal.add_working_days(start, 1) == _end_of(date(2026, 12, 28))
    assert cal.next_working_day(date(2026, 12, 24), inclusive=True) == date(2026, 12, 28)
    assert cal.next_working_day(date(2026, 12, 28), inclusive=True) == date(2026, 12, 28)


def test_a_report_on_a_saturday_counts_from_monday(cal):
    saturday = datetime(2026, 11, 28, 9, tzinfo=WIB)
    assert cal.add_working_days(saturday, 3) == _end_of(date(2026, 12, 2))  # Mon, Tue, Wed


def test_days_are_local_days(cal):
    # 20:00 UTC on Monday 16 Nov is already Tuesday 03:00 in Jakarta
    utc_evening = datetime(2026, 11, 16, 20, 0, tzinfo=UTC)
    assert cal.local_date(utc_evening) == date(2026, 11, 17)
    assert cal.add_working_days(utc_evening, 1) == _end_of(date(2026, 11, 18))
    # 15:30 UTC on Monday: Monday 22:30 in Jakarta, Tuesday 00:30 in Jayapura (WIT)
    moment = datetime(2026, 11, 16, 15, 30, tzinfo=UTC)
    wit = WorkingCalendar(ZoneInfo("Asia/Jayapura"), {})
    assert cal.add_working_days(moment, 1).date() == date(2026, 11, 17)
    assert wit.add_working_days(moment, 1).date() == date(2026, 11, 18)


def test_naive_datetimes_and_zero_days_are_refused(cal):
    with pytest.raises(ValueError, match="naive"):
        cal.add_working_days(datetime(2026, 1, 5, 9), 1)
    with pytest.raises(ValueError, match="at least 1"):
        cal.add_working_days(datetime(2026, 1, 5, 9, tzinfo=WIB), 0)


def test_the_file_agrees_with_the_holidays_package(cal):
    """The holidays package keeps its own copy of the SKB decrees (category government):
    for every year the file lists, the two agree."""
    years = sorted({d.year for d in cal.cuti_bersama})
    assert years[0] <= 2024 and years[-1] >= 2026
    package = holidays.country_holidays("ID", years=years, categories=("government",))
    assert set(package) == set(cal.cuti_bersama)


def test_closed_days_lists_holidays_and_cuti_bersama(cal):
    days = cal.closed_days(2026)
    assert days[date(2026, 8, 17)] == "Independence Day"
    assert days[date(2026, 3, 24)].startswith("Cuti bersama")
    assert list(days) == sorted(days)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("day,name,source\n", "the header must be date,name,source"),
        ("date,name,source\n2026-13-01,x,y\n", "row 2, field 'date'"),
        ("date,name,source\n2026-01-02,x,y\n2026-01-05,,y\n", "row 3, field 'name': empty"),
        ("date,name,source\n2026-01-02,x,y\n2026-01-02,x,y\n", "row 3, field 'date'"),
    ],
)
def test_a_malformed_file_names_the_row_and_field(tmp_path, content, expected):
    path = tmp_path / "cuti.csv"
    path.write_text(content)
    with pytest.raises(ConfigError, match=expected) as info:
        load_cuti_bersama(path)
    assert str(path) in info.value.message


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="Cannot read the cuti bersama file"):
        load_cuti_bersama(tmp_path / "nope.csv")
