"""Stage 2c: annex forms as editable Word files from the docxtpl templates in templates/."""

from __future__ import annotations

import copy
import io
import re
import zipfile
from dataclasses import dataclass, field
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
from docx.oxml import OxmlElement
from docx.oxml.document import CT_Body
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docxtpl import DocxTemplate, InlineImage, Listing
from jinja2.utils import LRUCache

from kunnan_docs.errors import TemplateError
from kunnan_docs.forms import docfonts, qr
from kunnan_docs.forms.fill import FilledForm, forms_data, letter_text, template_path

EXTRA_VARIABLES = {"qr", "seq"}  # provided by the renderer, not by forms.json: the QR code, which return visit
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
COMPILED_TEMPLATES = 256  # texts of templates kept compiled: 7 templates of about 8 texts each, and edits
OPENED_TEMPLATES = 32  # versions of template files kept open: 7 templates, and edits
# Parts that docxtpl and render_docx never change, shared by every render of a template (styles are 0.35 MB, and
# 0.44 MB more "with effects", in the shipped templates)
SHARED_PARTS = frozenset({CONTENT_TYPE.WML_STYLES, "application/vnd.ms-word.stylesWithEffects+xml",
                          CONTENT_TYPE.WML_SETTINGS, CONTENT_TYPE.WML_WEB_SETTINGS, CONTENT_TYPE.WML_FONT_TABLE,
                          CONTENT_TYPE.OFC_THEME, CONTENT_TYPE.WML_NUMBERING})


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


class _PatchingOnceTemplate(DocxTemplate):
    """Patches each template text once per process: docxtpl's patch_xml (a dozen regular expressions that
    rejoin placeholders Word split across runs) depends on the template's XML alone, not on the values."""

    _patched = LRUCache(COMPILED_TEMPLATES)

    def patch_xml(self, src_xml: str) -> str:
        patched = self._patched.get(src_xml)
        if patched is None:
            patched = self._patched[src_xml] = super().patch_xml(src_xml)
        return patched


@cache
def check_template(path: Path) -> None:
    """Refuse a broken template, or one asking for a variable no form provides, naming both in Chinese."""
    if not path.exists():
        raise TemplateError(f"找不到 Word 模板 {path.name}。请从 kunnan-docs 安装目录恢复该文件,或运行 templates/make_templates.py 重新生成。")
    try:
        used = _PatchingOnceTemplate(path).get_undeclared_template_variables(_environment())  # patched once for renders too
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"Word 模板 {path.name} 中的占位符写法有误({exc.message})。"
                            "占位符应写成 {{ 变量名 }},请在 Word 中改正。") from None
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise TemplateError(f"Word 模板 {path.name} 已损坏,无法打开({exc})。请从安装目录恢复。") from None
    unknown = sorted(set(used) - set(forms_data()["fields"]) - EXTRA_VARIABLES)
    if unknown:
        raise TemplateError(f"Word 模板 {path.name} 使用了不存在的变量:{'、'.join(unknown)}。"
                            f"可用的变量见 templates/forms.json 的 fields,请在 Word 中改正。")


@dataclass
class _OpenedTemplate:
    """A template file opened once per process and version, never rendered itself: each render works on a
    copy (`fresh`), in which the SHARED_PARTS are the same immutable plain parts, serialized once."""

    path: Path
    document: docx.document.Document
    shared: dict[int, Part]  # a deepcopy memo mapping each shared part to itself
    heads: dict[tuple[bytes, tuple[str, ...]], bytes] = field(default_factory=dict)  # see _docx_bytes

    def fresh(self) -> DocxTemplate:
        """A DocxTemplate on a private copy: copying costs a twentieth of opening the file."""
        tpl = _PatchingOnceTemplate(self.path)
        tpl.docx = copy.deepcopy(self.document, dict(self.shared))
        return tpl


