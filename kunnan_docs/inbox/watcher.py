"""The watched inbox: cases dropped in by clerks are built, published and filed away; nothing is lost.

The loop (README "收件夹"): discovery finds jobs; tracking (tracking.py) settles them; a job is taken once
its inputs have not changed for the settle interval and a worker is free (never more queued than the
workers can take, so a stop is quick);
a worker runs the one pipeline on exactly the bytes the watcher hashed; the result is filed through the
ledger's journal. Write errors (full disk, permissions) and a broken installation pause the watcher and
keep the input; it retries at the rescan interval. Signed scans in the scanner folder are filed at once;
their packages are rebuilt here once no worker is building the same archive number. Events that do not
modify anything (our own reads) never wake it, and a scan looks only at the entries that changed, so work
grows linearly with cases.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from kunnan_docs.batch import published_if_current
from kunnan_docs.core.identity import archive_key
from kunnan_docs.core.labels import InboxStage, Outcome
from kunnan_docs.core.labels import label as word_for
from kunnan_docs.core.text import one_line
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.errors import ExitCode, UsageError, worst
from kunnan_docs.inbox.discovery import IGNORED_PREFIXES, Discovery, Job, signature
from kunnan_docs.inbox.faults import ENVIRONMENT_ERRORS, describe, fault_point
from kunnan_docs.inbox.filing import NOTE_FILE, REASON_FILE, Filing, reason_text
from kunnan_docs.inbox.ledger import Ledger
from kunnan_docs.inbox.lock import InboxLock
from kunnan_docs.inbox.tracking import Tracker
from kunnan_docs.inbox.worker import WorkResult, build_case, init_worker
from kunnan_docs.package.layout import LEDGER
from kunnan_docs.package.publish import recover
from kunnan_docs.pipeline import inputs_digest, process_case
from kunnan_docs.privacy import mask_text
from kunnan_docs.scan.filing import SCANNER_FOLDER
from kunnan_docs.scan.folder import ScannerFolder

log = logging.getLogger("kunnan.watch")


class _StoppedMidRead(logging.Filter):
    """watchdog 7 logs an error when its inotify thread is stopped during a read, which is how every stop of ours
    goes: not an error, and no clerk should read it in the terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


logging.getLogger("watchdog.observers.inotify").addFilter(_StoppedMidRead())
# What the watcher asks the kernel to report: changes only. Reads (opened, closed without writing, accessed), ours
# included, are never queued: at 10,000 cases they overflowed inotify's queue, and watchdog answers each overflow
# by walking the whole inbox again, which then took a core and grew with every case waiting in the inbox.
CHANGES = [FileCreatedEvent, DirCreatedEvent, FileModifiedEvent, DirModifiedEvent, FileMovedEvent, DirMovedEvent,
           FileDeletedEvent, DirDeletedEvent, FileClosedEvent]


@dataclass
class Config:
    inbox: Path
    outbox: Path
    processed: Path
    rejected: Path
    state: Path
    settle: float = 2.0
    timeout: float = 600.0
    poll: bool = False
    poll_interval: float = 1.0
    rescan: float = 30.0
    workers: int = max(1, os.cpu_count() or 1)
    once: bool = False
    calendar: str | None = None
    scanner: Path | None = None  # the scanner's folder (default inbox/扫描件/): signed forms coming home

    def check(self) -> None:
        inbox = self.inbox.resolve()
        if not inbox.is_dir():
            raise UsageError(f"收件夹 {self.inbox} 不存在。请先建立该文件夹,或在命令中给出正确的收件夹。")
        for label, area in self.areas().items():
            resolved = area.resolve()
            if resolved == inbox or inbox in resolved.parents:
                raise UsageError(f"{label} {area} 在收件夹 {self.inbox} 里面,会被当成新案卷反复处理。"
                                 "请把它放到收件夹外面。")

    def areas(self) -> dict[str, Path]:
        return {"发件夹": self.outbox, "已处理区": self.processed, "退回区": self.rejected, "状态文件夹": self.state}

    def check_same_drive(self) -> None:
        """Inputs are moved by renaming (atomic, nothing copied): processed/ and rejected/ must be on the inbox's drive."""
        device = os.stat(self.inbox).st_dev
        for label, area in (("已处理区", self.processed), ("退回区", self.rejected)):
            if os.stat(area).st_dev != device:
                raise UsageError(f"{label} {area} 与收件夹 {self.inbox} 不在同一个磁盘上,文件无法原样移过去。"
                                 "请把它放在收件夹旁边(默认位置),或用 --processed/--rejected 指定同一磁盘上的文件夹。")


