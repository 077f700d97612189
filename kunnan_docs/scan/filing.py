"""Scanner files → signed originals filed into their packages by the QR code on every page, then rebuilt.

Pages are grouped by archive number and form. A form whose pages are all there is filed in the signed
originals store (package/signed.py); pages of a form still incomplete wait in the store's 待补页 folder
until the rest arrives; a page scanned twice is filed once. A page that cannot be filed (no readable
code, unknown archive number, an outdated print, a cover) goes to the review area beside the scanner
folder, with a PDF of those pages and a Chinese reason file.

Order, so that kill -9 at any moment loses nothing: every page is written to its place (store, waiting
pages, review) first; then a journal lists the packages to rebuild; then the scanner file moves to the
processed area; then the packages are rebuilt and the journal removed. A run finds a scanner file still
in place (and simply reads it again: every write is idempotent) or a journal (and finishes its rebuilds).
The watcher files at once but holds a journal's rebuilds while a worker builds one of its archive numbers.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable, Collection
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pikepdf

from kunnan_docs.errors import CaseRejected
from kunnan_docs.forms import qr
from kunnan_docs.package.layout import SIGNED
from kunnan_docs.package.lock import publishing
from kunnan_docs.package.signed import (
    SignedOriginal,
    ink_key,
    ink_record,
    keep_ink,
    original_in,
    store_dir,
    store_original,
    write_atomic,
)
from kunnan_docs.scan.prints import PageInk, Prints, package_case

if TYPE_CHECKING:  # `status` lists waiting forms from here without the case, form and scan stacks
    from concurrent.futures import Executor

    from kunnan_docs.core.workcal import WorkCalendar
    from kunnan_docs.pipeline import CaseResult
    from kunnan_docs.scan.pages import ScanFile, ScannedPage

SCANNER_FOLDER = "扫描件"  # inside the inbox
REVIEW = "待核对"  # beside the scanned files
PROCESSED = "已处理"
WAITING = "待补页"  # inside an archive number's signed originals folder
JOURNAL = ".journal"  # inside the signed originals store
REASON_FILE = "原因.txt"
REVIEW_PDF = "待核对页.pdf"
REVIEW_PAGES = "待核对.json"  # in a review folder: the scanner file's name and, per page of REVIEW_PDF, its reasons
SOURCE_FILE = ".sha256"  # in a review folder: the SHA-256 of the scanner file it was written for
# A scanner file that raises one of these while it is read is no readable scan: it goes to review whole. (An
# OSError is the disk's, not the file's: the caller pauses and tries again.)
UNREADABLE: tuple[type[BaseException], ...] = (CaseRejected, pikepdf.PdfError, ValueError, RuntimeError, KeyError,
                                               TypeError, MemoryError)


@dataclass
class Filed:
    archive_no: str
    form_key: str
    sources: list[tuple[str, int]]  # scanner file name and page number, for each page of the form in order

    @property
    def line(self) -> str:
        return f"已归档  {self.archive_no} {qr.form_label(self.form_key)}:" + _sources_text(self.sources)


@dataclass
class ScanReport:
    filed: list[Filed] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # waiting forms, duplicates, review, rebuilds, in Chinese
    review: list[Path] = field(default_factory=list)  # review folders written
    waiting: list[str] = field(default_factory=list)  # forms still missing pages
    rebuilt: list[str] = field(default_factory=list)  # archive numbers rebuilt
    blank: list[tuple[str, int]] = field(default_factory=list)  # blank pages set aside: scanner file, page

    @property
    def lines(self) -> list[str]:
        return [f.line for f in self.filed] + self.notes


def _sources_text(sources: list[tuple[str, int]]) -> str:
    by_file: dict[str, list[int]] = {}
    for name, page in sources:
        by_file.setdefault(name, []).append(page)
    return ";".join(f"{name} 第{'、'.join(map(str, pages))}页" for name, pages in by_file.items())


class Packages:
    """What the outbox says of each archive number: the current fingerprint of each of its forms (and, through
    `prints`, the forms themselves and their prints, for the ink check of pages read in this process)."""

    def __init__(self, outbox: Path, calendar: WorkCalendar) -> None:
        self.outbox, self.calendar = outbox, calendar
        self.prints = Prints(outbox, calendar)
        self._forms: dict[str, dict[str, str] | None] = {}

    def case_file(self, archive_no: str) -> Path | None:
        return package_case(self.outbox, archive_no)

    def forms(self, archive_no: str) -> dict[str, str] | None:
        """Form key → fingerprint, from the package's own copy of its case; None for an unknown archive number."""
        if archive_no not in self._forms:
            forms = self.prints.forms(archive_no)
            self._forms[archive_no] = {k: qr.form_fingerprint(f) for k, f in forms.items()} if forms is not None else None
        return self._forms[archive_no]


