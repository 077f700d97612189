"""The annex forms, read back as a clerk would see them: text, rendered QR codes, fonts, Word content."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
import zxingcpp
from docx import Document

from kunnan_docs.cli import main
from kunnan_docs.core.casefile import read_case
from kunnan_docs.core.findings import schema_node
from kunnan_docs.core.resources import data_dir
from kunnan_docs.errors import ExitCode, TemplateError
from kunnan_docs.forms import qr, word
from kunnan_docs.forms.fill import forms_data, forms_for
from kunnan_docs.forms.pdf import render_pdf, render_with_boxes
from kunnan_docs.forms.render import render_forms
from kunnan_docs.forms.typeset import NO_LINE_END, NO_LINE_START, break_allowed
from kunnan_docs.forms.word import check_template, render_docx, template_path

from .conftest import EXIT_EXAMPLE, FILING_EXAMPLE

ID_NUMBER = "510104196811021242"


@pytest.fixture(scope="module")
def exit_forms(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("forms")
    case = read_case(EXIT_EXAMPLE / "case.json")
    return {r.form.stem: r.pdf for r in render_forms(case, out)}


def pdf_text(pdf: Path | bytes) -> list[str]:
    """Each page's text with line breaks removed, so that wrapped values read as one string."""
    doc = pdfium.PdfDocument(pdf)
    return [doc[i].get_textpage().get_text_range().replace("\r", "").replace("\n", "") for i in range(len(doc))]


def qr_codes(pdf: Path | bytes) -> list[list[str]]:
    doc = pdfium.PdfDocument(pdf)
    return [[r.text for r in zxingcpp.read_barcodes(doc[i].render(scale=150 / 72).to_pil())] for i in range(len(doc))]


def test_exit_case_gets_every_exit_form(exit_forms) -> None:
    assert sorted(exit_forms) == ["附件3-入户调查表", "附件4-脱困申请表", "附件5-脱困公示", "附件6-退档通知书",
                                  "附件7-回访记录单-1", "附件7-回访记录单-2"]
    for pdf in exit_forms.values():
        assert pdf.with_suffix(".docx").exists()


def test_filing_case_gets_only_the_survey(tmp_path) -> None:
    rendered = render_forms(read_case(FILING_EXAMPLE / "case.json"), tmp_path)
    assert [r.form.stem for r in rendered] == ["附件3-入户调查表"]


def test_every_page_carries_a_decodable_qr_naming_archive_form_and_page(exit_forms) -> None:
    keys = {}
    for stem, pdf in exit_forms.items():
        codes = qr_codes(pdf)
        for i, (page_codes, text) in enumerate(zip(codes, pdf_text(pdf), strict=True), start=1):
            assert len(page_codes) == 1 and page_codes[0].startswith("KD1|CD510104-2018-0112|")
            assert ID_NUMBER not in page_codes[0] and "王淑芬" not in page_codes[0]
            code = qr.parse(page_codes[0])
            assert code and (code.page, code.pages) == (i, len(codes))
            if stem == "附件5-脱困公示":  # the posted notice has no internal footer
                assert "建档号：CD510104-2018-0112" in text and "第1页" not in text and "附件5" not in text
            else:
                assert "档案号：CD510104-2018-0112" in text and f"第{i}页 共{len(codes)}页" in text
            keys[stem] = code.form_key
    assert keys == {"附件3-入户调查表": "annex3", "附件4-脱困申请表": "annex4", "附件5-脱困公示": "annex5",
                    "附件6-退档通知书": "annex6", "附件7-回访记录单-1": "annex7-1", "附件7-回访记录单-2": "annex7-2"}


@pytest.mark.parametrize("archive_no", ["CD1", "CD510104-2018-0112", "成都市锦江区总工会-2018-帮扶-0112-补档" * 2])
def test_codes_with_the_fixed_mask_decode_at_every_size(archive_no: str) -> None:
    from PIL import Image

    text = qr.PageCode(archive_no, "annex7-2", 3, 12, "0123abcd").text
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.png(text, box=4))),
                                    formats=zxingcpp.BarcodeFormat.QRCode)
    assert code.text == text


