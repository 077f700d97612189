"""The forms as they hold on paper (issue 21): read back from the PDF's text layer (where each character
sits) and its vector rules, from the Word file's XML and, where LibreOffice is installed, from Word
rendered to PDF; the due list's print set-up from the workbook."""

from __future__ import annotations

import ctypes
import io
import itertools
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import openpyxl
import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest
from docx import Document
from lxml import etree

from kunnan_docs.cli import main
from kunnan_docs.core.casefile import Case, read_case
from kunnan_docs.errors import ExitCode
from kunnan_docs.forms.fill import FilledForm, forms_for
from kunnan_docs.forms.pdf import render_pdf, render_with_boxes
from kunnan_docs.forms.typeset import BODY_PT, FRAME_PADDING, FRAME_W, MARGIN_LEFT, cells, document, grid, styles
from kunnan_docs.forms.word import render_docx
from kunnan_docs.staff.due import Due, write_xlsx

from .conftest import EXIT_EXAMPLE

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
WIDE_NUMBERS = ["CD00000000-0000-00000000", "CD88888888-8888-88888888"]  # 24 characters of the widest digits
WIDE_DATES = {"2008-12-28": "2008年12月28日", "2008-08-08": "2008年8月8日", "2020-10-08": "2020年10月8日"}
RARE = "王𠮷"  # 𠮷: CJK Extension B


@dataclass(frozen=True)
class Glyph:
    char: str
    left: float
    bottom: float
    right: float
    top: float
    baseline: float


@dataclass(frozen=True)
class Rule:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def vertical(self) -> bool:
        return abs(self.x0 - self.x1) < 0.1

    @property
    def horizontal(self) -> bool:
        return abs(self.y0 - self.y1) < 0.1


def glyphs(page: pdfium.PdfPage) -> list[Glyph]:
    textpage = page.get_textpage()
    out = []
    x, y = ctypes.c_double(), ctypes.c_double()
    for i in range(textpage.count_chars()):
        char = textpage.get_text_range(i, 1).replace("\u2011", "-")  # Word's non-breaking hyphen reads as one
        if char in "\r\n" or not char.strip():
            continue
        pdfium_raw.FPDFText_GetCharOrigin(textpage.raw, i, x, y)
        out.append(Glyph(char, *textpage.get_charbox(i), y.value))
    return out


def find(found: list[Glyph], text: str) -> list[list[Glyph]]:
    """Every run of glyphs spelling `text` (line breaks between them do not count)."""
    chars = "".join(g.char for g in found)
    return [found[m.start():m.start() + len(text)] for m in re.finditer(re.escape(text), chars)]


def rules(page: pdfium.PdfPage) -> list[Rule]:
    """The straight lines stroked on the page (table rules; not the QR code's filled modules)."""
    out = []
    for obj in page.get_objects(filter=[pdfium_raw.FPDF_PAGEOBJ_PATH]):
        if pdfium_raw.FPDFPath_CountSegments(obj.raw) != 2:
            continue
        matrix = obj.get_matrix()
        points = []
        for i in range(2):
            segment = pdfium_raw.FPDFPath_GetPathSegment(obj.raw, i)
            x, y = ctypes.c_float(), ctypes.c_float()
            pdfium_raw.FPDFPathSegment_GetPoint(segment, x, y)
            points.append(matrix.on_point(x.value, y.value))
        (x0, y0), (x1, y1) = sorted(points)
        rule = Rule(x0, min(y0, y1), x1, max(y0, y1))
        if rule.vertical or rule.horizontal:
            out.append(rule)
    return out


def pages(pdf: bytes) -> list[pdfium.PdfPage]:
    doc = pdfium.PdfDocument(pdf)
    return [doc[i] for i in range(len(doc))]


def page_texts(pdf: bytes) -> list[str]:
    return ["".join(g.char for g in glyphs(page)) for page in pages(pdf)]


