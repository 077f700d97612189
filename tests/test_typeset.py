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

from kunnan_docs.forms.typeset import (
    FRAME_W,
    PAGE_H,
    PAGE_W,
    Para,
    Title,
    cells,
    document,
    grid,
    same_frag,
    sheet_text,
    styles,
    text_width,
)
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
        assert kept == sheets.stamps_kept.__wrapped__(tuple(sizes), tuple(numbers))  # as typeset afresh
        made.append(kept)
    assert len(set(made)) == 3


SAMPLES = ["困难职工档案信息表", "锦江区书院街街道总工会" * 6, "档案号：CD510104-2018-1003", "王𠮷，2018年4月2日（附件3）",
           "甲<br/>乙<br/>丙", "<font color='red'>红字</font>与黑字", "<u>下划线</u>不走捷径", "CD\u00a0510104\u00a0" * 8,
           "a&amp;b　全角空格", ""]


def _sample_story() -> list[object]:
    story: list[object] = []
    for name, style in styles().items():
        for text in SAMPLES:
            story.append(Para(text if "<" in text or "&" in text else sheet_text(text), style))
        story.append(Title(sheet_text(f"标题 {name}"), style))
    story.append(grid([cells(["顺序号", "题名", "备注"], styles()["label"]),
                       cells(["1", "成都市总工会建档困难职工入户调查表（附件3）" * 3, "第7项"], styles()["value"])],
                      [13, 80, 16], header=True))
    return story


def test_plain_lines_are_drawn_byte_for_byte_as_reportlab_draws_them(monkeypatch) -> None:
    ours = document(_sample_story(), "t", standalone=False)
    monkeypatch.setattr(Para, "drawPara", Paragraph.drawPara)  # reportlab's own, for every paragraph
    assert ours == document(_sample_story(), "t", standalone=False)
