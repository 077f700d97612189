"""Stage 3: forms + scans → one indexed PDF archive package, checked against its kind's checklist (Annex 1, Annex 2,
or the cancellation's; schemas/checklists.json).

Order of the package (archive practice): cover, contents list, every item in checklist order, remarks
sheet. Content pages carry the archive page number (页号) top-right; the cover, contents list and
remarks sheet carry none. Every page is exactly A4 and prints 1:1: a scan is scaled slightly into the
page (through its drawing matrix, never re-encoded) so that the number never covers what was scanned;
our own forms leave that corner free already.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pikepdf

from kunnan_docs.core.casefile import Case, parse_date
from kunnan_docs.core.checklist import Item, KindSpec, applies, kind_spec
from kunnan_docs.core.findings import Finding, Severity
from kunnan_docs.core.labels import ExitStage, ItemState, Outcome
from kunnan_docs.core.resources import checklist_data
from kunnan_docs.core.rules import (
    DUPLICATE_REASON,
    NextStep,
    attachment_path_problem,
    exit_stage,
    follow_up_pending,
    follow_up_until,
    next_exit_step,
)
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.core.zh import page_span, zh_date, zh_dates
from kunnan_docs.errors import AttachmentError
from kunnan_docs.forms import aside
from kunnan_docs.forms.archival import SAVE_OPTIONS, make_archival
from kunnan_docs.forms.fill import FilledForm, forms_for
from kunnan_docs.forms.pdf import Box, render_with_boxes
from kunnan_docs.forms.qr import form_fingerprint, form_key
from kunnan_docs.forms.typeset import PAGE_H, PAGE_NUMBER_STRIP, PAGE_W
from kunnan_docs.package import formcache, pdfa, sheets
from kunnan_docs.package.attachments import is_image, load
from kunnan_docs.package.layout import Corrected
from kunnan_docs.package.signed import (
    Offer,
    SignedOriginal,
    hand_filled_offer,
    read_signed_attachment,
    stored_offer,
)


@dataclass
class Part:
    """One document in the package: a generated form or one scanned attachment."""

    item: Item
    title: str
    date: date | None
    responsible: str
    doc_no: str
    pdf: pikepdf.Pdf
    generated: bool
    signed: SignedOriginal | None = None  # the scanned, signed original standing in for a generated form
    form_key: str = ""  # annex3, annex7-2 …: set for a generated form and for its signed original
    source: str = ""  # the file its pages came from: the case's attachment path; "" for a generated form
    first: int = 0  # archive page numbers (页号), 1-based, set when laid out
    last: int = 0

    @property
    def pages(self) -> int:
        return len(self.pdf.pages)


@dataclass
class ItemResult:
    item: Item
    status: ItemState
    parts: list[Part] = field(default_factory=list)
    awaiting: list[Part] = field(default_factory=list)  # generated forms whose signed original is not in yet
    notes: list[str] = field(default_factory=list)  # outdated prints, blank signature areas: for the clerk to check

    @property
    def page_range(self) -> str:
        if not self.parts:
            return ""
        first, last = self.parts[0].first, self.parts[-1].last
        return str(first) if first == last else f"{first}-{last}"

    def to_dict(self) -> dict[str, Any]:
        return {"no": self.item.no, "id": self.item.id, "title": self.item.title, "status": self.status,
                "pages": self.page_range or None, "documents": [_document(p) for p in self.parts]}

    def awaiting_forms(self) -> list[dict[str, Any]]:
        """report.json `awaiting_signature` entries: which printed forms of this item to chase, and their date."""
        return [{"no": self.item.no, "form_key": p.form_key, "title": p.title,
                 "date": p.date.isoformat() if p.date else None} for p in self.awaiting]


def _document(part: Part) -> dict[str, Any]:
    doc: dict[str, Any] = {"title": part.title, "pages": [part.first, part.last], "generated": part.generated}
    if part.signed and part.signed.hand_filled:  # paper first: no code, no fingerprint, no ink checked
        doc["signed_original"] = {"form_key": part.signed.form_key, "hand_filled": True, "source": part.signed.source,
                                  "source_pages": part.signed.pages}
    elif part.signed:
        doc["signed_original"] = {"form_key": part.signed.form_key, "fingerprint": part.signed.fingerprint,
                                  "source": part.signed.source, "source_pages": part.signed.pages,
                                  "ink": [f.to_dict() for f in part.signed.ink or []]}
        if part.signed.filed:
            doc["signed_original"]["filed"] = part.signed.filed  # when scan-in filed it (remarks sheet)
    return doc


@dataclass
class Package:
    case: Case
    pdf: pikepdf.Pdf | None  # the assembled package, written by save_pdf
    forms: list[tuple[FilledForm, bytes, bytes]]  # form, PDF, Word
    results: list[ItemResult]
    findings: list[Finding]
    follow_up_done: bool  # False only while an exit's return visits do not yet cover six months
    content_pages: int
    exit_stage: ExitStage | None = None  # how far an exit has come; None for a kind without one
    next_step: NextStep | None = None  # what an exit before its notice waits for, from when
    total_pages: int = 0
    content_start: int = 0  # index of the first content page (after cover and contents list)
    pdfa_problems: list[str] = field(default_factory=list)  # why the package could not be declared PDF/A-2b
    corrections: tuple[Corrected, ...] = ()  # of this archive number, oldest first (report.json, remarks)

    def save_pdf(self, path: Path) -> None:
        """Write the package PDF straight to its file (qpdf streams it: no copy of the whole file in memory),
        then let go of the scans it was read from."""
        assert self.pdf is not None
        self.pdf.save(path, **SAVE_OPTIONS)
        self.pdf.close()
        for part in (p for r in self.results for p in r.parts if not p.generated):
            part.pdf.close()
        self.pdf = None

    @property
    def spec(self) -> KindSpec:
        return kind_spec(self.case.kind)

    @property
    def missing(self) -> list[ItemResult]:
        return [r for r in self.results if r.status is ItemState.MISSING]

    @property
    def awaiting(self) -> list[ItemResult]:
        return [r for r in self.results if r.status is ItemState.AWAITING_SIGNATURE]

    @property
    def in_progress(self) -> bool:
        """An exit recorded up to a stage before its written notice."""
        return self.exit_stage is not None and not self.exit_stage.reached(ExitStage.NOTIFIED)

    @property
    def status(self) -> Outcome:
        """incomplete > follow_up > exit_in_progress > awaiting_signature > complete, the order of their exit codes'
        precedence; the label names every one that applies."""
        if self.missing:
            return Outcome.INCOMPLETE
        if not self.follow_up_done:
            return Outcome.FOLLOW_UP
        if self.in_progress:
            return Outcome.EXIT_IN_PROGRESS
        return Outcome.AWAITING_SIGNATURE if self.awaiting else Outcome.COMPLETE

    @property
    def status_label(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"{Outcome.INCOMPLETE.label}(缺" + "、".join(f"第{r.item.no}项" for r in self.missing) + ")")
        if self.in_progress:
            assert self.exit_stage is not None
            parts.append(f"{Outcome.EXIT_IN_PROGRESS.label}：{self.exit_stage.label}")
        if self.awaiting:
            parts.append(f"{Outcome.AWAITING_SIGNATURE.label}("
                         + "、".join(f"第{r.item.no}项" for r in self.awaiting) + ")")
        if not self.follow_up_done:
            parts.append(f"{Outcome.FOLLOW_UP.label}(脱困未满六个月)")
        return ";".join(parts) or Outcome.COMPLETE.label

    @property
    def notes(self) -> list[str]:
        return [f"第{r.item.no}项 {note}" for r in self.results for note in r.notes]


def build(case: Case, findings: list[Finding], calendar: WorkCalendar | None = None,
          originals: dict[str, SignedOriginal] | None = None, corrections: tuple[Corrected, ...] = (),
          cache: formcache.FormCache | None = None) -> Package:
    """Assemble the package; raises AttachmentError (a CaseRejected) for a scan that cannot be used.

    `originals` are the signed originals filed for this archive number (signed.originals_for); a case
    attachment marked `signed` is read the same way, by the QR codes on its pages. `corrections` are recorded
    on the remarks sheet (package.identity.corrections). `cache` gives the forms typeset before from exactly
    these values (a rebuild after scan-in) and keeps the ones typeset now."""
    calendar = calendar or WorkCalendar()
    filled = forms_for(case, calendar)
    keys = [formcache.form_key(f, case.archive_no) if cache else None for f in filled]
    kept = [cache.get(k) if cache and k else None for k in keys]
    todo = [f for f, k in zip(filled, kept, strict=True) if k is None]
    word = aside.start("kunnan_docs.forms.word:render_each", todo, case.archive_no) if todo else list
    decoded = aside.start("kunnan_docs.package.attachments:undecodable", _images(case))
    try:
        forms, boxes = [], {}
        for f, k in zip(filled, kept, strict=True):
            pdf, boxes[form_key(f)] = (k.pdf, k.boxes) if k else render_with_boxes(f, case.archive_no)
            forms.append((f, pdf))
        results = _collect(case, forms, boxes, originals or {})
        for name, problem in decoded().items():
            raise AttachmentError(name, problem)  # the first in checklist order
        content = [p for r in results for p in r.parts]
        number = 1
        for part in content:
            part.first, part.last = number, number + part.pages - 1
            number += part.pages
        pkg = Package(case, None, [], results, findings, not follow_up_pending(case), number - 1,
                      exit_stage(case), next_exit_step(case, calendar), corrections=corrections)
        _assemble(pkg, content)
    finally:
        decoded()  # reaped, whatever happened
        made = iter(word())  # waited for even when the case is refused: a broken template outranks the case's faults
    docx = [k.docx if k else next(made) for k in kept]
    pkg.forms = [(f, pdf, doc) for (f, pdf), doc in zip(forms, docx, strict=True)]
    for (f, pdf, doc), key, k in zip(pkg.forms, keys, kept, strict=True):
        if cache and key and k is None:
            cache.put(key, formcache.Typeset(pdf, doc, boxes[form_key(f)]))
    return pkg


def _images(case: Case) -> list[tuple[Path, str]]:
    """The image attachments the build will load, in the order it loads them (for their decode check aside)."""
    folder, attachments = case.folder.resolve(), case.data.get("attachments", [])
    return [(case.folder / att["path"], att["path"]) for item in kind_spec(case.kind).items for att in attachments
            if att["item"] == item.id and attachment_path_problem(folder, att["path"]) is None
            and is_image(Path(att["path"]))]


def _collect(case: Case, forms: list[tuple[FilledForm, bytes]], boxes: dict[str, list[Box]],
             stored: dict[str, SignedOriginal]) -> list[ItemResult]:
    results = []
    union = case.data.get("union", "")
    stage, follow_up_done = exit_stage(case), not follow_up_pending(case)
    for item in kind_spec(case.kind).items:
        result = ItemResult(item, ItemState.MISSING)
        scans: list[Part] = []
        offers: dict[str, list[tuple[Offer, str]]] = {}  # form key → signed originals in the case, by path
        for att in case.data.get("attachments", []):
            if att["item"] != item.id:
                continue
            problem = attachment_path_problem(case.folder.resolve(), att["path"])
            if problem:  # validated before, but the file may have changed since
                raise AttachmentError(att["path"], problem)
            loaded = load(case.folder / att["path"], att["path"], decode_checked=True)
            if att.get("hand_filled"):  # the rules made sure it names one form this case prints
                key = att.get("form") or next(form_key(f) for f, _ in forms if f.spec.item == item.id)
                offers.setdefault(key, []).insert(0, (hand_filled_offer(loaded.pdf, att["path"], key), att["path"]))
                continue
            if att.get("signed"):
                found, notes = read_signed_attachment(loaded.pdf, att["path"], case.archive_no)
                for offer in found:
                    offers.setdefault(offer.original.form_key, []).append((offer, att["path"]))
                result.notes += notes
                continue
            scans.append(Part(item, _given(att, "title") or item.title, parse_date(att.get("date")),
                              _given(att, "responsible") or implied_responsible(item, case), _given(att, "doc_no"),
                              loaded.pdf, False, source=att["path"]))
        for f, pdf in forms:
            if f.spec.item == item.id:
                key = form_key(f)
                offered = offers.get(key, []) + ([(stored_offer(stored[key]), "")] if key in stored else [])
                result.parts.append(_form_part(item, f, pdf, boxes[key], union, offered, result))
        result.parts += scans
        result.status = _state(item, result, case, stage, follow_up_done)
        results.append(result)
    return results


def _given(attachment: dict[str, Any], key: str) -> str:
    """An attachment's own title, 责任者 or 文号, or "" where it gives none (or only blanks)."""
    return (attachment.get(key) or "").strip()