def assert_one_line_in_its_cell(page: pdfium.PdfPage, run: list[Glyph], what: str) -> None:
    """The run's characters share one baseline, and no rule of the page crosses it: it lies inside its cell
    (or, on a letter, inside the text frame)."""
    baselines = {round(g.baseline, 1) for g in run}
    assert max(baselines) - min(baselines) < 0.5, f"{what} breaks over lines: {sorted(baselines)}"
    left, right = run[0].left, run[-1].right
    bottom, top = min(g.bottom for g in run), max(g.top for g in run)
    walls = [r for r in rules(page) if r.vertical and r.y0 <= bottom and r.y1 >= top]
    assert not [r for r in walls if left < r.x0 < right], f"{what} crosses a rule"
    if walls:
        assert any(r.x0 <= left for r in walls) and any(r.x0 >= right for r in walls), f"{what} leaves its cell"
    assert left >= MARGIN_LEFT - 1 and right <= MARGIN_LEFT + FRAME_W + 1, f"{what} leaves the text frame"


def body_runs(page: pdfium.PdfPage, text: str) -> list[list[Glyph]]:
    """The runs spelling `text` above the footer (which repeats the archive number)."""
    return [run for run in find(glyphs(page), text) if run[0].bottom > 40 * 72 / 25.4]


def example(path: Path = EXIT_EXAMPLE) -> Case:
    return read_case(path / "case.json")


def by_stem(case: Case) -> dict[str, FilledForm]:
    return {form.stem: form for form in forms_for(case)}


def hard_case() -> Case:
    """Long texts, 12 family members with long lines, rare characters, 4 return visits."""
    case = example()
    data = case.data
    data["worker"]["name"] = RARE
    data["hardship_reason"] = "".join(f"第{i}句：企业停产，收入骤减，医药费用负担沉重（自付约{600 + i}元）。"
                                      for i in range(40))
    member = data["family_members"][0]
    data["family_members"] = [dict(member, name=f"何{'志刚欣德明𬌗'[i % 6]}{i}",
                                   status="灵活就业（保安），收入不稳定，需照顾老人和孩子的日常生活起居")
                              for i in range(12)]
    data["exit"]["application"]["contact_person_opinion"] = "经入户核实，本人已稳定就业，月收入约2600元。" * 3
    data["exit"]["application"]["union_opinion"] = "经街道总工会集体研究，同意脱困，按程序公示。" * 3
    visit = data["exit"]["return_visits"][0]
    data["exit"]["return_visits"] = [dict(visit, date=day, situation=visit["situation"] * 12)
                                     for day in ("2019-12-20", "2020-01-20", "2020-03-15", "2020-04-15")]
    return case


# 1. identifiers and dates on one line, inside their cells


@pytest.mark.parametrize("archive_no", WIDE_NUMBERS)
def test_archive_numbers_of_24_wide_characters_fit_their_cells_on_every_form(archive_no: str) -> None:
    case = example()
    case.data["archive_no"] = archive_no
    for form in forms_for(case):
        pdf = render_pdf(form, archive_no)
        for n, page in enumerate(pages(pdf), start=1):
            body = body_runs(page, archive_no)
            if form.spec.id != "exit_notice":  # the notice to the family does not name the number
                assert body, f"{form.stem} page {n}: the archive number is not on one line anywhere"
            for run in body:
                assert_one_line_in_its_cell(page, run, f"{form.stem} page {n}: {archive_no}")


