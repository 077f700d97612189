"""Stage 2b: annex forms as print-ready A4 PDFs (reportlab), each page carrying the archive number's QR code.

The renderer also says where each signature cell and seal area lies on its pages (`Box`), so that a
scanned, signed form can be checked where the ink should be.

A form's table holds on paper: each row is its own table, so a long value continues on the next page,
closed by its rules on both pages, its label repeated there with （续）; a row splits only where at least
two lines of text stay on each side, and the row that is signed never starts a page alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from reportlab.lib.enums import TA_CENTER, TA_LEFT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Spacer, Table
from reportlab.rl_config import _FUZZ

from kunnan_docs.forms import qr
from kunnan_docs.forms.fill import FilledForm, forms_data, letter_text
from kunnan_docs.forms.fonts import register
from kunnan_docs.forms.typeset import (
    BODY_PT,
    CELL_PAD_X,
    CELL_PAD_Y,
    EDGE,
    FRAME_PADDING,
    FRAME_W,
    MARGIN_RIGHT,
    PAGE_W,
    TABLE_PT,
    Para,
    Title,
    document,
    para_text,
    styles,
    table_style,
    text_width,
)

QR_SIZE = qr.SIZE_MM * mm
POSTER_QR_SIZE = qr.POSTER_SIZE_MM * mm
SEAL_SIZE = 42 * mm  # a union's round seal
SEAL = "盖章"  # the name of every seal area (package/ink.py checks it for a seal's ink)
SIGNED = {"signature", "visit_union_opinion",  # value cells that are signed or sealed as a whole
          "cancellation_decision", "cancellation_approval"}
MIN_LINES = 2  # lines of a value kept together on either side of a page break
MIN_ONE_LINE_PT = 7.5  # an identifier or a date shrinks down to this size to stay on one line in its cell
SIGN_ROOM = 12 * mm  # height of the room for a handwritten signature
BLANK_DATE = "\u3000\u3000年\u3000\u3000月\u3000\u3000日"  # a date to be written by hand
SEAL_GAP = 44  # points between a letter's text and its union line: the seal's top comes within a line of the text
SEAL_RAISE = 8  # points the seal's centre sits above the union line and date (they sit in its lower half)


@cache
def _styles() -> dict[str, ParagraphStyle]:
    """The shared styles, made once per process: a form asks for them per cell (they are never changed)."""
    return styles()


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


class SignBlock(Flowable):
    """Under an opinion: 签字： and room to sign, then the seal line (if any) and the date, all at the foot
    of the cell. The room to sign and the seal area (42 mm, centred on the seal line and date) are boxes."""

    def __init__(self, spec: dict[str, str], values: dict[str, str], boxes: _Boxes) -> None:
        super().__init__()
        self.spec, self.boxes = spec, boxes
        self.date = values.get(spec.get("date", ""), "") or BLANK_DATE  # no date variable: written by hand
        style = _styles()["value"]
        self.label = Para(para_text(f"{spec['sign']}："), style)
        self.lines = [Para(para_text(text), ParagraphStyle("sign-line", style, alignment=TA_CENTER))
                      for text in (spec.get("seal"), self.date) if text]

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = availWidth
        self.height = SIGN_ROOM + SEAL_SIZE
        return self.width, self.height

    def _text_centre(self) -> float:
        """Where the seal line and date are centred: 21 mm and a little from the cell's right edge, as far
        right as a seal of 42 mm fits, else the middle of the cell."""
        return max(self.width / 2, self.width - SEAL_SIZE / 2 - 2 * mm)

    def draw(self) -> None:
        canvas = self.canv
        _, label_h = self.label.wrap(self.width, SIGN_ROOM)
        label_w = text_width(f"{self.spec['sign']}：", TABLE_PT)
        self.label.drawOn(canvas, 0, SEAL_SIZE + (SIGN_ROOM - label_h) / 2)
        self.boxes.record(canvas, self.spec["box"], label_w + 1, SEAL_SIZE, self.width, SEAL_SIZE + SIGN_ROOM)
        centre = self._text_centre()
        half = min(centre, self.width - centre)
        y = SEAL_SIZE / 2 - SEAL_RAISE
        for line in self.lines:
            _, h = line.wrap(2 * half, SEAL_SIZE)
            line.drawOn(canvas, centre - half, y)
            y -= h
        if self.spec.get("seal"):
            self.boxes.record(canvas, SEAL, centre - SEAL_SIZE / 2, 0, centre + SEAL_SIZE / 2, SEAL_SIZE)


@dataclass
class _Cell:
    """A label and its value on one form row; the value is a list of flowables (one per entry of a list)."""

    label: str
    label_width: float
    value_width: float
    value: list[Flowable]
    signed: str = ""  # the whole value cell is signed: its name as a box
    sign: SignBlock | None = None  # signature and seal under the value


def _inner(width: float) -> float:
    return width - 2 * CELL_PAD_X


def _height(flowables: list[Flowable], width: float) -> float:
    return sum(f.wrap(_inner(width), 1e6)[1] for f in flowables)


def _split_para(para: Para, width: float, height: float, keep: int) -> list[Para]:
    """The paragraph cut after as many lines as fit in `height`, leaving at least `keep` lines on each side;
    [] when it cannot be cut so."""
    para.wrap(_inner(width), 1e6)
    lines, leading = len(para.blPara.lines), para.style.leading
    fit = min(int((height + _FUZZ) // leading), lines - keep)
    if fit < keep:
        return []
    parts = para.split(_inner(width), fit * leading + _FUZZ)
    return parts if len(parts) == 2 else []


def _split_value(cell: _Cell, height: float, keep: int) -> tuple[list[Flowable], list[Flowable]]:
    """What of a value fits in `height`, and what continues on the next page. A signature block goes with
    at least `keep` lines of the text it signs."""
    items: list[Flowable] = [*cell.value, *([cell.sign] if cell.sign else [])]
    head: list[Flowable] = []
    used = 0.0
    for i, item in enumerate(items):
        h = item.wrap(_inner(cell.value_width), 1e6)[1]
        if used + h <= height + _FUZZ:
            head.append(item)
            used += h
            continue
        parts = _split_para(item, cell.value_width, height - used, keep) if isinstance(item, Para) else []
        head += parts[:1]
        tail = [*parts[1:], *items[i + 1:]] if parts else items[i:]
        if tail[0] is cell.sign and head:  # the signature would stand without its text: take some of it along
            last = head.pop()
            height_last = last.wrap(_inner(cell.value_width), 1e6)[1]
            cut = (_split_para(last, cell.value_width, height_last - keep * last.style.leading, keep)
                   if isinstance(last, Para) else [])
            head += cut[:1]
            tail = [*(cut[1:] or [last]), *tail]
        return head, tail
    return head, []


class FormRow(Flowable):
    """One row of a form, as a one-row table whose cells are a label and a value each. It splits at a page
    break into two complete tables (rules closed on both pages), the second with its labels marked （续）;
    a fragment's labels and values stand at its top."""

    def __init__(self, cells: list[_Cell], boxes: _Boxes, min_height: float = 0.0, continued: bool = False,
                 fragment: bool = False, last: bool = True) -> None:
        super().__init__()
        self.cells, self.boxes, self.min_height = cells, boxes, min_height
        self.continued, self.fragment, self.last = continued, fragment, last
        self.hAlign = "CENTER"  # over the frame's padding, on the text width, as the tables of the sheets
        self._table: Table | None = None

    def _labels(self) -> list[Para]:
        suffix = "\n（续）" if self.continued else ""
        return [Para(para_text(cell.label + suffix), _styles()["label"]) for cell in self.cells]

    def _build(self) -> Table:
        if self._table is not None:
            return self._table
        labels = self._labels()
        heights = [self.min_height]
        for cell, label in zip(self.cells, labels, strict=True):
            heights += [_height([label], cell.label_width) + 2 * CELL_PAD_Y,
                        _height(cell.value + ([cell.sign] if cell.sign else []), cell.value_width) + 2 * CELL_PAD_Y]
        height = max(heights)
        row: list[object] = []
        widths: list[float] = []
        extra: list[tuple[Any, ...]] = []
        valign = "TOP" if self.fragment else "MIDDLE"
        for n, (cell, label) in enumerate(zip(self.cells, labels, strict=True)):
            value = list(cell.value)
            if cell.sign:  # the signature block stands at the foot of the cell
                room = height - 2 * CELL_PAD_Y - _height([*value, cell.sign], cell.value_width)
                value += [Spacer(1, room), cell.sign]
                extra.append(("VALIGN", (2 * n + 1, 0), (2 * n + 1, 0), "TOP"))
            row += [label, value]
            widths += [cell.label_width, cell.value_width]
        self._table = Table([row], colWidths=widths, rowHeights=[height],
                            style=table_style([("VALIGN", (0, 0), (-1, -1), valign), *extra]))
        return self._table

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width, self.height = self._build().wrap(availWidth, availHeight)
        return self.width, self.height

    def draw(self) -> None:
        self._build().drawOn(self.canv, 0, 0)  # wrapped by wrap()
        if not self.last:
            return
        x = 0.0
        for cell in self.cells:
            x += cell.label_width
            if cell.signed:
                self.boxes.record(self.canv, cell.signed, x, 0, x + cell.value_width, self.height)
            x += cell.value_width

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        frame = getattr(self, "_frame", None)
        return self.split_at(availHeight, bool(getattr(frame, "_atTop", False)))

    def split_at(self, height: float, at_top: bool) -> list[Flowable]:
        """Two fragments, the first at most `height` high; [] when the row is better moved whole to the next
        page. At the top of a page, where moving would not help, the row splits wherever it must."""
        room = height - 2 * CELL_PAD_Y
        keep = 1 if at_top else MIN_LINES
        labels = self._labels()
        if any(_height([label], cell.label_width) > room for cell, label in zip(self.cells, labels, strict=True)):
            return []
        parts = [_split_value(cell, room, keep) for cell in self.cells]
        if not any(head for head, _ in parts) or not any(tail for _, tail in parts):
            return []
        heads = [_Cell(c.label, c.label_width, c.value_width, head, c.signed) for c, (head, _) in zip(self.cells, parts,
                                                                                                      strict=True)]
        tails = [_Cell(c.label, c.label_width, c.value_width, [f for f in tail if f is not c.sign], c.signed,
                       c.sign if c.sign in tail else None) for c, (_, tail) in zip(self.cells, parts, strict=True)]
        return [FormRow(heads, self.boxes, continued=self.continued, fragment=True, last=False),
                FormRow(tails, self.boxes, continued=True, fragment=True, last=self.last)]