def implied_responsible(item: Item, case: Case) -> str:
    """责任者 of a scan whose attachment names none: the body its checklist item implies (schemas/checklists.json
    `responsible`: the union, the district, the employer, the worker, or a body named outright)."""
    rule = checklist_data()["responsible"][item.id]
    named = {"@union": case.data.get("union"), "@district": case.data.get("district"),
             "@employer": case.worker.get("employer"), "@worker": case.worker.get("name")}
    return (named[rule] or "") if rule in named else rule


def _state(item: Item, result: ItemResult, case: Case, stage: ExitStage | None, follow_up_done: bool) -> ItemState:
    if result.parts:
        return ItemState.AWAITING_SIGNATURE if result.awaiting else ItemState.PRESENT
    if not item.reached(stage, follow_up_done):
        return ItemState.NOT_YET
    return ItemState.MISSING if applies(item, case.data) else ItemState.NOT_APPLICABLE


def _form_part(item: Item, form: FilledForm, pdf: bytes, boxes: list[Box], union: str,
               offered: list[tuple[Offer, str]], result: ItemResult) -> Part:
    """The signed original of a generated form when one of this very print is in; else the form itself.

    The case's own hand-filled original comes first (the clerk filed it as the signed form), then its signed
    attachments, then the store filled by scan-in. `offered`: each with the case attachment's path it came in,
    or "" from the store."""
    title = form.title + (f"（{form.spec.label}）" if form.spec.annex else "")
    expected = form_fingerprint(form)
    for offer, source in offered:
        original = offer.original
        if original.hand_filled:
            return Part(item, title, form.date, union, "", offer.pages, False, original, form_key(form), source)
        if original.fingerprint != expected:
            result.notes.append(f"{title}:扫描件“{original.source}”(第{_page_list(original.pages)}页)是旧版打印件,"
                                f"内容已改动,未采用。请打印新表,签字盖章后重新扫描。")
            continue
        if original.ink is None:
            original = replace(original, ink=offer.ink(pdf, boxes))
        result.notes += [f"{title}:{flag.message}" for flag in original.blank_areas]
        return Part(item, title, form.date, union, "", offer.pages, False, original, form_key(form), source)
    part = Part(item, title, form.date, union, "", pikepdf.open(io.BytesIO(pdf)), True, None, form_key(form))
    if item.needs_signing:
        result.awaiting.append(part)
    return part