@pytest.mark.parametrize("iso", WIDE_DATES)
def test_every_date_style_fits_its_cell_on_one_line(iso: str) -> None:
    case = example()
    exit_ = case.data["exit"]
    case.data["survey"]["date"] = case.data["worker"]["work_start_date"] = iso
    exit_["application"]["date"] = exit_["collective_review"]["date"] = exit_["notice"]["date"] = iso
    exit_["publicity"]["start"] = exit_["publicity"]["end"] = iso
    for visit in exit_["return_visits"]:
        visit["date"] = iso
    day = WIDE_DATES[iso]
    month = day[:day.index("月") + 1]
    for form in forms_for(case):
        for n, page in enumerate(pages(render_pdf(form, case.archive_no)), start=1):
            found = glyphs(page)
            runs = find(found, day) or find(found, month)
            assert runs, f"{form.stem}: no {day} on page {n}"
            for run in runs:
                assert_one_line_in_its_cell(page, run, f"{form.stem} page {n}: {day}")


def test_an_archive_number_too_long_for_its_cell_breaks_after_a_hyphen() -> None:
    case = example()
    archive_no = "CD510104-2018-0112-00000000-88888888"
    case.data["archive_no"] = archive_no
    found = glyphs(pages(render_pdf(forms_for(case)[0], archive_no))[0])
    lines: dict[float, str] = {}
    for g in found:
        lines[round(g.baseline)] = lines.get(round(g.baseline), "") + g.char
    pieces = [text for text in lines.values() if text.startswith("CD510104") or text[:1].isdigit()]
    assert any(text.endswith("-") and archive_no.startswith(text) for text in pieces), pieces


# 3. Annex 4: dates, signature lines and a seal area; Annex 7: which visit


def test_annex4_has_dated_signature_lines_and_a_seal_area_clear_of_the_opinions() -> None:
    case = example()
    form = by_stem(case)["附件4-脱困申请表"]
    pdf, boxes = render_with_boxes(form, case.archive_no)
    assert [b.name for b in boxes] == ["帮扶责任人签字", "工会负责人签字", "盖章"]
    page = pages(pdf)[0]
    textpage = page.get_textpage()
    text = "".join(g.char for g in glyphs(page))
    assert "2019年9月2日" in text  # the application (the contact person's opinion)
    assert "（盖章）" in text
    opinion = find(glyphs(page), "同意脱困，按程序公示。")[0]
    for box in boxes:
        assert box.page == 1 and box.x1 - box.x0 >= 30 and box.y1 - box.y0 >= 25
        inside = textpage.get_text_bounded(box.x0 + 1, box.y0 + 1, box.x1 - 1, box.y1 - 1).strip()
        if box.name == "盖章":  # the seal goes over the union's line and the date, nothing else
            # the union dates it by hand at the review: printed at the application, the form must not change
            # when the review is recorded
            assert set(inside.replace("\r\n", "")) <= set("（盖章）\u3000年月日 ") and "月" in inside
            assert box.x1 - box.x0 >= 42 * 2.83
        else:
            assert inside == "", box  # room for the pen, no printed text under it
        for g in opinion:
            assert not (box.x0 < g.left < box.x1 and box.y0 < g.bottom < box.y1), "ink would land on the opinion"


def test_boxes_on_a_later_page_name_that_page_and_lie_on_its_empty_cells() -> None:
    case = hard_case()
    for form in forms_for(case):
        pdf, boxes = render_with_boxes(form, case.archive_no)
        doc = pages(pdf)
        for box in boxes:
            assert 1 <= box.page <= len(doc), (form.stem, box)
            textpage = doc[box.page - 1].get_textpage()
            inside = textpage.get_text_bounded(box.x0 + 2, box.y0 + 2, box.x1 - 2, box.y1 - 2)
            if box.name.endswith("签字"):
                assert inside.strip() == "", (form.stem, box)
        if form.spec.id in ("survey", "exit_application"):
            assert len(doc) >= 2 and {b.page for b in boxes} == {len(doc)}, form.stem  # the signatures end it


def test_annex4_union_date_is_left_to_fill_by_hand_before_the_review() -> None:
    case = example()
    del case.data["exit"]["collective_review"]
    text = page_texts(render_pdf(by_stem(case)["附件4-脱困申请表"], case.archive_no))[0]
    assert text.count("年月日") == 1 and "2019年9月2日" in text  # blanks to fill in, the application dated


