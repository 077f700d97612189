"""The CJK font of every PDF we write: Noto Serif SC (SIL OFL 1.1), from the package registry.

reportlab embeds (and subsets) only TrueType-outline fonts, while Noto Serif SC ships as CFF (.otf).
We convert it once with fontTools (cubic → quadratic outlines) and cache the .ttf; the conversion is
deterministic, so every machine embeds the same glyphs.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pylopdf_fonts_zh_cn
from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont

SERIF = "NotoSerifSC"
SOURCE = Path(pylopdf_fonts_zh_cn.__file__).parent / "NotoSerifSC-Regular.otf"
CACHE_ENV = "KUNNAN_FONT_CACHE"
_CONVERTER_VERSION = "1"


def cache_dir() -> Path:
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "kunnan-docs" / "fonts"


def _cached_name(source: Path) -> str:
    stat = source.stat()
    key = hashlib.sha256(f"{source.name}:{stat.st_size}:{_CONVERTER_VERSION}".encode()).hexdigest()[:12]
    return f"{source.stem}-{key}.ttf"


def otf_to_ttf(source: Path, target: Path) -> None:
    """Convert CFF outlines to TrueType (max error 1 unit); written aside and renamed, so never half a file."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont as FTFont
    from fontTools.ttLib import newTable

    font = FTFont(source)
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf[name] = pen.glyph()
    font["glyf"], font["loca"] = glyf, newTable("loca")
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    font["maxp"] = maxp
    font["post"].formatType, font["post"].extraNames, font["post"].mapping = 2.0, [], {}
    font["head"].glyphDataFormat = 0
    for table in ("CFF ", "VORG", "DSIG", "GPOS", "GSUB", "BASE", "vhea", "vmtx"):
        if table in font:
            del font[table]
    font.sfntVersion = "\x00\x01\x00\x00"
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.close(fd)
    try:
        font.save(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def serif_ttf() -> Path:
    target = cache_dir() / _cached_name(SOURCE)
    if not target.exists():
        otf_to_ttf(SOURCE, target)
    return target


def _supplementary_planes(make_cmap: Callable[[str, list[int]], str]) -> Callable[[str, list[int]], str]:
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
    """Register the serif face with reportlab (once per process) and return its name."""
    ttfonts.makeToUnicodeCMap = _supplementary_planes(ttfonts.makeToUnicodeCMap)
    pdfmetrics.registerFont(TTFont(SERIF, str(serif_ttf())))
    return SERIF