def _problem(page: ScannedPage, packages: Packages) -> str | None:
    """Why this page cannot be filed, in Chinese, or None."""
    code = page.code
    where = page.where
    if page.problem:
        return f"{where}:{page.problem}"
    if code is None:
        return (f"{where}:二维码不是本系统打印的表单二维码。" if page.foreign else
                f"{where}:未能识别二维码(可能不是本系统打印的表单,或二维码被遮挡、污损、扫描太淡)。") + \
            "请核对此页;若是本系统的表单,请重新打印后签字再扫描。"
    if code.form_key == qr.COVER_KEY:
        return f"{where}:是档案号 {code.archive_no} 的案卷封面,不需要扫描归档。"
    forms = packages.forms(code.archive_no)
    if forms is None:
        return (f"{where}:发件夹中没有档案号 {code.archive_no} 的案卷(或案卷中没有输入副本)。"
                "请先把该案卷放入收件夹成卷,再把此页重新放入扫描件文件夹。")
    if code.form_key not in forms:
        return f"{where}:档案号 {code.archive_no} 的案卷中没有{qr.form_label(code.form_key)}。请核对此页属于哪个案卷。"
    if code.page == qr.UNKNOWN_PAGE:
        return (f"{where}:是 Word 版打印的{qr.form_label(code.form_key)},二维码不含页码。"
                "请打印 PDF 版(documents 文件夹中)签字后再扫描。")
    if code.fingerprint != forms[code.form_key]:
        return (f"{where}:是档案号 {code.archive_no} {qr.form_label(code.form_key)}的旧版打印件(案卷内容已改动)。"
                "请打印发件夹中最新的表单,签字盖章后再扫描。")
    return None


def _pdf_of(pages: list[pikepdf.Page]) -> bytes:
    """The pages copied as they are (images untouched, /Rotate kept)."""
    out = pikepdf.new()
    out.pages.extend(pages)
    buf = io.BytesIO()
    out.save(buf, deterministic_id=True)
    return buf.getvalue()


@dataclass
class SourcePage:
    """One page of a form, from this scan or from the waiting pages of earlier scans."""

    source: str
    number: int
    pdf: pikepdf.Pdf  # kept open: a page is only usable while its PDF is
    index: int
    photo: int | None = None  # the photo this page was made flat from, as a page of `pdf`
    ink: PageInk | None = None  # its ink check, made as it was read

    @property
    def page(self) -> pikepdf.Page:
        return self.pdf.pages[self.index]


def _waiting_dir(outbox: Path, archive_no: str) -> Path:
    return store_dir(outbox, archive_no) / WAITING


def _waiting_stem(code: qr.PageCode, page: int) -> str:
    """annex3.<fingerprint>.001-002: page 1 of 2 (the total is in the name: a page printed as 1 of 2 never stands
    in for a page 1 of 1)."""
    return f"{code.form_key}.{code.fingerprint}.{page:03d}-{code.pages:03d}"


