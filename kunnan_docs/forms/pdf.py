"""Stage 2b: annex forms as print-ready A4 PDFs (reportlab), each page carrying the archive number's QR code."""

from __future__ import annotations

import io
import re
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from kunnan_docs.forms import qr
from kunnan_docs.forms.fill import FilledForm, letter_text
from kunnan_docs.forms.fonts import register

PAGE_W, _ = A4
MARGIN_X = 20 * mm
MARGIN_TOP = 22 * mm  # leaves the top-right corner free for the archive page number (页号) stamp
MARGIN_BOTTOM = 34 * mm  # the QR code and archive number sit in the footer
QR_SIZE = 22 * mm
CREATOR = "kunnan-docs"


def styles() -> dict[str, ParagraphStyle]:
    font = register()
    base = ParagraphStyle("base", fontName=font, fontSize=10, leading=14.5, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", base, fontSize=18, leading=26, alignment=TA_CENTER),
        "subtitle": ParagraphStyle("subtitle", base, fontSize=12, leading=18, alignment=TA_CENTER),
        "label": ParagraphStyle("label", base, alignment=TA_CENTER),
        "value": ParagraphStyle("value", base, alignment=TA_LEFT),
        "body": ParagraphStyle("body", base, fontSize=14, leading=26, firstLineIndent=28),
        "salutation": ParagraphStyle("salutation", base, fontSize=14, leading=26),
        "right": ParagraphStyle("right", base, fontSize=14, leading=26, alignment=TA_RIGHT),
        "small": ParagraphStyle("small", base, fontSize=8, leading=10),
    }


_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_FULL = {",": "，", ";": "；", ":": "：", "(": "（", ")": "）"}
_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK}])[,;:()]|[,;:()](?=[{_CJK}])")


def zh_punct(text: str) -> str:
    """Full-width punctuation next to Chinese characters, as printed Chinese documents have it."""
    return _NEXT_TO_CJK.sub(lambda m: _FULL[m.group(0)], text)


def sheet_text(text: str) -> str:
    """Our own printed sheets (cover, contents, remarks, registers): typeset, then escaped."""
    return para_text(zh_punct(text))


def para_text(text: str) -> str:
    """Escape a value for reportlab's mini-markup; line breaks become <br/>."""
    return escape(text).replace("\n", "<br/>")


def _canvas_with_footer(form: FilledForm, archive_no: str) -> type[Canvas]:
    """A canvas that holds its pages back until the end, so that each page's QR code can say "page i of n"."""
    font = register()

    class FooterCanvas(Canvas):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            self._held: list[dict[str, object]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for page, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                self._footer(page, len(self._held))
                super().showPage()
            super().save()

        def _footer(self, page: int, pages: int) -> None:
            self.saveState()
            x = PAGE_W - MARGIN_X - QR_SIZE
            qr.draw(self, qr.form_code(form, archive_no, page, pages).text, x, 8 * mm, QR_SIZE)
            self.setFont(font, 9)
            self.drawRightString(x - 2 * mm, 17 * mm, f"档案号：{archive_no}")
            self.drawRightString(x - 2 * mm, 12 * mm, f"附件{form.spec.annex} {form.spec.title} 第{page}页 共{pages}页")
            self.restoreState()

    return FooterCanvas


_CELL_STYLE = [
    ("GRID", (0, 0), (-1, -1), 0.8, colors.black),
    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ("LEFTPADDING", (0, 0), (-1, -1), 4),
    ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ("TOPPADDING", (0, 0), (-1, -1), 4),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
]


def _rows(form: FilledForm, st: dict[str, ParagraphStyle]) -> list[Table]:
    """One reportlab Table per form row, stacked: merged cells become wide columns instead of SPANs,
    so that a long value can split across pages (reportlab cannot split a row inside a spanned cell)."""
    widths = form.spec.raw["widths_mm"]
    tables: list[Table] = []
    for row in form.spec.raw["rows"]:
        cells: list[Paragraph] = []
        col_widths: list[float] = []
        col = 0
        for label, name, span in row:
            cells += [Paragraph(para_text(label), st["label"]),
                      Paragraph(para_text(form.values.get(name, "")), st["value"])]
            col_widths += [widths[col] * mm, sum(widths[col + 1:col + 1 + span]) * mm]
            col += 1 + span
        min_height = 36 * mm if len(row) == 1 else 14 * mm  # a full-width row holds free text
        style = TableStyle([*_CELL_STYLE, ("FONTNAME", (0, 0), (-1, -1), register())])  # not Helvetica
        tables.append(Table([cells], colWidths=col_widths, style=style, splitInRow=1,
                            minRowHeights=[min_height]))
    return tables


def _story(form: FilledForm, st: dict[str, ParagraphStyle]) -> list[object]:
    spec = form.spec.raw
    story: list[object] = [Paragraph(para_text(form.spec.title), st["title"])]
    if spec.get("subtitle"):
        story.append(Paragraph(para_text(spec["subtitle"]), st["subtitle"]))
    story.append(Spacer(1, 6 * mm))
    if "letter" in spec:
        letter = spec["letter"]
        if letter.get("salutation"):
            story.append(Paragraph(para_text(letter_text(letter["salutation"], form.values)), st["salutation"]))
        for line in letter["body"]:
            story.append(Paragraph(para_text(letter_text(line, form.values)), st["body"]))
        story.append(Spacer(1, 24 * mm))
        story.append(Paragraph(para_text(letter_text(letter["seal"], form.values)), st["right"]))
        story.append(Paragraph(para_text(letter_text(letter["date"], form.values)), st["right"]))
    else:
        story.extend(_rows(form, st))
    return story


def render_pdf(form: FilledForm, archive_no: str) -> bytes:
    """The form as PDF bytes; invariant=1 keeps the output byte-identical for identical input."""
    st = styles()
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM, title=form.title, author=CREATOR, subject=f"档案号 {archive_no}",
        creator=CREATOR, invariant=1, initialFontName=register(),
    )
    doc.build(_story(form, st), canvasmaker=_canvas_with_footer(form, archive_no))
    return buf.getvalue()

