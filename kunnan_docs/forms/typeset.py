"""Typesetting shared by the annex forms and our own sheets: page set-up, faces and sizes, Chinese
punctuation and dates, and Chinese line breaking (GB/T 9704 for the page, GB/T 15834 for punctuation).

The forms (forms/pdf.py), the package sheets and the staff sheets all take their look from here, so a
printed archive reads as one document, and no sheet needs the annex renderer.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from functools import lru_cache

from reportlab.lib import colors
from reportlab.lib.abag import ABag
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.fonts import ps2tt, tt2ps
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import getAscentDescent, stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.textobject import PDFTextObject
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle
from reportlab.platypus.paragraph import FragLine, ParaLines, imgNormV, imgVRange, textTransformFrags
from reportlab.platypus.paraparser import ParaFrag
from reportlab.rl_config import _FUZZ, paraFontSizeHeightOffset

from kunnan_docs.forms.archival import archival_bytes
from kunnan_docs.forms.fonts import font_for, is_variation_selector, markup, register

# Page set-up (GB/T 9704): A4, binding margin (订口) on the left; page numbers and QR codes stay at least
# 10 mm inside every edge, where office printers still print.
PAGE_W, PAGE_H = A4
MARGIN_LEFT = 28 * mm
MARGIN_RIGHT = 20 * mm
MARGIN_TOP = 25 * mm  # leaves the top-right corner free for the archive page number (页号)
MARGIN_BOTTOM = 20 * mm
FRAME_W = PAGE_W - MARGIN_LEFT - MARGIN_RIGHT
FRAME_PADDING = 6  # points: reportlab's frames set text this far inside the margins (tables span the margins)
EDGE = 10 * mm  # nothing we print comes closer to a paper edge
PAGE_NUMBER_SIZE = 12
PAGE_NUMBER_STRIP = 18 * mm  # kept free at the top of every content page for its page number
CREATOR = "kunnan-docs"

# Sizes by GB/T 9704: title 2号 (22 pt), body 3号 (16 pt); tables in 五号 (10.5 pt) so a form fits its page.
TITLE_PT, BODY_PT, TABLE_PT = 22, 16, 10.5
FAKE_BOLD = 0.035  # stroke width per point of size: the bold title face (no bold CJK weight is packaged)


def page_number_position(width: float, height: float) -> tuple[float, float]:
    """Right end of the page number's baseline: top-right, at least EDGE from the top and right edges."""
    return width - EDGE - 2 * mm, height - EDGE - PAGE_NUMBER_SIZE * 0.9


# Chinese punctuation (GB/T 15834): full-width next to Chinese text; no line starts with a closing
# mark or ends with an opening one.
_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef\U00020000-\U0003ffff"
_FULL = {",": "，", ";": "；", ":": "：", "(": "（", ")": "）", "?": "？", "!": "！"}
_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK}])[,;:()?!]|[,;:()?!](?=[{_CJK}])")
_OPEN_PAREN_CJK = re.compile(r"（([^（）()]*)\)|\(([^（）()]*)）")
NO_LINE_START = "，。、；：？！）」』》〉】〕”’…—·%,.;:?!)]}"
NO_LINE_END = "（「『《〈【〔“‘([{"
SOFT_BREAK_AFTER = "-/_"  # an identifier wider than its line breaks after one of these rather than anywhere
IDEOGRAPHIC_SPACE = "\u3000"  # the full-width space of Chinese text
_KEPT_SPACE = "\ue000"  # a private-use character standing for it while reportlab cleans a paragraph's text
BREAK_SPACES = " " + IDEOGRAPHIC_SPACE  # dropped where a line breaks: a continuation never starts with a space
# Runs a line never breaks inside: archive numbers and other Latin/digit identifiers, dates, amounts,
# references such as 附件3 and 第11项.
_UNBREAKABLE = re.compile(r"\d{4}年\d{1,2}月(?:\d{1,2}日)?|(?:附件|第)\d+[项次页件句条]?|\d+(?:\.\d+)?[%元岁户页卷次天个件份项号条组室句]"
                          r"|[0-9A-Za-z][0-9A-Za-z\-/.:_*+]*")


def zh_punct(text: str) -> str:
    """Full-width punctuation next to Chinese characters, and brackets that pair up in one width."""
    text = _NEXT_TO_CJK.sub(lambda m: _FULL[m.group(0)], text)
    return _OPEN_PAREN_CJK.sub(lambda m: f"（{m.group(1) if m.group(1) is not None else m.group(2)}）", text)


