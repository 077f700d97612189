"""Chinese dates and pinyin order for lists and sheets, apart from the typesetting stack: the staff lists sort
and date their rows without loading reportlab."""

from __future__ import annotations

import re
from datetime import date
from functools import cache


def zh_date(day: date) -> str:
    """The one date style on forms and sheets: 2019年9月16日."""
    return f"{day.year}年{day.month}月{day.day}日"


def page_span(pages: str) -> str:
    """A page range as printed for people (contents list, bookmarks): 3～5, the wave dash GB/T 15834 (4.13.3.3)
    puts between the ends of a range of numbers; report.json keeps 3-5."""
    return pages.replace("-", "～")


_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def zh_dates(text: str) -> str:
    """Free text for people: ISO dates (2019-09-16) written the Chinese way (2019年9月16日)."""
    return _ISO_DATE.sub(lambda m: zh_date(date(int(m[1]), int(m[2]), int(m[3]))), text)


# Place names pypinyin reads wrong (都 is dū in place names, not dōu).
PINYIN_OVERRIDES = {"郫都": ["pi2", "du1"], "新都": ["xin1", "du1"]}
_OVERRIDE_SPLIT = re.compile("(" + "|".join(PINYIN_OVERRIDES) + ")")


@cache
def pinyin_key(text: str) -> tuple[tuple[str, ...], str]:
    """Sort key for units and names in pinyin order, as Chinese lists are sorted (not code-point order).

    pypinyin is imported here, not with the module: its dictionaries cost about 55 MB and 0.7 s, and every
    later garbage collection walks them — a build never sorts by pinyin. Cached: a list of 10,000 families
    names the same units and contact persons thousands of times (about 0.1 ms a call)."""
    from pypinyin import Style, lazy_pinyin

    sounds: list[str] = []
    for part in _OVERRIDE_SPLIT.split(text):
        sounds += PINYIN_OVERRIDES.get(part) or lazy_pinyin(part, style=Style.TONE3, neutral_tone_with_five=True)
    return tuple(sounds), text
