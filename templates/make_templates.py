"""Write the starting Word templates (annex3…annex7, cancel: <key>_<id>.docx) from forms.json.

Run once by a developer; the .docx files are committed. From then on the templates belong to the clerks:
they may change fonts, widths and wording in Word or WPS. Variables are written as {{ name }} (see the
"fields" of forms.json); `kunnan-docs render` checks each template's variables before using it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

HERE = Path(__file__).parent
BODY_FONT = "宋体"
LETTER_FONT = "仿宋"  # GB/T 9704 body face; every Chinese Windows and WPS has it
LATIN_FONT = "Times New Roman"  # digits and Latin letters, as in official documents: half an em, like 宋体's,
# and metric-compatible with Liberation Serif where LibreOffice stands in for it
TITLE_PT, SUBTITLE_PT, LETTER_PT, TABLE_PT = 22, 14, 16, 10.5  # 2号, 4号, 3号, 五号
# pPr's children after autoSpaceDE/DN (ECMA-376 CT_PPrBase is a sequence: Word and LibreOffice read it in order)
AFTER_AUTOSPACE = ("w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing",
                   "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment",
                   "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")
SIGN_ROOM_LINES = 4  # blank lines under 签字： for the pen and, above the seal line, for the seal
BLANK_DATE = "\u3000\u3000年\u3000\u3000月\u3000\u3000日"  # a date to be written by hand
CELL_MARGIN_TWIPS = 28  # 0.5 mm: a four-character label fits its 16.5 mm column without wrapping


def jinja(text: str) -> str:
    return re.sub(r"\{(\w+)\}", r"{{ \1 }}", text)


def _font(run, size: float, face: str = BODY_FONT, bold: bool = False) -> None:
    run.font.size = Pt(size)
    run.font.name = LATIN_FONT
    run.font.bold = bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), face)


def paragraph(doc_or_cell, text: str, size: float = TABLE_PT, align=None, indent_chars: int = 0,
              face: str = BODY_FONT, bold: bool = False):
    p = doc_or_cell.add_paragraph()
    if align is not None:
        p.alignment = align
    if indent_chars:
        p.paragraph_format.first_line_indent = Pt(size * indent_chars)
    _font(p.add_run(text), size, face, bold)
    return p


def _lines(paragraph, text: str, size: float) -> None:
    """A label written on several lines keeps its line breaks in Word, as in the PDF."""
    run = paragraph.add_run()
    for i, line in enumerate(text.split("\n")):
        if i:
            run.add_break()
        run.add_text(line)
    _font(run, size)


def _field(paragraph, instruction: str, size: float) -> None:
    """A Word field (PAGE, NUMPAGES) that Word and WPS fill in when they lay out the pages."""
    for kind, text in (("begin", None), (None, f" {instruction} "), ("separate", None), (None, "1"), ("end", None)):
        run = paragraph.add_run()
        _font(run, size)
        if kind:
            node = OxmlElement("w:fldChar")
            node.set(qn("w:fldCharType"), kind)
        elif text == "1":
            node = OxmlElement("w:t")
            node.text = text
        else:
            node = OxmlElement("w:instrText")
            node.set(qn("xml:space"), "preserve")
            node.text = text
        run._element.append(node)


def new_document(spec: dict) -> Document:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = LATIN_FONT
    style.font.size = Pt(10.5)
    style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
    section = doc.sections[0]
    section.start_type = WD_SECTION.NEW_PAGE
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin, section.right_margin = Mm(28), Mm(20)  # binding margin (订口) on the left
    section.top_margin, section.bottom_margin = Mm(25), Mm(30)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    if not spec.get("public"):  # a posted notice carries only its small QR code
        name = f"附件{spec['annex']}" if spec["annex"] else spec["label"]  # a form of our own: its short name
        _font(footer.add_run(f"档案号：{{{{ archive_no }}}}  {name}  第"), 9)
        _field(footer, "PAGE", 9)
        _font(footer.add_run("页 共"), 9)
        _field(footer, "NUMPAGES", 9)
        _font(footer.add_run("页  "), 9)
    footer.add_run("{{ qr }}")
    paragraph(doc, spec["title"], TITLE_PT, WD_ALIGN_PARAGRAPH.CENTER, bold=True)
    if spec.get("note"):  # a form of our own says so, as its PDF does
        paragraph(doc, spec["note"], SUBTITLE_PT, WD_ALIGN_PARAGRAPH.CENTER)
    if spec.get("subtitle"):  # which return visit a record is of
        paragraph(doc, jinja(spec["subtitle"]), SUBTITLE_PT, WD_ALIGN_PARAGRAPH.CENTER)
    return doc


def _sign_block(cell, sign: dict) -> None:
    """Under an opinion: 签字： with room to sign, the seal line, and the date (or blanks to write it in)."""
    paragraph(cell, "")
    paragraph(cell, f"{sign['sign']}：")
    for _ in range(SIGN_ROOM_LINES):
        paragraph(cell, "")
    if sign.get("seal"):
        paragraph(cell, sign["seal"], align=WD_ALIGN_PARAGRAPH.RIGHT)
    day = sign.get("date")  # none: the date is written by hand
    text = f"{{% if {day} %}}{{{{ {day} }}}}{{% else %}}{BLANK_DATE}{{% endif %}}" if day else BLANK_DATE
    paragraph(cell, text, align=WD_ALIGN_PARAGRAPH.RIGHT)


def table_form(doc: Document, spec: dict, fields: dict) -> None:
    widths = spec["widths_mm"]
    table = doc.add_table(rows=len(spec["rows"]), cols=len(widths))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for r, row in enumerate(spec["rows"]):
        col = 0
        for label, name, span, *sign in row:
            label_cell = table.cell(r, col)
            label_cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
            _lines(label_cell.paragraphs[0], label, TABLE_PT)
            value_cell = table.cell(r, col + 1)
            if span > 1:
                value_cell = value_cell.merge(table.cell(r, col + span))
            value = value_cell.paragraphs[0]
            _font(value.add_run("{{ " + name + " }}"), TABLE_PT)
            if fields[name].get("one_line"):  # no extra space between digits and Chinese: a date stays on its line
                properties = value._p.get_or_add_pPr()
                for tag in ("w:autoSpaceDE", "w:autoSpaceDN"):
                    node = OxmlElement(tag)
                    node.set(qn("w:val"), "0")
                    properties.insert_element_before(node, *AFTER_AUTOSPACE)
            if fields[name].get("entries"):  # one paragraph an entry (the renderer's \a): continuations hang
                value.paragraph_format.left_indent = Pt(2 * TABLE_PT)
                value.paragraph_format.first_line_indent = Pt(-2 * TABLE_PT)
            if sign:
                _sign_block(value_cell, sign[0])
            col += 1 + span
        table.rows[r].height = Mm(36 if len(row) == 1 else 12)
    table.autofit = False
    margins = table._tbl.tblPr.first_child_found_in("w:tblCellMar")
    if margins is None:
        margins = OxmlElement("w:tblCellMar")
        table._tbl.tblPr.append(margins)
    for side in ("left", "right"):
        node = OxmlElement(f"w:{side}")
        node.set(qn("w:w"), str(CELL_MARGIN_TWIPS))
        node.set(qn("w:type"), "dxa")
        margins.append(node)
    for c, width in enumerate(widths):
        table.columns[c].width = Mm(width)  # the grid, which LibreOffice and WPS follow
        for cell in table.columns[c].cells:
            cell.width = Mm(width)  # the cells, which Word follows
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER


def letter_form(doc: Document, spec: dict) -> None:
    letter = spec["letter"]
    paragraph(doc, "")
    if letter.get("salutation"):
        paragraph(doc, jinja(letter["salutation"]), LETTER_PT, face=LETTER_FONT)
    for line in letter["body"]:
        if isinstance(line, dict):  # a line printed only when the case has its value
            paragraph(doc, f"{{%p if {line['if']} %}}")
            paragraph(doc, jinja(line["text"]), LETTER_PT, indent_chars=2, face=LETTER_FONT)
            paragraph(doc, "{%p endif %}")
            continue
        paragraph(doc, jinja(line), LETTER_PT, indent_chars=2, face=LETTER_FONT)
    for _ in range(2):
        paragraph(doc, "", LETTER_PT)
    # GB/T 9704: the date four characters from the right; the renderer centres the union line over it
    paragraph(doc, jinja(letter["seal"]), LETTER_PT, WD_ALIGN_PARAGRAPH.RIGHT, face=LETTER_FONT)
    date = paragraph(doc, jinja(letter["date"]), LETTER_PT, WD_ALIGN_PARAGRAPH.RIGHT, face=LETTER_FONT)
    date.paragraph_format.right_indent = Pt(4 * LETTER_PT)


def main() -> None:
    data = json.loads((HERE / "forms.json").read_text(encoding="utf-8"))
    for spec in data["forms"]:
        doc = new_document(spec)
        if "letter" in spec:
            letter_form(doc, spec)
        else:
            table_form(doc, spec, data["fields"])
        core = doc.core_properties
        core.title, core.author, core.comments = spec["title"], "kunnan-docs", "由 kunnan-docs 生成的模板,可在 Word/WPS 中修改版式"
        doc.save(HERE / f"{spec['key']}_{spec['id']}.docx")


if __name__ == "__main__":
    main()
