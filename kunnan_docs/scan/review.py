"""The review area (待核对/) worked through by hand: each page scan-in could not file is assigned to a package's form
and page, set aside as blank, or discarded with a reason. A library (the desk calls it; the command line could).

Nothing is deleted. A review folder keeps its pages; a record beside them (`处理记录.json`) says what became of each
page, by whom and when; once every page of a folder is dealt with, the folder moves whole into the scanner folder's
processed area, `已处理/待核对/<name>`. A page assigned by hand is filed into the signed originals store exactly as
scan-in files a page it read (filing.file_form: the fingerprint of the form's current print, pages of a form of
several pages waiting in 待补页 for the rest); the package is then rebuilt.

Order, so that a crash loses nothing: the page is filed first (idempotent: the same page filed again is recognised
as filed from this source), then the record is written (aside, renamed), then the folder moves, then the rebuild.
A crash before the rebuild leaves the original in the store: the package's next rebuild takes it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pikepdf

from kunnan_docs.core.resources import load_json
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.errors import UsageError
from kunnan_docs.forms import qr
from kunnan_docs.package.layout import DOCUMENTS, safe_name
from kunnan_docs.package.signed import write_atomic
from kunnan_docs.scan.filing import (
    PROCESSED,
    REASON_FILE,
    REVIEW,
    REVIEW_PAGES,
    REVIEW_PDF,
    Packages,
    Rebuild,
    ScanReport,
    SourcePage,
    file_form,
)

RECORD = "处理记录.json"  # in a review folder: what became of each of its pages
DONE = "待核对"  # inside the processed area: review folders dealt with whole
REASON_MAX = 200  # characters of a discard's reason


class Action:
    ASSIGNED = "assigned"
    BLANK = "blank"
    DISCARDED = "discarded"


ACTION_LABELS = {Action.ASSIGNED: "已指定案卷", Action.BLANK: "空白页", Action.DISCARDED: "已作废"}


@dataclass
class ReviewPage:
    """One page waiting in a review folder (`index`: its page in 待核对页.pdf, from 1; 0 for a file moved there whole,
    which has no pages to look at)."""

    folder: str
    index: int
    source: str  # the scanner file's name
    number: int  # its page in the scanner file (0 for a whole file)
    reasons: list[str]
    shown: str = ""  # the name a clerk knows the file by (the browser's, for a file uploaded at the desk)

    @property
    def name(self) -> str:
        return self.shown or self.source


@dataclass
class Handled:
    """What a hand on the review area did: the lines to show (Chinese, no paths) and the archive numbers rebuilt."""

    lines: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    moved: bool = False  # the folder's every page dealt with: it is in 已处理/待核对 now


def review_area(scanner: Path) -> Path:
    return scanner / REVIEW


def processed_area(scanner: Path) -> Path:
    return scanner / PROCESSED / DONE


def waiting_pages(scanner: Path) -> list[ReviewPage]:
    """Every page of the review area not yet dealt with, folder by folder (names in order), page by page."""
    area = review_area(scanner)
    found: list[ReviewPage] = []
    for folder in sorted(area.iterdir() if area.is_dir() else []):
        if folder.name.startswith(".") or not folder.is_dir() or folder.is_symlink():
            continue
        done = _record(folder)
        found += [p for p in folder_pages(folder) if str(p.index) not in done]
    return found


def page_of(scanner: Path, folder_name: str, index: int) -> ReviewPage:
    """The waiting page named by a request (folder name and index: data, checked here); UsageError otherwise."""
    folder = _folder(scanner, folder_name)
    page = next((p for p in folder_pages(folder) if p.index == index), None)
    if page is None or str(index) in _record(folder):
        raise UsageError("待核对中没有这一页(可能已经处理过了)。请刷新待核对页面后再操作。")
    return page


def _folder(scanner: Path, name: str) -> Path:
    area = review_area(scanner)
    folder = area / name
    if (not name or name.startswith(".") or "/" in name or "\\" in name or name in ("..",) or not folder.is_dir()
            or folder.is_symlink()):
        raise UsageError("待核对中没有这个文件夹(可能已经全部处理完,移到了已处理)。请刷新待核对页面。")
    return folder


def folder_pages(folder: Path) -> list[ReviewPage]:
    """A review folder's pages, from its 待核对.json (written by scan-in since the desk reads it), else from its
    reason file's lines (`第3页…:…`), one page a scanner page number in order."""
    try:
        data: dict[str, Any] = json.loads((folder / REVIEW_PAGES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = _from_reasons(folder)
    source, shown = str(data.get("source") or folder.name), str(data.get("shown") or "")
    if data.get("whole"):
        return [ReviewPage(folder.name, 0, source, 0, [str(data.get("reason", ""))], shown)]
    return [ReviewPage(folder.name, i, source, int(p["page"]), [str(r) for r in p["reasons"]], shown)
            for i, p in enumerate(data.get("pages", []), start=1)]


def name_files(folder: Path, shown: dict[str, str]) -> None:
    """Records the name a clerk knows the scanner file by, from `shown` (stored name → shown name): the desk stores
    its uploads under names it makes."""
    path = folder / REVIEW_PAGES
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if str(data.get("source")) in shown:
        write_atomic(path, json.dumps({**data, "shown": shown[str(data["source"])]}, ensure_ascii=False).encode())


def _from_reasons(folder: Path) -> dict[str, Any]:
    try:
        lines = (folder / REASON_FILE).read_text(encoding="utf-8-sig").splitlines()
    except OSError:
        return {"pages": []}
    if not (folder / REVIEW_PDF).is_file():
        return {"whole": True, "reason": lines[0] if lines else ""}
    pages: dict[int, list[str]] = {}
    for line in lines:
        head = line.partition("页")[0]
        if line.startswith("第") and head[1:].isdigit():
            pages.setdefault(int(head[1:]), []).append(line)
    return {"pages": [{"page": n, "reasons": r} for n, r in pages.items()]}


def _record(folder: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _note(folder: Path, page: ReviewPage, entry: dict[str, Any], by: str) -> dict[str, Any]:
    """Records what became of the page (whole or not at all); returns the entry as written."""
    done = _record(folder)
    entry = {**entry, "page": page.number, "by": by, "at": datetime.now().isoformat(timespec="seconds")}
    done[str(page.index)] = entry
    write_atomic(folder / RECORD, json.dumps(done, ensure_ascii=False, indent=1).encode())
    return entry


def _maybe_move(scanner: Path, folder: Path) -> bool:
    """A folder whose every page is dealt with goes whole into 已处理/待核对 (name-2 … when taken)."""
    done = _record(folder)
    if any(str(p.index) not in done for p in folder_pages(folder)):
        return False
    target_area = processed_area(scanner)
    target_area.mkdir(parents=True, exist_ok=True)
    target, n = target_area / folder.name, 1
    while target.exists():
        n += 1
        target = target_area / f"{folder.name}-{n}"
    os.rename(folder, target)
    return True


def set_blank(scanner: Path, folder_name: str, index: int, by: str) -> Handled:
    """空白页: the page needs nothing (a back that had a little ink, a separator sheet)."""
    page = page_of(scanner, folder_name, index)
    if page.index == 0:
        raise UsageError("这是一个无法读取的整个文件,不是一页,不能标为空白页。请核对后作废,并重新扫描。")
    folder = _folder(scanner, folder_name)
    _note(folder, page, {"action": Action.BLANK}, by)
    return Handled([f"{page.name} 第{page.number}页已标为空白页,不需要归档。"], moved=_maybe_move(scanner, folder))


def discard(scanner: Path, folder_name: str, index: int, reason: str, by: str) -> Handled:
    """作废: the page (or a whole unreadable file) is not filed, for the reason given; it stays in 已处理."""
    reason = " ".join(reason.split())
    if not reason:
        raise UsageError("作废必须写明原因(例如“重复扫描”“不是本系统的表单”)。请填写原因后再作废。")
    if len(reason) > REASON_MAX:
        raise UsageError(f"作废原因太长(超过 {REASON_MAX} 个字)。请简要写明原因后再作废。")
    page = page_of(scanner, folder_name, index)
    folder = _folder(scanner, folder_name)
    _note(folder, page, {"action": Action.DISCARDED, "reason": reason}, by)
    what = page.name + (f" 第{page.number}页" if page.number else "")
    return Handled([f"{what}已作废,原页保留在已处理中。"], moved=_maybe_move(scanner, folder))


def print_pages(outbox: Path, archive_no: str, form_key: str) -> int:
    """How many pages the package's current print of the form has (its PDF in documents/); 0 if there is none."""
    base, _, seq = form_key.partition("-")
    spec = next((f for f in load_json("templates", "forms.json")["forms"] if f["key"] == base), None)
    if spec is None:
        return 0
    pdf = outbox / safe_name(archive_no) / DOCUMENTS / f"{spec['file']}{'-' + seq if seq else ''}.pdf"
    try:
        with pikepdf.open(pdf) as doc:
            return len(doc.pages)
    except (OSError, pikepdf.PdfError):
        return 0


def assign(scanner: Path, folder_name: str, index: int, outbox: Path, calendar: WorkCalendar, archive_no: str,
           form_key: str, form_page: int, by: str, rebuild: Rebuild) -> Handled:
    """指定案卷: the page is page `form_page` of the current print of `form_key` in `archive_no`'s package, filed as
    scan-in files it (a form of several pages waits for the rest), then the package is rebuilt (`rebuild`: as
    scan-in's, case files → Chinese lines)."""
    page = page_of(scanner, folder_name, index)
    if page.index == 0:
        raise UsageError("这是一个无法读取的整个文件,不能指定到案卷。请重新扫描后上传,并把这个文件作废。")
    packages = Packages(outbox, calendar)
    forms = packages.forms(archive_no)
    if forms is None:
        raise UsageError(f"发件夹中没有档案号 {archive_no} 的案卷(或案卷中没有输入副本)。请核对档案号。")
    if form_key not in forms:
        raise UsageError(f"档案号 {archive_no} 的案卷中没有{qr.form_label(form_key)}。请从列出的表单中选择。")
    total = print_pages(outbox, archive_no, form_key)
    if not 1 <= form_page <= total:
        raise UsageError(f"{archive_no} {qr.form_label(form_key)}共 {total} 页,没有第{form_page}页。请选择正确的页码。")
    folder = _folder(scanner, folder_name)
    report = ScanReport()
    with pikepdf.open(folder / REVIEW_PDF) as pdf:
        if not 1 <= page.index <= len(pdf.pages):
            raise UsageError("待核对页文件中没有这一页(文件可能已损坏)。请重新扫描这一页后上传。")
        taken = SourcePage(page.source, page.number, pdf, page.index - 1)
        filed = file_form(outbox, qr.PageCode(archive_no, form_key, 0, total, forms[form_key]),
                          {form_page: taken}, page.source, report)
    label = f"{archive_no} {qr.form_label(form_key)}第{form_page}页"
    _note(folder, page, {"action": Action.ASSIGNED, "archive_no": archive_no, "form_key": form_key,
                         "form_page": form_page, "filed": filed}, by)
    done = Handled([f"{page.name} 第{page.number}页已指定为 {label}" +
                    ("。" if filed else f",等待其余页:{'、'.join(report.waiting)}。")],
                   moved=_maybe_move(scanner, folder))
    done.lines += [n for n in report.notes if not n.startswith("待补页")]
    if filed and (case_file := packages.case_file(archive_no)) is not None:
        done.lines += rebuild([case_file])
        done.rebuilt.append(archive_no)
    return done