def test_each_return_visit_record_says_which_visit_it_is() -> None:
    case = hard_case()
    for n, form in enumerate((f for f in forms_for(case) if f.spec.id == "return_visit"), start=1):
        for text in page_texts(render_pdf(form, case.archive_no)):
            assert f"第{n}次回访" in text


# 6. long content


def assert_rules_closed(pdf: bytes, what: str) -> None:
    """Every vertical rule ends on a horizontal one: no table is left open at a page break."""
    for n, page in enumerate(pages(pdf), start=1):
        lines = rules(page)
        for v in (r for r in lines if r.vertical):
            for y in (v.y0, v.y1):
                assert any(h.horizontal and abs(h.y0 - y) < 0.5 and h.x0 - 0.5 <= v.x0 <= h.x1 + 0.5
                           for h in lines), f"{what} page {n}: a rule stops at y={y:.1f} unclosed"


def test_tables_split_at_a_page_break_close_their_rules_on_both_pages() -> None:
    case = hard_case()
    for form in forms_for(case):
        if "letter" not in form.spec.raw:
            assert_rules_closed(render_pdf(form, case.archive_no), form.stem)


def test_a_sheet_table_split_inside_a_row_closes_its_rules() -> None:
    """The package's sheets (contents list, remarks) and the staff sheets share typeset.grid."""
    value = styles()["value"]
    rows = [cells(["序号", "题名", "页号"], value)]
    rows += [cells([str(n), "很长的题名" * (600 if n == 3 else 3), str(n)], value) for n in range(6)]
    pdf = document([grid(rows, [15, 120, 20], header=True)], "卷内文件目录")
    assert len(pages(pdf)) > 2
    assert_rules_closed(pdf, "grid")


def row_bands(page: pdfium.PdfPage) -> list[tuple[float, float]]:
    """(bottom, top) of every table row on the page, top first, from its horizontal rules."""
    ys = sorted({round(r.y0, 1) for r in rules(page) if r.horizontal and r.x1 - r.x0 > 100}, reverse=True)
    return [(low, high) for high, low in itertools.pairwise(ys)]


def label_column(page: pdfium.PdfPage) -> float:
    """x of the rule right of the first column (the labels)."""
    walls = sorted({round(r.x0, 1) for r in rules(page) if r.vertical})
    return walls[1]


def test_a_split_row_has_its_label_at_the_top_and_no_blank_tail_on_the_next_page() -> None:
    case = hard_case()
    checked = 0
    for form in forms_for(case):
        if "letter" in form.spec.raw:
            continue
        doc = pages(render_pdf(form, case.archive_no))
        for page, after in itertools.pairwise(doc):
            head_band, tail_band = row_bands(page)[-1], row_bands(after)[0]
            found, found_after = glyphs(page), glyphs(after)
            head = [g for g in found if head_band[0] < g.bottom and g.top < head_band[1]]
            tail = [g for g in found_after if tail_band[0] < g.bottom and g.top < tail_band[1]]
            if "（续）" not in "".join(g.char for g in tail):
                continue
            checked += 1
            for band, inside, on in ((head_band, head, page), (tail_band, tail, after)):
                wall = label_column(on)
                labels = [g for g in inside if g.right < wall]
                assert band[1] - max(g.top for g in labels) < 8, f"{form.stem}: label not at the top of its part"
                values = [g for g in inside if g.left > wall]
                assert len({round(g.baseline) for g in values}) >= 2, f"{form.stem}: one line alone on a page"
            assert min(g.bottom for g in tail) - tail_band[0] < 12, f"{form.stem}: blank under a continued row"
    assert checked >= 2