@pytest.mark.parametrize("archive_no", ["CD1", "CD510104-2018-0112", "12345678901234567890123-0112",
                                        "CD510104-2018-0112-ABCDEFGHIJKLMNOP", "成都市锦江区总工会-2018-帮扶-0112"])
def test_the_size_of_a_symbol_is_known_without_drawing_it(archive_no: str) -> None:
    """scan-in places every page by its code's printed size (qr.code_square) and asks for it per page read: the
    module count comes from the payload's shape (digits, alphanumerics, other bytes), and must be the drawn one's —
    runs of 20 digits or alphanumerics change the version qrcode picks."""
    for page, pages in ((1, 2), (12, 60)):
        text = qr.PageCode(archive_no, "annex7-2", page, pages, "0123abcd").text
        assert qr.modules(text) == len(qr.matrix(text))


def test_fingerprint_changes_with_any_value_and_parse_refuses_foreign_codes() -> None:
    case = read_case(EXIT_EXAMPLE / "case.json")
    before = qr.form_fingerprint(forms_for(case)[0])
    assert qr.form_fingerprint(forms_for(read_case(EXIT_EXAMPLE / "case.json"))[0]) == before
    case.data["hardship_reason"] += "。"
    assert qr.form_fingerprint(forms_for(case)[0]) != before
    code = qr.PageCode("CD(2019)〔3〕-1", "annex7-2", 2, 3, before)
    assert qr.parse(code.text) == code
    for foreign in ("CD510104-2018-0112|附件3", "KD1|x|annex3|2|abcdef12", "KD1|x|annex3|1/2|abc", "http://x/y"):
        assert qr.parse(foreign) is None


def test_survey_text_is_extractable(exit_forms) -> None:
    text = "".join(pdf_text(exit_forms["附件3-入户调查表"]))
    for expected in ("成都市总工会建档困难职工入户调查表", "王淑芬", ID_NUMBER, "成都锦华纺织有限公司", "42平方米",
                     "何志刚（丈夫，51岁）", "2018年4月2日", "入户调查人员签字"):
        assert expected in text


def test_fonts_are_embedded_subset_truetype(exit_forms) -> None:
    with pikepdf.open(exit_forms["附件4-脱困申请表"]) as pdf:
        fonts = [f for page in pdf.pages for f in page.Resources.Font.values()]
        assert fonts
        for font in fonts:
            assert "/FontFile2" in font.FontDescriptor  # embedded TrueType (no unembedded base-14 font)
            assert "+" in str(font.BaseFont)  # subset prefix


def test_ages_are_derived_from_the_id_at_the_form_date(exit_forms) -> None:
    # born 1968-11-02: 50 at the application (2019-09-02), 51 at the second return visit (2020-04-15)
    assert "年 龄 50" in pdf_text(exit_forms["附件4-脱困申请表"])[0]
    assert "51" in pdf_text(exit_forms["附件7-回访记录单-2"])[0]


def test_exit_application_lists_measures_and_opinions(exit_forms) -> None:
    text = "".join(pdf_text(exit_forms["附件4-脱困申请表"]))
    assert "家政服务员技能培训补贴\u3000800元" in text and "合计4次，5300元" in text
    assert "同意脱困，按程序公示" in text and "经入户核实" in text


def test_publicity_notice_shows_period_and_no_personal_data(exit_forms) -> None:
    text = "".join(pdf_text(exit_forms["附件5-脱困公示"]))
    assert "王淑芬同志（建档号：CD510104-2018-0112）" in text
    assert "2019年9月16日至2019年9月20日" in text and "请在5个工作日内" in text
    assert "盖章" in text and "2019年9月16日" in text
    for private in (ID_NUMBER, "书院西街8号", "18000", "糖尿病", "13551234567"):
        assert private not in text


def test_exit_notice_is_a_letter_to_the_worker(exit_forms) -> None:
    text = "".join(pdf_text(exit_forms["附件6-退档通知书"]))
    assert "王淑芬同志：" in text and "现正式退出工会困难职工帮扶档案管理系统" in text and "2019年10月12日" in text


