"""Progress toward the notice's targets (三): of the 全国级 archived families, 60% out of difficulty in 2019
and all by 2020. Families of other archive levels are counted separately, without targets. A cancelled family
(注销) leaves the base and is shown apart, by reason; an exit counts once its written notice is issued."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.resources import case_schema
from kunnan_docs.core.zh import pinyin_key
from kunnan_docs.package import identity
from kunnan_docs.package.outbox import Published, published
from kunnan_docs.staff.duplicates import people

TARGET_LEVEL = "全国级"  # the notice's targets count these families
TARGETS = {2019: 0.60, 2020: 1.00}
TOTAL = "合计"
HEADERS = ["区（市）县总工会", "全国级建档户数", "已脱困", "脱困率", "2019年目标60%", "2020年目标100%"]
OTHER_HEADERS = ["区（市）县总工会", "档案层级", "建档户数", "已脱困", "脱困率"]


@dataclass
class DistrictTally:
    district: str
    filed: int
    exited: int
    level: str = TARGET_LEVEL

    @property
    def rate(self) -> float:
        return self.exited / self.filed if self.filed else 0.0

    def row(self) -> list[object]:
        marks = ["达标" if self.rate >= t else f"差 {max(0, math.ceil(t * self.filed - 1e-9) - self.exited)} 户"
                 for t in TARGETS.values()]
        return [self.district, self.filed, self.exited, f"{self.rate:.0%}", *marks]

    def other_row(self) -> list[object]:
        return [self.district, self.level, self.filed, self.exited, f"{self.rate:.0%}"]


@dataclass
class Progress:
    """The tally: 全国级 people per district and in total, the other levels apart, the cancelled families (any
    level) by reason, which count in neither, and how many people held several active files (folded)."""

    lines: list[DistrictTally]  # 全国级, per district, then the total
    others: list[DistrictTally]  # every other archive level, per district and level
    cancelled: dict[str, int] = field(default_factory=dict)  # reason → families, in the schema's order of reasons
    folded: int = 0  # people with more than one active file (重复建档), each counted once

    @property
    def cancelled_line(self) -> str:
        """已注销 2 户(死亡 1 户、重复建档 1 户),不计入建档户数: the one wording of the CLI, the PDF and the desk."""
        if not self.cancelled:
            return ""
        reasons = "、".join(f"{reason} {n} 户" for reason, n in self.cancelled.items())
        return f"已注销 {sum(self.cancelled.values())} 户({reasons}),不计入建档户数和脱困率。"


def _on_or_before(day: str | None, as_of: date | None) -> bool:
    return bool(day) and (as_of is None or str(day) <= as_of.isoformat())


def _counts(pkg: Published, as_of: date | None) -> tuple[bool, bool]:
    """Filed and exited as of the cut-off date (every package counts when there is none); an exit counts from
    its written notice."""
    c = pkg.case
    filed = as_of is None or (c.get("filing_date") or "") <= as_of.isoformat()
    exited = kind_spec(pkg.kind).has_exit and _on_or_before(c.get("notice_date"), as_of)
    return filed, filed and exited


def cancellation_reason(pkg: Published, as_of: date | None) -> str | None:
    """Why the family's file was cancelled, if it was by the cut-off date."""
    cancellation = pkg.case.get("cancellation") if kind_spec(pkg.kind).has_cancellation else None
    return cancellation["reason"] if cancellation and _on_or_before(cancellation.get("date"), as_of) else None


def _families(packages: list[Published], families: dict[str, str],
              as_of: date | None) -> tuple[list[tuple[Published, bool]], int]:
    """Each person filed by the cut-off once: the file that places them (their earliest file still active then,
    else their latest) and whether they have exited (no file active then); and how many held several active
    files (duplicates folded)."""
    found, folded = [], 0
    for group in people(packages, families):
        filed = [p for p in group if _counts(p, as_of)[0]]
        active = [p for p in filed if not _counts(p, as_of)[1]]
        folded += len(active) > 1
        if filed:
            found.append((active[0] if active else filed[-1], not active))
    return found, folded


def _by_district(families: list[tuple[Published, bool]], level: str | None) -> list[DistrictTally]:
    lines: dict[tuple[str, str], DistrictTally] = {}
    for pkg, exited in families:
        pkg_level = pkg.case.get("level") or "（未填）"
        if (level is not None and pkg_level != level) or (level is None and pkg_level == TARGET_LEVEL):
            continue
        district = pkg.case.get("district") or "（未填）"
        line = lines.setdefault((district, pkg_level), DistrictTally(district, 0, 0, pkg_level))
        line.filed += 1
        line.exited += exited
    return sorted(lines.values(), key=lambda x: (pinyin_key(x.district), pinyin_key(x.level)))


def tally(outbox: Path, as_of: date | None = None) -> Progress:
    """全国级 people per district, then the total: a person with a current package is filed; one whose files have
    all exited (退档通知 on or before the cut-off) has exited. Second, the families of every other archive level,
    per district and level (the targets do not apply). Third, the files cancelled by the cut-off, by reason: they
    count in neither. People are counted, not packages: a person's several files (a refiling, or 重复建档 folded and
    counted in `folded`) count once. The outbox is read once."""
    cancelled: dict[str, int] = {}
    counted = []
    for pkg in published(outbox):
        reason = cancellation_reason(pkg, as_of)
        if reason is None:
            counted.append(pkg)
        else:
            cancelled[reason] = cancelled.get(reason, 0) + 1
    families, folded = _families(counted, identity.load(outbox).families(), as_of)
    lines = _by_district(families, TARGET_LEVEL)
    if lines:
        lines.append(DistrictTally(TOTAL, sum(x.filed for x in lines), sum(x.exited for x in lines)))
    order = case_schema()["$defs"]["cancellation"]["properties"]["reason"]["enum"]
    return Progress(lines, _by_district(families, None), {r: cancelled[r] for r in order if r in cancelled}, folded)
