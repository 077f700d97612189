"""The package's own sheets: cover (案卷封面), contents list (卷内文件目录) and remarks (卷内备考表).

They exist only as pages of the package, which package.build makes PDF/A-2b as a whole, so on their
own they are plain reportlab PDFs (uncompressed, like the page-number stamps)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import SimpleDocTemplate, Spacer

from kunnan_docs.forms import qr
from kunnan_docs.forms.fonts import register
from kunnan_docs.forms.typeset import (
    EDGE,
    PAGE_NUMBER_SIZE,
    PAGE_W,
    Para,
    Title,
    cells,
    document,
    grid,
    page_number_position,
    sheet_text,
    styles,
)


@dataclass
class CoverInfo:
    archive_no: str
    keeper: str  # the union that keeps the archive (立档单位), printed above the title
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


def cover(info: CoverInfo) -> bytes:
    st = styles()
    big = ParagraphStyle("cover-title", st["title"], fontSize=26, leading=36)
    label = ParagraphStyle("cover-label", st["label"], fontSize=12, leading=18)
    value = ParagraphStyle("cover-value", st["value"], fontSize=12, leading=18)
    rows = [[Para(sheet_text(k), label), Para(sheet_text(v), value)] for k, v in info.fields]
    story: list[object] = [
        Para(sheet_text(info.keeper), st["subtitle"]), Spacer(1, 10 * mm),
        Title(sheet_text(info.title), big), Spacer(1, 4 * mm),
        Para(sheet_text(info.status), ParagraphStyle("status", st["subtitle"], fontSize=14, leading=20)),
        Spacer(1, 10 * mm), grid(rows, [38, 122]),
    ]

    def on_page(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        size = 34 * mm
        x = (PAGE_W - size) / 2
        qr.draw(canvas, cover_code(info).text, x, EDGE + 8 * mm, size)
        canvas.setFont(register(), 11)
        canvas.drawCentredString(PAGE_W / 2, EDGE + 2 * mm, f"档案号：{info.archive_no}")

    return document(story, f"案卷封面 {info.archive_no}", on_page, bottom=62 * mm, standalone=False)


def cover_code(info: CoverInfo) -> qr.PageCode:
    """The cover's own code: a scanner that meets it knows it is no form to file."""
    return qr.PageCode(info.archive_no, qr.COVER_KEY, 1, 1, qr.fingerprint([info.title, info.fields]))


TOC_HEADER = ["顺序号", "文号", "责任者", "题名", "日期", "页号", "备注"]
TOC_WIDTHS = [13, 12, 24, 55, 29, 13, 16]


def contents(rows: list[TocRow], archive_no: str) -> bytes:
    st = styles()
    small = ParagraphStyle("toc", st["value"], fontSize=9.5, leading=13)
    head = ParagraphStyle("toc-head", st["label"], fontSize=10)
    data: list[list[object]] = [cells(TOC_HEADER, head)]
    data += [cells([r.seq, r.doc_no, r.responsible, r.title, r.date, r.pages, r.remark], small) for r in rows]
    story = [Title("卷内文件目录", st["title"]), Para(sheet_text(f"档案号：{archive_no}"), st["subtitle"]),
             Spacer(1, 5 * mm), grid(data, TOC_WIDTHS, header=True)]
    return document(story, f"卷内文件目录 {archive_no}", standalone=False)


def remarks(archive_no: str, paragraphs: list[str], filing_date: str) -> bytes:
    st = styles()
    text = ParagraphStyle("remarks", st["value"], fontSize=11, leading=18)
    box = [[Para("本卷情况说明", st["label"])], [cells(paragraphs, text)]]
    sign = st["sign"]
    story = [Title("卷内备考表", st["title"]), Para(sheet_text(f"档案号：{archive_no}"), st["subtitle"]),
             Spacer(1, 5 * mm), grid(box, [1]), Spacer(1, 10 * mm),
             Para("立卷人：________________", sign), Para("检查人：________________", sign),
             Para(sheet_text(f"立卷时间：{filing_date}"), sign)]
    return document(story, f"卷内备考表 {archive_no}", standalone=False)


def page_number_stamps(sizes: list[tuple[float, float]], numbers: list[int]) -> bytes:
    """One page per content page, of that page's visible size, with its archive page number top-right.

    All numbers live in one document, so the package embeds one small font subset for all of them."""
    return stamps_kept(tuple(sizes), tuple(numbers))


@lru_cache(maxsize=16)
def stamps_kept(sizes: tuple[tuple[float, float], ...], numbers: tuple[int, ...]) -> bytes:
    """Kept for the process by what alone decides them (page sizes and numbers, nothing of a case): the
    rebuilds of a scan-in mostly stamp packages of the same pages, all A4 (20–90 KB each)."""
    buf = io.BytesIO()
    canvas = Canvas(buf, invariant=1, initialFontName=register(), pageCompression=0)
    for (width, height), number in zip(sizes, numbers, strict=True):
        canvas.setPageSize((width, height))
        canvas.setFont(register(), PAGE_NUMBER_SIZE)
        canvas.drawRightString(*page_number_position(width, height), str(number))
        canvas.showPage()
    canvas.save()
    return buf.getvalue()
