"""The package folder and the outbox as a contract: every file name, and the typed report.json.

The builder (publish.py) writes what this module describes; the readers (verify, the outbox listing, the staff
workflows, the web desk) depend on this module only, never on the builder. A report is checked when read, so a
hand-edited or truncated report.json becomes a clear Chinese message instead of a KeyError deep in a reader.

    outbox/
      <档案号>/                    one current package (folder name: safe_name(档案号))
        <档案号>.pdf               the indexed archive PDF
        <档案号>.xml               its metadata: DA/T 46-2009's elements, per schemas/dat46-package.xsd (metadata.py)
        documents/附件N-….pdf|docx the generated annex forms
        input/                     the case file and scans it was built from
        report.json                Report below
        报告.txt                   the Chinese summary a clerk reads first
        manifest-sm3.txt           `sm3  relative/path` for every other file (GB/T 32905; DA/T 70, DA/T 97)
        manifest-sha256.txt        the same by SHA-256 (bagit style); written last: a folder that has it is whole
      _历史版本/<档案号>/第N版/    earlier versions, moved aside on republishing
      _签章原件/<档案号>/          scanned signed originals of the printed forms (signed.py)
      .staging/                    folders being written, one per writer (package/lock.py); renamed into place
      .locks/                      the outbox's publish lock (package/lock.py)
      .kunnan/                     the watcher's ledger and log; identity.key and identity.sqlite (identity.py)
                                   forms/: forms kept between builds, by content (formcache.py)
    <移交>/                        a handover: handover.json, 案卷/<档案号>/…, 移交清单.pdf|xlsx,
                                   四性检测报告/<档案号>.pdf|json and 汇总.pdf|json, manifest
    <name>-四性检测报告.pdf|json   what `verify` writes beside the package folder, handover folder or zip it checked
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kunnan_docs import __version__
from kunnan_docs.core.labels import ExitStage, ItemState, Kind, Outcome
from kunnan_docs.core.resources import load_json
from kunnan_docs.errors import BadPackage

STAGING = ".staging"
HISTORY = "_历史版本"
VERSION = re.compile(r"第(\d+)版")  # earlier versions: HISTORY/<档案号>/第N版
HANDOVERS = "_移交"  # handovers made at the web desk: inside the outbox, so that they can be downloaded
SIGNED = "_签章原件"
AREAS = (HISTORY, SIGNED, HANDOVERS)  # outbox folders that are not packages (besides the hidden .staging, .kunnan)
MANIFEST = "manifest-sha256.txt"
MANIFEST_SM3 = "manifest-sm3.txt"
MANIFESTS = (MANIFEST_SM3, MANIFEST)  # in the order they are written
REPORT = "report.json"
SUMMARY = "报告.txt"
DOCUMENTS = "documents"
INPUT_DIR = "input"  # the case file and scans the package was built from, covered by the manifest
INPUT_PREFIX = "input:"  # manifests before input/ was kept listed the inputs' hashes this way; verify skips them
STATE_DIR = ".kunnan"  # beside the packages in the outbox: the watcher's ledger and log
LEDGER = "ledger.sqlite"
IDENTITY_KEY = "identity.key"  # in STATE_DIR: the secret of the family keys (package/identity.py), owner-only
IDENTITY_DB = "identity.sqlite"  # in STATE_DIR: the identity index (package/identity.py), rebuilt from the packages
HANDOVER_MARKER = "handover.json"
HANDOVER_PACKAGES = "案卷"
HANDOVER_REGISTER = "移交清单"
INSPECTION = "四性检测报告"  # verify's report beside what it checked: <name>-四性检测报告.pdf|json
HANDOVER_INSPECTIONS = INSPECTION  # the folder of a handover's reports, one per package and the summary
INSPECTION_SUMMARY = "汇总"
GENERATOR = f"kunnan-docs {__version__}"  # in report.json: a rebuild after an upgrade is not skipped as up to date
NOTICE_FORM = "publicity"  # the Annex 5 notice, printed in runs by `notices`

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def safe_name(archive_no: str) -> str:
    """An archive number as a folder name that Windows, network shares and zip files all accept."""
    name = _UNSAFE.sub("_", archive_no).strip(" .") or "_"
    return f"_{name}" if name.upper() in _RESERVED else name


def package_pdf(folder: Path, archive_no: str) -> Path:
    return folder / f"{safe_name(archive_no)}.pdf"


def package_metadata(folder: Path, archive_no: str) -> Path:
    """The package's metadata XML, beside its PDF and named like it (package/metadata.py)."""
    return folder / f"{safe_name(archive_no)}.xml"