def para_text(text: str) -> str:
    """A value in reportlab's mini-markup: escaped, line breaks as <br/>, rare characters in a fallback font."""
    return markup(text)


def sheet_text(text: str) -> str:
    """Our own printed sheets (cover, contents, remarks, registers): typeset, then escaped."""
    return para_text(zh_punct(text))


def break_allowed(text: str) -> list[bool]:
    """allowed[i]: a line may end before text[i] (Chinese rules, identifiers and dates kept whole)."""
    allowed = [True] * (len(text) + 1)
    allowed[0] = False
    for m in _UNBREAKABLE.finditer(text):
        for i in range(m.start() + 1, m.end()):
            allowed[i] = False
    for i in range(1, len(text)):
        if text[i] in NO_LINE_START or text[i - 1] in NO_LINE_END:
            allowed[i] = False
        elif text[i - 1] == " " or text[i] == " ":
            allowed[i] = True
    return allowed


@lru_cache(maxsize=1 << 16)
def _glyph_width(char: str, font_name: str, size: float) -> float:
    """What reportlab's CJK splitter measures for one glyph (stringWidth), once per face, size and character."""
    return stringWidth(char, font_name, size)


def text_width(text: str, size: float) -> float:
    """Width of plain text as `markup` sets it (each character in the first font of the chain that has it)."""
    main = register()
    return sum(_glyph_width(char, font_for(char) or main, size) for char in text if not is_variation_selector(char))


def _zh_frag_split(frags: list, max_widths: list[float], calc_bounds: bool) -> ParaLines:
    """reportlab's CJK line splitter (cjkFragSplit), but breaking only where break_allowed() says."""
    chars: list[str] = []
    owners: list = []  # the frag each character comes from
    widths: list[float] = []
    for f in frags:
        text = f.text.decode("utf8") if isinstance(f.text, bytes) else f.text
        glyphs = list(text) or [text]  # an empty frag (a <br/>) still holds a place on its line
        chars += glyphs
        owners += [f] * len(glyphs)
        if hasattr(f, "cbDefn"):
            widths += [getattr(f.cbDefn, "width", 0)] * len(glyphs)
        else:
            widths += [_glyph_width(g, f.fontName, f.fontSize) for g in glyphs]

    def line(begin: int, end: int, max_width: float, width: float, line_break: bool) -> FragLine:
        return _para_line(chars[begin:end], owners[begin:end], max_width, width, line_break, calc_bounds)

    used = 0
    for width in widths:  # summed as the loop below sums them
        used += width
    if used <= max_widths[0] + _FUZZ and not any(hasattr(f, "lineBreak") for f in frags):
        return ParaLines(kind=1, lines=[line(0, len(chars), max_widths[0], used, False)])  # most cells: one line
    allowed = break_allowed("".join(c or "\n" for c in chars))

    lines: list = []
    start = used = 0
    last_ok = -1  # the latest allowed break after the line's start
    last_soft = -1  # the latest place after a hyphen or slash: where an identifier too long for a line breaks
    i = 0
    while i < len(chars):
        max_width = max_widths[min(len(lines), len(max_widths) - 1)]
        if hasattr(owners[i], "lineBreak"):
            lines.append(line(start, i + 1, max_width, used, True))
            start, used, last_ok, last_soft, i = i + 1, 0, -1, -1, i + 1
            continue
        if i > start and allowed[i]:
            last_ok = i
        if i > start and chars[i - 1] in SOFT_BREAK_AFTER:
            last_soft = i
        if used + widths[i] > max_width + _FUZZ and i > start:
            end = last_ok if last_ok > start else last_soft if last_soft > start else i
            width = sum(widths[start:end])
            lines.append(line(start, end, max_width, width, False))
            start, last_ok, last_soft, i = end, -1, -1, end
            while i < len(chars) and chars[i] in BREAK_SPACES:  # a space at a break is not carried over
                start = i = i + 1
            used = 0
            continue
        used += widths[i]
        i += 1
    if start < len(chars):
        max_width = max_widths[min(len(lines), len(max_widths) - 1)]
        lines.append(line(start, len(chars), max_width, used, False))
    return ParaLines(kind=1, lines=lines)


_SAME_FRAG_KEYS = ("fontName", "fontSize", "textColor", "rise", "us_lines", "link", "backColor", "nobr")
_ABSENT = object()