def _waiting_records(folder: Path, pattern: str = "*.json") -> list[tuple[Path, dict[str, Any]]]:
    """The waiting pages' records whose fields are what a page code can say (a record written from a forged or
    damaged code by an earlier version is left out: it must not make `status` print a 3,000,000-page form)."""
    found: list[tuple[Path, dict[str, Any]]] = []
    if not folder.is_dir():  # most forms come whole: nothing waits (a glob of a missing folder costs more)
        return found
    for meta in sorted(folder.glob(pattern)):
        try:
            record = json.loads(meta.read_text(encoding="utf-8"))
            code = qr.PageCode(str(record["archive_no"]), str(record["form_key"]), int(record["page_of_form"]),
                               int(record["pages_of_form"]), meta.stem.split(".")[1])
        except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
            continue
        if qr.parse(code.text) == code and code.page != qr.UNKNOWN_PAGE:
            found.append((meta, {**record, "archive_no": code.archive_no, "form_key": code.form_key,
                                 "page_of_form": code.page, "pages_of_form": code.pages}))
    return found


def _waiting_pages(outbox: Path, code: qr.PageCode) -> dict[int, SourcePage]:
    found: dict[int, SourcePage] = {}
    folder = _waiting_dir(outbox, code.archive_no)
    for meta, record in _waiting_records(folder, f"{code.form_key}.{code.fingerprint}.*.json"):
        if record["pages_of_form"] == code.pages and meta.with_suffix(".pdf").is_file():
            pdf = pikepdf.open(meta.with_suffix(".pdf"))
            found[record["page_of_form"]] = SourcePage(record["source"], int(record["page"]), pdf, 0,
                                                  1 if len(pdf.pages) > 1 else None)  # a photo's second page: the photo
    return found


def _keep_waiting(outbox: Path, code: qr.PageCode, page: SourcePage) -> None:
    """PDF first, then the JSON that makes it count: a crash between the two leaves no half page."""
    folder = _waiting_dir(outbox, code.archive_no)
    folder.mkdir(parents=True, exist_ok=True)
    stem = _waiting_stem(code, code.page)
    write_atomic(folder / f"{stem}.pdf", _pdf_of([page.page] + ([page.pdf.pages[page.photo]] if page.photo else [])))
    record = {"archive_no": code.archive_no, "form_key": code.form_key, "page_of_form": code.page,
              "pages_of_form": code.pages, "source": page.source, "page": page.number}
    write_atomic(folder / f"{stem}.json", json.dumps(record, ensure_ascii=False).encode())


def _drop_waiting(outbox: Path, code: qr.PageCode) -> None:
    """The waiting pages of this form, now filed: the JSON first, so that no PDF is left counting without it."""
    folder = _waiting_dir(outbox, code.archive_no)
    for meta, record in _waiting_records(folder, f"{code.form_key}.{code.fingerprint}.*.json"):
        if record["pages_of_form"] == code.pages:
            meta.unlink()
            meta.with_suffix(".pdf").unlink(missing_ok=True)


def _drop_outdated_waiting(outbox: Path, code: qr.PageCode, report: ScanReport) -> None:
    """Pages waiting from another print of this form (an earlier one, or one whose code gave another page total)
    can never complete it now: say so and stop waiting for them (the pages stay in their scanner file in the
    processed area)."""
    for meta, record in _waiting_records(_waiting_dir(outbox, code.archive_no), f"{code.form_key}.*.json"):
        if meta.stem.split(".")[1] == code.fingerprint and record["pages_of_form"] == code.pages:
            continue
        report.notes.append(f"旧版  {code.archive_no} {qr.form_label(code.form_key)}:{record['source']} 第{record['page']}页"
                            "是旧版打印件,不再等待它的其余页(原页仍在已处理的扫描件中)。")
        meta.unlink()
        meta.with_suffix(".pdf").unlink(missing_ok=True)


