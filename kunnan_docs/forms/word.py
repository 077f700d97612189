"""Stage 2c: annex forms as editable Word files from the docxtpl templates in templates/."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import datetime, time
from functools import cache
from pathlib import Path

import jinja2
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage, Listing

from kunnan_docs.core.resources import TEMPLATES_ENV, data_dir
from kunnan_docs.errors import TemplateError
from kunnan_docs.forms import qr
from kunnan_docs.forms.fill import FilledForm, FormSpec, forms_data

EXTRA_VARIABLES = {"qr"}  # provided by the renderer, not by forms.json
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def template_path(spec: FormSpec) -> Path:
    """Shipped templates, or a clerk's own copies in the folder named by KUNNAN_TEMPLATES."""
    folder = Path(os.environ[TEMPLATES_ENV]) if os.environ.get(TEMPLATES_ENV) else data_dir("templates")
    return folder / f"annex{spec.annex}_{spec.id}.docx"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True)


@cache
def check_template(path: Path) -> None:
    """Refuse a broken template, or one asking for a variable no form provides, naming both in Chinese."""
    if not path.exists():
        raise TemplateError(f"找不到 Word 模板 {path.name}。请从 kunnan-docs 安装目录恢复该文件,或运行 templates/make_templates.py 重新生成。")
    try:
        used = DocxTemplate(path).get_undeclared_template_variables(_environment())
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"Word 模板 {path.name} 中的占位符写法有误({exc.message})。"
                            "占位符应写成 {{ 变量名 }},请在 Word 中改正。") from None
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise TemplateError(f"Word 模板 {path.name} 已损坏,无法打开({exc})。请从安装目录恢复。") from None
    unknown = sorted(set(used) - set(forms_data()["fields"]) - EXTRA_VARIABLES)
    if unknown:
        raise TemplateError(f"Word 模板 {path.name} 使用了不存在的变量:{'、'.join(unknown)}。"
                            f"可用的变量见 templates/forms.json 的 fields,请在 Word 中改正。")


def normalize_zip(data: bytes) -> bytes:
    """Rewrite the .docx zip with fixed timestamps so the same case gives byte-identical files."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def render_docx(form: FilledForm, archive_no: str) -> bytes:
    path = template_path(form.spec)
    check_template(path)
    tpl = DocxTemplate(path)
    context: dict[str, object] = {k: Listing(v) if "\n" in v else v for k, v in form.values.items()}
    context["qr"] = InlineImage(tpl, io.BytesIO(qr.png(qr.form_code(form, archive_no, qr.UNKNOWN_PAGE, qr.UNKNOWN_PAGE).text)), width=Mm(20))
    try:
        tpl.render(context, _environment(), autoescape=True)
    except jinja2.exceptions.UndefinedError as exc:
        raise TemplateError(f"Word 模板 {path.name} 使用了不存在的变量({exc.message})。请在 Word 中改正。") from None
    core = tpl.docx.core_properties
    core.title, core.author, core.keywords = form.title, "kunnan-docs", archive_no
    core.created = core.modified = datetime.combine(form.date, time())  # from the case, not the clock
    buf = io.BytesIO()
    tpl.save(buf)
    return normalize_zip(buf.getvalue())


def render_each(forms: list[FilledForm], archive_no: str) -> list[bytes]:
    """Every form of a case as Word, in order (the build runs this aside, on its second core)."""
    return [render_docx(form, archive_no) for form in forms]