@lru_cache(maxsize=OPENED_TEMPLATES)
def _opened_template(path: Path, version: tuple[int, int]) -> _OpenedTemplate:
    opened = docx.Document(str(path))
    serialized = {id(part): Part(part.partname, part.content_type, part.blob)  # the bytes saving it writes
                  for part in opened.part.package.iter_parts()
                  if part.content_type in SHARED_PARTS and not part.rels}
    shared = {id(part): part for part in serialized.values()}
    return _OpenedTemplate(path, copy.deepcopy(opened, serialized), shared)  # parsed styles take megabytes


def _opened(path: Path) -> _OpenedTemplate:
    stat = path.stat()
    return _opened_template(path, (stat.st_mtime_ns, stat.st_size))


class _Members(list[tuple[str, bytes]]):
    """Takes the zip members python-docx's PackageWriter writes, in its order, instead of zipping them."""

    def write(self, pack_uri: PackURI, blob: bytes) -> None:
        self.append((pack_uri.membername, blob))


def _members(document: docx.document.Document) -> _Members:
    """What `Document.save` writes (PackageWriter.write, without its zip file)."""
    package = document.part.package
    parts = package.parts
    for part in parts:
        part.before_marshal()
    members = _Members()
    PackageWriter._write_content_types_stream(members, parts)
    PackageWriter._write_pkg_rels(members, package.rels)
    PackageWriter._write_parts(members, parts)
    return members


def _zip(head: bytes, members: list[tuple[str, bytes]]) -> bytes:
    """The zip `head` (or a new one) with `members` appended at a fixed time, so that a case's files are
    byte-identical whenever and wherever they are made."""
    out = io.BytesIO(head)
    with zipfile.ZipFile(out, "a" if head else "w", zipfile.ZIP_DEFLATED) as archive:
        for name, blob in members:
            info = zipfile.ZipInfo(name, FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, blob)
    return out.getvalue()


def _docx_bytes(document: docx.document.Document, template: _OpenedTemplate) -> bytes:
    """The .docx, with its shared parts compressed once per template (compressing the 0.8 MB of styles took a third
    of a form's time): [Content_Types].xml and the shared parts, smallest first, are a zip head kept with the
    template, and the other members are appended to a copy of it (zipfile's append mode). File-type sniffers
    such as file(1) expect [Content_Types].xml first and a small word/ member or two after it. A shared part this
    document replaced (the font table and settings of a form that embeds a font) is written as its own."""
    shared = frozenset(part.partname.membername for part in document.part.package.iter_parts()
                       if id(part) in template.shared)
    content_types, *members = _members(document)
    in_head = sorted((member for member in members if member[0] in shared), key=lambda member: len(member[1]))
    key = (content_types[1], tuple(name for name, _ in in_head))
    head = template.heads.get(key)
    if head is None:
        head = template.heads[key] = _zip(b"", [content_types, *in_head])
    return _zip(head, [member for member in members if member[0] not in shared])


def _context_value(name: str, value: str) -> object:
    """A value as the template takes it: lines of a list (family members, measures) as paragraphs of their own,
    which hang like the template's paragraph; other lines as line breaks."""
    if "\n" not in value:
        return value
    entries = forms_data()["fields"].get(name, {}).get("entries")
    return Listing(value.replace("\n", "\a") if entries else value)


def render_docx(form: FilledForm, archive_no: str) -> bytes:
    path = template_path(form.spec)
    check_template(path)
    template = _opened(path)
    tpl = template.fresh()
    context: dict[str, object] = {k: _context_value(k, v) for k, v in form.values.items()}
    code = qr.png(qr.form_code(form, archive_no, qr.UNKNOWN_PAGE, qr.UNKNOWN_PAGE).text)
    size = qr.POSTER_SIZE_MM if form.spec.public else qr.SIZE_MM
    context["qr"] = InlineImage(tpl, io.BytesIO(code), width=Mm(size))
    context["seq"] = str(form.seq)
    try:
        tpl.render(context, _environment(), autoescape=True)
    except jinja2.exceptions.UndefinedError as exc:
        raise TemplateError(f"Word 模板 {path.name} 使用了不存在的变量({exc.message})。请在 Word 中改正。") from None
    _body_as_python_docx_reads_it(tpl.docx)
    if "letter" in form.spec.raw:
        _centre_union_over_date(tpl.docx, form)
    _keep_identifiers_whole(tpl.docx, form)
    docfonts.embed_rare(tpl.docx)
    core = tpl.docx.core_properties
    core.title, core.author, core.keywords = form.title, "kunnan-docs", archive_no
    core.created = core.modified = datetime.combine(form.date, time())  # from the case, not the clock
    return _docx_bytes(tpl.docx, template)


