"""A clerk's edited Word template changes the Word files rendered from it, and only them (README "The forms")."""

from __future__ import annotations

import shutil

import docx
import pypdfium2 as pdfium

from kunnan_docs.cli import main
from kunnan_docs.core.resources import data_dir
from kunnan_docs.errors import ExitCode

from .conftest import EXIT_EXAMPLE


def test_an_edited_template_changes_the_word_output_and_render_says_the_pdf_does_not_follow(
        tmp_path, monkeypatch, capsys) -> None:
    custom = tmp_path / "本单位模板"
    shutil.copytree(data_dir("templates"), custom)
    template = docx.Document(custom / "annex5_publicity.docx")
    run = next(r for p in template.paragraphs for r in p.runs if r.text.startswith("如有意见"))
    run.text = run.text.replace("如有意见", "如对公示对象有不同意见", 1)
    template.save(custom / "annex5_publicity.docx")
    monkeypatch.setenv("KUNNAN_TEMPLATES", str(custom))

    assert main(["render", str(EXIT_EXAMPLE / "case.json"), "-o", str(tmp_path / "out")]) == ExitCode.OK
    word = "\n".join(p.text for p in docx.Document(tmp_path / "out" / "附件5-脱困公示.docx").paragraphs)
    assert "如对公示对象有不同意见,请在5个工作日内".replace(",", "，") in word and "{{" not in word
    pdf = pdfium.PdfDocument(tmp_path / "out" / "附件5-脱困公示.pdf")
    printed = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert "不同意见" not in printed and "如有意见" in printed  # the PDF is typeset from forms.json
    out = capsys.readouterr().out
    assert "KUNNAN_TEMPLATES" in out and str(custom) in out and "PDF" in out
