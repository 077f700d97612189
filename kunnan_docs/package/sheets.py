"""The package's own sheets: cover (案卷封面), contents list (卷内文件目录) and remarks (卷内备考表)."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from kunnan_docs.forms import qr
from kunnan_docs.forms.fonts import register
from kunnan_docs.forms.pdf import CREATOR, MARGIN_X, PAGE_W, sheet_text, styles


@dataclass
class CoverInfo:
    archive_no: str
    title: str
    fields: list[tuple[str, str]]  # label, value
    status: str


@dataclass
class TocRow:
    seq: int
    doc_no: str
    responsible: str
    title: str
    date: str
    pages: str
    remark: str


def build_pdf(story: list[object], title: str, on_page: Callable[[Canvas, SimpleDocTemplate], None] | None = None,
           bottom: float = 20 * mm) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=MARGIN_X, rightMargin=MARGIN_X, topMargin=22 * mm,
                            bottomMargin=bottom, title=title, author=CREATOR, creator=CREATOR, invariant=1,
                            initialFontName=register())
    if on_page:
        doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    else:
        doc.build(story)
    return buf.getvalue()


def grid(data: list[list[object]], widths_mm: list[float], header: bool = False) -> Table:
    style = [
        ("GRID", (0, 0), (-1, -1), 0.8, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("FONTNAME", (0, 0), (-1, -1), register()),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]
    return Table(data, colWidths=[w * mm for w in widths_mm], style=TableStyle(style),
                 repeatRows=1 if header else 0, splitInRow=1)


def cover(info: CoverInfo) -> bytes:
    st = styles()
    big = ParagraphStyle("cover-title", st["title"], fontSize=26, leading=36)
    label = ParagraphStyle("cover-label", st["label"], fontSize=12, leading=18)
    value = ParagraphStyle("cover-value", st["value"], fontSize=12, leading=18)
    rows = [[Paragraph(sheet_text(k), label), Paragraph(sheet_text(v), value)] for k, v in info.fields]
    story: list[object] = [
        Paragraph("成都市总工会", st["subtitle"]), Spacer(1, 10 * mm),
        Paragraph(sheet_text(info.title), big), Spacer(1, 4 * mm),
        Paragraph(sheet_text(info.status), ParagraphStyle("status", st["subtitle"], fontSize=14, leading=20)),
        Spacer(1, 10 * mm), grid(rows, [38, 132]),
    ]

    def on_page(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        size = 34 * mm
        x = (PAGE_W - size) / 2
        qr.draw(canvas, cover_code(info).text, x, 22 * mm, size)
        canvas.setFont(register(), 11)
        canvas.drawCentredString(PAGE_W / 2, 16 * mm, f"档案号：{info.archive_no}")

    return build_pdf(story, f"案卷封面 {info.archive_no}", on_page, bottom=62 * mm)


def cover_code(info: CoverInfo) -> qr.PageCode:
    """The cover's own code: a scanner that meets it knows it is no form to file."""
    return qr.PageCode(info.archive_no, qr.COVER_KEY, 1, 1, qr.fingerprint([info.title, info.fields]))


TOC_HEADER = ["顺序号", "文号", "责任者", "题名", "日期", "页号", "备注"]
TOC_WIDTHS = [12, 14, 28, 63, 21, 14, 18]


def contents(rows: list[TocRow], archive_no: str) -> bytes:
    st = styles()
    small = ParagraphStyle("toc", st["value"], fontSize=9.5, leading=13)
    head = ParagraphStyle("toc-head", st["label"], fontSize=10)
    data: list[list[object]] = [[Paragraph(h, head) for h in TOC_HEADER]]
    for r in rows:
        cells = [str(r.seq), r.doc_no, r.responsible, r.title, r.date, r.pages, r.remark]
        data.append([Paragraph(sheet_text(c), small) for c in cells])
    story = [Paragraph("卷内文件目录", st["title"]), Paragraph(sheet_text(f"档案号：{archive_no}"), st["subtitle"]),
             Spacer(1, 5 * mm), grid(data, TOC_WIDTHS, header=True)]
    return build_pdf(story, f"卷内文件目录 {archive_no}")


def remarks(archive_no: str, paragraphs: list[str], filing_date: str) -> bytes:
    st = styles()
    text = ParagraphStyle("remarks", st["value"], fontSize=11, leading=18)
    box = [[Paragraph("本卷情况说明", st["label"])],
           [[Paragraph(sheet_text(p), text) for p in paragraphs]]]
    sign = ParagraphStyle("sign", st["value"], fontSize=12, leading=26)
    story = [Paragraph("卷内备考表", st["title"]), Paragraph(sheet_text(f"档案号：{archive_no}"), st["subtitle"]),
             Spacer(1, 5 * mm), grid(box, [170]), Spacer(1, 10 * mm),
             Paragraph("立卷人：________________", sign), Paragraph("检查人：________________", sign),
             Paragraph(sheet_text(f"立卷时间：{filing_date}"), sign)]
    return build_pdf(story, f"卷内备考表 {archive_no}")


def page_number_stamps(sizes: list[tuple[float, float]], numbers: list[int]) -> bytes:
    """One page per content page, of that page's visible size, with its archive page number top-right.

    All numbers live in one document, so the package embeds one small font subset for all of them."""
    buf = io.BytesIO()
    canvas = Canvas(buf, invariant=1, initialFontName=register(), pageCompression=1)
    for (width, height), number in zip(sizes, numbers, strict=True):
        canvas.setPageSize((width, height))
        canvas.setFont(register(), 12)
        canvas.drawRightString(width - 10 * mm, height - 8 * mm, str(number))
        canvas.showPage()
    canvas.save()
    return buf.getvalue()