def _page_list(pages: list[int]) -> str:
    return "、".join(str(p) for p in pages)


def _date_range(content: list[Part]) -> str:
    dates = sorted(p.date for p in content if p.date)
    return f"{zh_date(dates[0])}至{zh_date(dates[-1])}" if dates else ""


def _cover(pkg: Package, content: list[Part]) -> bytes:
    case, worker, spec = pkg.case, pkg.case.worker, pkg.spec
    fields = [
        ("档案号", case.archive_no), ("档案层级", case.data.get("level", "")),
        ("职工姓名", worker.get("name", "")), ("工作单位", worker.get("employer", "")),
        ("所在工会", case.data.get("union", "")), ("上级工会", case.data.get("district", "")),
        ("案卷类别", f"{spec.label}(对照{spec.checklist_title})"),
        ("起止日期", _date_range(content)),
        ("件数 / 页数", f"共 {len(content)} 件 {pkg.content_pages} 页"),
        ("保管期限", checklist_data()["retention"]),
    ]
    if case.data.get("previous_archive_no"):
        fields.insert(1, ("原档案号", case.data["previous_archive_no"]))
    keeper = case.data.get("district") or case.data.get("union", "")
    return sheets.cover(sheets.CoverInfo(case.archive_no, keeper, spec.archive_title, fields, f"【{pkg.status_label}】"))