def waiting_forms(outbox: Path) -> list[str]:
    """For `status`: every form with some pages back but not all, e.g. '… 附件3:已收到第1页,缺第2页'."""
    groups: dict[tuple[str, str, int], list[int]] = {}
    for folder in sorted((outbox / SIGNED).glob(f"*/{WAITING}")):
        for _, r in _waiting_records(folder):
            groups.setdefault((r["archive_no"], r["form_key"], r["pages_of_form"]), []).append(r["page_of_form"])
    return [_missing_text(archive_no, key, sorted(pages), total) for (archive_no, key, total), pages in groups.items()]


def _missing_text(archive_no: str, key: str, have: list[int], total: int) -> str:
    missing = [i for i in range(1, total + 1) if i not in have]
    return (f"{archive_no} {qr.form_label(key)}(共{total}页):已收到第{'、'.join(map(str, have))}页,"
            f"缺第{'、'.join(map(str, missing))}页")


def _review(scan: ScanFile, troubles: list[tuple[ScannedPage, str]], review: Path, stem: str) -> Path:
    """The pages a clerk must look at, as one PDF, and why, in a review folder of their own (never an earlier
    one: a scanner reusing a file name gets stem-2, stem-3 …); returns the folder."""
    digest = _sha256(scan.path)
    folder = _review_folder(review, stem, digest)
    if folder.exists():
        return folder  # this very file's review, written before a crash
    numbers = list(dict.fromkeys(p.number for p, _ in troubles))  # a sheet's two halves are one page of the file
    text = [f"扫描件 {scan.path.name} 中有 {len(troubles)} 处无法自动归档,见 {REVIEW_PDF}(按原页序,共 {len(numbers)} 页):",
            ""]
    text += [reason for _, reason in troubles]
    text += ["", "处理后可把改好的页面重新扫描放入扫描件文件夹;此文件夹可在核对后删除。"]
    pages = [{"page": n, "reasons": [reason for p, reason in troubles if p.number == n]} for n in numbers]
    _write_review(folder, digest, {REVIEW_PDF: _pdf_of([scan.pdf.pages[n - 1] for n in numbers]),
                                   REASON_FILE: ("\n".join(text) + "\n").encode("utf-8-sig"),
                                   REVIEW_PAGES: json.dumps({"source": scan.path.name, "pages": pages},
                                                            ensure_ascii=False).encode()})
    return folder


def _review_folder(review: Path, stem: str, digest: str) -> Path:
    """review/stem, or stem-2, stem-3 …: the first that is free, or that already holds this file's review."""
    n = 1
    while True:
        folder = review / (stem if n == 1 else f"{stem}-{n}")
        if not folder.exists():
            return folder
        try:
            if (folder / SOURCE_FILE).read_text(encoding="ascii").strip() == digest:
                return folder
        except (OSError, ValueError):
            pass
        n += 1


def _write_review(folder: Path, digest: str, files: dict[str, bytes]) -> None:
    """Written aside and renamed into place: a review folder is whole or absent, and never replaces another."""
    staging = folder.with_name(f".{folder.name}.{os.getpid()}.part")
    shutil.rmtree(staging, ignore_errors=True)  # our own leftover from a killed run
    staging.mkdir(parents=True)
    for name, data in {**files, SOURCE_FILE: digest.encode()}.items():
        (staging / name).write_bytes(data)
    os.rename(staging, folder)  # fails, rather than replace it, if another process made the folder meanwhile


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _free_name(folder: Path, name: str) -> Path:
    """folder/name, or name-2, name-3 … when a scanner reused a file name."""
    target, n = folder / name, 1
    while target.exists():
        n += 1
        target = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
    return target


def _journal(outbox: Path, path: Path) -> Path:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    return outbox / SIGNED / JOURNAL / f"{digest}.json"


Rebuild = Callable[[list[Path]], list[str]]  # packages' input case files → Chinese lines saying what became of each


