"""Masking of ID numbers and phone numbers in every message a clerk, a log or a ledger may show.

One place for the rule (README "隐私"): a message that has to quote a value shows an ID number as
510104********1234 and a phone number as 138****5678; the field's title and JSON pointer say where to
look. It sits beside errors.py at the bottom of the package, because every error message passes here.
"""

from __future__ import annotations

import re

# Numbers that identify a person wherever they stand in a text:
# 11 or more digits in a row (ID numbers, mobile numbers, landlines written without a dash; an ID's
# final X included), and the usual spaced or dashed ways of writing them.
_PERSONAL_NUMBER = re.compile(
    r"\d{11,}(?:(?<=\d{17})[Xx])?"  # 510104196811021234, 51010419681102123X, 13812345678
    r"|(?<!\d)\d{6}[ \-]\d{8}[ \-]\d{3}[\dXx](?!\d)"  # 510104 19681102 1234
    r"|(?<!\d)(?:\+?86[ \-]?)?1[3-9]\d[ \-]?\d{4}[ \-]?\d{4}(?!\d)"  # 138-1234-5678, +86 138 1234 5678
    r"|(?<!\d)0\d{2,3}[ \-]\d{7,8}(?!\d)"  # 028-86621234
)
# Fields that hold nothing but such a number: a value quoted from them is masked even when short.
SENSITIVE_KEYS = frozenset({"id_number", "phone"})
KEEP_LAST = 4


def mask_number(text: str) -> str:
    """Hide the digits of one number but its area (first 6 of an ID, first 3 of a phone) and last 4."""
    positions = [i for i, c in enumerate(text) if c.isdigit() or (c in "Xx" and i == len(text.rstrip()) - 1)]
    count = len(positions)
    head = 6 if count >= 15 else 3 if count >= 11 else 0
    hidden = set(positions[head:max(head, count - KEEP_LAST)])
    return "".join("*" if i in hidden else c for i, c in enumerate(text))


def mask_text(text: str) -> str:
    """The text with every ID number and phone number in it masked."""
    return _PERSONAL_NUMBER.sub(lambda m: mask_number(m.group()), text)


def is_sensitive(pointer: str) -> bool:
    return pointer.rsplit("/", 1)[-1] in SENSITIVE_KEYS


def mask_value(pointer: str, shown: str) -> str:
    """A value as a message may quote it: a field that holds an ID or phone number keeps only its last
    digits whatever its length or shape (a typed note, a trailing space); other values are masked as text."""
    return mask_number(shown) if is_sensitive(pointer) else mask_text(shown)