def test_long_values_wrap_and_continue_on_further_pages() -> None:
    case = read_case(EXIT_EXAMPLE / "case.json")
    reason = "".join(f"第{i}句：企业停产，收入骤减。" for i in range(80))  # about a thousand characters
    case.data["hardship_reason"] = reason
    case.data["family_members"] = case.data["family_members"] * 20
    case.data["worker"]["name"] = "王堃䶮𠅤"  # outside GB2312 (堃), CJK Ext A (䶮), beyond U+FFFF (𠅤, Ext B)
    pdf = render_pdf(forms_for(case)[0], case.archive_no)
    pages = pdf_text(pdf)
    assert len(pages) >= 2
    flat = "".join(pages)
    assert "第0句" in flat and "第79句：企业停产，收入骤减。" in flat and "王堃䶮𠅤" in flat
    doc = pdfium.PdfDocument(pdf)
    for i in range(len(doc)):  # nothing drawn outside the page
        width, height = doc[i].get_size()
        textpage = doc[i].get_textpage()
        for c in range(textpage.count_chars()):
            left, bottom, right, top = textpage.get_charbox(c)
            assert left >= 0 and right <= width and bottom >= 0 and top <= height
    assert all(len(codes) == 1 for codes in qr_codes(pdf))


def test_output_is_byte_identical_on_rerun() -> None:
    """Also in a process that opens the Word templates afresh and in one that has them open already."""
    case = read_case(EXIT_EXAMPLE / "case.json")
    for form in forms_for(case):
        assert render_pdf(form, case.archive_no) == render_pdf(form, case.archive_no)
        word._opened_template.cache_clear()
        assert render_docx(form, case.archive_no) == render_docx(form, case.archive_no)


def test_word_forms_are_recognised_as_word_by_file_type_sniffers() -> None:
    """file(1) and its kin read [Content_Types].xml as the first member and a word/ member within the next two,
    each found in a short scan: Word's own order, kept though the large shared parts are stored first."""
    case = read_case(EXIT_EXAMPLE / "case.json")
    data = render_docx(forms_for(case)[0], case.archive_no)
    first, second, third = zipfile.ZipFile(io.BytesIO(data)).infolist()[:3]
    assert first.filename == "[Content_Types].xml" and third.filename.startswith("word/")
    assert first.compress_size < 2000 and second.compress_size < 2000
    if shutil.which("file"):
        sniffed = subprocess.run(["file", "--brief", "-"], input=data, capture_output=True, check=True).stdout
        assert sniffed.startswith(b"Microsoft Word 2007+"), sniffed


def word_text(data: bytes) -> str:
    """Everything a clerk reads in a Word form: body, table cells, footers, and the file's properties."""
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    parts += [c.text for table in doc.tables for row in table.rows for c in row.cells]
    parts += [p.text for section in doc.sections for p in section.footer.paragraphs]
    parts += [doc.core_properties.title, doc.core_properties.keywords]
    return "\n".join(parts)


def test_word_forms_of_two_cases_rendered_alternately_keep_their_own_values() -> None:
    """A process renders many cases from templates it opened and compiled once: no case's values may stay behind
    in them for the next case."""
    first = read_case(EXIT_EXAMPLE / "case.json")
    second = read_case(EXIT_EXAMPLE / "case.json")
    second.data["archive_no"], second.data["worker"]["name"] = "CD510104-2019-0345", "赵桂兰"
    forms = {id(first): forms_for(first), id(second): forms_for(second)}
    for _ in range(2):
        for mine, other in [(first, second), (second, first)]:
            for form in forms[id(mine)]:
                text = word_text(render_docx(form, mine.archive_no))
                assert mine.archive_no in text and other.archive_no not in text
                if form.spec.id == "survey":
                    assert mine.data["worker"]["name"] in text and other.data["worker"]["name"] not in text


def test_a_template_edited_while_the_process_runs_is_used_from_the_next_form(tmp_path, monkeypatch) -> None:
    custom = tmp_path / "tpl"
    shutil.copytree(data_dir("templates"), custom)
    monkeypatch.setenv("KUNNAN_TEMPLATES", str(custom))
    case = read_case(EXIT_EXAMPLE / "case.json")
    notice = next(form for form in forms_for(case) if form.spec.id == "publicity")
    assert "如有意见" in word_text(render_docx(notice, case.archive_no))
    template = Document(template_path(notice.spec))
    run = next(r for p in template.paragraphs for r in p.runs if r.text.startswith("如有意见"))
    run.text = run.text.replace("如有意见", "如对公示对象有不同意见", 1)
    template.save(template_path(notice.spec))
    edited = word_text(render_docx(notice, case.archive_no))
    assert "如对公示对象有不同意见" in edited and "如有意见" not in edited