def document(stem: str, ext: str) -> str:
    """A generated form's path inside the package folder, as the manifest and report.json spell it."""
    return f"{DOCUMENTS}/{stem}.{ext}"


def notice_pdf(folder: Path) -> Path:
    """The package's Annex 5 notice; its file name is the one forms.json gives the form."""
    stem = next(f["file"] for f in load_json("templates", "forms.json")["forms"] if f["id"] == NOTICE_FORM)
    return folder / document(stem, "pdf")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _PureSm3:
    """SM3 where this Python's OpenSSL lacks it: gmssl's pure-Python implementation (slow; whole file in memory)."""

    def __init__(self) -> None:
        self._data = bytearray()

    def update(self, chunk: bytes) -> None:
        self._data += chunk

    def hexdigest(self) -> str:
        from gmssl import func, sm3

        return sm3.sm3_hash(func.bytes_to_list(bytes(self._data)))


def _sm3() -> Any:
    try:
        return hashlib.new("sm3")
    except ValueError:
        return _PureSm3()


HASH_CHUNK = 64 << 10  # below glibc's mmap threshold (128 KiB)


def file_digests(path: Path, *more: Any) -> tuple[str, str]:
    """SHA-256 and SM3 of a file, read once; the hash objects in `more` are fed the same bytes.

    One reused buffer below glibc's mmap threshold, so that hashing large scans leaves no megabyte buffers behind
    in the heap (freed ones raise the threshold; a 600-dpi build peaked 14 MB higher)."""
    sha256, sm3 = hashlib.sha256(), _sm3()
    buffer = bytearray(HASH_CHUNK)
    with path.open("rb", buffering=0) as f:
        while size := f.readinto(buffer):
            chunk = memoryview(buffer)[:size]
            sha256.update(chunk)
            sm3.update(chunk)
            for digest in more:
                digest.update(chunk)
    return sha256.hexdigest(), sm3.hexdigest()


def manifests(folder: Path, known: Mapping[str, tuple[str, str]] | None = None) -> dict[str, str]:
    """Manifest file name → its text: every file below the folder except the manifests, by SM3 and by SHA-256.

    `known`: relative path → (SHA-256, SM3) of files hashed as they were made, so that they are not read again."""
    known = known or {}
    by_sm3, by_sha256 = [], []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel not in MANIFESTS:
            sha256, sm3 = known.get(rel) or file_digests(path)
            by_sha256.append(f"{sha256}  {rel}\n")
            by_sm3.append(f"{sm3}  {rel}\n")
    return {MANIFEST_SM3: "".join(by_sm3), MANIFEST: "".join(by_sha256)}