@dataclass
class Running:
    job: Job
    case_id: int
    archive_no: str | None
    digest: str
    generation: int


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=dict)
    fault: ExitCode | None = None  # --once stopped by a fault no case is to blame for

    def add(self, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1

    @property
    def exit_code(self) -> ExitCode:
        if self.fault is not None:
            return self.fault
        outcomes = {o.value: o.exit_code for o in Outcome}
        return worst(ExitCode.INCOMPLETE if s == InboxStage.WAITING else outcomes.get(s, ExitCode.OK) for s in self.counts)


class _Events(FileSystemEventHandler):
    """Marks the inbox entries an event touched (the observer reports CHANGES only)."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self.inbox = os.path.abspath(watcher.cfg.inbox)

    def on_any_event(self, event: FileSystemEvent) -> None:
        touched = False
        for path in (event.src_path, getattr(event, "dest_path", "")):
            rel = os.path.relpath(os.fsdecode(path), self.inbox) if path else ".."
            name = rel.split(os.sep, 1)[0]
            if name == self.watcher.scanner_name:
                touched = True  # the scanner folder is read by its own consumer, not as a case
            elif name not in (".", "..") and not name.startswith(IGNORED_PREFIXES):
                self.watcher.tracker.mark_dirty(name)
                touched = True
        if touched:
            self.watcher.wake.set()


class Watcher:
    def __init__(self, config: Config) -> None:
        self.cfg = config
        self.ledger = Ledger(config.state / LEDGER, config.inbox)
        self.discovery = Discovery(config.inbox)
        self.filing = Filing(config.inbox, self.ledger)
        self.deferred: dict[str, list[str]] = {}  # by archive_key: a build or rebuild of that number is under way
        self._reported: dict[str, str] | None = None  # the unclaimed entries last written to the ledger
        self.running: dict[Future[WorkResult], Running] = {}
        self.crashes: dict[str, int] = {}
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.tally = Tally()
        self.pool: ProcessPoolExecutor | None = None
        self.generation = 0
        self.restarts: list[float] = []
        self.next_full_scan = 0.0
        self.paused_until = 0.0
        self.pause_message = ""
        self.filing_pending = True  # finish interrupted filings before anything else
        scanner = config.scanner or config.inbox / SCANNER_FOLDER
        self.scanner = ScannerFolder(scanner, config.outbox, WorkCalendar(config.calendar), self._rebuild,
                                     settle=config.settle)
        inside = scanner.resolve().parent == config.inbox.resolve()
        self.scanner_name = scanner.name if inside else None  # never looked at as a case
        self.tracker = Tracker(self.discovery, config.settle, config.timeout, skip=self.scanner_name)

    # -- life cycle -------------------------------------------------------------------------------
    def run(self) -> ExitCode:
        observer = self._observe()
        self._start_pool()
        fault_point("pool-started")
        log.info(f"开始监视收件夹 {self.cfg.inbox}(发件夹 {self.cfg.outbox},"
                 f"{'轮询' if self.cfg.poll else '事件'}模式,{self.cfg.workers} 个并行)")
        try:
            started = False
            while True:
                now = time.monotonic()
                self.wake.wait(timeout=self._next_wake(now) if started else 0)
                self.wake.clear()
                self._collect()
                if self.stop.is_set():
                    if not self.running:
                        break
                    continue
                now = time.monotonic()
                if now >= self.paused_until:
                    try:
                        if not started:
                            self._start_up()
                            started = True
                        self._work(now)
                    except ENVIRONMENT_ERRORS as exc:
                        self.filing_pending = True  # a refusal may be journaled, half filed: finished first, not redone
                        self._pause(describe(exc, self.cfg.areas()), ExitCode.WRITE_FAILED)
                if self.cfg.once and started and self._settled_out():
                    break
        finally:
            observer.stop()
            observer.join(timeout=5)
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
            self.ledger.close()
        for _ in self.tracker.waiting:
            self.tally.add(InboxStage.WAITING)
        if not self.cfg.once:
            log.info("监视结束。")
            return ExitCode.OK  # a service stopped on request; per-case results are in the ledger
        log.info(f"处理完毕:{self._summary()}")
        return self.tally.exit_code

    def _observe(self) -> Any:
        observer = PollingObserver(timeout=self.cfg.poll_interval) if self.cfg.poll else Observer()
        observer.schedule(_Events(self), str(self.cfg.inbox), recursive=True, event_filter=CHANGES)
        try:
            observer.start()
        except OSError as exc:  # e.g. the system's limit of watched folders: rescans still find everything
            log.info(f"无法接收文件事件({exc.strerror}),改为每 {self.cfg.rescan:g} 秒扫描一次收件夹。")
        return observer

    def _start_up(self) -> None:
        for note in recover(self.cfg.outbox):
            log.info(note)
        for row in self.ledger.by_status(InboxStage.BUILDING):
            self.ledger.update(row.id, status=InboxStage.WAITING, reason="上次成卷被中断,将重新成卷")
            log.info(f"{row.archive_no or row.source} 上次成卷被中断,将重新成卷")

    def _start_pool(self) -> None:
        self.pool = ProcessPoolExecutor(self.cfg.workers, mp_context=get_context("spawn"), initializer=init_worker,
                                        initargs=(os.getpid(),))
        self.generation += 1
        with _signals_held():  # workers are born deaf to SIGINT/SIGTERM, before they import anything
            for _ in range(self.cfg.workers):  # start every worker now, not when the first clerk is waiting
                self.pool.submit(int)

    def _pool_broke(self, generation: int) -> None:
        """Restart a broken pool once, however many builds it took down with it."""
        if generation != self.generation or self.stop.is_set():
            return
        assert self.pool is not None
        self.pool.shutdown(wait=False, cancel_futures=True)
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < 60] + [now]
        if len(self.restarts) > 3:
            self._pause("成卷进程在一分钟内多次意外退出(可能是内存不足)。案卷仍留在收件夹中;监视程序稍后重试。",
                        ExitCode.INTERNAL)
        log.info("成卷进程意外退出,已重新启动成卷进程。")
        self._start_pool()

    def _summary(self) -> str:
        """The outcomes of a --once run, in the words used everywhere (core.labels)."""
        return ",".join(f"{word_for(k)} {v} 份" for k, v in sorted(self.tally.counts.items())) or "收件夹为空"

    def _settled_out(self) -> bool:
        """--once is done when every case left is waiting for an attachment that has not come."""
        return not (self.running or self.deferred or self.filing_pending) and self.tracker.idle() \
            and self.next_full_scan > 0 and self.scanner.next_due() is None and not self.scanner.pending

    def _pause(self, message: str, code: ExitCode) -> None:
        """No case is at fault: keep every input, say why in Chinese, try again at the rescan interval."""
        self.paused_until = time.monotonic() + self.cfg.rescan
        self.tracker.look_again_at_all()
        if message != self.pause_message:
            log.info(mask_text(message))
            self.pause_message = message
        if self.cfg.once:
            self.tally.fault = code
            self.request_stop()

    def settling(self) -> list[str]:
        """Cases seen but not yet taken because their files are still changing (safe to call from another thread)."""
        return self.tracker.settling()

    def request_stop(self, *_: object) -> None:
        if not self.stop.is_set():
            log.info("收到停止信号:完成正在处理的案卷后退出。")
        self.stop.set()
        self.wake.set()

    def _next_wake(self, now: float) -> float:
        if now < self.paused_until:  # results still wake us through their callbacks
            return min(self.paused_until - now, self.cfg.rescan)
        deadlines = [self.next_full_scan, now + self.cfg.rescan]
        if (scanner_due := self.scanner.next_due()) is not None:
            deadlines.append(scanner_due)
        deadlines += self.tracker.deadlines()
        if self.tracker.ready and len(self.running) < self.cfg.workers:
            return 0
        return min(max(min(deadlines) - now, 0.01), self.cfg.rescan)

    # -- scanning and settling --------------------------------------------------------------------
    def _work(self, now: float) -> None:
        if self.filing_pending:
            for case_id in self.filing.finish_pending():
                log.info(f"已完成上次中断时未完成的文件移动(记录 {case_id})")
            self.filing_pending = False
        if now >= self.next_full_scan:
            self._scan(None, now)
            self.next_full_scan = now + self.cfg.rescan
        elif dirty := self.tracker.take_dirty():
            self._scan(dirty, now)
        self._settle(now)
        for line in self.scanner.poll(now):
            log.info(line)
        self._rebuild_signed()
        self._submit(now)

    def _rebuild_signed(self) -> None:
        """Packages that received signed originals are rebuilt here, never while a worker builds the same archive
        number (nor is one handed to a worker while its rebuild waits: `_take`), so two builders never race on one
        package; the loop goes on meanwhile, the rebuild being journaled."""
        building = self._building()
        busy = {r.archive_no for r in self.running.values() if r.archive_no}
        for line in self.scanner.rebuild(busy | {a for a in self.scanner.pending if archive_key(a) in building}):
            log.info(line)
        waiting = building | {archive_key(a) for a in self.scanner.pending}
        for key in [k for k in self.deferred if k not in waiting]:
            self.tracker.ready.extend(self.deferred.pop(key))

    def _building(self) -> set[str]:
        """The archive numbers (compared as core.identity.archive_key) a worker is building."""
        return {archive_key(r.archive_no) for r in self.running.values() if r.archive_no}

    def _rebuild(self, case_file: Path) -> str:
        """A package that received signed originals, rebuilt from its own input/ copy."""
        result = process_case(case_file, self.cfg.outbox, WorkCalendar(self.cfg.calendar))
        return f"已重新成卷  {result.archive_no}  结论:{result.label}" if result.outcome.published else \
            f"重新成卷失败  {result.archive_no}:" + ";".join(result.messages)

    def _scan(self, names: set[str] | None, now: float) -> None:
        """Look again at the given inbox entries (all of them when None); a full scan also reports the unclaimed."""
        self.tracker.scan(names, now, busy={r.job.entry.name for r in self.running.values()})
        if names is None:
            self._report_unclaimed()

    def _report_unclaimed(self) -> None:
        """After a full scan (not mid-filing, when a loose case's scans folder is briefly left alone)."""
        current = self.tracker.unclaimed_now(set().union(*(r.job.needs() for r in self.running.values())))
        if current != self._reported:
            for name in sorted(current.keys() - (self._reported or {}).keys()):
                log.info(f"收件夹中的 {mask_text(name)} 无法处理:{mask_text(current[name])}")
            self.ledger.set_unclaimed(current)
            self._reported = current

    def _settle(self, now: float) -> None:
        """Record and file what settling found: refusals, cases whose attachments never came, waits."""
        settled = self.tracker.settle(now)
        for job in settled.refused:
            assert job.refusal is not None
            case_id = self.ledger.start(job.source, InboxStage.WAITING)
            log.info(f"{mask_text(job.source)} 退回:{mask_text(job.refusal)}")
            self._reject(job, case_id, [job.refusal])
        for job in settled.timed_out:
            case_id = self.ledger.start(job.source, InboxStage.WAITING)
            self._reject(job, case_id, [f"等待 {int(self.cfg.timeout)} 秒后,以下附件仍未放入收件夹:"
                                        f"{'、'.join(job.missing)}。"
                                        "请把这些文件和案卷文件放在同一个案卷文件夹里,再重新放入收件夹。"])
        for job in settled.waiting:
            reason = f"等待附件:{'、'.join(job.missing)}"
            row = self.ledger.open_row(job.source)
            if not row or row.reason != mask_text(reason):
                self.ledger.start(job.source, InboxStage.WAITING, reason)
                log.info(f"{mask_text(job.source)} 等待附件 {len(job.missing)} 个")

    # -- taking -----------------------------------------------------------------------------------
    def _submit(self, now: float) -> None:
        """Hand settled cases to free workers only: what is not yet handed over stops at once on SIGTERM."""
        while self.tracker.ready and len(self.running) < self.cfg.workers and not self.stop.is_set() \
                and now >= self.paused_until:
            name = self.tracker.ready.popleft()
            job = self.tracker.tracked.get(name)
            if job is None or name in self.tracker.unsettled or self.tracker.changed(name, job, now):
                continue
            self._take(name, job)

    def _take(self, name: str, job: Job) -> None:
        assert job.case_file is not None and job.raw is not None
        try:
            digest = inputs_digest(job.case_file.parent, job.inputs)
        except FileNotFoundError:
            self.tracker.mark_dirty(name)  # vanished meanwhile: look again
            return
        if self.tracker.changed(name, job, time.monotonic()):  # written to while being hashed
            return
        archive_no = job.archive_no
        label = mask_text(archive_no or job.source)
        key = archive_key(archive_no) if archive_no else None
        if key and (key in self._building() or any(archive_key(a) == key for a in self.scanner.pending)):
            self.deferred.setdefault(key, []).append(name)  # taken when that build or rebuild is done
            return
        duplicate = self.ledger.finished_with_hash(digest)
        case_id = self.ledger.start(job.source, InboxStage.BUILDING, None, content_hash=digest, archive_no=archive_no)
        self.tracker.untrack(name)
        if duplicate:
            note = (f"与 {duplicate.updated} 已成卷的内容完全相同,未重新成卷。案卷仍在发件夹 "
                    f"{', '.join(duplicate.outputs) or ''} 中。")
            log.info(f"{label} 重复提交,未重新成卷")
            self._file(job, case_id, self.cfg.processed, InboxStage.DUPLICATE, NOTE_FILE, [note], duplicate.outputs)
            return
        published = published_if_current(job.case_file, self.cfg.outbox)
        if published and signature(job) == job.signature:  # published before a crash or a write error
            log.info(f"{label} 中断前已发布到 {published.folder},补做归档")
            self._file(job, case_id, self.cfg.processed, published.outcome, None, [], [str(published.folder)])
            return
        fault_point("taken")
        log.info(f"{label} 开始成卷")
        future = self._submit_build(job)
        self.running[future] = Running(job, case_id, archive_no, digest, self.generation)
        future.add_done_callback(lambda _: self.wake.set())  # file the result away at once

    def _submit_build(self, job: Job) -> Future[WorkResult]:
        args = (build_case, str(job.case_file), job.raw, str(self.cfg.outbox), self.cfg.calendar)
        assert self.pool is not None
        try:
            return self.pool.submit(*args)
        except BrokenProcessPool:  # broke while idle (a worker killed): restart once and hand over again
            self._pool_broke(self.generation)
            return self.pool.submit(*args)

    # -- results ----------------------------------------------------------------------------------
    def _collect(self) -> None:
        for future in [f for f in self.running if f.done()]:
            run = self.running.pop(future)
            try:
                result = future.result()
            except BrokenProcessPool:
                self._pool_broke(run.generation)
                result = self._crashed(run)
                if result is None:
                    continue
            try:
                self._settle_result(run, result)
            except ENVIRONMENT_ERRORS as exc:
                self.filing_pending = True
                self.tracker.retry_later(run.job)
                self.tracker.mark_dirty(run.job.entry.name)  # perhaps filed in part: look again
                self._pause(describe(exc, self.cfg.areas()), ExitCode.WRITE_FAILED)

    def _crashed(self, run: Running) -> WorkResult | None:
        source = run.job.source
        self.crashes[source] = self.crashes.get(source, 0) + 1
        if self.crashes[source] < 2 or self.stop.is_set():  # perhaps another case's crash: try this one again
            self.ledger.update(run.case_id, status=InboxStage.WAITING, reason="成卷进程意外退出,将重试")
            self.tracker.retry_later(run.job)
            return None
        return WorkResult(Outcome.REJECTED, messages=["成卷进程两次意外退出(可能是附件过大或损坏)。请检查附件后重新提交。"])

    def _settle_result(self, run: Running, result: WorkResult) -> None:
        job, label = run.job, mask_text(run.archive_no or run.job.source)
        if result.fault == "config":
            self.ledger.update(run.case_id, status=InboxStage.WAITING, reason="配置或模板有问题,修好后自动重试")
            self.tracker.retry_later(job)
            self._pause(f"配置或模板有问题,案卷未退回、仍留在收件夹中:{result.messages[0]}", ExitCode.CONFIG)
            return
        if result.fault:
            assert result.error is not None
            self.ledger.update(run.case_id, status=InboxStage.WAITING, reason="写入失败,将重试")
            self.tracker.retry_later(job)
            self._pause(describe(result.error, self.cfg.areas()), ExitCode.WRITE_FAILED)
            return
        if signature(job) != job.signature or (result.input_digest and result.input_digest != run.digest):
            # written to during the build: the package (if any) is not of the bytes now there, so build again
            log.info(f"{label} 在成卷期间被修改,将重新成卷")
            self.ledger.update(run.case_id, status=InboxStage.WAITING, reason="案卷在成卷期间被修改,将重新成卷")
            self.tracker.retry_later(job)
            self.tracker.mark_dirty(job.entry.name)  # read again: its new content is what gets built
            return
        fault_point("collected")
        if result.outcome == Outcome.REJECTED:
            codes = f"({'、'.join(result.codes)})" if result.codes else ""
            log.info(f"{label} 退回:{len(result.messages)} 个问题{codes}")
            self._reject(job, run.case_id, result.messages)
        else:
            log.info(f"{label} 已发布到 {result.folder}({result.label})")
            self._file(job, run.case_id, self.cfg.processed, str(result.outcome), None, [], [str(result.folder)])

    def _reject(self, job: Job, case_id: int, reasons: list[str]) -> None:
        self._file(job, case_id, self.cfg.rejected, Outcome.REJECTED, REASON_FILE, reason_text(reasons), [],
                   reason="\n".join(reasons))

    def _file(self, job: Job, case_id: int, area: Path, status: str, note_name: str | None, note: list[str],
              outputs: list[str], reason: str | None = None) -> None:
        self.filing.file_away(job, case_id, area, status, note_name, note, outputs, reason)
        self.tally.add(status)
        if self.pause_message:
            log.info("问题已解决,继续处理。")
            self.pause_message = ""


@contextmanager
def _signals_held() -> Iterator[None]:
    """Block SIGINT and SIGTERM while worker processes are born: they inherit the mask through exec, so a stop
    signal sent to the whole group cannot kill one before it ignores such signals (worker.init_worker); one
    arriving meanwhile reaches the watcher as soon as the mask is lifted."""
    stops = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _OneLine(logging.Formatter):
    """Every log line is one line: the control characters of an entry's name (a newline, an ESC) are escaped here,
    for every message at once, so that none forges a line in watch.log or reaches the terminal raw."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)


def setup_logging(state: Path) -> None:
    state.mkdir(parents=True, exist_ok=True)
    logging.getLogger("watchdog").setLevel(logging.ERROR)  # its shutdown chatter is not for clerks
    log.setLevel(logging.INFO)
    log.handlers.clear()
    fmt = _OneLine("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
    for handler in (logging.StreamHandler(), logging.FileHandler(state / "watch.log", encoding="utf-8")):
        handler.setFormatter(fmt)
        log.addHandler(handler)


@contextmanager
def prepared(config: Config) -> Iterator[Watcher]:
    """A watcher ready to run, owning the inbox until the block ends (used by `watch` and by `serve`)."""
    config.check()
    for area in (config.outbox, config.processed, config.rejected, config.state):
        area.mkdir(parents=True, exist_ok=True)
    config.check_same_drive()
    setup_logging(config.state)
    with InboxLock(config.inbox):
        yield Watcher(config)


def watch(config: Config) -> ExitCode:
    with prepared(config) as watcher:
        signal.signal(signal.SIGINT, watcher.request_stop)
        signal.signal(signal.SIGTERM, watcher.request_stop)
        return watcher.run()
