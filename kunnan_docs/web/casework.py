"""The desk's write path: drafts, and their submission through the one pipeline, recorded in the ledger and the
audit log. A library (no web framework here): the desk's pages map requests onto `Casework`, and tests and the
command line can call it alike.

A draft is a case folder in the outbox's state folder, `STATE/drafts/<id>/case/` (case.json and the scans its
attachments name, copied from the package or the rejected input it was opened from), beside `draft.json`
(where it came from, who saved it when, what its last refused submission was told). Drafts hold personal
data: their folders and files are the owner's only (0700/0600), and no log or audit line quotes anything of a
case but its archive number.

A submission is `pipeline.process_case` on the draft's folder, exactly as for an inbox drop, and ends in one
outcome: published (a new version; the old one kept in `_历史版本`; the draft removed) or refused (the draft
kept, with the findings to show beside its fields). Either way a ledger row (source 工作台, with the user) and
an audit line (who, when, what, why) say so. The inputs a draft was opened from are never touched: a rejected
case stays in rejected/, a package stays as published.

Besides the editor's drafts, a package's page records on the family's current case: 登记 (a home visit, an archive
check, an aid payment), a step of its procedure (the exit stage by stage, a return visit, 注销: web/steps.py), scans
from the browser (上传扫描件, web/uploads.py) and a hand-filled form as the signed original of its form (手填原件入卷).
Each is submitted at once as a new version, the same way.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pikepdf

from kunnan_docs.core.casefile import Case, parse_case_json, read_case_bytes
from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.findings import Finding, Severity, changed_fields
from kunnan_docs.core.identity import Correction
from kunnan_docs.core.labels import Outcome
from kunnan_docs.core.resources import load_json
from kunnan_docs.core.rules import attachment_path_problem, form_keys, form_name
from kunnan_docs.core.validate import draft_findings
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.errors import CaseRejected, UsageError
from kunnan_docs.inbox.ledger import Ledger
from kunnan_docs.package.layout import INPUT_DIR, LEDGER
from kunnan_docs.package.outbox import package_in
from kunnan_docs.pipeline import CaseResult, process_case
from kunnan_docs.privacy import mask_text
from kunnan_docs.web.form import layout
from kunnan_docs.web.security import audit
from kunnan_docs.web.steps import as_of, offered, step_by_id, with_step
from kunnan_docs.web.uploads import MAX_FILES, Upload, codes, receive, shown, signed_form

DESK_SOURCE = "工作台"  # the ledger's source of a case submitted at the desk
DRAFTS = "drafts"  # in the state folder
CASE_FILE = "case.json"
_META = "draft.json"
_ID = re.compile(r"[0-9a-f]{12}")


class Origin(StrEnum):
    """What a draft was opened for; it decides what its submission is called in the ledger and audit log."""

    NEW = "new"
    REJECTED = "from_rejected"  # a case the inbox rejected, opened from rejected/
    CORRECTION = "correction"
    RECORD = "record"
    STEP = "step"  # a step of a procedure (web/steps.py): an exit stage, a return visit, 注销
    UPLOAD = "upload"
    HAND_FILLED = "hand_filled"
    WORKBOOK = "workbook"  # a family of an uploaded Excel workbook (web/workbooks.py)

    @property
    def label(self) -> str:
        return {"new": "新建档案", "from_rejected": "退回的案卷", "correction": "更正", "record": "登记", "step": "办理",
                "upload": "上传扫描件", "hand_filled": "手填原件入卷", "workbook": "导入Excel"}[self]


@dataclass
class Draft:
    id: str
    folder: Path
    origin: Origin
    user: str  # who saved it last
    saved: str  # when (ISO, seconds)
    case: dict[str, Any]
    source: str = ""  # the folder of the package it was opened from, or the rejected input's name
    record: str = ""  # 登记: which record (入户走访 …); 办理: which step (公示 …)
    reason: str = ""  # 更正: why
    findings: list[Finding] = field(default_factory=list)  # of its last refused submission
    notes: list[str] = field(default_factory=list)  # the refusal's other words (a build's refusal)
    step: str = ""  # 办理: the step's id (web/steps.py), which names the action in the audit log

    @property
    def case_folder(self) -> Path:
        return self.folder / "case"

    @property
    def case_file(self) -> Path:
        return self.case_folder / CASE_FILE

    @property
    def archive_no(self) -> str:
        return str(self.case.get("archive_no") or "")

    @property
    def worker_name(self) -> str:
        worker = self.case.get("worker")
        return str(worker.get("name") or "") if isinstance(worker, dict) else ""


@dataclass
class Submission:
    outcome: Outcome
    archive_no: str
    folder: Path | None  # the published package
    label: str  # its Chinese conclusion
    messages: list[str]  # for the clerk, plain Chinese
    draft: Draft | None  # kept when refused
    findings: list[Finding] = field(default_factory=list)  # a step refused by the rules before anything was built


class Casework:
    """The desk's write path over one outbox (and its state folder)."""

    def __init__(self, outbox: Path, state: Path, calendar: str | None = None, rejected: Path | None = None) -> None:
        self.outbox, self.state, self.rejected = outbox, state, rejected
        self.calendar = WorkCalendar(calendar)
        self.root = state / DRAFTS
        self._builds = threading.Lock()  # one desk build at a time: two clerks submitting the same family queue

    # -- drafts ------------------------------------------------------------------------------------------------
    def drafts(self) -> list[Draft]:
        """Every draft, the latest saved first."""
        found = [d for p in (self.root.iterdir() if self.root.is_dir() else []) if (d := self.draft(p.name))]
        return sorted(found, key=lambda d: (d.saved, d.id), reverse=True)

    def draft(self, draft_id: str) -> Draft | None:
        if not _ID.fullmatch(draft_id):
            return None
        folder = self.root / draft_id
        try:
            meta = json.loads((folder / _META).read_text(encoding="utf-8"))
            case = json.loads((folder / "case" / CASE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        findings = [Finding(f["code"], Severity(f["severity"]), f["pointer"], f["message"]) for f in meta["findings"]]
        return Draft(draft_id, folder, Origin(meta["origin"]), meta["user"], meta["saved"], case, meta["source"],
                     meta["record"], meta["reason"], findings, meta["notes"], meta.get("step", ""))

    def create(self, case: dict[str, Any], user: str, origin: Origin = Origin.NEW, source: str = "",
               files: Path | None = None, record: str = "", reason: str = "", step: str = "",
               **details: object) -> Draft:
        """A new draft of `case`; the scans its attachments name are copied from the folder `files`. `details` go
        to the audit line (a record's draft is not audited until it is submitted, at once)."""
        folder = self.root / secrets.token_hex(6)
        _private_folder(self.root)
        os.chmod(self.root, 0o700)  # also when an older desk made it
        _private_folder(folder / "case")
        if files is not None:
            _copy_attachments(case, files, folder / "case")
        draft = Draft(folder.name, folder, origin, user, _now(), case, source, record, reason, step=step)
        self._write(draft)
        if origin in _OPENED:
            audit(self.state, user, _OPENED[origin], draft=draft.id, archive_no=draft.archive_no, **details)
        return draft

    def save(self, draft: Draft, case: dict[str, Any], user: str, reason: str | None = None) -> Draft:
        """The draft with `case` (and, for a correction, its reason); what a refusal said stays until the next one."""
        draft.case, draft.user, draft.saved = case, user, _now()
        if reason is not None:
            draft.reason = reason
        self._write(draft)
        audit(self.state, user, "保存草稿", draft=draft.id, archive_no=draft.archive_no)
        return draft

    def discard(self, draft: Draft, user: str) -> None:
        shutil.rmtree(draft.folder)
        audit(self.state, user, "删除草稿", draft=draft.id, archive_no=draft.archive_no)

    def check(self, case: dict[str, Any], folder: Path | None = None) -> list[Finding]:
        """What the rules say of a case being typed, its attachments looked up in `folder` (a draft's)."""
        return draft_findings(Case(case, (folder or self.root / "-") / CASE_FILE), self.calendar)

    def _write(self, draft: Draft) -> None:
        _write_private(draft.case_file, _case_bytes(draft.case))
        meta = {"origin": draft.origin.value, "user": draft.user, "saved": draft.saved, "source": draft.source,
                "record": draft.record, "reason": draft.reason, "findings": [f.to_dict() for f in draft.findings],
                "notes": draft.notes, "step": draft.step}
        _write_private(draft.folder / _META, json.dumps(meta, ensure_ascii=False, indent=1).encode())

    # -- opening what is published or was rejected --------------------------------------------------------------
    def from_package(self, folder_name: str, user: str, origin: Origin, case: dict[str, Any] | None = None,
                     record: str = "", reason: str = "") -> Draft:
        """A draft of a package's current case (its input/ copy), or of `case` edited from it, with its scans;
        its `source` is the package's folder."""
        current, files = self.current(folder_name)
        return self.create(current if case is None else case, user, origin, folder_name, files, record, reason)

    def current(self, folder_name: str) -> tuple[dict[str, Any], Path]:
        """A current package's case, as it was built (its input/ copy), and the folder holding its scans."""
        pkg = package_in(self.outbox, folder_name)
        if pkg is None:
            raise UsageError("发件夹中没有这个案卷。它可能已被重新成卷或移走,请回到案卷列表查找。")
        found = sorted((pkg.folder / INPUT_DIR).glob("*.json"))
        if len(found) != 1:
            raise UsageError(f"案卷 {pkg.archive_no} 中没有可修改的案卷文件副本(成卷时的输入)。"
                             "请把该户的案卷文件夹重新放入收件夹成卷后再登记或更正。")
        return _read_case(found[0]), found[0].parent

    def from_rejected(self, row_id: int, user: str) -> Draft:
        """A draft of a case the inbox rejected: its case file and scans copied out of rejected/, which keeps them.
        For a refusal at the desk, the draft that was kept."""
        row = self._ledger_row(row_id)
        if row is None or row.status != Outcome.REJECTED:
            raise UsageError("收件箱中没有这份退回的案卷。请刷新收件箱后再试。")
        if row.source == DESK_SOURCE:
            kept = self.draft(Path(row.outputs[-1]).name) if row.outputs else None
            if kept is None:
                raise UsageError("这次退回的草稿已经重新提交或删除了。请到“草稿”或“案卷”中查找。")
            return kept
        case_file = self._rejected_case_file(row.source, row.outputs)
        draft = self.create(_read_case(case_file), user, Origin.REJECTED, row.source, case_file.parent, ledger=row_id)
        draft.findings = self.check(draft.case, draft.case_folder)  # what to fix, beside the fields, from the start
        self._write(draft)
        return draft

    def _rejected_case_file(self, source: str, outputs: list[str]) -> Path:
        where = Path(outputs[-1]) if outputs else None
        area = self.rejected.resolve() if self.rejected else None
        if where is None or area is None or area not in where.resolve().parents:
            raise UsageError("找不到这份退回案卷的原文件(退回区不在本工作台管理的位置)。请在退回区找到它,改正后重新放入收件夹。")
        inside = where.resolve()
        candidates = [where / source] if (where / source).is_file() else \
            [p for p in sorted(where.rglob("*")) if p.suffix.lower() == ".json" and p.is_file()]
        candidates = [p for p in candidates if inside in p.resolve().parents]
        if len(candidates) != 1:
            raise UsageError("退回区中这份案卷的原文件已被移动或改名,无法在工作台中打开。请在退回区找到它,改正后重新放入收件夹。")
        return candidates[0]

    def _ledger_row(self, row_id: int) -> Any:
        path = self.state / LEDGER
        if not path.is_file():
            return None
        ledger = Ledger(path, read_only=True)
        try:
            return ledger.row(row_id)
        finally:
            ledger.close()

    # -- submitting ---------------------------------------------------------------------------------------------
    def submit(self, draft: Draft, user: str, **details: Any) -> Submission:
        """Build and publish the draft; refused, it stays with what was found. A correction needs its reason.
        `details` go to the audit line (which files an upload brought, what a step took out)."""
        correction = None
        old: dict[str, Any] | None = None
        if draft.origin is Origin.CORRECTION:
            if not draft.reason.strip():
                raise UsageError("更正必须写明原因(例如“身份证号录入错误,已对照身份证原件核实”)。请填写更正原因后再提交。")
            correction = Correction(draft.reason.strip(), user, date.today())
            old = self.current(draft.source)[0]
            if str(old.get("archive_no", "")).strip().casefold() != draft.archive_no.strip().casefold():
                raise UsageError(f"更正不能修改档案号(原为 {old.get('archive_no')}):档案号是这份档案的编号,改了就成了"
                                 "另一份档案。请把档案号改回原样再提交;档案号确实编错的,请报区(市)县总工会处理。")
        raw = draft.case_file.read_bytes()
        with self._builds:
            result = self._build(draft.case_file, raw, correction)
        archive_no = result.archive_no or draft.archive_no
        if result.outcome.published:
            shutil.rmtree(draft.folder)
        else:
            draft.findings = result.findings
            draft.notes = result.messages[len(result.findings):]
            self._write(draft)
        self._record(draft, user, result, archive_no)
        details = {"archive_no": archive_no, "outcome": result.outcome.label, "draft": draft.id} | details
        if draft.record:
            details["record"] = draft.record
        if correction is not None and old is not None:
            details |= {"reason": mask_text(correction.reason), "fields": changed_fields(old, draft.case)}
        step = step_by_id(draft.step) if draft.origin is Origin.STEP else None
        audit(self.state, user, step.action if step else _ACTION[draft.origin], **details)
        return Submission(result.outcome, archive_no, result.folder, result.label, result.messages,
                          None if result.outcome.published else draft)

    def _build(self, case_file: Path, raw: bytes, correction: Correction | None) -> CaseResult:
        """The one pipeline; a correction lets the identity check accept a changed ID number or name."""
        return process_case(case_file, self.outbox, self.calendar, data=raw, correction=correction)

    def _record(self, draft: Draft, user: str, result: CaseResult, archive_no: str) -> None:
        outputs = [str(result.folder)] if result.folder else [str(draft.folder)]
        ledger = Ledger(self.state / LEDGER)
        try:
            ledger.record(DESK_SOURCE, result.outcome.value, user, None if result.outcome.published else
                          "\n".join(result.messages), content_hash=result.input_digest or None,
                          archive_no=archive_no or None, outputs=outputs)
        finally:
            ledger.close()

    def record(self, folder_name: str, record_id: str, item: dict[str, Any], user: str) -> Submission:
        """登记: one new item (a home visit, an archive check, an aid payment, a return visit) appended to the
        family's current case, which is then submitted as a new version."""
        case, files = self.current(folder_name)
        spec = next((r for r in records(str(case.get("kind"))) if r["id"] == record_id), None)
        if spec is None:
            raise UsageError("这份案卷没有这种登记。请回到案卷页,从“登记”按钮进入。")
        if not item:
            raise UsageError(f"{spec['title']}一项也没有填写。请填写后再保存。")
        _append(case, spec["pointer"], item)
        draft = self.create(as_of(case, item), user, Origin.RECORD, folder_name, files, spec["title"])
        return self.submit(draft, user)

    def step(self, folder_name: str, step_id: str, item: dict[str, Any], user: str) -> Submission:
        """办理: the next step of the family's procedure (an exit stage, a return visit, 注销; web/steps.py) recorded
        on its current case and submitted as a new version. What the rules say against the step comes back before
        anything is built or written (`Submission.findings`, to show beside the step's fields); a build that refuses
        keeps a draft, as any submission does."""
        case, files = self.current(folder_name)
        step = next((s for s in offered(case) if s.id == step_id), None)
        if step is None:
            wanted = step_by_id(step_id)
            raise UsageError(f"这份案卷现在不能办理“{wanted.title if wanted else step_id}”:脱困要按通知规定的次序一步一步办理,"
                             "注销只用于在档的档案。请回到案卷页,用那里列出的按钮办理下一步。")
        if not item:
            raise UsageError(f"{step.title}一项也没有填写。请填写后再保存。")
        changed, dropped = with_step(case, step, item)
        errors = [f for f in self.check(changed, files) if f.severity is Severity.ERROR]
        if errors:
            return Submission(Outcome.REJECTED, str(case.get("archive_no") or ""), None, Outcome.REJECTED.label,
                              [f.message for f in errors], None, errors)
        draft = self.create(changed, user, Origin.STEP, folder_name, files, step.title, step=step.id)
        taken = {"taken_out": sorted({_item_no(case, a) for a in dropped})} if dropped else {}
        return self.submit(draft, user, **taken)

    def upload(self, folder_name: str, files: list[Upload], user: str) -> Submission:
        """上传扫描件: scans from the browser added to the family's current case, each as an attachment of the checklist
        item chosen for it, then submitted as a new version. A file whose every page carries the code of one of this
        family's printed forms is that form's signed original (filed as scan-in would file it)."""
        case, scans = self.current(folder_name)
        _bounded(files)
        items = {i.id: i for i in kind_spec(str(case.get("kind"))).items}
        ours = {spec["key"]: spec["item"] for spec in load_json("templates", "forms.json")["forms"]}
        draft = self.create(case, user, Origin.UPLOAD, folder_name, scans)
        try:
            added: list[dict[str, Any]] = []
            for upload in files:
                item = items.get(upload.item)
                if item is None:
                    raise UsageError(f"文件“{shown(upload.name)}”没有选对应的材料(清单项)。请为每个文件选一项后再上传。")
                rel, loaded = receive(upload, draft.case_folder)
                entry: dict[str, Any] = {"item": item.id, "path": rel}
                if item.id in ours.values() and (key := signed_form(codes(loaded), shown(upload.name), draft.archive_no)):
                    form_item = ours[key.partition("-")[0]]
                    if form_item not in items:
                        raise UsageError(f"文件“{shown(upload.name)}”是{form_name(key)}的签章扫描件,本户案卷现在没有这张表。"
                                         "请核对是不是传错了案卷。")
                    entry = {"item": form_item, "path": rel, "signed": True}
                _not_twice(draft.case, added, rel, upload.name)
                added.append(entry)
        except BaseException:
            shutil.rmtree(draft.folder, ignore_errors=True)
            raise
        draft.case["attachments"] = [*draft.case.get("attachments", []), *added]
        self._write(draft)
        return self.submit(draft, user, files=_listed(files, added))

    def hand_filled(self, folder_name: str, form: str, files: list[Upload], user: str) -> Submission:
        """手填原件入卷 (paper first): a form filled in and signed by hand, scanned without our code, filed as the signed
        original of `form` (annex3, annex7-2 …: one the family's case prints now). Several files are its pages in
        order, joined into one PDF; an earlier hand-filled original of that form is replaced (the version before
        keeps it). Nothing is read from its pages but that they carry no code of ours (a print of ours is filed by
        its code, which also tells an outdated one)."""
        case, scans = self.current(folder_name)
        item = next((i for i, keys in form_keys(Case(case, scans / CASE_FILE)).items() if form in keys), None)
        if item is None:
            raise UsageError("本户案卷现在没有这张表。请在案卷页的“手填原件入卷”中从列出的表单里选一张。")
        _bounded(files)
        draft = self.create(case, user, Origin.HAND_FILLED, folder_name, scans, form_name(form))
        try:
            pages = []
            for upload in files:
                rel, loaded = receive(upload, draft.case_folder)
                if any(codes(loaded)):
                    raise UsageError(f"文件“{shown(upload.name)}”上有本工具打印表的二维码:它是打印后签字盖章的表单,"
                                     "请用“上传扫描件”上传(按二维码核对它是不是最新打印的表)。手填原件是手工填写的纸质表。")
                pages.append((rel, loaded))
            rel = pages[0][0] if len(pages) == 1 else _joined(draft.case_folder, pages)
        except BaseException:
            shutil.rmtree(draft.folder, ignore_errors=True)
            raise
        kept = [a for a in draft.case.get("attachments", [])
                if not (a.get("hand_filled") and a.get("item") == item and a.get("form", form) == form)]
        draft.case["attachments"] = [*kept, {"item": item, "path": rel, "hand_filled": True, "form": form}]
        self._write(draft)
        return self.submit(draft, user, form=form, files=_listed(files, [{"path": rel}] * len(files)))


_OPENED = {Origin.NEW: "新建草稿", Origin.REJECTED: "打开退回案卷", Origin.CORRECTION: "开始更正"}
_ACTION = {Origin.NEW: "提交成卷", Origin.REJECTED: "退回案卷重新提交", Origin.CORRECTION: "更正", Origin.RECORD: "登记",
           Origin.STEP: "办理", Origin.UPLOAD: "上传扫描件", Origin.HAND_FILLED: "手填原件入卷", Origin.WORKBOOK: "导入Excel"}


def _bounded(files: list[Upload]) -> None:
    if not files:
        raise UsageError("没有选择要上传的文件。请选择或拖入扫描件后再点“上传”。")
    if len(files) > MAX_FILES:
        raise UsageError(f"一次最多上传 {MAX_FILES} 个文件,这次选了 {len(files)} 个。请分几次上传。")


def _not_twice(case: dict[str, Any], added: list[dict[str, Any]], rel: str, name: str) -> None:
    if any(a.get("path") == rel for a in [*case.get("attachments", []), *added]):
        raise UsageError(f"文件“{shown(name)}”与案卷中已有的(或这次一起上传的)扫描件完全相同,没有重复上传。"
                         "请去掉这个文件后再上传。")


def _joined(folder: Path, pages: list[tuple[str, Any]]) -> str:
    """Several scanned files as the pages of one form, in order: one PDF (images as the loader embedded them, never
    re-encoded), named by its content; the single files are removed."""
    joined = pikepdf.new()
    for _, loaded in pages:
        joined.pages.extend(loaded.pdf.pages)
    buf = io.BytesIO()
    joined.save(buf, deterministic_id=True)
    data = buf.getvalue()
    rel = f"scans/上传-{hashlib.sha256(data).hexdigest()[:12]}.pdf"
    _write_private(folder / rel, data)
    for name, _ in pages:
        (folder / name).unlink(missing_ok=True)
    return rel


def _listed(files: list[Upload], added: list[dict[str, Any]]) -> list[str]:
    """What the audit line says an upload brought: each browser name (masked by the log) and where it went."""
    return [f"{shown(u.name)} → {a['path']}" for u, a in zip(files, added, strict=True)]


def _item_no(case: dict[str, Any], attachment: dict[str, Any]) -> int:
    return next((i.no for i in kind_spec(str(case.get("kind"))).items if i.id == attachment.get("item")), 0)


def records(kind: str) -> list[dict[str, Any]]:
    """The records (登记) a package of this kind takes: id, title, the list they go to (schemas/desk_form.json)."""
    return [r for r in layout()["records"] if kind in r.get("kinds", [kind])]


def _append(case: dict[str, Any], pointer: str, item: dict[str, Any]) -> None:
    node: Any = case
    parts = pointer.strip("/").split("/")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node.setdefault(parts[-1], []).append(item)


def _read_case(path: Path) -> dict[str, Any]:
    try:
        return parse_case_json(read_case_bytes(path), path.name)
    except CaseRejected as exc:
        raise UsageError(f"这份案卷文件无法在工作台中打开:{exc} 请用“新建档案”重新录入,或改正文件后重新放入收件夹。") from None


def _case_bytes(case: dict[str, Any]) -> bytes:
    return (json.dumps(case, ensure_ascii=False, indent=2) + "\n").encode()


def _copy_attachments(case: dict[str, Any], source: Path, target: Path) -> None:
    """The scans the case names, from its folder into the draft's; one that is missing or leaves the folder is
    left out, and the rules say so when the draft is checked."""
    names = {a.get("path") for a in case.get("attachments", []) if isinstance(a, dict)}
    folder = source.resolve()
    for rel in sorted(n for n in names if isinstance(n, str) and n != CASE_FILE):
        if attachment_path_problem(folder, rel) is not None:
            continue
        copy = target / rel
        _private_folder(copy.parent)
        shutil.copyfile(folder / rel, copy)
        os.chmod(copy, 0o600)


def _private_folder(path: Path) -> None:
    """The folder and each one made on the way to it: owner-only."""
    for folder in [*reversed(path.parents), path]:
        if not folder.exists():
            folder.mkdir(mode=0o700)
            os.chmod(folder, 0o700)  # whatever the umask


def _write_private(path: Path, data: bytes) -> None:
    """Owner-only, whole or not at all."""
    tmp = path.with_name(path.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")