def write_manifests(folder: Path, known: Mapping[str, tuple[str, str]] | None = None) -> None:
    """Write both manifests, flushed to disk, the SHA-256 one last (its presence marks a finished folder)."""
    for name, text in manifests(folder, known).items():
        with (folder / name).open("w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def read_manifest(folder: Path, name: str = MANIFEST) -> dict[str, str]:
    """relative path → digest of the files a manifest lists (the inputs' lines are not the package's files)."""
    listed: dict[str, str] = {}
    for line in (folder / name).read_text(encoding="utf-8").splitlines():
        digest, _, rel = line.partition("  ")
        if rel and not rel.startswith(INPUT_PREFIX):
            listed[rel] = digest
    return listed


@dataclass(frozen=True)
class Document:
    """One document filed under a checklist item: a generated form or one scan, at archive pages first–last."""

    title: str
    pages: tuple[int, int]
    generated: bool
    signed_original: dict[str, Any] | None = None  # form_key, fingerprint, source, source_pages, ink (areas checked),
    # filed (when scan-in filed it; absent for a signed original in the case's own attachments)

    @property
    def page_range(self) -> str:
        """"3" or "3-5", as report.json writes an item's pages."""
        first, last = self.pages
        return str(first) if first == last else f"{first}-{last}"


@dataclass(frozen=True)
class ChecklistEntry:
    no: int
    id: str
    title: str
    status: ItemState
    pages: str | None  # "3" or "3-5" as printed in the contents list; None when absent
    documents: tuple[Document, ...]


@dataclass(frozen=True)
class AwaitingForm:
    """A generated form still waiting for its signed original (待签章)."""

    no: int  # checklist item
    form_key: str  # annex3, annex7-2 …
    title: str
    date: str | None  # the date the form bears (ISO)


@dataclass(frozen=True)
class ReportedStep:
    """report.json `next_step`: what an exit before its notice waits for, from when (core.rules.NextStep)."""

    text: str
    date: str  # the earliest day it can be done (ISO)
    since: str  # the date of the stage reached (ISO)


@dataclass(frozen=True)
class Pages:
    total: int
    content: int
    content_start_index: int  # 0-based PDF index of archive page 1 (after cover and contents list)


@dataclass(frozen=True)
class PdfaStatus:
    declared: bool  # the package PDF identifies itself as PDF/A-2b
    problems: tuple[str, ...]  # why it could not: what the self-check found in a scanned PDF


@dataclass(frozen=True)
class Corrected:
    """A correction of the file (pipeline, with a core.identity.Correction): who, when, why, and the titles of the
    fields it changed, never their values."""

    date: str  # ISO
    by: str
    reason: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Listing:
    """What lists of packages show and select by (the staff commands, the desk's list pages): the part of
    report.json outside its checklist, findings and PDF/A details, checked the same way; reading 10,000 packages
    then costs the JSON parse, not checking some 140 fields of each."""

    archive_no: str
    kind: Kind
    status: Outcome
    status_label: str
    pages: Pages
    case: dict[str, Any]
    awaiting_signature: tuple[AwaitingForm, ...] = ()
    notes: tuple[str, ...] = ()
    exit_stage: ExitStage | None = None  # None for other kinds, and in reports written before exits were staged
    next_step: ReportedStep | None = None  # an exit before its notice

    @property
    def complete(self) -> bool:
        return self.status is Outcome.COMPLETE

    @classmethod
    def from_dict(cls, data: Any) -> Listing:
        return cls(**_listing_fields(_Reader(data, "")))


def _listing_fields(r: _Reader) -> dict[str, Any]:
    stage = r.choice("exit_stage", tuple(ExitStage), optional=True)
    step = r.obj("next_step") if r.data.get("next_step") is not None else None
    return {"archive_no": r.text("archive_no"), "kind": Kind(r.choice("kind", tuple(Kind))),
            "status": Outcome(r.choice("status", tuple(o for o in Outcome if o.published))),
            "status_label": r.text("status_label"), "pages": _pages(r.obj("pages")),
            "case": r.obj("case").data,
            "awaiting_signature": tuple(_awaiting(a) for a in r.items("awaiting_signature", optional=True)),
            "notes": tuple(r.texts("notes", optional=True) or ()),
            "exit_stage": ExitStage(stage) if stage else None,
            "next_step": ReportedStep(step.text("text"), step.text("date"), step.text("since")) if step else None}


@dataclass(frozen=True)
class Report:
    """report.json. `findings` and `case` (no ID number, income or health) are passed through as written."""

    archive_no: str
    generator: str | None  # GENERATOR of the build; None in reports written before it was recorded
    kind: Kind
    status: Outcome  # the package's outcome, e.g. complete, incomplete, follow_up, exit_in_progress
    status_label: str  # its Chinese wording, e.g. 材料不全(缺第3项), 脱困办理中：公示中
    follow_up_complete: bool
    pages: Pages
    checklist: tuple[ChecklistEntry, ...]
    findings: tuple[dict[str, Any], ...]
    documents: tuple[str, ...]
    pdfa: PdfaStatus | None  # None in reports written before packages were PDF/A
    case: dict[str, Any]
    awaiting_signature: tuple[AwaitingForm, ...] = ()
    notes: tuple[str, ...] = ()  # 请核对: a signature or seal area that looks blank, an outdated print not used
    exit_stage: ExitStage | None = None
    next_step: ReportedStep | None = None
    corrections: tuple[Corrected, ...] = ()  # every correction of this archive number, oldest first

    @property
    def complete(self) -> bool:
        return self.status is Outcome.COMPLETE

    @property
    def listing(self) -> Listing:
        return Listing(self.archive_no, self.kind, self.status, self.status_label, self.pages, self.case,
                       self.awaiting_signature, self.notes, self.exit_stage, self.next_step)

    def to_json(self) -> str:
        """The text of report.json, keys in field order; readers get back what from_dict checked."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> Report:
        """Check the shape field by field; raises BadPackage naming the first field that is wrong."""
        r = _Reader(data, "")
        return cls(
            **_listing_fields(r), generator=r.text("generator", optional=True),
            follow_up_complete=r.flag("follow_up_complete"),
            checklist=tuple(_entry(e) for e in r.items("checklist")),
            findings=tuple(f.data for f in r.items("findings")),
            documents=tuple(r.texts("documents")),
            pdfa=_pdfa(r.obj("pdfa")) if r.data.get("pdfa") is not None else None,
            corrections=tuple(_corrected(c) for c in r.items("corrections", optional=True)),
        )


def _pdfa(r: _Reader) -> PdfaStatus:
    return PdfaStatus(r.flag("declared"), tuple(r.texts("problems")))


def _pages(r: _Reader) -> Pages:
    return Pages(r.count("total"), r.count("content"), r.count("content_start_index"))


def _awaiting(r: _Reader) -> AwaitingForm:
    return AwaitingForm(r.count("no"), r.text("form_key"), r.text("title"), r.text("date", optional=True))


def _corrected(r: _Reader) -> Corrected:
    return Corrected(r.text("date"), r.text("by"), r.text("reason"), tuple(r.texts("fields")))


def _entry(r: _Reader) -> ChecklistEntry:
    return ChecklistEntry(
        no=r.count("no"), id=r.text("id"), title=r.text("title"),
        status=ItemState(r.choice("status", tuple(ItemState))), pages=r.text("pages", optional=True),
        documents=tuple(Document(d.text("title"), d.span("pages"), d.flag("generated"),
                                 d.obj("signed_original").data if d.data.get("signed_original") else None)
                        for d in r.items("documents")),
    )


class _Reader:
    """Typed access to one JSON object of report.json; `where` is its path, for the message."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise BadPackage(f"{REPORT} 中{where or '顶层'}应是一个对象(键值表),实际不是。" + _ADVICE)
        self.data: dict[str, Any] = data
        self.where = where

    def _get(self, key: str, ok: Any, wanted: str, optional: bool = False) -> Any:
        value = self.data.get(key)
        if value is None and optional:
            return None
        if value is None or not ok(value):
            state = "缺少" if key not in self.data else "的值不对"
            raise BadPackage(f"{REPORT} 中{state}字段 {self.where}{key}(应为{wanted})。" + _ADVICE)
        return value

    def text(self, key: str, optional: bool = False) -> Any:
        return self._get(key, lambda v: isinstance(v, str) and v != "", "非空文字", optional)

    def choice(self, key: str, allowed: tuple[str, ...], optional: bool = False) -> Any:
        return self._get(key, lambda v: v in allowed, "、".join(allowed) + " 之一", optional)

    def count(self, key: str) -> int:
        return self._get(key, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "非负整数")

    def flag(self, key: str) -> bool:
        return self._get(key, lambda v: isinstance(v, bool), "true 或 false")

    def span(self, key: str) -> tuple[int, int]:
        def ok(v: Any) -> bool:
            return (isinstance(v, list) and len(v) == 2 and all(isinstance(n, int) and n >= 1 for n in v)
                    and v[0] <= v[1])

        first, last = self._get(key, ok, "[起始页, 结束页]")
        return first, last

    def texts(self, key: str, optional: bool = False) -> list[str]:
        return self._get(key, lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v), "文字列表",
                         optional)

    def obj(self, key: str) -> _Reader:
        return _Reader(self._get(key, lambda v: isinstance(v, dict), "对象"), f"{self.where}{key}/")

    def items(self, key: str, optional: bool = False) -> list[_Reader]:
        values = self._get(key, lambda v: isinstance(v, list), "列表", optional) or []
        return [_Reader(v, f"{self.where}{key}/{i}/") for i, v in enumerate(values)]


_ADVICE = "该案卷文件夹可能被改动过,或不是本程序生成的。请要求移交方重新成卷后再发送。"


def _report_data(folder: Path) -> Any:
    try:
        return json.loads((folder / REPORT).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadPackage(f"缺少 {REPORT}。" + _ADVICE) from None
    except ValueError:
        raise BadPackage(f"{REPORT} 无法读取(内容不完整或不是 JSON)。" + _ADVICE) from None
    except OSError as exc:  # no English detail, no path: a clerk reads it on the desk's 损坏 list
        raise BadPackage(f"{REPORT} 无法读取(错误号 {exc.errno})。" + _ADVICE) from None


def read_report(folder: Path) -> Report:
    """The package's report.json, checked; raises BadPackage (with a Chinese message) if unreadable or misshapen."""
    return Report.from_dict(_report_data(folder))


def read_listing(folder: Path) -> Listing:
    """The listing part of the package's report.json, checked as read_report checks it."""
    return Listing.from_dict(_report_data(folder))
