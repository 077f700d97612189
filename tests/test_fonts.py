"""Every character a clerk can type either prints (and copies out) or is refused by name before printing."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageChops
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph, SimpleDocTemplate

from kunnan_docs.core.resources import data_dir, font_chain, load_json
from kunnan_docs.core.validate import validate_file
from kunnan_docs.forms import fonts

# Real name characters (生僻字) from each block the chain covers: URO outside GB 2312, Extension A,
# B (𠮷 only in Noto Serif JP, 𡈼 only in TC), C, E (通用规范汉字表 characters such as 𬀩, 𫖯).
RARE_NAMES = {
    "堃": "URO", "喆": "URO", "䶮": "A", "㛃": "A", "𠅤": "B", "𠮷": "B", "𡈼": "B", "𩽾": "B",
    "𫖯": "C", "𫄸": "C", "𪨶": "C", "𬀩": "E", "𬭚": "E", "𬘡": "E", "𬌗": "E",
}
# Characters no free font on PyPI has: Extension B (𪚥), D, F, G (𰻞, biáng), H and I.
NO_GLYPH = ["𪚥", "𫟷", "𮧵", "𰻞", "\U00031350", "\U0002EBF0"]


def _render(text: str) -> bytes:
    """One paragraph per character, 40 pt, through the same markup every form uses."""
    buf = io.BytesIO()
    style = ParagraphStyle("t", fontName=fonts.register(), fontSize=40, leading=60)
    doc = SimpleDocTemplate(buf, pagesize=A4, invariant=1, initialFontName=fonts.register())
    doc.build([Paragraph(fonts.markup(c), style) for c in text])
    return buf.getvalue()


def _glyph_images(pdf: bytes) -> list[Image.Image]:
    """Each character's ink (black = 255), cropped from the rendered page by its text box."""
    doc = pdfium.PdfDocument(pdf)
    images = []
    scale = 2
    for page in doc:
        bitmap = page.render(scale=scale, grayscale=True).to_pil().convert("L")
        height = page.get_height()
        text = page.get_textpage()
        boxes = [text.get_charbox(i) for i in range(text.count_chars())]
        for i, (left, bottom, right, top) in enumerate(boxes):
            if i and boxes[i - 1] == boxes[i]:
                continue  # the second UTF-16 unit of a character beyond U+FFFF
            crop = bitmap.crop((int(left * scale), int((height - top) * scale),
                                int(right * scale) + 1, int((height - bottom) * scale) + 1))
            images.append(crop.point(lambda v: 255 if v < 128 else 0))
    return images


def _ink(image: Image.Image) -> int:
    return image.histogram()[255]


def test_rare_name_characters_print_and_copy_out() -> None:
    chars = "".join(RARE_NAMES)
    pdf = _render(chars)
    doc = pdfium.PdfDocument(pdf)
    extracted = "".join(page.get_textpage().get_text_range() for page in doc).replace("\r", "").replace("\n", "")
    assert extracted == chars
    notdef = _glyph_images(_render(NO_GLYPH[0]))[0]  # what a character without a glyph looks like: the box
    for char, ink in zip(chars, _glyph_images(pdf), strict=True):
        assert _ink(ink) > 40, f"{char} ({RARE_NAMES[char]}) drew nothing"
        if ink.size == notdef.size:
            differing = _ink(ImageChops.difference(ink, notdef))
            assert differing > 0.05 * ink.width * ink.height, f"{char} ({RARE_NAMES[char]}) drew the empty box"


def test_markup_uses_the_first_font_with_the_glyph_and_escapes() -> None:
    assert fonts.markup("王𠮷<&>\n李") == '王<font name="NotoSerifJP-extra">𠮷</font>&lt;&amp;&gt;<br/>李'
    assert fonts.markup("𡈼𠮷") == '<font name="NotoSerifTC-extra">𡈼</font><font name="NotoSerifJP-extra">𠮷</font>'
    assert fonts.markup("葛\U000E0100城") == "葛城"  # an ideographic variation selector is dropped


def test_font_index_lists_exactly_the_glyphs_of_each_font() -> None:
    """fonts.json (what the validator reads) agrees with the TrueType files (what prints)."""
    fonts.register()
    index = load_json("fonts", "fonts.json")
    assert tuple((f["name"], f["file"]) for f in index) == font_chain()
    for entry in index:
        listed = {c for first, last in entry["characters"] for c in range(first, last + 1)}
        from reportlab.pdfbase import pdfmetrics

        assert listed == set(pdfmetrics.getFont(entry["name"]).face.charToGlyph)
        assert (data_dir("fonts") / entry["file"]).is_file()


@pytest.mark.parametrize("char", NO_GLYPH)
def test_a_character_without_glyph_is_refused_naming_field_and_code_point(case_copy, char) -> None:
    case_file = case_copy(edits={"/worker/name": f"王{char}", "/hardship_reason": f"因病{char}致困"})
    findings = [f for f in validate_file(case_file).findings if f.code == "CHAR-NO-GLYPH"]
    assert [f.pointer for f in findings] == ["/worker/name", "/hardship_reason"]
    assert f"U+{ord(char):04X}" in findings[0].message and char in findings[0].message
    assert "姓名" in findings[0].message and findings[0].severity == "error"


def test_rare_characters_that_print_are_accepted(case_copy) -> None:
    case_file = case_copy(edits={"/worker/name": "王𠮷", "/hardship_reason": "".join(RARE_NAMES)})
    assert not [f for f in validate_file(case_file).findings if f.code == "CHAR-NO-GLYPH"]

