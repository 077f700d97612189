"""The benches copy the examples many times over; each copy must be a family of its own (one person has one active
file: copies of one worker under many archive numbers are refused), so each gets an ID number of its own."""

from __future__ import annotations

from datetime import date, timedelta

from kunnan_docs.core.idcard import check_digit


def distinct_id(original: str, n: int) -> str:
    """A valid ID number of the same region and sex as `original`, another for every n (500 a birth date)."""
    born = date(1960, 1, 1) + timedelta(days=n // 500)
    first17 = f"{original[:6]}{born:%Y%m%d}{(n % 500) * 2 + int(original[16]) % 2:03d}"
    return first17 + check_digit(first17)