def same_frag(f: ABag, g: ABag) -> bool:
    """reportlab's sameFrag (rl_accel), by dictionary look-ups: the C version asks for each attribute and
    raises and catches an AttributeError for every one a frag lacks (4–7 µs a call, 1.3 here). An
    attribute one frag has and the other lacks makes them differ, even if its value is None."""
    fd, gd = f.__dict__, g.__dict__
    if "cbDefn" in fd or "lineBreak" in fd or "cbDefn" in gd or "lineBreak" in gd:
        return False
    return [fd.get(key, _ABSENT) for key in _SAME_FRAG_KEYS] == [gd.get(key, _ABSENT) for key in _SAME_FRAG_KEYS]


def _para_line(chars: list[str], owners: list, max_width: float, width: float, line_break: bool,
               calc_bounds: bool) -> FragLine:
    """reportlab's makeCJKParaLine, which measures every glyph's frag and compares it with the previous
    one (sameFrag): here once per run of a frag's glyphs, with the same result, since a run's bounds are
    its frag's and sameFrag(f, f) is the same for every glyph of f."""
    words = []
    run: list[str] = []
    f0 = FragLine()
    max_size = max_ascent = min_descent = 0
    last = None
    new_word = joins_itself = False
    for char, f in zip(chars, owners, strict=True):
        if f is not last:
            last = f
            cb = getattr(f, "cbDefn", None) if calc_bounds else None
            if getattr(cb, "width", 0):
                descent, ascent = imgVRange(imgNormV(cb.height, f.fontSize), cb.valign, f.fontSize)
            else:
                ascent, descent = getAscentDescent(f.fontName, f.fontSize)
            max_size, max_ascent, min_descent = max(max_size, f.fontSize), max(max_ascent, ascent), min(min_descent, descent)
            # same_frag(f, f): false for a <br/> or an image, whose every glyph is a word of its own
            joins_itself = "cbDefn" not in f.__dict__ and "lineBreak" not in f.__dict__
            new_word = not same_frag(f0, f)
        elif f0 is f:
            new_word = not joins_itself
        if new_word:
            f0 = f0.clone()
            f0.text = "".join(run)
            words.append(f0)
            run = []
            f0 = f
        run.append(char)
    if run:
        f0 = f0.clone()
        f0.text = "".join(run)
        words.append(f0)
    return FragLine(kind=1, extraSpace=max_width - width, wordCount=1, words=words[1:], fontSize=max_size,
                    ascent=max_ascent, descent=min_descent, maxWidth=max_width, currentWidth=width,
                    lineBreak=line_break)


def plain_frags(text: str, style: ParagraphStyle) -> list[ParaFrag]:
    """The frags reportlab's parser makes of a text without tags or entities (start_para, handle_data):
    one frag in the style's face, size and colour, or none for an empty text; made here directly, since a
    ParaParser (an html.parser) costs more to set up than the cell it parses."""
    if not text:
        return []
    family, bold, italic = ps2tt(style.fontName)
    return [ParaFrag(rise=0, greek=0, link=[], fontName=tt2ps(family, bold, italic), bold=bold, italic=italic,
                     fontSize=style.fontSize, textColor=style.textColor, us_lines=[], __tag__="para", text=text)]