class PoolRebuild:
    """`scan-in`'s rebuilds: each package once, a task of its own on the process pool when there are several
    (`calendar`: the calendar file, if any). With `early` (the pool runs already: it read a long stack), a package
    whose forms are all filed is started at once (`begin`), while this process files the rest of the stack; the
    call then starts the others and collects every result, in the order asked. One package of a short stack is
    rebuilt here, where nothing is to be started. Should the pool break (a process killed), the packages it did
    not report are rebuilt here."""

    def __init__(self, outbox: Path, calendar: str | None, executor: Executor | None, early: bool = False) -> None:
        self.outbox, self.calendar, self.executor, self.early = outbox, calendar, executor, early
        self.started: dict[Path, Future[list[CaseResult]]] = {}

    def begin(self, case_file: Path) -> None:
        if self.early:
            self._start(case_file)

    def __call__(self, case_files: list[Path]) -> list[str]:
        from kunnan_docs.pipeline import process_case

        if len(case_files) > 1:
            for case_file in case_files:
                self._start(case_file)
        lines = []
        for case_file in case_files:
            started = self.started.pop(case_file, None)
            try:
                [result] = started.result() if started else [process_case(case_file, self.outbox, self._here)]
            except BrokenProcessPool:
                result = process_case(case_file, self.outbox, self._here)
            lines.append(_rebuilt_line(result))
        return lines

    def _start(self, case_file: Path) -> None:
        from kunnan_docs.batch import run_batch

        if self.executor is not None and case_file not in self.started:
            self.started[case_file] = self.executor.submit(run_batch, [str(case_file.resolve())],
                                                           str(self.outbox.resolve()), self.calendar, True)

    @cached_property
    def _here(self) -> WorkCalendar:
        """The calendar of the rebuilds made in this process: its file read once, not once a package."""
        from kunnan_docs.core.workcal import WorkCalendar as Calendar

        return Calendar(self.calendar)


def _rebuilt_line(result: CaseResult) -> str:
    return (f"已重新成卷  {result.folder}  结论:{result.label}" if result.outcome.published else
            f"重新成卷失败  {result.archive_no}:" + ";".join(result.messages))


def scan_in(files: list[Path], outbox: Path, calendar: WorkCalendar, rebuild: Rebuild, *,
            review: Path | None = None, processed: Path | None = None, executor: Executor | None = None) -> ScanReport:
    """Take scanner files: file their pages, move each file to the processed area, then rebuild what changed —
    each package once for the whole stack (and what a killed run had promised with it).

    `review` and `processed` default to 待核对/ and 已处理/ beside each file; `executor`, a process pool, reads long
    files' pages on its processes too."""
    report = ScanReport()
    file_scans(files, outbox, calendar, report, review=review, processed=processed, executor=executor,
               begin=rebuild.begin if isinstance(rebuild, PoolRebuild) else None)
    rebuild_pending(outbox, calendar, rebuild, report)
    return report


def file_scans(files: list[Path], outbox: Path, calendar: WorkCalendar, report: ScanReport, *,
               review: Path | None = None, processed: Path | None = None, executor: Executor | None = None,
               begin: Callable[[Path], None] | None = None) -> None:
    """File each scanner file's pages and move it to the processed area; the rebuilds it calls for are journaled
    for `rebuild_pending` (the watcher runs them once no worker is building those archive numbers).

    `begin` is given the case file of each package whose forms in the last file are all filed, as soon as they
    are: its rebuild may start then (it is journaled all the same, and a package of the earlier files only is
    started by `rebuild_pending`), so that each package is rebuilt once for the whole stack. A run killed before
    the journal finds the scanner file in place, and files and rebuilds its pages again."""
    packages = Packages(outbox, calendar)
    for path in files:
        done_area = processed or path.parent / PROCESSED
        archives = _take(path, outbox, packages, review or path.parent / REVIEW, done_area, report, executor,
                         begin if path == files[-1] else None)
        journal = _journal(outbox, path)
        journal.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(journal, json.dumps({"file": str(path), "archives": sorted(archives)},
                                          ensure_ascii=False).encode())
        if path.exists():  # a file sent to review whole has moved already
            done_area.mkdir(parents=True, exist_ok=True)
            shutil.move(path, _free_name(done_area, path.name))


