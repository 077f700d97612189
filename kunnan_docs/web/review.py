"""扫描入卷 and 待核对 at the desk: scanner files from the browser go through scan-in itself (scan.filing.scan_in), the
review area's pages are dealt with by scan.review, and 请核对 notes are confirmed in package.checked. A library
without a web framework: app.py maps requests onto `ScanDesk`; every action is audited, every rebuild is a ledger
row (source 工作台), as for the desk's other writes.

The scanner files land in a hidden folder of the scanner folder (`扫描件/.工作台/`, which the watcher skips) under
names we make; scan-in then moves them to 已处理/ and writes their review folders into 待核对/ of that same scanner
folder, the one the watcher uses, so that the desk's 待核对 page shows the pages of both.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium

from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.errors import LinkFound, UsageError
from kunnan_docs.forms import qr
from kunnan_docs.inbox.ledger import Ledger
from kunnan_docs.package.checked import Checked, checked, confirm
from kunnan_docs.package.layout import LEDGER
from kunnan_docs.package.nolinks import open_below
from kunnan_docs.package.outbox import Published
from kunnan_docs.package.pageimage import TooLarge, check_limits, images_of
from kunnan_docs.pipeline import CaseResult, process_case
from kunnan_docs.scan.filing import PROCESSED, REVIEW_PDF, Rebuild, ScanReport, scan_in
from kunnan_docs.scan.review import (
    Handled,
    ReviewPage,
    assign,
    discard,
    folder_pages,
    name_files,
    page_of,
    review_area,
    set_blank,
    waiting_pages,
)
from kunnan_docs.web.casework import DESK_SOURCE, Casework
from kunnan_docs.web.security import audit
from kunnan_docs.web.uploads import MAX_FILES, Upload, shown, stream

STAGING = ".工作台"  # inside the scanner folder: hidden, so the watcher never takes a file the desk is filing
THUMB_SIDE = 1000  # pixels of a review page's image, its longer side, at most


@dataclass
class Rebuilt:
    archive_no: str
    label: str  # the package's new state, in Chinese
    ok: bool
    messages: list[str] = field(default_factory=list)


@dataclass
class ScanResult:
    """What 扫描入卷 did, for the page: no paths, the browser's file names."""

    filed: list[tuple[str, str, str]] = field(default_factory=list)  # archive number, form, where from
    rebuilt: list[Rebuilt] = field(default_factory=list)
    review: list[ReviewPage] = field(default_factory=list)
    whole: list[tuple[str, str]] = field(default_factory=list)  # a file that is no readable scan, and why
    waiting: list[str] = field(default_factory=list)  # forms still missing pages
    notes: list[str] = field(default_factory=list)  # duplicates, blank backs, outdated waiting pages


