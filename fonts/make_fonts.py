"""Make the TrueType fonts kunnan-docs embeds, once, from the Noto Serif CJK fonts on PyPI (SIL OFL 1.1).

    pip install pylopdf-fonts-zh-cn pylopdf-fonts-zh-tw pylopdf-fonts-cjk
    python fonts/make_fonts.py

reportlab embeds only TrueType outlines and Noto ships CFF (.otf): converting all 31,000 glyphs takes
about a minute, so it is done here, deterministically, and the results are committed; no user ever
waits for it. The chain: Noto Serif SC (simplified Chinese, the face of every form), then only the
characters it lacks from Noto Serif TC and Noto Serif JP (rare name characters of Extension B …).
"""

from __future__ import annotations

import json
from pathlib import Path

import pylopdf_fonts_cjk
import pylopdf_fonts_zh_cn
import pylopdf_fonts_zh_tw
from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable

HERE = Path(__file__).resolve().parent
CHAIN = [  # (name for reportlab, source .otf, output .ttf) — in fallback order
    ("NotoSerifSC", Path(pylopdf_fonts_zh_cn.__file__).parent / "NotoSerifSC-Regular.otf", "NotoSerifSC-Regular.ttf"),
    ("NotoSerifTC-extra", Path(pylopdf_fonts_zh_tw.__file__).parent / "NotoSerifTC-Regular.otf",
     "NotoSerifTC-Regular-extra.ttf"),
    ("NotoSerifJP-extra", Path(pylopdf_fonts_cjk.__file__).parent / "NotoSerifJP-Regular.otf",
     "NotoSerifJP-Regular-extra.ttf"),
]


def to_truetype(font: TTFont) -> None:
    """CFF (cubic) outlines → glyf (quadratic, max error 1 unit); deterministic."""
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
    font["post"].formatType = 3.0  # no glyph names: smaller, and reportlab writes format 3 anyway
    font["head"].glyphDataFormat = 0
    for table in ("CFF ", "VORG", "DSIG", "GPOS", "GSUB", "BASE", "vhea", "vmtx"):
        if table in font:
            del font[table]
    font.sfntVersion = "\x00\x01\x00\x00"


def ranges(codes: list[int]) -> list[list[int]]:
    """Sorted code points as [first, last] runs: what the validator reads to know what prints."""
    runs: list[list[int]] = []
    for code in codes:
        if runs and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return runs


def write_index() -> None:
    """fonts.json: the chain in order, each font with the characters it has (read from the .ttf files)."""
    index = []
    for name, source, target in CHAIN:
        cmap = TTFont(HERE / target, lazy=True).getBestCmap()
        index.append({"name": name, "file": target, "source": f"{source.parent.name}/{source.name}",
                      "licence": "SIL Open Font License 1.1 (OFL.txt)", "characters": ranges(sorted(cmap))})
    (HERE / "fonts.json").write_text(json.dumps(index, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    covered: set[int] = set()
    for _, source, target in CHAIN:
        font = TTFont(source)
        wanted = sorted(set(font.getBestCmap()) - covered)
        if covered:  # a fallback keeps only what the fonts before it lack
            options = subset.Options()
            options.layout_features, options.name_IDs, options.notdef_outline = [], ["*"], True
            options.name_languages, options.desubroutinize = ["*"], True
            sub = subset.Subsetter(options)
            sub.populate(unicodes=wanted)
            sub.subset(font)
        to_truetype(font)
        font.save(HERE / target)
        covered |= set(wanted)
        print(f"{target}: {len(wanted)} characters, {(HERE / target).stat().st_size / 1e6:.1f} MB")
    write_index()


if __name__ == "__main__":
    main()