def _body_as_python_docx_reads_it(document: docx.document.Document) -> None:
    """docxtpl parses the rendered body with a plain lxml parser and moves it into the document. While anything
    still holds that parse's element (a sampling profiler holding docxtpl's frame, as every Dask worker runs),
    lxml hands out that plain element, not python-docx's CT_Body, and `document.paragraphs` fails. A copy made
    inside the document has python-docx's classes whoever holds the old one; its XML is the same."""
    body = document.element.body
    if not isinstance(body, CT_Body):
        document.element.replace(body, copy.deepcopy(body))


def _keep_identifiers_whole(document: docx.document.Document, form: FilledForm) -> None:
    """Word breaks a line after a hyphen: inside the archive number (CD510104-2018-\n0112) in a letter, or a
    phone number in a narrow cell. The hyphens of one-line values become Word's non-breaking hyphens (they
    print and copy as hyphens)."""
    fields = forms_data()["fields"]
    wanted = sorted({v for k, v in form.values.items() if "-" in v and fields.get(k, {}).get("one_line")}, key=len,
                    reverse=True)
    if not wanted:
        return
    pattern = re.compile("|".join(map(re.escape, wanted)))
    for text in [t for root in docfonts.story_roots(document) for t in root.iter(qn("w:t"))
                 if t.text and pattern.search(t.text)]:
        pieces = re.split(r"(\x00)", pattern.sub(lambda m: m.group(0).replace("-", "\x00"), text.text))
        run, at = text.getparent(), text.getparent().index(text)
        run.remove(text)
        for offset, piece in enumerate(p for p in pieces if p):
            if piece == "\x00":
                node = OxmlElement("w:noBreakHyphen")
            else:
                node = OxmlElement("w:t")
                node.text = piece
                node.set(qn("xml:space"), "preserve")
            run.insert(at + offset, node)


def _centre_union_over_date(document: docx.document.Document, form: FilledForm) -> None:
    """GB/T 9704 in the Word letter as in the PDF: the template sets the date four characters from the right;
    the union line, right-aligned above it, is indented so that its centre is the date's (its widths counted
    as Word sets 宋体 and 仿宋: a Chinese character one em, a Latin letter or digit half an em)."""
    letter = form.spec.raw["letter"]
    union, day = letter_text(letter["seal"], form.values), letter_text(letter["date"], form.values)
    paragraphs = {p.text.strip(): p for p in document.paragraphs}
    if union not in paragraphs or day not in paragraphs:
        return  # a clerk's template that words its ending otherwise
    date_indent = paragraphs[day].paragraph_format.right_indent or 0
    size = paragraphs[day].runs[0].font.size.pt if paragraphs[day].runs and paragraphs[day].runs[0].font.size else 16
    centre_from_right = date_indent + Pt(size) * em_width(day) / 2
    paragraphs[union].paragraph_format.right_indent = max(0, int(centre_from_right - Pt(size) * em_width(union) / 2))


def em_width(text: str) -> float:
    """Width in ems as Word sets 宋体 and 仿宋: ASCII half an em, anything else a full em."""
    return sum(0.5 if char.isascii() else 1.0 for char in text)


def render_each(forms: list[FilledForm], archive_no: str) -> list[bytes]:
    """Every form of a case as Word, in order (the build runs this aside, on its second core)."""
    return [render_docx(form, archive_no) for form in forms]