class ScanDesk:
    """The scanner's work at the desk over one outbox, its state folder and scanner folder."""

    def __init__(self, casework: Casework, scanner: Path, calendar: str | None = None) -> None:
        self.casework, self.scanner = casework, scanner
        self.outbox, self.state = casework.outbox, casework.state
        self.calendar = WorkCalendar(calendar)
        self._scanning = threading.Lock()  # one 扫描入卷 at a time: each takes what its staging folder holds

    # -- 扫描入卷 -----------------------------------------------------------------------------------------------
    def scan_in(self, uploads: list[Upload], user: str) -> ScanResult:
        """The files as scan-in takes them from the scanner folder: filed, moved to 已处理/, packages rebuilt. A file
        an earlier run staged but did not file (the desk stopped meanwhile) is filed with them."""
        if not uploads:
            raise UsageError("没有选择扫描件。请选择或拖入扫描仪保存的文件后再点“扫描入卷”。")
        if len(uploads) > MAX_FILES:
            raise UsageError(f"一次最多上传 {MAX_FILES} 个扫描件,这次选了 {len(uploads)} 个。请分几次上传。")
        staging = self.scanner / STAGING
        with self._scanning:
            names: dict[str, str] = {}
            stored: list[Path] = []
            try:
                for upload in uploads:
                    stored.append(stream(upload, staging))
                    names.setdefault(stored[-1].name, shown(upload.name))
            except BaseException:
                for path in stored:
                    path.unlink(missing_ok=True)
                raise
            files = sorted(p for p in staging.iterdir() if p.name.startswith("上传-") and p.is_file())
            rebuilt: list[CaseResult] = []
            report = scan_in(files, self.outbox, self.calendar, self._rebuild(user, rebuilt),
                             review=review_area(self.scanner), processed=self.scanner / PROCESSED)
            for folder in report.review:
                name_files(folder, names)
        result = _result(report, rebuilt, names)
        audit(self.state, user, "扫描入卷", files=[f"{names.get(f.name, f.name)} → {f.name}" for f in files],
              filed=[f"{a} {form}" for a, form, _ in result.filed], review=len(result.review) + len(result.whole),
              waiting=len(result.waiting), rebuilt=[f"{r.archive_no} {r.label}" for r in result.rebuilt])
        return result

    def _rebuild(self, user: str, results: list[CaseResult]) -> Rebuild:
        """Rebuilds one package at a time with the desk's other builds, each a ledger row."""
        def rebuild(case_files: list[Path]) -> list[str]:
            lines = []
            for case_file in case_files:
                with self.casework._builds:  # queued with the desk's other builds
                    result = process_case(case_file, self.outbox, self.calendar)
                results.append(result)
                ledger = Ledger(self.state / LEDGER)
                try:
                    ledger.record(DESK_SOURCE, result.outcome.value, user, None if result.outcome.published else
                                  "\n".join(result.messages), content_hash=result.input_digest or None,
                                  archive_no=result.archive_no or None,
                                  outputs=[str(result.folder)] if result.folder else [])
                finally:
                    ledger.close()
                lines.append(f"已重新成卷  {result.archive_no}  结论:{result.label}")
            return lines

        return rebuild

    # -- 待核对 -------------------------------------------------------------------------------------------------
    def pages(self) -> list[ReviewPage]:
        return waiting_pages(self.scanner)

    def image(self, folder: str, index: int) -> bytes:
        """A review page as PNG, its longer side at most THUMB_SIDE pixels; read without following links, its
        images checked against the scan limits before pdfium decodes them."""
        page_of(self.scanner, folder, index)
        try:
            with open_below(review_area(self.scanner), (folder, REVIEW_PDF)) as f:
                data = f.read()
        except (OSError, LinkFound):
            raise UsageError("这一页的图像无法打开(文件已移走或不是普通文件)。请刷新待核对页面。") from None
        try:
            with pikepdf.open(io.BytesIO(data)) as pdf:
                for image in images_of(pdf.pages[index - 1]):
                    check_limits(image)
            doc = pdfium.PdfDocument(data)
            try:
                page = doc[index - 1]
                width, height = page.get_size()
                scale = min(THUMB_SIDE / max(width, height, 1), 200 / 72)
                picture = page.render(scale=scale, may_draw_forms=False).to_pil()
            finally:
                doc.close()
        except TooLarge as exc:
            raise UsageError(f"这一页无法显示:{exc}") from None
        except (pikepdf.PdfError, pdfium.PdfiumError, IndexError, ValueError):
            raise UsageError("这一页已损坏,无法显示。请重新扫描这一页后上传,并把这一页作废。") from None
        buf = io.BytesIO()
        picture.convert("RGB").save(buf, "PNG", optimize=False)
        return buf.getvalue()

    def assign(self, folder: str, index: int, archive_no: str, form_key: str, form_page: int, user: str) -> Handled:
        rebuilt: list[CaseResult] = []
        done = assign(self.scanner, folder, index, self.outbox, self.calendar, archive_no, form_key, form_page, user,
                      self._rebuild(user, rebuilt))
        audit(self.state, user, "待核对指定案卷", folder=folder, page=index, archive_no=archive_no, form=form_key,
              form_page=form_page, rebuilt=[f"{r.archive_no} {r.label}" for r in rebuilt])
        return done

    def blank(self, folder: str, index: int, user: str) -> Handled:
        done = set_blank(self.scanner, folder, index, user)
        audit(self.state, user, "待核对空白页", folder=folder, page=index)
        return done

    def discard(self, folder: str, index: int, reason: str, user: str) -> Handled:
        done = discard(self.scanner, folder, index, reason, user)
        audit(self.state, user, "待核对作废", folder=folder, page=index, reason=" ".join(reason.split()))
        return done

    # -- 请核对 -------------------------------------------------------------------------------------------------
    def notes(self, pkg: Published) -> list[tuple[str, Checked | None]]:
        return checked(self.outbox, pkg.archive_no, list(pkg.listing.notes))

    def confirm(self, pkg: Published, number: int, user: str) -> Checked:
        """已核对: the package's note `number` (from 1, as listed on its page)."""
        notes = list(pkg.listing.notes)
        if not 1 <= number <= len(notes):
            raise UsageError("这份案卷没有这条请核对(案卷可能刚重新成卷)。请刷新案卷页后再确认。")
        done = confirm(self.outbox, pkg.archive_no, notes[number - 1], user)
        audit(self.state, user, "已核对", archive_no=pkg.archive_no, note=number)
        return done


def _result(report: ScanReport, rebuilt: list[CaseResult], names: dict[str, str]) -> ScanResult:
    def named(text: str) -> str:
        for ours, theirs in names.items():
            text = text.replace(ours, f"“{theirs}”")
        return text

    result = ScanResult()
    for f in report.filed:
        where = ";".join(f"{names.get(n, n)} 第{'、'.join(str(p) for m, p in f.sources if m == n)}页"
                         for n in dict.fromkeys(m for m, _ in f.sources))
        result.filed.append((f.archive_no, qr.form_label(f.form_key), where))
    for r in rebuilt:
        result.rebuilt.append(Rebuilt(r.archive_no, r.label, r.outcome.published,
                                      [] if r.outcome.published else r.messages))
    for folder in report.review:
        for page in folder_pages(folder):  # as the 待核对 page reads them
            page.reasons = [named(x) for x in page.reasons]
            if page.index == 0:
                result.whole.append((page.name, page.reasons[0]))
            else:
                result.review.append(page)
    result.waiting = list(report.waiting)
    result.notes = [named(n.split("  ", 1)[-1]) for n in report.notes
                    if n.startswith(("重复", "旧版", "空白页", "未重新成卷"))]
    return result