class Para(Paragraph):
    """A paragraph broken by Chinese rules (reportlab's own CJK wrap lets '，' start a line and splits
    '2018年4月2日' or an archive number anywhere)."""

    def _setup(self, text, style, bulletText, frags, cleaner):
        """Text without a tag or an entity (most labels and values) skips reportlab's HTML parser: its
        frags are made by plain_frags, the same as the parser makes from <para>text</para>.

        reportlab collapses whitespace, the ideographic space (U+3000) included, to one narrow space: a
        full-width space is carried through its cleaning as a private-use character and restored."""
        kept = frags is None and IDEOGRAPHIC_SPACE in text
        if kept:
            text = text.replace(IDEOGRAPHIC_SPACE, _KEPT_SPACE)
        if frags is None and "<" not in text and "&" not in text:
            text = cleaner(text)
            frags = plain_frags(text, style)
            textTransformFrags(frags, style)
        super()._setup(text, style, bulletText, frags, cleaner)
        if kept:
            for frag in self.frags:
                frag.text = frag.text.replace(_KEPT_SPACE, IDEOGRAPHIC_SPACE)

    def breakLinesCJK(self, maxWidths):
        if not isinstance(maxWidths, list | tuple):
            maxWidths = [maxWidths]
        if getattr(self, "_splitpara", 0) and hasattr(self, "blPara"):
            return self.blPara
        if not self.frags:
            return super().breakLinesCJK(maxWidths)
        auto = getattr(self, "autoLeading", getattr(self.style, "autoLeading", ""))
        key = (tuple(maxWidths), auto not in ("", "off"))
        if getattr(self, "_zh_broken", (None, None))[0] != key:  # a table wraps each cell twice, at one width
            self._zh_broken = key, _zh_frag_split(self.frags, list(maxWidths), key[1])
        return self._zh_broken[1]

    def drawPara(self, debug: int = 0) -> None:
        """reportlab's drawPara for lines of plain words (every cell and sheet line we set): the same text
        object calls in the same order, without the bookkeeping of links, underlines, backgrounds,
        bullets, images and justification that such lines never use (half its time); others go to it."""
        if debug or not self._plain_lines():
            super().drawPara(debug)
            return
        canvas, style, lines = self.canv, self.style, self.blPara.lines
        canvas.saveState()
        first = lines[0]
        tx = canvas.beginText(style.leftIndent, self.height - (
            first.fontSize if paraFontSizeHeightOffset else getattr(first, "ascent", first.fontSize)))
        tx.direction = style.wordWrap
        tx._leading = None
        tx._fontname = tx._fontsize = None
        colour, rise = None, 0
        for n, line in enumerate(lines):
            offset = style.firstLineIndent if n == 0 else 0
            shift = offset + {TA_LEFT: 0, TA_CENTER: 0.5, TA_RIGHT: 1}[style.alignment] * line.extraSpace
            _move(tx, shift)
            if tx._leading != style.leading:
                tx.setLeading(style.leading)
            for word in line.words:
                if (tx._fontname, tx._fontsize) != (word.fontName, word.fontSize):
                    tx._setFont(word.fontName, word.fontSize)
                if colour != word.textColor:
                    colour = word.textColor
                    tx.setFillColor(colour)
                if rise != word.rise:
                    rise = word.rise
                    tx.setRise(rise)
                tx._textOut(word.text, word is line.words[-1])
            _move(tx, -shift)
        canvas.drawText(tx)
        canvas.restoreState()

    def _plain_lines(self) -> bool:
        """Lines drawPara sets with plain text calls: CJK lines of words without images, links,
        underlines or backgrounds, left, centred or right, no bullet, no dots, fixed leading."""
        style, para = self.style, self.blPara
        if (para.kind != 1 or not para.lines or self.bulletText or hasattr(self, "_offsets") or style.backColor
                or style.endDots or (getattr(style, "borderColor", None) and getattr(style, "borderWidth", None))
                or style.wordWrap != "CJK" or style.alignment not in (TA_LEFT, TA_CENTER, TA_RIGHT)
                or getattr(self, "autoLeading", getattr(style, "autoLeading", "")) not in ("", "off")):
            return False
        for line in para.lines:
            if not line.words or not (line.extraSpace > -1e-8 or line.wordCount
                                      + sum(w.text.count("\xa0") for w in line.words) <= 1):
                return False
            for word in line.words:
                if "cbDefn" in word.__dict__ or any(getattr(word, key, None) for key in _DECORATIONS):
                    return False
        return True


_DECORATIONS = ("us_lines", "link", "backColor")  # underlines and strikes, links, text backgrounds


def _move(tx: PDFTextObject, dx: float) -> None:
    """reportlab's setXPos: a new line dx along, unless dx is nothing."""
    if dx > 1e-6 or dx < -1e-6:
        tx.setXPos(dx)


class Title(Para):
    """A title in the bold face: the serif drawn with a thin outline, as Word and WPS embolden CJK faces."""

    def draw(self) -> None:
        self.canv.saveState()
        self.canv.setLineWidth(self.style.fontSize * FAKE_BOLD)
        self.canv.addLiteral("2 Tr")
        super().draw()
        self.canv.restoreState()