def pending_rebuilds(outbox: Path) -> dict[Path, list[str]]:
    """Journals of filed scanner files whose rebuilds are not done, with their archive numbers (a scanner file
    still in place, its filing interrupted, is simply read again later)."""
    found = {}
    for journal in sorted((outbox / SIGNED / JOURNAL).glob("*.json")):
        record = json.loads(journal.read_text(encoding="utf-8"))
        if not Path(record["file"]).exists():
            found[journal] = record["archives"]
    return found


def rebuild_pending(outbox: Path, calendar: WorkCalendar, rebuild: Rebuild, report: ScanReport,
                    busy: Collection[str] = ()) -> None:
    """Rebuild what the journals call for, each archive number once however many files named it, then drop them;
    a journal naming an archive number in `busy` (being built elsewhere) waits for a later call, so that two
    builders never race on one package."""
    ready = {journal: archives for journal, archives in pending_rebuilds(outbox).items()
             if not set(archives) & set(busy)}
    archives = sorted(set().union(*ready.values()))
    if archives:
        _rebuild_all(archives, Packages(outbox, calendar), rebuild, report)
    for journal in ready:
        journal.unlink()


def _rebuild_all(archives: list[str], packages: Packages, rebuild: Rebuild, report: ScanReport) -> None:
    case_files = []
    for archive_no in archives:
        with publishing(packages.outbox, archive_no):  # not while a rebuild begun early puts its package in place
            case_file = packages.case_file(archive_no)
        if case_file is None:
            report.notes.append(f"未重新成卷  {archive_no}:案卷中没有输入副本。请把该案卷重新放入收件夹成卷。")
            continue
        case_files.append(case_file)
        report.rebuilt.append(archive_no)
    if case_files:
        report.notes += rebuild(case_files)


def _take(path: Path, outbox: Path, packages: Packages, review: Path, processed: Path, report: ScanReport,
          executor: Executor | None = None, begin: Callable[[Path], None] | None = None) -> set[str]:
    """File one scanner file's pages; returns the archive numbers whose packages must be rebuilt (each given to
    `begin`, with its case file, once its forms are filed)."""
    from kunnan_docs.scan.pages import read_scan

    stem = Path(_free_name(processed, path.name).name).stem  # the name it will have there names its review folder
    try:
        scan = read_scan(path, executor, packages.prints)
    except UNREADABLE as exc:
        _review_whole(path, review, stem, str(exc) if isinstance(exc, CaseRejected) else
                      f"扫描件 {path.name} 无法读取({type(exc).__name__})。", report)
        return set()
    troubles: list[tuple[ScannedPage, str]] = []
    groups: dict[tuple[str, str, str, int], dict[int, SourcePage]] = {}
    for page in scan.pages:
        if page.blank:
            report.blank.append((path.name, page.number))
            continue
        if reason := _problem(page, packages):
            troubles.append((page, reason))
            continue
        code = page.code
        assert code is not None
        group = groups.setdefault((code.archive_no, code.form_key, code.fingerprint, code.pages), {})
        if code.page in group:
            report.notes.append(f"重复  {path.name} {page.where}与第{group[code.page].number}页是同一页"
                                f"({code.archive_no} {qr.form_label(code.form_key)}第{code.page}页),只归档一次。")
            continue
        group[code.page] = SourcePage(path.name, page.number, scan.pdf, page.index,
                                      page.number - 1 if page.photo else None, page.ink)
    blanks = [n for name, n in report.blank if name == path.name]
    if blanks:
        report.notes.append(f"空白页  {path.name} 第{'、'.join(map(str, blanks))}页没有二维码,几乎没有字迹"
                            "(双面扫描的背面),已略过,不需要处理。")
    if troubles:
        folder = _review(scan, troubles, review, stem)
        report.notes.append(f"待核对  {path.name} 中 {len(troubles)} 处无法归档,见 {folder / REASON_FILE}")
        report.review.append(folder)
    archives: set[str] = set()
    ordered = sorted(groups.items())
    for n, ((archive_no, key, fp, total), pages) in enumerate(ordered):
        if file_form(outbox, qr.PageCode(archive_no, key, 0, total, fp), pages, path.name, report):
            archives.add(archive_no)
        last_of_package = n + 1 == len(ordered) or ordered[n + 1][0][0] != archive_no
        if begin and last_of_package and archive_no in archives and (case_file := packages.case_file(archive_no)):
            begin(case_file)
    return archives


