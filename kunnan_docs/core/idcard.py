"""Resident ID numbers (GB 11643-1999): check digit, birth date, sex, age."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 as GB 11643 specifies it."""
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True)
class IdProblem:
    code: str
    reason: str


def id_problem(number: str) -> IdProblem | None:
    """None when the number is well formed, else what is wrong (in Chinese)."""
    if len(number) != 18 or not number[:17].isdigit() or number[17] not in "0123456789Xx":
        return IdProblem("ID-FORMAT", "应为18位,前17位是数字,最后一位是数字或 X")
    if birth_date(number) is None:
        return IdProblem("ID-BIRTH", f"第7至14位 {number[6:14]} 不是有效的出生日期")
    expected = check_digit(number[:17])
    if number[17].upper() != expected:
        return IdProblem("ID-CHECK", f"校验位应为 {expected},现为 {number[17]},号码可能抄错了一位")
    return None


def birth_date(number: str) -> date | None:
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None
    return born if born.year >= 1900 else None


def sex(number: str) -> str:
    """'男' or '女' from the 17th digit (odd = male)."""
    return "男" if int(number[16]) % 2 else "女"


def age_at(born: date, when: date) -> int:
    return when.year - born.year - ((when.month, when.day) < (born.month, born.day))