def test_word_form_has_values_escaped_and_qr_in_footer() -> None:
    case = read_case(EXIT_EXAMPLE / "case.json")
    case.data["worker"]["name"] = "A&B<王>"
    case.data["worker"]["address"] = "成都市<锦江区> & 书院街"
    survey = forms_for(case)[0]
    doc = Document(io.BytesIO(render_docx(survey, case.archive_no)))
    cells = [c.text for row in doc.tables[0].rows for c in row.cells]
    assert "A&B<王>" in cells and "成都市<锦江区> & 书院街" in cells
    assert any("何欣（儿子，22岁）" in c for c in cells)
    footer = doc.sections[0].footer
    assert "CD510104-2018-0112" in footer.paragraphs[0].text
    blips = footer._element.xpath(".//a:blip/@r:embed")
    assert len(blips) == 1
    png = footer.part.related_parts[blips[0]].blob
    from PIL import Image

    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    parsed = qr.parse(code.text)
    assert parsed and (parsed.archive_no, parsed.form_key, parsed.page) == ("CD510104-2018-0112", "annex3", qr.UNKNOWN_PAGE)


def test_every_template_variable_is_a_known_field() -> None:
    fields = forms_data()["fields"]
    for name, spec in fields.items():
        assert schema_node(spec["source"]), f"{name}: {spec['source']} is not in the case schema"
    for form in forms_for(read_case(EXIT_EXAMPLE / "case.json")):
        check_template(template_path(form.spec))  # raises on an unknown variable
        assert set(form.values) == set(fields)


def _copy_template_with(tmp_path: Path, old: bytes, new: bytes) -> Path:
    src = template_path(forms_for(read_case(EXIT_EXAMPLE / "case.json"))[0].spec)
    target = tmp_path / f"broken-{abs(hash(new))}.docx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "word/document.xml":
                assert old in data
                data = data.replace(old, new, 1)
            zout.writestr(item, data)
    return target


def test_template_with_unknown_variable_is_named(tmp_path) -> None:
    broken = _copy_template_with(tmp_path, b"{{ phone }}", b"{{ telephone }}")
    with pytest.raises(TemplateError, match=r"broken-.*\.docx.*telephone"):
        check_template(broken)


def test_template_with_bad_syntax_is_named(tmp_path) -> None:
    broken = _copy_template_with(tmp_path, b"{{ phone }}", b"{{ phone }")
    with pytest.raises(TemplateError, match="占位符写法有误"):
        check_template(broken)


def test_corrupt_template_is_named(tmp_path) -> None:
    bad = tmp_path / "corrupt.docx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(TemplateError, match=r"corrupt\.docx"):
        check_template(bad)


def test_render_command(tmp_path, capsys) -> None:
    assert main(["render", str(EXIT_EXAMPLE / "case.json"), "-o", str(tmp_path / "out")]) == ExitCode.OK
    assert len(list((tmp_path / "out").glob("*.pdf"))) == 6 and len(list((tmp_path / "out").glob("*.docx"))) == 6


def test_render_refuses_an_invalid_case(case_copy, tmp_path, capsys) -> None:
    case_file = case_copy(EXIT_EXAMPLE, {"/worker/gender": "男"})
    assert main(["render", str(case_file), "-o", str(tmp_path / "out")]) == ExitCode.INVALID
    assert "ID-SEX" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_custom_template_folder(tmp_path, monkeypatch) -> None:
    custom = tmp_path / "tpl"
    shutil.copytree(template_path(forms_for(read_case(FILING_EXAMPLE / "case.json"))[0].spec).parent, custom)
    monkeypatch.setenv("KUNNAN_TEMPLATES", str(custom))
    case = read_case(FILING_EXAMPLE / "case.json")
    assert template_path(forms_for(case)[0].spec).parent == custom


