"""Working days in China: statutory holidays and adjusted working days (调休).

The maintained `chinese_calendar` package is the source; a local override file (JSON, editable by a
clerk when the State Council publishes next year's holidays) takes precedence. For a year neither
knows, Monday–Friday are counted and the caller is told the count is provisional.
"""

from __future__ import annotations

import calendar
import json
import os
from dataclasses import dataclass, field
from datetime import MAXYEAR, date, timedelta
from functools import cache
from pathlib import Path

import chinese_calendar

OVERRIDE_ENV = "KUNNAN_CALENDAR"


@dataclass(frozen=True)
class Overrides:
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()


@dataclass
class Count:
    days: int
    unknown_years: set[int] = field(default_factory=set)


def _dates(values: list[str]) -> frozenset[date]:
    return frozenset(date.fromisoformat(v) for v in values)


@cache
def load_overrides(path: str | None) -> Overrides:
    """Read {"years": [2027], "holidays": [...], "workdays": [...]}; a bad file is a usage problem, not a crash."""
    if not path:
        return Overrides()
    data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    return Overrides(_dates(data.get("holidays", [])), _dates(data.get("workdays", [])),
                     frozenset(int(y) for y in data.get("years", [])))


def default_override_path() -> str | None:
    return os.environ.get(OVERRIDE_ENV) or None


class WorkCalendar:
    def __init__(self, override_path: str | None = None) -> None:
        self.override_path = override_path  # as given: another process makes the same calendar from it
        self.overrides = load_overrides(override_path if override_path is not None else default_override_path())

    def year_known(self, year: int) -> bool:
        return year in self.overrides.years or _package_knows(year)

    def is_workday(self, day: date) -> bool:
        if day in self.overrides.workdays:
            return True
        if day in self.overrides.holidays:
            return False
        if day.year in self.overrides.years or not _package_knows(day.year):
            return day.weekday() < 5
        # chinese_calendar.is_workday's own rule on its exported tables: its per-call check of the year scans the
        # whole table (0.2 ms a day), which a count over years of publicity would pay every day
        return day in chinese_calendar.workdays or (day.weekday() < 5 and day not in chinese_calendar.holidays)

    def count(self, start: date, end: date) -> Count:
        """Working days from start to end, both included (0 when end is before start)."""
        result = Count(0)
        day = start
        while day <= end:
            if not self.year_known(day.year):
                result.unknown_years.add(day.year)
            result.days += self.is_workday(day)
            day += timedelta(days=1)
        return result

    def add_workdays(self, start: date, n: int) -> date:
        """The date on which a period starting at `start` reaches `n` working days."""
        day, seen = start, 0
        while True:
            seen += self.is_workday(day)
            if seen >= n:
                return day
            day += timedelta(days=1)


@cache
def _package_knows(year: int) -> bool:
    """Whether chinese_calendar holds that year's holidays; asked once a year, not once a day."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def add_months(day: date, months: int) -> date:
    """Same day n months later, clamped to the month's end (2019-08-31 + 6 months = 2020-02-29) and to the last
    day a date can hold (a case's dates end in 2099, schemas/case.schema.json; a staff list's --as-of may not)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    if year > MAXYEAR:
        return date.max
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