def _toc_rows(pkg: Package) -> list[sheets.TocRow]:
    """卷内文件目录 by the 件 (DA/T 22): one row per document, with its own 责任者, 题名, 日期 and 页号; the
    checklist item it is filed under, and 待签章 for a printed form standing in, in 备注."""
    rows = []
    for seq, (result, p) in enumerate(((r, p) for r in pkg.results for p in r.parts), start=1):
        remark = f"第{result.item.no}项" + ("，待签章" if any(p is a for a in result.awaiting) else "")
        rows.append(sheets.TocRow(seq, p.doc_no, p.responsible, p.title, zh_date(p.date) if p.date else "",
                                  page_span(_pages(p)), remark))
    return rows


def remarks_text(pkg: Package) -> list[str]:
    """卷内情况说明 as a permanent record states it: what the file holds, what is missing or awaits signatures,
    signed originals and when they were scanned, corrections with date and reason. Facts only: what the clerk
    is to do goes to 报告.txt (to_do) and the desk, never onto the sheet."""
    present = [r for r in pkg.results if r.parts]
    na = [r for r in pkg.results if r.status is ItemState.NOT_APPLICABLE]
    not_yet = [r for r in pkg.results if r.status is ItemState.NOT_YET]
    documents = sum(len(r.parts) for r in present)
    lines = [f"本卷共 {documents} 件,{pkg.content_pages} 页(不含封面、卷内文件目录和本表)。",
             f"对照{pkg.spec.checklist_title}检查:应有 {len(pkg.results) - len(na) - len(not_yet)} 项,"
             f"已有 {len(present)} 项,缺 {len(pkg.missing)} 项,待签章 {len(pkg.awaiting)} 项"
             + (f",未到办理阶段 {len(not_yet)} 项" if not_yet else "") + "。"]
    lines += _procedure_lines(pkg)
    for r in pkg.missing:
        lines.append(f"缺:第{r.item.no}项 {r.item.title}。")
    for r in pkg.awaiting:
        for p in r.awaiting:
            lines.append(f"待签章:第{r.item.no}项 {p.title}尚无签章原件(须{r.item.needs_note}),"
                         f"卷内第{page_span(_pages(p))}页为打印稿。")
    for r in pkg.results:
        for p in r.parts:
            if p.signed and p.signed.hand_filled:
                lines.append(f"第{r.item.no}项 {p.title}:手工填写并签字的纸质原件已入卷(第{page_span(_pages(p))}页);"
                             f"它没有本工具的二维码,未经二维码识别和签字盖章位置核对。")
            elif p.signed:
                scanned = parse_date(p.signed.filed[:10]) if p.signed.filed else None
                when = f",{zh_date(scanned)}扫描" if scanned else ""
                lines.append(f"第{r.item.no}项 {p.title}:签章原件已入卷(第{page_span(_pages(p))}页{when})。")
    for r in na:
        lines.append(f"第{r.item.no}项 {r.item.title}:不适用(本户困难类别和帮扶记录不需要此类证明)。")
    for r in not_yet:
        lines.append(f"第{r.item.no}项 {r.item.title}:{ItemState.NOT_YET.label}。")
    if not pkg.follow_up_done:
        notice, until = pkg.case.date_at("/exit/notice/date"), follow_up_until(pkg.case)
        assert notice and until  # follow-up is pending only after the written notice
        lines.append(f"本户于{zh_date(notice)}书面通知脱困,回访应至{zh_date(until)},尚在回访期中。")
    for c in pkg.corrections:
        lines.append(f"更正:{zh_date(date.fromisoformat(c.date))},{c.by}更正{'、'.join(c.fields) or '案卷'},"
                     f"原因:{c.reason}。更正前的版本另行保存。")
    lines.append(f"结论:{pkg.status_label}。")
    return lines