class WithLast(Flowable):
    """The row before the signed last row, and that last row: the last row never starts a page alone, but
    takes the end of the row before it along (or that whole row, when it cannot be cut)."""

    def __init__(self, before: FormRow, last: FormRow) -> None:
        super().__init__()
        self.before, self.last_row = before, last
        self.hAlign = "CENTER"

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        w, hb = self.before.wrap(availWidth, availHeight)
        _, hl = self.last_row.wrap(availWidth, availHeight)
        self.width, self.height, self._before_h = w, hb + hl, hb
        return self.width, self.height

    def draw(self) -> None:
        self.last_row.drawOn(self.canv, 0, 0)
        self.before.drawOn(self.canv, 0, self.height - self._before_h)

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        at_top = bool(getattr(getattr(self, "_frame", None), "_atTop", False))
        hb = self.before.wrap(availWidth, availHeight)[1]
        parts = self.before.split_at(min(availHeight, hb - 1), at_top)
        if len(parts) == 2:
            return [parts[0], WithLast(parts[1], self.last_row)]  # type: ignore[arg-type]
        return [self.before, self.last_row] if at_top else []


class SignOff(Flowable):
    """A letter's union line and date (GB/T 9704): the date four characters from the right, the union line
    centred over it, the seal area (42 mm) centred on both with them in its lower half."""

    def __init__(self, union: str, day: str, boxes: _Boxes) -> None:
        super().__init__()
        self.union, self.day, self.boxes = union, day, boxes

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        body = _styles()["body"]
        union_w, day_w = text_width(self.union, BODY_PT), text_width(self.day, BODY_PT)
        right = availWidth + FRAME_PADDING  # a long union line may reach the right margin
        self.centre = min(availWidth - 4 * BODY_PT - day_w / 2, right - union_w / 2 - 1)
        if self.centre < union_w / 2:  # a union line longer than the text width: centred, on several lines
            self.centre = availWidth / 2
        half = min(union_w / 2 + 1, self.centre, right - self.centre)
        self.union_para = Para(para_text(self.union), ParagraphStyle(
            "union", body, firstLineIndent=0, alignment=TA_CENTER, leftIndent=self.centre - half,
            rightIndent=availWidth - self.centre - half))  # below 0: into the padding of the margin
        self.day_para = Para(para_text(self.day), ParagraphStyle(
            "day", body, firstLineIndent=0, alignment=TA_LEFT, leftIndent=self.centre - day_w / 2))
        self.union_h = self.union_para.wrap(availWidth, availHeight)[1]
        self.day_h = self.day_para.wrap(availWidth, availHeight)[1]
        self.width, self.height = availWidth, self.union_h + self.day_h
        return self.width, self.height

    def draw(self) -> None:
        self.union_para.drawOn(self.canv, 0, self.day_h)
        self.day_para.drawOn(self.canv, 0, 0)
        middle = self.height / 2 + SEAL_RAISE
        self.boxes.record(self.canv, SEAL, self.centre - SEAL_SIZE / 2, middle - SEAL_SIZE / 2,
                          self.centre + SEAL_SIZE / 2, middle + SEAL_SIZE / 2)


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
            self._startPage()  # counts the next page: the boxes drawn there name it

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
                self.drawRightString(x - 2 * mm, EDGE + 4 * mm, f"{annex}{form.title} 第{page}页 共{pages}页")
            self.restoreState()

    return FooterCanvas