def test_family_members_hang_so_that_a_continuation_is_not_a_new_person() -> None:
    case = hard_case()
    pdf = render_pdf(by_stem(case)["附件3-入户调查表"], case.archive_no)
    starts, continuations = [], []
    for page in pages(pdf):
        lines: dict[float, list[Glyph]] = {}
        wall = label_column(page)  # the page's rules, read once: not once a glyph
        for g in glyphs(page):
            if g.left > wall:
                lines.setdefault(round(g.baseline, 1), []).append(g)
        for line in lines.values():
            text = "".join(g.char for g in line)
            if "岁）：" in text:
                starts.append(line[0].left)
            elif text.endswith("年收入18000元"):
                continuations.append(line[0].left)
    assert len(starts) == 12 and len(continuations) == 12
    assert max(starts) - min(starts) < 0.5
    for x in continuations:
        assert abs(x - (min(starts) + 2 * 10.5)) < 1, "continuation lines hang by two characters"


@pytest.mark.parametrize("sentences", range(12, 80, 4))
def test_no_page_holds_only_the_opinion_row(sentences: int) -> None:
    case = example()
    case.data["hardship_reason"] = "企业停产，收入骤减，医药费用负担沉重。" * sentences
    pdf = render_pdf(by_stem(case)["附件4-脱困申请表"], case.archive_no)
    for text in page_texts(pdf)[1:]:
        assert "致困原因" in text or "帮扶措施" in text, "the opinions stand alone on a page"


# 9. letters (GB/T 9704) and Chinese spacing


def test_letters_date_four_characters_from_the_right_and_seal_line_centred_over_it() -> None:
    case = example()
    for stem in ("附件5-脱困公示", "附件6-退档通知书"):
        pdf, [seal] = render_with_boxes(by_stem(case)[stem], case.archive_no)
        page = pages(pdf)[0]
        found = glyphs(page)
        day = find(found, "2019年9月16日" if stem.startswith("附件5") else "2019年10月12日")[-1]
        union = find(found, "盖章）")[-1]
        union_line = [g for g in found if abs(g.baseline - union[0].baseline) < 0.5]
        right_edge = MARGIN_LEFT + FRAME_W - FRAME_PADDING  # the text's right edge
        assert abs(right_edge - 4 * BODY_PT - day[-1].right) < 4, "date: four characters from the right"
        centre = (day[0].left + day[-1].right) / 2
        assert abs((union_line[0].left + union_line[-1].right) / 2 - centre) < 2, "union name centred over the date"
        assert abs((seal.x0 + seal.x1) / 2 - centre) < 2
        body_end = min(g.bottom for g in found if g.baseline > union_line[0].baseline + BODY_PT * 1.5
                       and g.top < 700)
        assert seal.y1 <= body_end + 1 and body_end - seal.y1 < 2 * BODY_PT, "seal top within a line of the text"
        assert seal.y0 < day[0].bottom and union_line[0].top < seal.y1


def test_publicity_keeps_the_annex_sentence_with_the_real_period_then_our_contact() -> None:
    case = example()
    text = page_texts(render_pdf(by_stem(case)["附件5-脱困公示"], case.archive_no))[0]
    sentence = "如有意见，请在5个工作日内向所在村（社区）工会反映。"
    assert sentence in text
    assert text.index("联系方式：电话028-86651234，锦华路2号锦华社区服务中心") > text.index(sentence)
    del case.data["exit"]["publicity"]["contact"]
    assert "联系方式" not in page_texts(render_pdf(by_stem(case)["附件5-脱困公示"], case.archive_no))[0]


def test_assistance_measures_use_full_width_spacing_only() -> None:
    case = example()
    form = by_stem(case)["附件4-脱困申请表"]
    measures = form.values["assistance_measures"].split("\n")
    assert measures[0] == "2018年6月12日　生活救助·困难职工生活救助　2000元（经社会保障卡发放）"
    assert measures[-1] == "合计4次，5300元。"
    assert all(" " not in line for line in measures)