def to_do(pkg: Package) -> list[str]:
    """What the clerk is to check or do next (报告.txt): kept off the remarks sheet, which states facts."""
    lines = []
    if pkg.in_progress and pkg.next_step:
        lines.append(f"下一步:{pkg.next_step.text}(自{zh_date(pkg.next_step.from_date)}起)。")
    lines += [f"请核对:{note}" for note in pkg.notes]
    lines += ["提醒:" + for_people(f.message) for f in pkg.findings if f.severity is Severity.WARNING]
    for r in pkg.results:
        for p in r.parts:
            if p.signed:
                lines.append(f"第{r.item.no}项 {p.title}:签章原件取自扫描件“{p.signed.source}”"
                             f"第{_page_list(p.signed.pages)}页。")
    if any(r.status is ItemState.NOT_YET for r in pkg.results):
        lines.append("未到办理阶段的材料,办到该阶段后补入并重新成卷。")
    if not pkg.follow_up_done:
        lines.append("回访满六个月后,请补录回访记录并重新成卷。")
    return lines


def _pages(part: Part) -> str:
    return str(part.first) if part.first == part.last else f"{part.first}-{part.last}"


def _procedure_lines(pkg: Package) -> list[str]:
    """Where the kind's procedure stands: the stage an exit in progress has reached; a cancellation, its reason."""
    lines = []
    if pkg.in_progress and pkg.exit_stage is not None:
        lines.append(f"{Outcome.EXIT_IN_PROGRESS.label}:{pkg.exit_stage.label}。")
    cancellation = pkg.case.data.get("cancellation") if pkg.spec.has_cancellation else None
    if cancellation:
        day = parse_date(cancellation["date"])
        kept = (f",与档案号 {cancellation['duplicate_of']} 重复,保留该档案"
                if cancellation["reason"] == DUPLICATE_REASON else "")
        note = f"({cancellation['note']})" if cancellation.get("note") else ""
        lines.append(f"本档已于{zh_date(day) if day else cancellation['date']}注销,原因:{cancellation['reason']}{note}{kept}。")
    return lines