def _one_line_style(text: str, width: float) -> ParagraphStyle:
    """The value style, smaller when needed for the text to fit the cell on one line (not below 7.5 pt)."""
    value = _styles()["value"]
    natural = text_width(text, TABLE_PT)
    if natural <= _inner(width):
        return value
    size = max(MIN_ONE_LINE_PT, TABLE_PT * _inner(width) / natural * 0.995)
    return ParagraphStyle("one-line", value, fontSize=size)


def _value(form: FilledForm, name: str, width: float) -> list[Flowable]:
    field = forms_data()["fields"].get(name, {})
    text = form.values.get(name, "")
    st = _styles()
    if field.get("entries") and text:  # one paragraph an entry: a continuation line hangs under its entry
        return [Para(para_text(line), st["entry"]) for line in text.split("\n")]
    style = _one_line_style(text, width) if field.get("one_line") else st["value"]
    return [Para(para_text(text), style)]


def _rows(form: FilledForm, boxes: _Boxes) -> list[Flowable]:
    """One FormRow per form row, stacked: merged cells become wide columns instead of SPANs, so that a
    long value can split across pages; the last row (the signatures) keeps the end of the row before it."""
    spec_widths = form.spec.raw["widths_mm"]
    scale = FRAME_W / (sum(spec_widths) * mm)
    rows: list[FormRow] = []
    for row in form.spec.raw["rows"]:
        cells: list[_Cell] = []
        col = 0
        for label, name, span, *sign in row:
            label_w = spec_widths[col] * mm * scale
            value_w = sum(spec_widths[col + 1:col + 1 + span]) * mm * scale
            cells.append(_Cell(label, label_w, value_w, _value(form, name, value_w),
                               label.replace("\n", "") if name in SIGNED else "",
                               SignBlock(sign[0], form.values, boxes) if sign else None))
            col += 1 + span
        min_height = 36 * mm if len(row) == 1 else 14 * mm  # a full-width row holds free text
        rows.append(FormRow(cells, boxes, min_height))
    return [*rows[:-2], WithLast(rows[-2], rows[-1])] if len(rows) >= 2 else list(rows)


