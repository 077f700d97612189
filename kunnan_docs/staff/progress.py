"""Progress toward the notice's targets (四(一)): 60% of filed families out of difficulty in 2019, all by 2020."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer

from kunnan_docs.forms.fonts import register
from kunnan_docs.forms.typeset import document, grid, sheet_text, styles
from kunnan_docs.package.outbox import published

TARGETS = {2019: 0.60, 2020: 1.00}
HEADERS = ["区(市)县总工会", "建档户数", "已脱困", "脱困率", "2019年目标60%", "2020年目标100%"]


@dataclass
class DistrictTally:
    district: str
    filed: int
    exited: int

    @property
    def rate(self) -> float:
        return self.exited / self.filed if self.filed else 0.0

    def row(self) -> list[object]:
        marks = ["达标" if self.rate >= t else f"差 {max(0, math.ceil(t * self.filed - 1e-9) - self.exited)} 户"
                 for t in TARGETS.values()]
        return [self.district, self.filed, self.exited, f"{self.rate:.0%}", *marks]


def tally(outbox: Path) -> list[DistrictTally]:
    """Every family with a current package counts as filed; one whose package is an exit case has exited."""
    by_district: dict[str, DistrictTally] = {}
    for pkg in published(outbox):
        district = pkg.case.get("district") or "(未填)"
        line = by_district.setdefault(district, DistrictTally(district, 0, 0))
        line.filed += 1
        line.exited += pkg.kind == "exit"
    lines = sorted(by_district.values(), key=lambda x: x.district)
    if lines:
        lines.append(DistrictTally("合计", sum(x.filed for x in lines), sum(x.exited for x in lines)))
    return lines


def chart(lines: list[DistrictTally]) -> Drawing:
    font = register()
    height = 30 * mm + 9 * mm * len(lines)
    d = Drawing(170 * mm, height)
    bars = HorizontalBarChart()
    bars.x, bars.y, bars.width, bars.height = 45 * mm, 12 * mm, 115 * mm, height - 20 * mm
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
    bars.barLabels.nudge = 8
    d.add(bars)
    for year, target in TARGETS.items():
        x = bars.x + bars.width * target
        d.add(Line(x, bars.y, x, bars.y + bars.height, strokeColor=colors.grey, strokeDashArray=[3, 2]))
        d.add(String(x, bars.y + bars.height + 3, f"{year}年目标 {target:.0%}", fontName=font, fontSize=8,
                     textAnchor="middle"))
    return d


def report_pdf(lines: list[DistrictTally]) -> bytes:
    st = styles()
    data = [[Paragraph(h, st["label"]) for h in HEADERS]]
    data += [[Paragraph(sheet_text(str(v)), st["value"]) for v in x.row()] for x in lines]
    story = [Paragraph("城镇困难职工解困脱困进度", st["title"]),
             Paragraph("(成工办〔2019〕43号:2019年解困脱困达到60%以上,2020年全部解困脱困)", st["subtitle"]),
             Spacer(1, 6 * mm), chart(lines), Spacer(1, 6 * mm), grid(data, [44, 20, 20, 20, 33, 33], header=True)]
    return document(story, "解困脱困进度")