def for_people(message: str) -> str:
    """A validator message as an archive sheet says it: dates written the Chinese way, without the spaces
    around them."""
    return _SPACE.sub("", zh_dates(message))


_SPACE = re.compile(r"(?<=[\u3000-\u9fff\uff00-\uffef]) (?=[\d\u3000-\u9fff(])|(?<=[\d)]) (?=[\u3000-\u9fff])")


def _assemble(pkg: Package, content: list[Part]) -> None:
    case = pkg.case
    cover = pikepdf.open(io.BytesIO(_cover(pkg, content)))
    toc = pikepdf.open(io.BytesIO(sheets.contents(_toc_rows(pkg), case.archive_no)))
    filed_on = zh_date(case.reference_date)
    remarks = pikepdf.open(io.BytesIO(sheets.remarks(case.archive_no, remarks_text(pkg), filed_on)))
    out = pikepdf.new()
    out.pages.extend(cover.pages)
    out.pages.extend(toc.pages)
    content_start = len(out.pages)
    for part in content:
        out.pages.extend(part.pdf.pages)
    remarks_start = len(out.pages)
    out.pages.extend(remarks.pages)
    _stamp(out, content, content_start)
    _outline(out, pkg, content_start, remarks_start)
    _labels(out, content_start, remarks_start)
    _metadata(out, pkg)
    pkg.pdfa_problems = _archival(out, content)
    pkg.pdf, pkg.total_pages, pkg.content_start = out, len(out.pages), content_start


