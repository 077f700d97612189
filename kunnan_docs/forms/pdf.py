"""Stage 2b: annex forms as print-ready A4 PDFs (reportlab), each page carrying the archive number's QR code.

The renderer also says where each signature cell and seal area lies on its pages (`Box`), so that a
scanned, signed form can be checked where the ink should be.
"""

from __future__ import annotations

from dataclasses import dataclass

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Spacer, Table

from kunnan_docs.forms import qr
from kunnan_docs.forms.fill import FilledForm, letter_text
from kunnan_docs.forms.fonts import register
from kunnan_docs.forms.typeset import (
    EDGE,
    FRAME_W,
    MARGIN_RIGHT,
    PAGE_W,
    Para,
    Title,
    document,
    para_text,
    styles,
    table_style,
)

QR_SIZE = qr.SIZE_MM * mm
POSTER_QR_SIZE = qr.POSTER_SIZE_MM * mm
SEAL_SIZE = 42 * mm  # a union's round seal
SIGNED = {"signature", "contact_person_opinion", "union_opinion", "visit_union_opinion",  # cells signed or sealed
          "cancellation_decision", "cancellation_approval"}


@dataclass(frozen=True)
class Box:
    """A named area on a form page, in PDF points from the page's lower-left corner."""

    name: str
    page: int  # 1-based, within the form's own PDF
    x0: float
    y0: float
    x1: float
    y1: float


class _Boxes(list[Box]):
    def record(self, canvas: Canvas, name: str, x0: float, y0: float, x1: float, y1: float) -> None:
        (ax0, ay0), (ax1, ay1) = canvas.absolutePosition(x0, y0), canvas.absolutePosition(x1, y1)
        self.append(Box(name, canvas.getPageNumber(), round(ax0, 2), round(ay0, 2), round(ax1, 2), round(ay1, 2)))


class FormRow(Table):
    """One row of a form. When the row continues on the next page its labels appear there too,
    marked （续）, and the cells to be signed report where they landed."""

    labels: dict[int, str]
    signed: dict[int, str]  # value column → the label of the signature it holds
    boxes: _Boxes

    def split(self, availWidth, availHeight):
        parts = super().split(availWidth, availHeight)
        for part in parts:
            part.labels, part.signed, part.boxes = self.labels, self.signed, self.boxes
        if len(parts) == 2:
            st = styles()["label"]
            for col, label in self.labels.items():
                parts[0]._cellvalues[0][col] = [Para(para_text(label), st)]
                parts[1]._cellvalues[0][col] = [Para(para_text(f"{label}\n（续）"), st)]
        return parts

    def draw(self) -> None:
        super().draw()
        for col, name in self.signed.items():
            x0, x1 = self._colpositions[col], self._colpositions[col + 1]
            self.boxes.record(self.canv, name, x0, self._rowpositions[-1], x1, self._rowpositions[0])


class SealMark(Flowable):
    """Zero-height marker after the seal line: the seal goes over the union's name and the date."""

    def __init__(self, boxes: _Boxes, name: str, centre_x: float) -> None:
        super().__init__()
        self.boxes, self.name, self.centre_x = boxes, name, centre_x

    def wrap(self, availWidth, availHeight):
        return 0, 0

    def draw(self) -> None:
        half = SEAL_SIZE / 2
        self.boxes.record(self.canv, self.name, self.centre_x - half, 0, self.centre_x + half, SEAL_SIZE)


