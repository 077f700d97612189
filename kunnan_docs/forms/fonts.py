"""The fonts of every PDF we write: Noto Serif SC, then Noto Serif TC and JP for what it lacks (SIL OFL 1.1).

reportlab embeds (and subsets) only TrueType outlines while Noto ships CFF, so `fonts/make_fonts.py`
converted them once and the TrueType files ship with kunnan-docs: nothing is converted on a user's
machine. The fallback fonts hold only the characters the fonts before them lack (rare name characters
of CJK Extension B such as 𠮷). `markup` picks, character by character, the first font of the chain
that has the glyph; the validator refuses a case with a character no font has (rule CHAR-NO-GLYPH),
so nothing prints as an empty box.

Per process, a font is read without reportlab's pure-Python table parse (0.17 s for 13.6 MB): cmap,
hmtx and loca are unpacked with `array`, and only the glyphs a document uses are copied into its subset.
"""

from __future__ import annotations

import hashlib
import mmap
import sys
from array import array
from functools import cache
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.graphics import shapes
from reportlab.pdfbase import pdfdoc, pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont, TTFontFace

from kunnan_docs.core.resources import data_dir, font_chain

SERIF = "NotoSerifSC"  # the face of every form and sheet; the chain's first font


def _unpack(data: bytes, typecode: str) -> array:
    values = array(typecode, data)
    if sys.byteorder == "little":
        values.byteswap()
    return values


class _Face(TTFontFace):
    """reportlab's TrueType face, with cmap, hmtx and loca unpacked in bulk instead of value by value,
    and the file mapped rather than read: a subset copies only the glyphs it uses."""

    def __init__(self, filename: str) -> None:
        with open(filename, "rb") as f:
            self._ttf_data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self.filename = filename
        super().__init__(filename)

    def get_table(self, tag: str | bytes) -> bytes | memoryview:
        """The glyf table as a view into the mapped file: each subset copies its few glyphs, not 13 MB."""
        if tag in ("glyf", b"glyf"):
            offset, length = self.get_table_pos(tag)
            return memoryview(self._ttf_data)[offset:offset + length]
        return super().get_table(tag)

    def extractInfo(self, charInfo: int = 1) -> None:
        super().extractInfo(charInfo=0)  # names, flags, ascent …: a few hundred bytes
        table = self.get_table
        head, hhea = table("head"), table("hhea")
        long_loca = int.from_bytes(head[50:52], "big")
        metrics_count = int.from_bytes(hhea[34:36], "big")
        count = self.numGlyphs
        loca = _unpack(table("loca")[: (count + 1) * (4 if long_loca else 2)], "I" if long_loca else "H")
        self.glyphPos = list(loca) if long_loca else [v << 1 for v in loca]
        hmtx = _unpack(table("hmtx")[: metrics_count * 4 + (count - metrics_count) * 2], "H")
        widths = list(hmtx[0:metrics_count * 2:2])
        lsbs = list(hmtx[1:metrics_count * 2:2]) + list(hmtx[metrics_count * 2:])
        widths += [widths[-1]] * (count - metrics_count)
        self.hmetrics = list(zip(widths, lsbs, strict=True))
        self.charToGlyph = _cmap(table("cmap"))
        scale = self._pdfScale
        self.defaultWidth = scale(widths[0])
        self.charWidths = {char: scale(widths[glyph]) for char, glyph in self.charToGlyph.items()}


def _cmap(data: bytes) -> dict[int, int]:
    """Unicode → glyph from the (3,10) format 12 subtable, or the (3,1) format 4 one (BMP only)."""
    subtables = {}
    for i in range(int.from_bytes(data[2:4], "big")):
        platform, encoding, offset = int.from_bytes(data[4 + 8 * i:6 + 8 * i], "big"), \
            int.from_bytes(data[6 + 8 * i:8 + 8 * i], "big"), int.from_bytes(data[8 + 8 * i:12 + 8 * i], "big")
        subtables[platform, encoding] = offset
    if (3, 10) in subtables:
        offset = subtables[3, 10]
        groups = int.from_bytes(data[offset + 12:offset + 16], "big")
        values = _unpack(data[offset + 16:offset + 16 + groups * 12], "I")
        return {char: glyph + char - start for start, end, glyph in zip(values[0::3], values[1::3], values[2::3],
                                                                       strict=True)
                for char in range(start, end + 1)}
    offset = subtables[3, 1]
    segments = int.from_bytes(data[offset + 6:offset + 8], "big") // 2
    words = _unpack(data[offset + 14:offset + 16 + segments * 8], "H")
    ends, starts = words[:segments], words[segments + 1:2 * segments + 1]
    deltas, ranges = words[2 * segments + 1:3 * segments + 1], words[3 * segments + 1:]
    base = offset + 16 + segments * 6
    result = {}
    for n in range(segments):
        for char in range(starts[n], ends[n] + 1):
            if ranges[n]:
                at = base + 2 * n + ranges[n] + 2 * (char - starts[n])
                glyph = int.from_bytes(data[at:at + 2], "big")
                glyph = (glyph + deltas[n]) & 0xFFFF if glyph else 0
            else:
                glyph = (char + deltas[n]) & 0xFFFF
            if glyph and char != 0xFFFF:
                result[char] = glyph
    return result