def _archival(out: pikepdf.Pdf, content: list[Part]) -> list[str]:
    """Declare the package PDF/A-2b, unless a scanned attachment brings something that cannot conform
    without re-encoding it: then it is not declared and the self-check's findings are reported."""
    make_archival(out)
    if all(p.generated or all(_plain_scan(page) for page in p.pdf.pages) for p in content):
        return []  # our forms and sheets, and scans as img2pdf embeds them, conform by construction
    problems = pdfa.findings(out)
    if problems:
        make_archival(out, declare=False)
    return problems


_PLAIN_COLOURS = {"/DeviceRGB", "/DeviceGray"}  # what the sRGB output intent covers without a profile


def _plain_scan(page: pikepdf.Page) -> bool:
    """A page that is one or more images in RGB or grey and nothing else, as img2pdf makes them."""
    resources = page.obj.get("/Resources", pikepdf.Dictionary())
    if set(resources.keys()) - {"/XObject", "/ProcSet"}:
        return False
    for image in resources.get("/XObject", pikepdf.Dictionary()).values():
        space = image.get("/ColorSpace")
        if image.get("/Subtype") != "/Image" or image.get("/Interpolate", False) or "/SMask" in image:
            return False
        if not (str(space) in _PLAIN_COLOURS or image.get("/ImageMask", False)):
            return False
    return True


def _fit_to_a4(page: pikepdf.Page, strip: float) -> tuple[float, float]:
    """Make the page exactly A4 (portrait, or landscape for a wide scan) with its content scaled into
    it below a free strip at the top, through the drawing matrix alone: no image is re-encoded.
    Returns the A4 size the page now has."""
    rotate = int(page.obj.get("/Rotate", 0)) // 90 * 90 % 360  # viewers round an odd angle down too
    x0, y0, x1, y1 = (float(v) for v in page.cropbox)
    x0, x1 = min(x0, x1), max(x0, x1)
    y0, y1 = min(y0, y1), max(y0, y1)
    # what the viewer shows, as a matrix from the page's user space to upright coordinates from (0, 0)
    upright = {0: pikepdf.Matrix(1, 0, 0, 1, -x0, -y0), 90: pikepdf.Matrix(0, -1, 1, 0, -y0, x1),
               180: pikepdf.Matrix(-1, 0, 0, -1, x1, y1), 270: pikepdf.Matrix(0, 1, -1, 0, y1, -x0)}[rotate]
    width, height = (x1 - x0, y1 - y0) if rotate in (0, 180) else (y1 - y0, x1 - x0)
    a4_w, a4_h = (PAGE_W, PAGE_H) if width <= height else (PAGE_H, PAGE_W)
    scale = min(1.0, a4_w / width, (a4_h - strip) / height)
    place = pikepdf.Matrix(scale, 0, 0, scale, (a4_w - width * scale) / 2, a4_h - strip - height * scale)
    clip = f"{x0:.4f} {y0:.4f} {x1 - x0:.4f} {y1 - y0:.4f} re W n"  # nothing outside the old crop shows
    page.contents_add(f"q {_pdf_numbers(upright @ place)} cm {clip}\n".encode(), prepend=True)
    page.contents_add(b"\nQ")
    for box in ("/CropBox", "/TrimBox", "/BleedBox", "/ArtBox", "/Rotate"):
        if box in page.obj:
            del page.obj[box]
    page.obj.MediaBox = pikepdf.Array([0, 0, Decimal(f"{a4_w:.4f}"), Decimal(f"{a4_h:.4f}")])
    return a4_w, a4_h


