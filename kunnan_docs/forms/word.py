"""Stage 2c: annex forms as editable Word files from the docxtpl templates in templates/."""

from __future__ import annotations

import copy
import io
import os
import zipfile
from datetime import datetime, time
from functools import cache, lru_cache
from pathlib import Path

import docx
import docx.document
import jinja2
from docx.opc.constants import CONTENT_TYPE
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.opc.pkgwriter import PackageWriter
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage, Listing
from jinja2.utils import LRUCache

from kunnan_docs.core.resources import TEMPLATES_ENV, data_dir
from kunnan_docs.errors import TemplateError
from kunnan_docs.forms import qr
from kunnan_docs.forms.fill import FilledForm, FormSpec, forms_data

EXTRA_VARIABLES = {"qr"}  # provided by the renderer, not by forms.json
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
COMPILED_TEMPLATES = 256  # texts of templates kept compiled: 7 templates of about 8 texts each, and edits
OPENED_TEMPLATES = 32  # versions of template files kept open: 7 templates, and edits
# XML parts that docxtpl and render_docx never change (python-docx parses them; styles are 0.35 MB a template)
UNCHANGED_PARTS = frozenset({CONTENT_TYPE.WML_STYLES, CONTENT_TYPE.WML_SETTINGS, CONTENT_TYPE.WML_NUMBERING})


def template_path(spec: FormSpec) -> Path:
    """Shipped templates, or a clerk's own copies in the folder named by KUNNAN_TEMPLATES."""
    folder = Path(os.environ[TEMPLATES_ENV]) if os.environ.get(TEMPLATES_ENV) else data_dir("templates")
    return folder / f"annex{spec.annex}_{spec.id}.docx"


class _CompilingOnceEnvironment(jinja2.Environment):
    """Compiles each template text once per process: docxtpl hands the same XML of a template's document,
    headers, footers and properties to `from_string` on every render, and compiling it took a third of a form."""

    def __init__(self) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=True)
        self._compiled = LRUCache(COMPILED_TEMPLATES)

    def from_string(self, source: str | jinja2.nodes.Template, globals: dict[str, object] | None = None,
                    template_class: type[jinja2.Template] | None = None) -> jinja2.Template:
        if not isinstance(source, str) or globals or template_class:
            return super().from_string(source, globals, template_class)
        compiled = self._compiled.get(source)
        if compiled is None:
            compiled = self._compiled[source] = super().from_string(source)
        return compiled


@cache
def _environment() -> jinja2.Environment:
    return _CompilingOnceEnvironment()


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


class _FixedTimeZip:
    """python-docx's part writer, but with fixed timestamps and permissions, so that the same case gives
    byte-identical files; each part is compressed once (python-docx's own save, then rewriting its zip, compressed
    the 0.8 MB of a template's styles twice)."""

    def __init__(self, out: io.BytesIO) -> None:
        self._zip = zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED)

    def write(self, pack_uri: PackURI, blob: bytes) -> None:
        info = zipfile.ZipInfo(pack_uri.membername, FIXED_ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        self._zip.writestr(info, blob)

    def close(self) -> None:
        self._zip.close()


def _docx_bytes(document: docx.document.Document) -> bytes:
    """The document as `Document.save` writes it (python-docx's own PackageWriter), through a _FixedTimeZip."""
    package = document.part.package
    parts = package.parts
    for part in parts:
        part.before_marshal()
    out = io.BytesIO()
    writer = _FixedTimeZip(out)
    PackageWriter._write_content_types_stream(writer, parts)
    PackageWriter._write_pkg_rels(writer, package.rels)
    PackageWriter._write_parts(writer, parts)
    writer.close()
    return out.getvalue()


@lru_cache(maxsize=OPENED_TEMPLATES)
def _opened_template(path: Path, version: tuple[int, int]) -> tuple[docx.document.Document, dict[int, Part]]:
    """A template file opened once per process and version, never rendered itself, with its UNCHANGED_PARTS
    serialized once into plain parts (the bytes saving the parsed part writes) that every render's copy shares;
    the parsed parts are dropped (styles take megabytes parsed)."""
    opened = docx.Document(str(path))
    serialized = {id(part): Part(part.partname, part.content_type, part.blob)
                  for part in opened.part.package.iter_parts()
                  if part.content_type in UNCHANGED_PARTS and not part.rels}
    shared = {id(part): part for part in serialized.values()}
    return copy.deepcopy(opened, serialized), shared


class _PatchingOnceTemplate(DocxTemplate):
    """Patches each template text once per process: docxtpl's patch_xml (a dozen regular expressions that
    rejoin placeholders Word split across runs) depends on the template's XML alone, not on the values."""

    _patched = LRUCache(COMPILED_TEMPLATES)

    def patch_xml(self, src_xml: str) -> str:
        patched = self._patched.get(src_xml)
        if patched is None:
            patched = self._patched[src_xml] = super().patch_xml(src_xml)
        return patched


def _fresh_template(path: Path) -> DocxTemplate:
    """A DocxTemplate on a private copy of the opened template: copying it costs a tenth of opening the file."""
    stat = path.stat()
    document, shared = _opened_template(path, (stat.st_mtime_ns, stat.st_size))
    tpl = _PatchingOnceTemplate(path)
    tpl.docx = copy.deepcopy(document, dict(shared))  # the memo maps each unchanged part to its shared copy
    return tpl


def render_docx(form: FilledForm, archive_no: str) -> bytes:
    path = template_path(form.spec)
    check_template(path)
    tpl = _fresh_template(path)
    context: dict[str, object] = {k: Listing(v) if "\n" in v else v for k, v in form.values.items()}
    context["qr"] = InlineImage(tpl, io.BytesIO(qr.png(qr.form_code(form, archive_no, qr.UNKNOWN_PAGE, qr.UNKNOWN_PAGE).text)), width=Mm(20))
    try:
        tpl.render(context, _environment(), autoescape=True)
    except jinja2.exceptions.UndefinedError as exc:
        raise TemplateError(f"Word 模板 {path.name} 使用了不存在的变量({exc.message})。请在 Word 中改正。") from None
    core = tpl.docx.core_properties
    core.title, core.author, core.keywords = form.title, "kunnan-docs", archive_no
    core.created = core.modified = datetime.combine(form.date, time())  # from the case, not the clock
    return _docx_bytes(tpl.docx)


def render_each(forms: list[FilledForm], archive_no: str) -> list[bytes]:
    """Every form of a case as Word, in order (the build runs this aside, on its second core)."""
    return [render_docx(form, archive_no) for form in forms]