def _keep_read_ink(original: SignedOriginal, pages: list[SourcePage]) -> None:
    """The ink checks made as the pages were read, kept beside the original as its first build would keep them
    (so the rebuild reads them): only when every page was checked against one print."""
    inks = [p.ink for p in pages]
    if not all(inks) or len({(i.print_sha256, json.dumps(i.areas)) for i in inks if i}) != 1:
        return
    first = inks[0]
    assert first is not None
    keep_ink(ink_record(original.pdf), ink_key(original.sha256, first.print_sha256, first.areas),
             [flag for i in inks if i for flag in i.flags])


def _review_whole(path: Path, review: Path, stem: str, reason: str, report: ScanReport) -> None:
    """A file that is no readable scan at all moves whole into a review folder of its own, with its reason."""
    digest = _sha256(path)
    folder = _review_folder(review, stem, digest)
    if not folder.exists():
        text = f"{reason}\n此文件无法读取,已整个移到这里,请核对后重新扫描。\n"
        _write_review(folder, digest, {REASON_FILE: text.encode("utf-8-sig"), REVIEW_PAGES: json.dumps(
            {"source": path.name, "whole": True, "reason": reason}, ensure_ascii=False).encode()})
    shutil.move(path, _free_name(folder, path.name))
    report.notes.append(f"待核对  {path.name}:{reason} 已移到 {folder}")
    report.review.append(folder)


def file_form(outbox: Path, code: qr.PageCode, pages: dict[int, SourcePage], scan_name: str, report: ScanReport) -> bool:
    """File the form if all its pages are now there; True when its package must be rebuilt."""
    label = f"{code.archive_no} {qr.form_label(code.form_key)}"
    filed = original_in(store_dir(outbox, code.archive_no) / f"{code.form_key}.json")
    if filed and filed.fingerprint == code.fingerprint:
        if scan_name in filed.source.split("、"):
            return True  # filed by this very file before a crash: the rebuild may not have happened
        report.notes.append(f"重复  {label}已归档(来自 {filed.source}),{scan_name} 中的这些页不再归档。")
        return False
    _drop_outdated_waiting(outbox, code, report)
    have = {**pages, **_waiting_pages(outbox, code)}  # pages waiting from an earlier scan were there first
    if len(have) < code.pages:
        for number, page in pages.items():
            if have[number] is page:
                _keep_waiting(outbox, qr.PageCode(code.archive_no, code.form_key, number, code.pages,
                                                  code.fingerprint), page)
        missing = _missing_text(code.archive_no, code.form_key, sorted(have), code.pages)
        report.waiting.append(missing)
        report.notes.append(f"待补页  {missing}。补扫后放入扫描件文件夹即可。")
        return False
    ordered = [have[i] for i in range(1, code.pages + 1)]
    sources = [(p.source, p.number) for p in ordered]
    original = store_original(outbox, code.archive_no, code.form_key, [p.page for p in ordered], {
        "fingerprint": code.fingerprint, "source": "、".join(dict.fromkeys(p.source for p in ordered)),
        "pages": [p.number for p in ordered], "sources": [list(s) for s in sources],
        "filed": datetime.now().isoformat(timespec="seconds")},
        photos=[p.pdf.pages[p.photo] for p in ordered if p.photo is not None])
    _keep_read_ink(original, ordered)
    _drop_waiting(outbox, code)
    report.filed.append(Filed(code.archive_no, code.form_key, sources))
    return True