def styles() -> dict[str, ParagraphStyle]:
    font = register()
    base = ParagraphStyle("base", fontName=font, fontSize=TABLE_PT, leading=15, wordWrap="CJK")
    body = ParagraphStyle("body", base, fontSize=BODY_PT, leading=29, firstLineIndent=2 * BODY_PT)
    return {
        "title": ParagraphStyle("title", base, fontSize=TITLE_PT, leading=34, alignment=TA_CENTER),
        "subtitle": ParagraphStyle("subtitle", base, fontSize=14, leading=22, alignment=TA_CENTER),
        "label": ParagraphStyle("label", base, alignment=TA_CENTER),
        "value": ParagraphStyle("value", base, alignment=TA_LEFT),
        "entry": ParagraphStyle("entry", base, alignment=TA_LEFT, leftIndent=2 * TABLE_PT, firstLineIndent=-2 * TABLE_PT),
        "body": body,
        "salutation": ParagraphStyle("salutation", body, firstLineIndent=0),
        "right": ParagraphStyle("right", body, firstLineIndent=0, alignment=TA_RIGHT, rightIndent=2 * BODY_PT),
        "sign": ParagraphStyle("sign", base, fontSize=12, leading=26),
        "small": ParagraphStyle("small", base, fontSize=9, leading=12),
    }


def document(story: list[object], title: str, on_page: Callable[[Canvas, SimpleDocTemplate], None] | None = None,
             bottom: float = MARGIN_BOTTOM, subject: str = "", canvasmaker: type[Canvas] = Canvas,
             standalone: bool = True) -> bytes:
    """An A4 PDF/A-2b with our margins; invariant=1 keeps it byte-identical for identical input.

    reportlab leaves the streams uncompressed: the pikepdf pass that makes the file archival compresses
    every stream anyway (it decoded and recompressed reportlab's ASCII85 + Flate), so compressing here
    was work done twice; the PDF comes out byte-identical.
    Pages that only go into a package (standalone=False) skip that pass: the package is made PDF/A-2b,
    and compressed, as a whole."""
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=MARGIN_LEFT, rightMargin=MARGIN_RIGHT,
                            topMargin=MARGIN_TOP, bottomMargin=bottom, title=title, author=CREATOR,
                            subject=subject, creator=CREATOR, invariant=1, initialFontName=register(),
                            pageCompression=0)
    doc.build(story, onFirstPage=on_page or _nothing, onLaterPages=on_page or _nothing, canvasmaker=canvasmaker)
    return archival_bytes(buf.getvalue()) if standalone else buf.getvalue()


def _nothing(canvas: Canvas, doc: SimpleDocTemplate) -> None:
    """No page furniture."""


def numbered_canvas(title: str) -> type[Canvas]:
    """Every page says 第x页 共y页 at its foot: pages are held until the count is known."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            self._held: list[dict[str, object]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for page, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                self.setFont(register(), 10)
                self.drawCentredString(PAGE_W / 2, EDGE + 4 * mm, f"{title}　第{page}页　共{len(self._held)}页")
                super().showPage()
            super().save()

    return NumberedCanvas


RULE = 0.8  # points: every table rule
CELL_PAD_X, CELL_PAD_Y = 2, 4  # points inside each cell, left and right / top and bottom
CELL_STYLE = [
    ("GRID", (0, 0), (-1, -1), RULE, colors.black),
    # a row split at a page break is closed on both pages (reportlab leaves the split open unless told)
    ("LINEBELOW", (0, "inrowsplitstart"), (-1, "inrowsplitstart"), RULE, colors.black),
    ("LINEABOVE", (0, "inrowsplitend"), (-1, "inrowsplitend"), RULE, colors.black),
    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD_X),
    ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD_X),
    ("TOPPADDING", (0, 0), (-1, -1), CELL_PAD_Y),
    ("BOTTOMPADDING", (0, 0), (-1, -1), CELL_PAD_Y),
]


def table_style(extra: list[tuple] | None = None) -> TableStyle:
    return TableStyle([*CELL_STYLE, ("FONTNAME", (0, 0), (-1, -1), register()), *(extra or [])])  # not Helvetica


def grid(data: list[list[object]], widths_mm: list[float], header: bool = False) -> Table:
    """A ruled table whose columns fill the text width in the given proportions; the header row repeats."""
    scale = FRAME_W / (sum(widths_mm) * mm)
    return Table(data, colWidths=[w * mm * scale for w in widths_mm], style=table_style(),
                 repeatRows=1 if header else 0, splitInRow=1)


def cells(values: list[object], style: ParagraphStyle) -> list[Para]:
    return [Para(sheet_text(str(v)), style) for v in values]