class _Font(TTFont):
    """A reportlab TrueType font on the fast face, whose subsets carry tags derived from their content.

    reportlab names subset n of every font `AAAAAA+…`, `AAAAAB+…` in every document, so the subsets of
    different forms merged into one package share a name (ISO 32000-1 §9.6.4 asks for distinct tags);
    a tag from the subset's characters is distinct for distinct subsets and stable across runs."""

    def __init__(self, name: str, filename: str) -> None:
        self.fontName = name
        self.face = _Face(filename)
        self.encoding = ttfonts.TTEncoding()
        from weakref import WeakKeyDictionary

        self.state = WeakKeyDictionary()
        self._asciiReadable = 1
        self.shapable = False

    def addObjects(self, doc: pdfdoc.PDFDocument) -> None:
        state = self._assignState(doc)
        state.frozen = 1
        for n, subset in enumerate(state.subsets):
            internal = self.getSubsetInternalName(n, doc)[1:]
            base = f"{subset_tag(self.face.name.decode('latin-1'), subset)}+{self.face.name.decode('latin-1')}"
            font = pdfdoc.PDFTrueTypeFont()
            font.__Comment__ = f"Font {self.fontName} subset {n}"
            font.Name, font.BaseFont = internal, base
            font.FirstChar, font.LastChar = 0, len(subset) - 1
            font.Widths = pdfdoc.PDFArray([self.face.getCharWidth(c) for c in subset])
            cmap = pdfdoc.PDFStream()
            cmap.content = ttfonts.makeToUnicodeCMap(base, subset)
            if doc.compression:
                cmap.filters = [pdfdoc.PDFZCompress]
            font.ToUnicode = doc.Reference(cmap, "toUnicodeCMap:" + base)
            font.FontDescriptor = self.face.addSubsetObjects(doc, base, subset)
            doc.Reference(font, internal)
            doc.idToObject["BasicFonts"].dict[internal] = font
        del self.state[doc]


def subset_tag(font_name: str, subset: list[int]) -> str:
    """Six capital letters from the font and the characters of the subset (ISO 32000-1 §9.6.4)."""
    digest = hashlib.sha256(f"{font_name}:{','.join(map(str, subset))}".encode()).digest()
    return "".join(chr(ord("A") + b % 26) for b in digest[:6])


def _supplementary_planes(make_cmap):  # type: ignore[no-untyped-def]
    """reportlab writes ToUnicode entries as 4 hex digits, which garbles characters beyond U+FFFF
    (rare name characters such as 𠅤) when text is copied; write those as UTF-16 surrogate pairs."""

    def make(fontname: str, subset: list[int]) -> str:
        cmap = make_cmap(fontname, subset)
        for code, char in enumerate(subset):
            if char > 0xFFFF:
                utf16 = chr(char).encode("utf-16-be").hex().upper()
                cmap = cmap.replace(f"<{code:02X}> <{char:04X}>", f"<{code:02X}> <{utf16}>")
        return cmap

    return make


@cache
def register() -> str:
    """Register the chain with reportlab (once per process) and return the name of its first font."""
    ttfonts.makeToUnicodeCMap = _supplementary_planes(ttfonts.makeToUnicodeCMap)
    for name, filename in font_chain():
        pdfmetrics.registerFont(_Font(name, str(data_dir("fonts") / filename)))
    # reportlab's defaults name Helvetica, a base-14 font that is referenced, never embedded (not PDF/A):
    # a canvas and a chart drawing start in our face instead
    rl_config.canvas_basefontname = shapes.STATE_DEFAULTS["fontName"] = SERIF
    return SERIF


@cache
def _glyphs(name: str) -> frozenset[int]:
    register()
    return frozenset(pdfmetrics.getFont(name).face.charToGlyph)


def font_for(char: str) -> str | None:
    """The first font of the chain that has a glyph for the character, or None."""
    code = ord(char)
    return next((name for name, _ in font_chain() if code in _glyphs(name)), None)


WHITESPACE = "\n\r\t "  # set in the main font, whatever it holds
VARIATION_SELECTORS = frozenset({*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)})


@cache
def _plain_serif() -> frozenset[int]:
    """The characters `markup` sets in the main font as they are: its glyphs and whitespace, but no
    variation selector."""
    return (_glyphs(SERIF) | frozenset(map(ord, WHITESPACE))) - VARIATION_SELECTORS


def is_variation_selector(char: str) -> bool:
    """Variation selectors (U+FE00–FE0F, U+E0100–E01EF) pick a glyph variant; no font here has them,
    and the base character alone prints the same name, so they are dropped when typesetting."""
    return ord(char) in VARIATION_SELECTORS


def markup(text: str) -> str:
    """Plain text → reportlab paragraph markup: escaped, line breaks as <br/>, and every run of
    characters the main font lacks wrapped in <font name="…"> of the first chain font that has them.

    Characters no font has stay in the main font (they print as a box): the validator refuses cases
    holding them (CHAR-NO-GLYPH) before anything is typeset."""
    if _plain_serif().issuperset(map(ord, text)):  # nearly every text: no fallback font, nothing dropped
        return escape(text).replace("\n", "<br/>")
    out: list[str] = []
    current = SERIF
    for char in text:
        if is_variation_selector(char):
            continue
        font = SERIF if char in WHITESPACE else font_for(char) or SERIF
        if font != current:
            if current != SERIF:
                out.append("</font>")
            if font != SERIF:
                out.append(f'<font name="{font}">')
            current = font
        out.append("<br/>" if char == "\n" else escape(char))
    if current != SERIF:
        out.append("</font>")
    return "".join(out)