def page_lines(pdf: Path | bytes) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


def test_chinese_line_breaking_keeps_punctuation_identifiers_and_dates(exit_forms) -> None:
    case = read_case(EXIT_EXAMPLE / "case.json")
    case.data["hardship_reason"] = "".join(f"第{i}句（档案号CD510104-2018-0112，2018年4月2日）：收入骤减。" for i in range(40))
    pdfs = [*exit_forms.values(), render_pdf(forms_for(case)[0], case.archive_no)]
    for pdf in pdfs:
        lines = page_lines(pdf)
        for line in lines:
            assert line[0] not in NO_LINE_START, line
            assert line[-1] not in NO_LINE_END, line
        joined = "\n".join(lines)
        assert "CD510104-2018-0112" in joined  # never split inside
    flat = "\n".join(page_lines(pdfs[-1]))
    assert flat.count("2018年4月2日") == 41 and flat.count("CD510104-2018-0112") >= 41  # and the survey date


def test_break_rules_directly() -> None:
    text = "见附件（3），档案号CD510104-2018-0112于2018年4月2日。"
    allowed = break_allowed(text)
    for i, char in enumerate(text):
        if char in "，）。":
            assert not allowed[i]
        if i and text[i - 1] == "（":
            assert not allowed[i]
    start = text.index("CD")
    assert not any(allowed[start + 1:start + len("CD510104-2018-0112")])
    day = text.index("2018年")
    assert not any(allowed[day + 1:day + len("2018年4月2日")])
    annex = "题名（附件3）"
    assert break_allowed(annex)[:7] == [False, True, True, False, False, False, False]  # never inside （附件3）


def test_filled_forms_are_not_samples_and_titles_are_bold(exit_forms) -> None:
    for pdf in exit_forms.values():
        assert "样表" not in "".join(pdf_text(pdf))
        with pikepdf.open(pdf) as doc:
            ops = pikepdf.parse_content_stream(doc.pages[0])
            assert any(str(op) == "Tr" and int(operands[0]) == 2 for operands, op in ops)  # filled and stroked


def test_dates_are_chinese_on_every_form(exit_forms) -> None:
    import re

    for pdf in exit_forms.values():
        assert not re.search(r"\d{4}-\d{2}-\d{2}", "".join(pdf_text(pdf)))
    assert "2018年6月12日\u3000生活救助" in "".join(pdf_text(exit_forms["附件4-脱困申请表"]))
    assert "回访日期：2019年12月20日" in "".join(pdf_text(exit_forms["附件7-回访记录单-1"]))


def test_signature_and_seal_boxes_are_reported_where_the_cells_are() -> None:
    case = read_case(EXIT_EXAMPLE / "case.json")
    forms = {f.stem: f for f in forms_for(case)}
    pdf, boxes = render_with_boxes(forms["附件3-入户调查表"], case.archive_no)
    names = {b.name: b for b in boxes}
    assert set(names) == {"职工本人签字", "入户调查人员签字"}
    doc = pdfium.PdfDocument(pdf)
    tp = doc[0].get_textpage()
    label = tp.get_text_bounded().replace("\r\n", "")  # the labels sit just left of their boxes
    assert "职工本人签字" in label
    for box in boxes:
        assert box.page == 1 and box.x1 - box.x0 > 20 and box.y1 - box.y0 > 20
        assert tp.get_text_bounded(box.x0 + 2, box.y0 + 2, box.x1 - 2, box.y1 - 2).strip() == ""  # empty, to be signed
        left = tp.get_text_bounded(box.x0 - 40, box.y0, box.x0 - 1, box.y1).replace("\n", "").replace("\r", "")
        assert box.name[:4] in left
    _, boxes = render_with_boxes(forms["附件4-脱困申请表"], case.archive_no)
    assert [b.name for b in boxes] == ["帮扶责任人签字", "工会负责人签字", "盖章"]  # under the opinions
    _, [seal] = render_with_boxes(forms["附件6-退档通知书"], case.archive_no)
    assert seal.name == "盖章"
    inside = pdfium.PdfDocument(render_pdf(forms["附件6-退档通知书"], case.archive_no))[0].get_textpage()
    assert "总工会" in inside.get_text_bounded(seal.x0, seal.y0, seal.x1, seal.y1)  # over the union's name