def test_bookmarks_and_the_contents_list_print_page_ranges_for_people(tmp_path) -> None:
    assert main(["build", str(EXIT_EXAMPLE / "case.json"), "-o", str(tmp_path)]) in (
        ExitCode.OK, ExitCode.AWAITING_SIGNATURE)
    folder = tmp_path / "CD510104-2018-0112"
    with pikepdf.open(folder / "CD510104-2018-0112.pdf") as doc, doc.open_outline() as outline:
        ranged = [item.title for item in outline.root if "页" in item.title]
    assert ranged and all(re.search(r"（第\d+(～\d+)?页）$", title) for title in ranged), ranged
    assert any("～" in title for title in ranged)
    contents = page_texts((folder / "CD510104-2018-0112.pdf").read_bytes())[1].replace("CD510104-2018-0112", "")
    assert "～" in contents and not re.search(r"\d-\d", contents)
    assert main(["verify", str(folder)]) == ExitCode.OK


# 8. Word copies


def word_xml(data: bytes, member: str = "word/document.xml") -> etree._Element:
    return etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read(member))


def test_word_footer_numbers_pages_with_fields() -> None:
    case = example()
    for form in forms_for(case):
        data = render_docx(form, case.archive_no)
        names = [n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if re.match(r"word/footer\d*\.xml", n)]
        texts = []
        for name in names:
            footer = word_xml(data, name)
            codes = "".join(footer.itertext())
            texts.append(codes)
            instr = [t.text.strip() for t in footer.iter(f"{W}instrText")]
            if not form.spec.public:
                assert instr == ["PAGE", "NUMPAGES"], form.stem
        if not form.spec.public:
            assert any("第" in t and "页 共" in t for t in texts), form.stem


def rare_runs(data: bytes) -> list[etree._Element]:
    return [r for r in word_xml(data).iter(f"{W}r") if any("𠮷" in (t.text or "") for t in r.iter(f"{W}t"))]


def test_word_sets_rare_characters_in_an_embedded_font_that_has_them() -> None:
    case = example()
    case.data["worker"]["name"] = RARE
    data = render_docx(forms_for(case)[0], case.archive_no)
    [run] = rare_runs(data)
    fonts = run.find(f"{W}rPr/{W}rFonts")
    assert fonts.get(f"{W}hint") == "eastAsia"
    face = fonts.get(f"{W}eastAsia")
    assert face and fonts.get(f"{W}hAnsi") == face and "".join(t.text for t in run.iter(f"{W}t")) == "𠮷"
    table = word_xml(data, "word/fontTable.xml")
    [entry] = [f for f in table.iter(f"{W}font") if f.get(f"{W}name") == face]
    embedded = entry.find(f"{W}embedRegular")
    assert embedded is not None and embedded.get(f"{W}fontKey")
    settings = word_xml(data, "word/settings.xml")
    assert settings.find(f"{W}embedTrueTypeFonts") is not None
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert any(n.startswith("word/fonts/") and n.endswith(".odttf") for n in archive.namelist())
    plain = render_docx(forms_for(example())[0], case.archive_no)  # no rare character: nothing embedded
    assert not any(n.startswith("word/fonts/") for n in zipfile.ZipFile(io.BytesIO(plain)).namelist())


