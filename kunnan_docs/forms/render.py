"""Stage 2: a validated case → its annex forms, each as PDF and Word, written into a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kunnan_docs.core.casefile import Case
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.forms.fill import FilledForm, forms_for
from kunnan_docs.forms.pdf import render_pdf
from kunnan_docs.forms.word import render_docx


@dataclass
class RenderedForm:
    form: FilledForm
    pdf: Path
    docx: Path


def render_forms(case: Case, out_dir: Path, calendar: WorkCalendar | None = None) -> list[RenderedForm]:
    out_dir.mkdir(parents=True, exist_ok=True)
    rendered = []
    for form in forms_for(case, calendar):
        pdf, docx = out_dir / f"{form.stem}.pdf", out_dir / f"{form.stem}.docx"
        pdf.write_bytes(render_pdf(form, case.archive_no))
        docx.write_bytes(render_docx(form, case.archive_no))
        rendered.append(RenderedForm(form, pdf, docx))
    return rendered