def _canvas_with_footer(form: FilledForm, archive_no: str) -> type[Canvas]:
    """A canvas that holds its pages back until the end, so that each page's QR code can say "page i of n"."""
    font = register()
    poster = form.spec.public

    class FooterCanvas(Canvas):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            self._held: list[dict[str, object]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._pageNumber += 1  # what the flowables on the next page see (signature boxes name their page)
            self._startPage()

        def save(self) -> None:
            for page, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                self._footer(page, len(self._held))
                super().showPage()
            super().save()

        def _footer(self, page: int, pages: int) -> None:
            self.saveState()
            code = qr.form_code(form, archive_no, page, pages).text
            if poster:  # a public notice: only a small code in the corner, no internal footer
                qr.draw(self, code, PAGE_W - EDGE - POSTER_QR_SIZE - 4 * mm, EDGE, POSTER_QR_SIZE)
            else:
                x = PAGE_W - MARGIN_RIGHT - QR_SIZE
                qr.draw(self, code, x, EDGE, QR_SIZE)
                self.setFont(font, 9)
                self.drawRightString(x - 2 * mm, EDGE + 9 * mm, f"档案号：{archive_no}")
                annex = f"{form.spec.label} " if form.spec.annex else ""  # a form of our own: its title alone
                self.drawRightString(x - 2 * mm, EDGE + 4 * mm, f"{annex}{form.spec.title} 第{page}页 共{pages}页")
            self.restoreState()

    return FooterCanvas


def _rows(form: FilledForm, boxes: _Boxes) -> list[Table]:
    """One Table per form row, stacked: merged cells become wide columns instead of SPANs, so that a
    long value can split across pages (reportlab cannot split a row inside a spanned cell)."""
    st = styles()
    spec_widths = form.spec.raw["widths_mm"]
    scale = FRAME_W / (sum(spec_widths) * mm)
    tables: list[Table] = []
    for row in form.spec.raw["rows"]:
        cells: list[Para] = []
        col_widths: list[float] = []
        labels: dict[int, str] = {}
        signed: dict[int, str] = {}
        col = 0
        for label, name, span in row:
            labels[len(cells)] = label
            if name in SIGNED:
                signed[len(cells) + 1] = label.replace("\n", "")
            cells += [Para(para_text(label), st["label"]), Para(para_text(form.values.get(name, "")), st["value"])]
            col_widths += [spec_widths[col] * mm * scale, sum(spec_widths[col + 1:col + 1 + span]) * mm * scale]
            col += 1 + span
        min_height = 36 * mm if len(row) == 1 else 14 * mm  # a full-width row holds free text
        table = FormRow([cells], colWidths=col_widths, style=table_style(), splitInRow=1, minRowHeights=[min_height])
        table.labels, table.signed, table.boxes = labels, signed, boxes
        tables.append(table)
    return tables


def _story(form: FilledForm, boxes: _Boxes) -> list[object]:
    spec, st = form.spec.raw, styles()
    story: list[object] = [Title(para_text(form.spec.title), st["title"])]
    if spec.get("note"):  # a form of our own says so, lest it be taken for an annex of the notice
        story.append(Para(para_text(spec["note"]), st["subtitle"]))
    story.append(Spacer(1, 8 * mm))
    if "letter" not in spec:
        return story + _rows(form, boxes)
    letter = spec["letter"]
    if letter.get("salutation"):
        story.append(Para(para_text(letter_text(letter["salutation"], form.values)), st["salutation"]))
    story += [Para(para_text(letter_text(line, form.values)), st["body"]) for line in letter["body"]]
    story.append(Spacer(1, 24 * mm))
    seal = letter_text(letter["seal"], form.values)
    story.append(Para(para_text(seal), st["right"]))
    story.append(Para(para_text(letter_text(letter["date"], form.values)), st["right"]))
    right = st["right"]
    seal_centre = FRAME_W - right.rightIndent - len(seal) * right.fontSize / 2
    story.append(SealMark(boxes, "盖章", seal_centre))
    return story


def render_with_boxes(form: FilledForm, archive_no: str) -> tuple[bytes, list[Box]]:
    """The form as PDF bytes, and where its signature cells and seal area lie."""
    boxes = _Boxes()
    pdf = document(_story(form, boxes), form.title, bottom=EDGE + QR_SIZE + 6 * mm, subject=f"档案号 {archive_no}",
                   canvasmaker=_canvas_with_footer(form, archive_no))
    return pdf, list(boxes)


def render_pdf(form: FilledForm, archive_no: str) -> bytes:
    return render_with_boxes(form, archive_no)[0]