def test_a_row_continued_on_the_next_page_repeats_its_label() -> None:
    case = read_case(EXIT_EXAMPLE / "case.json")
    case.data["hardship_reason"] = "企业停产，收入骤减。" * 200
    pages = pdf_text(render_pdf(forms_for(case)[0], case.archive_no))
    assert len(pages) >= 2
    assert "详细致困原因企业停产" in pages[0] and "详细致困原因（续）" in pages[1]


def test_word_labels_fit_their_columns_and_letters_follow_the_print_set_up() -> None:
    from docx.shared import Mm, Pt

    case = read_case(EXIT_EXAMPLE / "case.json")
    forms = {f.stem: f for f in forms_for(case)}
    doc = Document(io.BytesIO(render_docx(forms["附件3-入户调查表"], case.archive_no)))
    section = doc.sections[0]
    assert abs(section.left_margin - Mm(28)) < Mm(0.1) and abs(section.page_width - Mm(210)) < Mm(0.1)
    assert "样表" not in "".join(p.text for p in doc.paragraphs)
    title = doc.paragraphs[0].runs[0]
    assert title.bold and title.font.size == Pt(22)
    table = doc.tables[0]
    margins = table._tbl.tblPr.xpath("./w:tblCellMar/w:left/@w:w")
    cell = next(c for c in table.rows[1].cells if c.text == "家庭地址")
    label_width = cell.width - 2 * Mm(int(margins[0]) * 25.4 / 1440)
    assert label_width >= Pt(4 * 10.5)  # four characters of 10.5 pt: 家庭地址 on one line
    two_line = next(c for c in table.rows[5].cells if c.text.startswith("家庭年"))
    assert two_line.text == "家庭年\n总收入"  # the label's own line break, not a wrap mid-word
    letter = Document(io.BytesIO(render_docx(forms["附件6-退档通知书"], case.archive_no)))
    body = next(p for p in letter.paragraphs if "特此通知" in p.text).runs[0]
    assert body.font.size == Pt(16)
    assert body._element.rPr.rFonts.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia") == "仿宋"


def test_a_letter_renders_while_a_profiler_holds_docxtpls_frame() -> None:
    """A Dask worker samples its threads' frames (its profiler); a frame it holds keeps docxtpl's plainly parsed
    body alive past `render`, and python-docx then saw a plain lxml element (CI: `'_Element' object has no
    attribute 'p_lst'`, exit 10 on the cluster). The letter must render the same bytes while one is held."""
    import sys

    case = read_case(EXIT_EXAMPLE / "case.json")
    letter = {f.stem: f for f in forms_for(case)}["附件6-退档通知书"]
    plain = render_docx(letter, case.archive_no)
    held = []

    def hold(frame, event, _arg) -> None:
        if event == "return" and frame.f_code.co_name == "render" and "docxtpl" in frame.f_code.co_filename:
            held.append(frame)

    sys.setprofile(hold)
    try:
        while_held = render_docx(letter, case.archive_no)
    finally:
        sys.setprofile(None)
    assert held, "docxtpl's render was not seen"
    assert while_held == plain


def test_the_posted_notice_carries_a_small_code_in_word_as_in_its_pdf() -> None:
    """The notice (Annex 5) is posted for the public: its QR code is 13 mm in both formats; other forms' 20 mm."""
    from docx.shared import Mm

    case = read_case(EXIT_EXAMPLE / "case.json")
    sizes = {}
    for form in forms_for(case):
        doc = Document(io.BytesIO(render_docx(form, case.archive_no)))
        [width] = [int(cx) for part in (doc.element, *(s.footer._element for s in doc.sections))
                   for cx in part.xpath(".//wp:inline/wp:extent/@cx")]  # the one picture: the code
        sizes[form.stem] = width
    assert abs(sizes.pop("附件5-脱困公示") - Mm(13)) < Mm(0.1)
    assert all(abs(width - Mm(20)) < Mm(0.1) for width in sizes.values()), sizes