def _pdf_numbers(matrix: pikepdf.Matrix) -> str:
    return " ".join(f"{v:.5f}".rstrip("0").rstrip(".") or "0" for v in matrix.shorthand)


def _stamp(out: pikepdf.Pdf, content: list[Part], start: int) -> None:
    """Number every content page top-right; a scan is first scaled into A4 below the number's strip."""
    pages = [out.pages[start + i] for i in range(sum(p.pages for p in content))]
    generated = [p.generated for p in content for _ in range(p.pages)]
    sizes = [(PAGE_W, PAGE_H) if gen else _fit_to_a4(page, PAGE_NUMBER_STRIP)
             for page, gen in zip(pages, generated, strict=True)]
    stamps = pikepdf.open(io.BytesIO(sheets.page_number_stamps(sizes, list(range(1, len(pages) + 1)))))
    for page, stamp in zip(pages, stamps.pages, strict=True):
        xobj = out.copy_foreign(stamp.as_form_xobject())
        name = page.add_resource(xobj, pikepdf.Name.XObject, _free_name(page))
        page.contents_add(b"q\n", prepend=True)
        page.contents_add(f"\nQ q {name} Do Q\n".encode())


def _free_name(page: pikepdf.Page) -> pikepdf.Name:
    """A resource name the page does not use yet; fixed, unlike pikepdf's random prefix names (determinism)."""
    used = set(page.obj.get("/Resources", {}).get("/XObject", {}).keys())
    n = 0
    while f"/KdPageNo{n}" in used:
        n += 1
    return pikepdf.Name(f"/KdPageNo{n}")


def _outline(out: pikepdf.Pdf, pkg: Package, content_start: int, remarks_start: int) -> None:
    with out.open_outline() as outline:
        outline.root.append(pikepdf.OutlineItem("案卷封面", 0))
        outline.root.append(pikepdf.OutlineItem("卷内文件目录", 1))
        for r in pkg.results:
            if not r.parts:
                continue
            node = pikepdf.OutlineItem(f"{r.item.no}. {r.item.title}（第{page_span(r.page_range)}页）",
                                       content_start + r.parts[0].first - 1)
            if len(r.parts) > 1:
                node.children.extend(pikepdf.OutlineItem(p.title, content_start + p.first - 1) for p in r.parts)
            outline.root.append(node)
        outline.root.append(pikepdf.OutlineItem("卷内备考表", remarks_start))


def _labels(out: pikepdf.Pdf, content_start: int, remarks_start: int) -> None:
    nums = [0, pikepdf.Dictionary(P=pikepdf.String("封面")),
            1, pikepdf.Dictionary(P=pikepdf.String("目录"), S=pikepdf.Name.D, St=1),
            content_start, pikepdf.Dictionary(S=pikepdf.Name.D, St=1),
            remarks_start, pikepdf.Dictionary(P=pikepdf.String("备考表"))]
    out.Root.PageLabels = pikepdf.Dictionary(Nums=pikepdf.Array(nums))


def pdf_date(day: date) -> str:
    return f"D:{day:%Y%m%d}000000+08'00'"


def _metadata(out: pikepdf.Pdf, pkg: Package) -> None:
    case = pkg.case
    stamp = pdf_date(case.reference_date)  # from the case, never the clock: rebuilds are byte-identical
    out.docinfo = out.make_indirect(pikepdf.Dictionary(
        Title=pikepdf.String(f"{case.worker.get('name', '')} {pkg.spec.archive_title} {case.archive_no}"),
        Subject=pikepdf.String(pkg.spec.checklist_title),
        Author=pikepdf.String(case.data.get("union", "")),
        Keywords=pikepdf.String(case.archive_no),
        Creator=pikepdf.String("kunnan-docs"),
        Producer=pikepdf.String("kunnan-docs (reportlab, img2pdf, pikepdf)"),
        CreationDate=pikepdf.String(stamp),
        ModDate=pikepdf.String(stamp),
    ))
