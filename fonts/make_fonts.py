"""Make the TrueType fonts kunnan-docs embeds from the Noto Serif CJK fonts on PyPI (SIL OFL 1.1).

Run by the package build (hatch_build.py) when the fonts are missing or stale; by hand:

    pip install fonttools pylopdf-fonts-zh-cn pylopdf-fonts-zh-tw pylopdf-fonts-cjk
    python fonts/make_fonts.py

reportlab embeds only TrueType outlines and Noto ships CFF (.otf): converting all 31,000 glyphs takes
about a minute, so it is done once when the package is built, deterministically, never when a
document is made (the outputs are too big to commit). The chain: Noto Serif SC (simplified Chinese,
the face of every form), then only the characters it lacks from Noto Serif TC and Noto Serif JP
(rare name characters of Extension B …).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import fontTools
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
# head.modified, which every embedded subset copies: fixed to the fonts' first release (commit 7a76656,
# 2026-11-30 05:22 UTC) so that a rebuild, on any day, makes byte-identical PDFs.
MODIFIED = {"NotoSerifSC-Regular.ttf": 3878860963, "NotoSerifTC-Regular-extra.ttf": 3878860968,
            "NotoSerifJP-Regular-extra.ttf": 3878860973}


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


def made_from(source: Path) -> dict[str, str]:
    """What a font's bytes depend on: its source font, this converter and the fontTools release."""
    return {"source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
            "make_fonts_sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
            "fonttools": fontTools.version}


def up_to_date() -> bool:
    """True when fonts.json and every .ttf exist and fonts.json says they were made from today's inputs."""
    try:
        index = json.loads((HERE / "fonts.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return [(f.get("file"), f.get("made_from")) for f in index] == [
        (target, made_from(source)) for _, source, target in CHAIN] and all(
        (HERE / target).is_file() for _, _, target in CHAIN)


def write_index() -> None:
    """fonts.json: the chain in order, each font with the characters it has (read from the .ttf files)."""
    index = []
    for name, source, target in CHAIN:
        cmap = TTFont(HERE / target, lazy=True).getBestCmap()
        index.append({"name": name, "file": target, "source": f"{source.parent.name}/{source.name}",
                      "made_from": made_from(source), "licence": "SIL Open Font License 1.1 (OFL.txt)",
                      "characters": ranges(sorted(cmap))})
    (HERE / "fonts.json").write_text(json.dumps(index, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    """Convert the chain, then write fonts.json last: it marks the fonts complete (see up_to_date)."""
    (HERE / "fonts.json").unlink(missing_ok=True)
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
        font.recalcTimestamp, font["head"].modified = False, MODIFIED[target]
        font.save(HERE / target)
        covered |= set(wanted)
        print(f"{target}: {len(wanted)} characters, {(HERE / target).stat().st_size / 1e6:.1f} MB")
    write_index()


if __name__ == "__main__":
    main()
