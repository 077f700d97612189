"""The progress sheet (进度): the tally of staff/progress.py as a bar chart against the targets and tables, as a PDF.
Apart from the tally, so that printing the tally to the terminal loads no reportlab."""

from __future__ import annotations

from datetime import date

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Spacer

from kunnan_docs.core.zh import zh_date
from kunnan_docs.forms.fonts import register
from kunnan_docs.forms.typeset import FRAME_W, Para, Title, cells, document, grid, styles
from kunnan_docs.staff.duplicates import folded_note
from kunnan_docs.staff.progress import HEADERS, OTHER_HEADERS, TARGETS, DistrictTally, Progress


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


def report_pdf(progress: Progress, as_of: date | None = None) -> bytes:
    st = styles()
    lines, others = progress.lines, progress.others
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
    if progress.cancelled:
        story += [Spacer(1, 6 * mm), Para(progress.cancelled_line, st["subtitle"])]
    if progress.folded:
        story += [Spacer(1, 4 * mm), Para(folded_note(progress.folded), st["subtitle"])]
    return document(story, "解困脱困进度")
