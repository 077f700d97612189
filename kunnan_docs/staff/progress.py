"""Progress toward the notice's targets (三): of the 全国级 archived families, 60% out of difficulty in 2019
and all by 2020. Families of other archive levels are counted separately, without targets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Spacer

from kunnan_docs.forms.fonts import register
from kunnan_docs.forms.typeset import FRAME_W, Para, Title, cells, document, grid, pinyin_key, styles, zh_date
from kunnan_docs.package.outbox import Published, published

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


def _counts(pkg: Published, as_of: date | None) -> tuple[bool, bool]:
    """Filed and exited as of the cut-off date (every package counts when there is none)."""
    c = pkg.case
    filed = as_of is None or (c.get("filing_date") or "") <= as_of.isoformat()
    notice = c.get("notice_date")
    exited = pkg.kind == "exit" and (as_of is None or (bool(notice) and notice <= as_of.isoformat()))
    return filed, filed and exited


def _by_district(packages: list[Published], as_of: date | None, level: str | None) -> list[DistrictTally]:
    lines: dict[tuple[str, str], DistrictTally] = {}
    for pkg in packages:
        filed, exited = _counts(pkg, as_of)
        pkg_level = pkg.case.get("level") or "（未填）"
        if not filed or (level is not None and pkg_level != level) or (level is None and pkg_level == TARGET_LEVEL):
            continue
        district = pkg.case.get("district") or "（未填）"
        line = lines.setdefault((district, pkg_level), DistrictTally(district, 0, 0, pkg_level))
        line.filed += 1
        line.exited += exited
    return sorted(lines.values(), key=lambda x: (pinyin_key(x.district), pinyin_key(x.level)))


def tally(outbox: Path, as_of: date | None = None) -> list[DistrictTally]:
    """全国级 families per district, then the total: a family with a current package is filed; one whose
    package is an exit case (退档通知 on or before the cut-off) has exited."""
    lines = _by_district(published(outbox), as_of, TARGET_LEVEL)
    if lines:
        lines.append(DistrictTally(TOTAL, sum(x.filed for x in lines), sum(x.exited for x in lines)))
    return lines


def other_levels(outbox: Path, as_of: date | None = None) -> list[DistrictTally]:
    """Families of every other archive level, per district and level (the targets do not apply)."""
    return _by_district(published(outbox), as_of, None)


def chart(lines: list[DistrictTally]) -> Drawing:
    font = register()
    height = 30 * mm + 9 * mm * len(lines)
    d = Drawing(FRAME_W, height)
    bars = HorizontalBarChart()
    bars.x, bars.y, bars.width, bars.height = 45 * mm, 12 * mm, FRAME_W - 65 * mm, height - 24 * mm
    bars.data = [[x.rate * 100 for x in reversed(lines)]]
    bars.categoryAxis.categoryNames = [x.district for x in reversed(lines)]
    bars.categoryAxis.labels.fontName = font
    bars.categoryAxis.labels.fontSize = 9
    bars.valueAxis.valueMin, bars.valueAxis.valueMax, bars.valueAxis.valueStep = 0, 100, 20
    bars.valueAxis.labels.fontName = font
    bars.valueAxis.labelTextFormat = "%d%%"
    bars.bars[0].fillColor = colors.HexColor("#b22222")
    bars.barLabelFormat = "%.0f%%"
    bars.barLabels.fontName = font
    bars.barLabels.fontSize = 8
    bars.barLabels.boxAnchor = "w"  # the label starts right of the bar's end, inside the drawing's margin
    bars.barLabels.dx = 3
    d.add(bars)
    for year, target in TARGETS.items():
        x = bars.x + bars.width * target
        d.add(Line(x, bars.y, x, bars.y + bars.height, strokeColor=colors.grey, strokeDashArray=[3, 2]))
        d.add(String(x, bars.y + bars.height + 4 + 10 * (year == 2019), f"{year}年目标 {target:.0%}", fontName=font,
                     fontSize=8, textAnchor="middle"))
    return d


def report_pdf(lines: list[DistrictTally], as_of: date | None = None, others: list[DistrictTally] | None = None) -> bytes:
    st = styles()
    cut_off = as_of or date.today()
    story: list[object] = [
        Title("城镇困难职工解困脱困进度", st["title"]),
        Para("（成工办〔2019〕43号：全国级建档困难职工2019年解困脱困60%以上，2020年全部解困脱困）", st["subtitle"]),
        Para(f"统计截止日期：{zh_date(cut_off)}", st["subtitle"]), Spacer(1, 4 * mm), chart(lines), Spacer(1, 4 * mm),
        grid([cells(HEADERS, st["label"]), *(cells(x.row(), st["value"]) for x in lines)], [38, 28, 15, 15, 25, 27],
             header=True),
    ]
    if others:
        story += [Spacer(1, 6 * mm), Para("其他层级建档户（不计入上述目标）", st["subtitle"]),
                  grid([cells(OTHER_HEADERS, st["label"]), *(cells(x.other_row(), st["value"]) for x in others)],
                       [50, 30, 26, 26, 26], header=True)]
    return document(story, "解困脱困进度")
