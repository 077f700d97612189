"""The typesetter's short cuts (forms/typeset.py, package/sheets.py) give what reportlab's general path gives:
the same frags, the same frag comparison, the same lines and the same stamp pages."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st
from reportlab.lib.colors import Color, black
from reportlab.lib.rl_accel import sameFrag
from reportlab.platypus import Paragraph
from reportlab.platypus.paragraph import FragLine
from reportlab.platypus.paraparser import ParaFrag

from kunnan_docs.forms.typeset import FRAME_W, PAGE_H, PAGE_W, Para, same_frag, sheet_text, styles, text_width
from kunnan_docs.package import sheets

# Chinese, Latin, digits, punctuation and whitespace of every kind reportlab cleans; no tag or entity
PLAIN = st.text(st.sampled_from("困难职工档案号CD-2018/1003 第3项，。（）\t\n\r\u00a0ab 王"), max_size=40)


def _frag_dicts(paragraph: Paragraph) -> list[dict[str, object]]:
    return [dict(f.__dict__) for f in paragraph.frags]


@given(PLAIN)
def test_plain_text_gets_the_frags_reportlabs_parser_makes(text: str) -> None:
    for style in styles().values():
        ours = Para(text, style)
        theirs = Paragraph(text, style)  # reportlab's HTML parser
        assert (ours.text, _frag_dicts(ours)) == (theirs.text, _frag_dicts(theirs))


def test_frag_comparison_agrees_with_reportlabs_sameFrag() -> None:
    made = [f for text in ("困难职工", "甲<br/>乙", "<font color='red'>红</font>黑", "<u>下</u>划", "王𠮷", "a&amp;b")
            for style in styles().values() for f in Para(sheet_text(text) if "<" not in text else text, style).frags]
    crafted = [FragLine(), FragLine(fontName="x"), ParaFrag(), ParaFrag(backColor=None), ParaFrag(nobr=None),
               ParaFrag(textColor=black), ParaFrag(textColor=Color(0, 0, 0)), ParaFrag(cbDefn=None),
               ParaFrag(lineBreak=1), ParaFrag(rise=0), ParaFrag(rise=0.0), ParaFrag(link=[]), ParaFrag(link=[1])]
    for f, g in itertools.product(made + crafted, repeat=2):
        assert same_frag(f, g) == bool(sameFrag(f, g)), (f.__dict__, g.__dict__)


def test_a_text_that_fits_its_width_is_one_line_and_a_forced_break_still_breaks() -> None:
    style = styles()["value"]
    text = "困难职工档案信息表"
    width = text_width(text, style.fontSize)
    assert len(Para(text, style).breakLinesCJK([width]).lines) == 1
    assert len(Para(text, style).breakLinesCJK([width - 1]).lines) == 2
    assert len(Para("困难<br/>职工", style).breakLinesCJK([FRAME_W]).lines) == 2


def test_page_number_stamps_are_kept_by_page_sizes_and_numbers() -> None:
    a4, landscape = (PAGE_W, PAGE_H), (PAGE_H, PAGE_W)
    made = []
    for sizes, numbers in [([a4] * 3, [1, 2, 3]), ([a4, landscape, a4], [1, 2, 3]), ([a4] * 3, [4, 5, 6])]:
        kept = sheets.page_number_stamps(sizes, numbers)
        assert kept == sheets.page_number_stamps(list(sizes), list(numbers))
        assert kept == sheets._stamps.__wrapped__(tuple(sizes), tuple(numbers))  # as typeset afresh
        made.append(kept)
    assert len(set(made)) == 3