def _story(form: FilledForm, boxes: _Boxes) -> list[object]:
    spec, st = form.spec.raw, _styles()
    story: list[object] = [Title(para_text(form.spec.title), st["title"])]
    if spec.get("note"):  # a form of our own says so, lest it be taken for an annex of the notice
        story.append(Para(para_text(spec["note"]), st["subtitle"]))
    if spec.get("subtitle"):  # which return visit a record is of
        story.append(Para(para_text(letter_text(spec["subtitle"], {**form.values, "seq": str(form.seq)})),
                          st["subtitle"]))
    story.append(Spacer(1, 8 * mm))
    if "letter" not in spec:
        return story + _rows(form, boxes)
    letter = spec["letter"]
    if letter.get("salutation"):
        story.append(Para(para_text(letter_text(letter["salutation"], form.values)), st["salutation"]))
    for line in letter["body"]:
        if isinstance(line, dict):  # a line printed only when the case has its value
            if not form.values.get(line["if"]):
                continue
            line = line["text"]
        story.append(Para(para_text(letter_text(line, form.values)), st["body"]))
    story.append(Spacer(1, SEAL_GAP))
    story.append(SignOff(letter_text(letter["seal"], form.values), letter_text(letter["date"], form.values), boxes))
    return story


def render_with_boxes(form: FilledForm, archive_no: str) -> tuple[bytes, list[Box]]:
    """The form as PDF bytes, and where its signature cells and seal area lie."""
    boxes = _Boxes()
    pdf = document(_story(form, boxes), form.title, bottom=EDGE + QR_SIZE + 6 * mm, subject=f"档案号 {archive_no}",
                   canvasmaker=_canvas_with_footer(form, archive_no))
    return pdf, list(boxes)


def render_pdf(form: FilledForm, archive_no: str) -> bytes:
    return render_with_boxes(form, archive_no)[0]

