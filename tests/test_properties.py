"""Property tests: the GB 11643 check digit, the working-day count, and the case-file loader."""

from __future__ import annotations

import json
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from kunnan_docs.core import idcard
from kunnan_docs.core.casefile import parse_case_json
from kunnan_docs.core.workcal import WorkCalendar, add_months
from kunnan_docs.errors import CaseRejected

birth = st.dates(min_value=date(1930, 1, 1), max_value=date(2020, 12, 31))
region = st.from_regex(r"51[0-9]{4}", fullmatch=True)
seq = st.from_regex(r"[0-9]{3}", fullmatch=True)


def make_id(r: str, b: date, s: str) -> str:
    first17 = f"{r}{b:%Y%m%d}{s}"
    return first17 + idcard.check_digit(first17)


@given(region, birth, seq)
def test_generated_ids_are_valid_and_carry_birth_and_sex(r: str, b: date, s: str) -> None:
    number = make_id(r, b, s)
    assert idcard.id_problem(number) is None
    assert idcard.birth_date(number) == b
    assert idcard.sex(number) == ("男" if int(s[2]) % 2 else "女")


@given(region, birth, seq, st.integers(0, 17), st.sampled_from("0123456789"))
def test_any_single_digit_change_is_caught(r: str, b: date, s: str, pos: int, digit: str) -> None:
    number = make_id(r, b, s)
    changed = number[:pos] + digit + number[pos + 1:]
    if changed != number:
        assert idcard.id_problem(changed) is not None


def test_known_check_digit_x() -> None:
    # 11010519491231002X is the standard's own worked example
    assert idcard.id_problem("11010519491231002X") is None
    assert idcard.id_problem("11010519491231002x") is None


CAL = WorkCalendar(override_path="")
days = st.dates(min_value=date(2015, 1, 1), max_value=date(2028, 12, 31))


@given(days, st.integers(0, 60), st.integers(0, 60))
def test_count_is_additive(start: date, a: int, b: int) -> None:
    mid, end = start + timedelta(days=a), start + timedelta(days=a + b + 1)
    assert CAL.count(start, end).days == CAL.count(start, mid).days + CAL.count(mid + timedelta(days=1), end).days


@given(days, st.integers(0, 40))
def test_count_never_exceeds_calendar_days_and_matches_is_workday(start: date, n: int) -> None:
    end = start + timedelta(days=n)
    expected = sum(CAL.is_workday(start + timedelta(days=i)) for i in range(n + 1))
    assert CAL.count(start, end).days == expected <= n + 1


@given(days, st.integers(1, 10))
def test_add_workdays_is_the_first_day_reaching_n(start: date, n: int) -> None:
    end = CAL.add_workdays(start, n)
    assert CAL.count(start, end).days == n
    assert CAL.is_workday(end)


@given(st.dates(min_value=date(2027, 1, 1), max_value=date(2035, 12, 31)))
def test_unknown_years_count_weekdays(day: date) -> None:
    result = CAL.count(day, day)
    assert result.days == (day.weekday() < 5) and day.year in result.unknown_years


def test_override_file_adds_a_year(tmp_path) -> None:
    f = tmp_path / "cal.json"
    f.write_text('{"years": [2027], "holidays": ["2027-10-01"], "workdays": ["2027-10-09"]}', encoding="utf-8")
    cal = WorkCalendar(str(f))
    assert cal.year_known(2027) and not cal.is_workday(date(2027, 10, 1)) and cal.is_workday(date(2027, 10, 9))
    assert cal.count(date(2027, 9, 27), date(2027, 10, 3)).unknown_years == set()


@given(days, st.integers(0, 24))
def test_add_months_lands_in_the_right_month(day: date, n: int) -> None:
    later = add_months(day, n)
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == n and later.day <= day.day


@given(st.dates(min_value=date(9998, 1, 1)), st.integers(0, 48))
def test_add_months_past_the_last_date_stops_there(day: date, n: int) -> None:
    """No crash at the end of the calendar (issue 22: AssertionError near 9999-12-31)."""
    later = add_months(day, n)
    assert later == date.max or (later.year * 12 + later.month) - (day.year * 12 + day.month) == n


json_text = st.recursive(
    st.sampled_from(["NaN", "-Infinity", "1e999", "0", '"\\ud800"', '"x"', "null", "[", "{", '"\\"']),
    lambda inner: st.builds(lambda xs: "[" + ",".join(xs) + "]", st.lists(inner, max_size=3))
    | st.builds(lambda xs: "{" + ",".join(f'"k{i}":{x}' for i, x in enumerate(xs)) + "}", st.lists(inner, max_size=3)),
    max_leaves=40,
)


@given(st.one_of(st.binary(max_size=300), json_text.map(str.encode), json_text.map(lambda t: f'{{"a":{t}}}'.encode())))
def test_a_case_file_is_parsed_or_refused_in_words_never_crashes(raw: bytes) -> None:
    """Whatever bytes arrive, the loader returns a JSON object of finite numbers or raises CaseRejected."""
    try:
        data = parse_case_json(raw, "x.json")
    except CaseRejected as exc:
        assert str(exc).startswith("案卷文件 x.json ")
        return
    assert isinstance(data, dict)
    assert "NaN" not in json.dumps(data) and "Infinity" not in json.dumps(data)