def test_word_keeps_the_archive_number_whole_with_non_breaking_hyphens() -> None:
    case = example()
    for form in forms_for(case):
        data = render_docx(form, case.archive_no)
        found = 0
        for name in [n for n in zipfile.ZipFile(io.BytesIO(data)).namelist()
                     if re.fullmatch(r"word/(document|footer\d*)\.xml", n)]:
            for run in word_xml(data, name).iter(f"{W}r"):
                text = "".join("-" if child.tag == f"{W}noBreakHyphen" else child.text or "" for child in run
                               if child.tag in (f"{W}t", f"{W}noBreakHyphen"))
                if case.archive_no in text:
                    found += 1
                    assert "CD510104-" not in "".join(t.text or "" for t in run.iter(f"{W}t")), (form.stem, name)
        assert found, form.stem


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(soffice() is None, reason="LibreOffice is not installed (apt-get install libreoffice-writer-nogui)")
def test_word_copies_show_rare_characters_and_keep_numbers_whole_in_libreoffice(tmp_path) -> None:
    case = hard_case()
    case.data["archive_no"] = WIDE_NUMBERS[1]
    for name in ("附件3-入户调查表", "附件4-脱困申请表"):
        (tmp_path / f"{name}.docx").write_bytes(render_docx(by_stem(case)[name], case.archive_no))
    subprocess.run([soffice(), f"-env:UserInstallation=file://{tmp_path}/profile", "--headless", "--convert-to",
                    "pdf", "--outdir", str(tmp_path), *map(str, sorted(tmp_path.glob("*.docx")))],
                   check=True, capture_output=True, timeout=300)
    survey = (tmp_path / "附件3-入户调查表.pdf").read_bytes()
    text = "".join(page.get_textpage().get_text_range() for page in pages(survey))
    assert "𠮷" in text and "𬌗" in text  # drawn from the embedded fonts (no font here has them)
    first = pages(survey)[0]
    [number] = body_runs(first, WIDE_NUMBERS[1])
    assert_one_line_in_its_cell(first, number, "Word: archive number")
    application = pages((tmp_path / "附件4-脱困申请表.pdf").read_bytes())[0]
    [number] = body_runs(application, WIDE_NUMBERS[1])
    assert_one_line_in_its_cell(application, number, "Word: archive number")


TIMES_EMS = {**dict.fromkeys("0123456789", 0.5), "-": 0.333, "C": 0.667, "D": 0.722}  # Times New Roman advances


def test_word_cells_of_identifiers_and_dates_hold_them_on_one_line() -> None:
    """Word sets digits and Latin letters in Times New Roman, Chinese in 宋体 (one em): the archive number's cell
    holds the widest 24-character number, a date's cell the widest date, with the cell margins; a date's
    paragraph adds no space between digits and Chinese (Word's autospacing would push 日 to a second line)."""
    case = example()
    case.data["survey"]["date"] = "2008-12-28"
    widest = max(sum(TIMES_EMS[c] for c in number) for number in WIDE_NUMBERS)
    for form in forms_for(case):
        if "letter" in form.spec.raw:
            continue
        doc = Document(io.BytesIO(render_docx(form, case.archive_no)))
        table = doc.tables[0]
        margin = int(table._tbl.tblPr.xpath("./w:tblCellMar/w:left/@w:w")[0]) * 2  # twips
        cells = {c.text: c for row in table.rows for c in row.cells}
        for text, ems in ((case.archive_no, widest), ("2008年12月28日", 0.5 * 8 + 3)):
            if text not in cells:
                continue
            paragraph = cells[text].paragraphs[0]
            run = paragraph.runs[0]
            assert run.font.name == "Times New Roman", form.stem
            assert cells[text].width.twips - margin >= ems * run.font.size.pt * 20, (form.stem, text)
            for tag in ("autoSpaceDE", "autoSpaceDN"):
                assert paragraph._p.pPr.find(f"{W}{tag}").get(f"{W}val") == "0", (form.stem, text)


# 10. the due list prints


def test_due_workbook_prints_landscape_fit_to_width_with_the_header_repeated(tmp_path) -> None:
    target = tmp_path / "due.xlsx"
    day = date(2020, 8, 1)
    items = [Due("黄丽", f"CD510104-2018-{n:04d}", "王淑芬", "半年入户走访", day, day, day) for n in range(80)]
    write_xlsx(items, day, target)
    ws = openpyxl.load_workbook(target).active
    assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert ws.print_title_rows == "$3:$3" and "&P" in ws.oddFooter.center.text

