"""Working days in China: statutory holidays and adjusted working days (调休).

The maintained `chinese_calendar` package is the source; a local override file (JSON, editable by a
clerk when the State Council publishes next year's holidays) takes precedence. For a year neither
knows, Monday–Friday are counted and the caller is told the count is provisional.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date, timedelta
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
        self.overrides = load_overrides(override_path if override_path is not None else default_override_path())

    def year_known(self, year: int) -> bool:
        if year in self.overrides.years:
            return True
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def is_workday(self, day: date) -> bool:
        if day in self.overrides.workdays:
            return True
        if day in self.overrides.holidays:
            return False
        if day.year in self.overrides.years:
            return day.weekday() < 5
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            return day.weekday() < 5

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


def add_months(day: date, months: int) -> date:
    """Same day n months later, clamped to the month's end (2019-08-31 + 6 months = 2020-02-29)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for d in range(day.day, 0, -1):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")
