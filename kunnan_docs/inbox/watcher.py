"""The watched inbox: cases dropped in by clerks are built, published and filed away; nothing is lost.

Convention (README "收件夹"): a case is either a folder in the inbox holding one *.json case file with
its scans, or a *.json file directly in the inbox whose attachments lie beside it (paths relative to the
inbox). A case is taken only when its case file and every attachment it names have stopped changing
for the settle interval. Then, in a worker process: validate → build → publish (atomic). Finally its
inputs move, journaled in the ledger, to processed/ or, with a reason file, to rejected/.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from kunnan_docs.core.rules import MISSING, attachment_path_problem
from kunnan_docs.errors import ExitCode, UsageError
from kunnan_docs.inbox.ledger import Ledger, family_key
from kunnan_docs.package.publish import recover

LOCK_NAME = ".kunnan-watch.lock"
REASON_FILE = "退回原因.txt"
NOTE_FILE = "处理说明.txt"
log = logging.getLogger("kunnan.watch")


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

    def check(self) -> None:
        inbox = self.inbox.resolve()
        if not inbox.is_dir():
            raise UsageError(f"收件夹 {self.inbox} 不存在。请先建立该文件夹,或在命令中给出正确的收件夹。")
        for label, area in (("发件夹", self.outbox), ("已处理区", self.processed), ("退回区", self.rejected),
                            ("状态文件夹", self.state)):
            resolved = area.resolve()
            if resolved == inbox or inbox in resolved.parents:
                raise UsageError(f"{label} {area} 在收件夹 {self.inbox} 里面,会被当成新案卷反复处理。"
                                 "请把它放到收件夹外面。")


@dataclass
class Candidate:
    """A case seen in the inbox: its files, what is missing, and since when nothing changed."""

    source: str  # the case file relative to the inbox
    case_file: Path
    top: Path  # what moves away afterwards: the case folder, or (loose case) the case file itself
    attachments: list[Path]
    missing: list[str]
    data: dict[str, Any] | None  # None while the case file is not (yet) a readable JSON object
    refusal: str | None = None  # why this entry cannot be a case as it stands (moved to rejected/ once settled)
    signature: tuple[Any, ...] = ()
    stable_since: float = 0.0
    first_missing: float | None = None

    @property
    def is_folder_case(self) -> bool:
        return self.top.is_dir()


def _read_json(case_file: Path) -> dict[str, Any] | None:
    """The case file's content if it is a JSON object now (it may still be being copied)."""
    try:
        data = json.loads(case_file.read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _attachment_paths(data: dict[str, Any] | None) -> list[str]:
    attachments = data.get("attachments") if data else None
    if not isinstance(attachments, list):
        return []
    return [a["path"] for a in attachments if isinstance(a, dict) and isinstance(a.get("path"), str)]


def discover(inbox: Path) -> dict[str, Candidate]:
    found: dict[str, Candidate] = {}
    for entry in sorted(inbox.iterdir()):
        if entry.name.startswith((".", "~$")):
            continue
        if entry.is_file() and entry.suffix.lower() == ".json":
            case_file, top = entry, entry
        elif entry.is_dir():
            jsons = sorted(p for p in entry.iterdir()
                           if p.suffix.lower() == ".json" and p.is_file() and not p.name.startswith("."))
            if not jsons:
                continue
            case_file, top = jsons[0], entry
            if len(jsons) > 1:  # which one is the case? Never guess: refuse the folder as a whole
                source = case_file.relative_to(inbox).as_posix()
                names = "、".join(p.name for p in jsons)
                found[source] = Candidate(source, case_file, top, [], [], None, refusal=(
                    f"文件夹 {entry.name} 里有 {len(jsons)} 个案卷文件({names}),一个文件夹只能放一份案卷。"
                    "请把每份案卷连同它自己的扫描件放进单独的文件夹,再放入收件夹。"))
                continue
        else:
            continue
        data = _read_json(case_file)
        rels = _attachment_paths(data)
        folder = case_file.parent
        # the validator's own path check: a path it refuses is never waited for and never moved
        problems = {r: attachment_path_problem(folder.resolve(), r) for r in rels}
        present = [folder / r for r, problem in problems.items() if problem is None]
        missing = [r for r, problem in problems.items() if problem == MISSING]
        source = case_file.relative_to(inbox).as_posix()
        found[source] = Candidate(source, case_file, top, present, missing, data)
    return found


def _signature(c: Candidate) -> tuple[Any, ...]:
    """What changes when any input is written to, replaced or touched (ctime cannot be set back by a copy)."""
    sig = []
    for p in [c.case_file, *c.attachments]:
        try:
            st = p.stat()
            sig.append((str(p), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        except OSError:
            sig.append((str(p), -1, -1, -1, -1))
    return (tuple(sig), tuple(c.missing), c.data is not None)


def content_hash(c: Candidate) -> str:
    digest = hashlib.sha256()
    for p in [c.case_file, *sorted(c.attachments)]:
        digest.update(p.relative_to(c.case_file.parent).as_posix().encode() + b"\0")
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _build_in_worker(case_file: str, outbox: str, calendar: str | None) -> dict[str, Any]:
    """Runs in a worker process: one bad case can neither crash nor block the watcher."""
    from kunnan_docs.core.workcal import WorkCalendar
    from kunnan_docs.pipeline import Outcome, process_case

    try:
        result = process_case(Path(case_file), Path(outbox), WorkCalendar(calendar))
    except Exception as exc:
        return {"status": "rejected", "internal": True,
                "reason": [f"程序内部错误({type(exc).__name__})。请联系技术支持;问题解决后把文件放回收件夹即可重新处理。"]}
    if result.outcome is Outcome.REJECTED:
        return {"status": "rejected", "reason": result.messages}
    status = "published" if result.outcome is Outcome.COMPLETE else "incomplete"
    return {"status": status, "folder": str(result.folder), "label": result.label}


@dataclass
class Outcome:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1

    @property
    def exit_code(self) -> ExitCode:
        if self.counts.get("rejected"):
            return ExitCode.INVALID
        if self.counts.get("incomplete") or self.counts.get("waiting"):
            return ExitCode.INCOMPLETE
        return ExitCode.OK


class InboxLock:
    """Only one watcher per inbox: an OS lock on a file in it, released even if the process is killed."""

    def __init__(self, inbox: Path) -> None:
        self.path = inbox / LOCK_NAME
        self.handle: Any = None

    def __enter__(self) -> InboxLock:
        self.handle = self.path.open("a+")
        try:
            if os.name == "nt":
                import msvcrt

                msvcrt.locking(self.handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.seek(0)
            other = self.handle.read().strip() or "?"
            self.handle.close()
            raise UsageError(f"另一个监视程序(进程 {other})正在处理收件夹 {self.path.parent}。"
                             "同一个收件夹只能运行一个;如确认没有,请稍候再试。") from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *_: object) -> None:
        self.handle.close()


class _Wake(FileSystemEventHandler):
    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def on_any_event(self, event: FileSystemEvent) -> None:
        if not Path(str(event.src_path)).name.startswith(LOCK_NAME):
            self.event.set()


class Watcher:
    def __init__(self, config: Config) -> None:
        self.cfg = config
        self.ledger = Ledger(config.state / "ledger.sqlite")
        self.tracked: dict[str, Candidate] = {}
        self.running: dict[Future[dict[str, Any]], tuple[Candidate, int, str | None]] = {}
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.outcome = Outcome()
        self.pool: ProcessPoolExecutor | None = None
        self.crashes: dict[str, int] = {}

    # -- life cycle -------------------------------------------------------------------------------
    def run(self) -> ExitCode:
        for note in recover(self.cfg.outbox):
            log.info(note)
        self._finish_journaled_moves()
        self._requeue_interrupted()
        observer = PollingObserver(timeout=self.cfg.poll_interval) if self.cfg.poll else Observer()
        observer.schedule(_Wake(self.wake), str(self.cfg.inbox), recursive=True)
        observer.start()
        self._restart_pool()
        log.info(f"开始监视收件夹 {self.cfg.inbox}(发件夹 {self.cfg.outbox},"
                 f"{'轮询' if self.cfg.poll else '事件'}模式,{self.cfg.workers} 个并行)")
        last_scan = 0.0
        try:
            while True:
                settling = any(not c.missing for c in self.tracked.values())
                self.wake.wait(timeout=0.05 if settling else 1.0)  # settle checks need a fine clock
                woke = self.wake.is_set()
                self.wake.clear()
                now = time.monotonic()
                # cases waiting for an attachment are looked at again on an event or at the rescan interval
                if not self.stop.is_set() and (woke or settling or now - last_scan >= self.cfg.rescan):
                    self._scan(now)
                    last_scan = now
                self._collect()
                if self.stop.is_set() and not self.running:
                    break
                if self.cfg.once and not self.running and self._settled_out():
                    break
        finally:
            observer.stop()
            observer.join(timeout=5)
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=False)
            self.ledger.close()
        for c in self.tracked.values():
            if c.missing:
                self.outcome.add("waiting")
        if not self.cfg.once:
            log.info("监视结束。")
            return ExitCode.OK  # a service stopped on request; per-case results are in the ledger
        log.info(f"处理完毕:{self._summary()}")
        return self.outcome.exit_code

    def _restart_pool(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = ProcessPoolExecutor(self.cfg.workers, mp_context=get_context("spawn"), initializer=_init_worker)
        for _ in range(self.cfg.workers):  # start every worker now, not when the first clerk is waiting
            self.pool.submit(int)

    def _summary(self) -> str:
        names = {"published": "已发布", "incomplete": "材料不全或回访期中", "rejected": "退回", "duplicate": "重复",
                 "waiting": "仍在等待附件"}
        return ",".join(f"{names.get(k, k)} {v} 份" for k, v in sorted(self.outcome.counts.items())) or "收件夹为空"

    def _settled_out(self) -> bool:
        """--once is done when every case left is waiting for an attachment that has not come."""
        return all(c.missing for c in self.tracked.values())

    # -- scanning ---------------------------------------------------------------------------------
    def _scan(self, now: float) -> None:
        busy = {c.source for c, _, _ in self.running.values()}
        current = discover(self.cfg.inbox)
        for source in list(self.tracked):
            if source not in current:
                del self.tracked[source]
        for source, cand in current.items():
            if source in busy:
                continue
            cand.signature = _signature(cand)
            old = self.tracked.get(source)
            if old and old.signature == cand.signature:
                cand.stable_since, cand.first_missing = old.stable_since, old.first_missing
            else:
                cand.stable_since = now
                cand.first_missing = (old.first_missing if old else None) if cand.missing else None
                if not old:
                    log.info(f"发现新案卷 {source}")
            if cand.missing and cand.first_missing is None:
                cand.first_missing = now
            self.tracked[source] = cand
            if now - cand.stable_since < self.cfg.settle:
                continue
            if cand.refusal:
                del self.tracked[source]
                self._reject(cand, self.ledger.start(source, "waiting"), [cand.refusal])
            elif cand.missing:
                self._waiting(cand, now)
            else:
                self._take(cand)

    def _waiting(self, cand: Candidate, now: float) -> None:
        names = "、".join(cand.missing)
        assert cand.first_missing is not None
        if now - cand.first_missing >= self.cfg.timeout:
            case_id = self.ledger.start(cand.source, "waiting")
            self._reject(cand, case_id, [f"等待 {int(self.cfg.timeout)} 秒后,以下附件仍未放入收件夹:{names}。"
                                         "请把这些文件和案卷文件放在一起(见 README“收件夹”),再重新放入收件夹。"])
            del self.tracked[cand.source]
            return
        row = self.ledger.open_row(cand.source)
        reason = f"等待附件:{names}"
        if not row or row.reason != reason:
            self.ledger.start(cand.source, "waiting", reason)
            log.info(f"{cand.source} 等待附件 {len(cand.missing)} 个")

    def _take(self, cand: Candidate) -> None:
        del self.tracked[cand.source]
        try:
            digest = content_hash(cand)
        except OSError:
            return  # vanished or locked mid-read: seen again on the next scan
        if _signature(cand) != cand.signature:
            return  # written to while being hashed: seen again, and settled again, on the next scan
        archive_no, family = self._identity(cand)
        label = archive_no or cand.source
        duplicate = self.ledger.finished_with_hash(digest)
        case_id = self.ledger.start(cand.source, "building")
        self.ledger.update(case_id, content_hash=digest, archive_no=archive_no, family=family, reason=None)
        if duplicate:
            note = (f"与 {duplicate.updated} 已成卷的内容完全相同,未重新成卷。案卷仍在发件夹 "
                    f"{', '.join(duplicate.outputs) or ''} 中。")
            log.info(f"{label} 重复提交,未重新成卷")
            self._file_away(cand, case_id, self.cfg.processed, "duplicate", NOTE_FILE, [note], duplicate.outputs)
            return
        known = self.ledger.family_of(archive_no) if archive_no else None
        if known and family and known != family:
            log.info(f"{label} 档案号冲突,退回")
            self._reject(cand, case_id, [f"档案号 {archive_no} 已用于另一户困难职工家庭的案卷。"
                                         "同一档案号不能属于两户家庭:请核对档案号后重新提交。"])
            return
        if any(a == archive_no for _, _, a in self.running.values() if archive_no):
            self.ledger.update(case_id, status="waiting", reason="同一档案号的案卷正在成卷,稍后处理")
            return  # seen again on the next scan, once the other build has finished
        log.info(f"{label} 开始成卷")
        assert self.pool is not None
        future = self.pool.submit(_build_in_worker, str(cand.case_file), str(self.cfg.outbox), self.cfg.calendar)
        self.running[future] = (cand, case_id, archive_no)
        future.add_done_callback(lambda _: self.wake.set())  # file the result away at once

    @staticmethod
    def _identity(cand: Candidate) -> tuple[str | None, str | None]:
        data = cand.data or {}
        archive_no = data.get("archive_no") if isinstance(data.get("archive_no"), str) else None
        worker = data.get("worker") if isinstance(data.get("worker"), dict) else {}
        id_number = worker.get("id_number")
        return archive_no, family_key(id_number) if isinstance(id_number, str) else None

    # -- results ----------------------------------------------------------------------------------
    def _collect(self) -> None:
        for future in [f for f in self.running if f.done()]:
            cand, case_id, archive_no = self.running.pop(future)
            label = archive_no or cand.source
            try:
                result = future.result()
            except BrokenProcessPool:
                self._restart_pool()
                self.crashes[cand.source] = self.crashes.get(cand.source, 0) + 1
                if self.crashes[cand.source] < 2:  # a crash caused by another case: try this one again
                    self.ledger.update(case_id, status="waiting", reason="成卷进程意外退出,将重试")
                    continue
                result = {"status": "rejected", "reason": ["成卷进程两次意外退出(可能是附件过大或损坏)。请检查附件后重新提交。"]}
            if _signature(cand) != cand.signature:
                # written to during the build: the package (if any) is not of these bytes, so build again
                log.info(f"{label} 在成卷期间被修改,将重新成卷")
                self.ledger.update(case_id, status="waiting", reason="案卷在成卷期间被修改,将重新成卷")
                cand.signature, cand.stable_since = _signature(cand), time.monotonic()
                self.tracked[cand.source] = cand
                continue
            if result["status"] == "rejected":
                log.info(f"{label} 退回:{len(result['reason'])} 个问题")
                self._reject(cand, case_id, result["reason"])
            else:
                log.info(f"{label} 已发布到 {result['folder']}({result['label']})")
                self._file_away(cand, case_id, self.cfg.processed, result["status"], None, [], [result["folder"]])

    def _reject(self, cand: Candidate, case_id: int, reasons: list[str]) -> None:
        text = ["案卷被退回,原因如下:", "", *[f"- {r}" for r in reasons], "",
                "如何重新提交:按上面的提示改正案卷文件或附件,然后把改好的案卷(连同附件)重新放入收件夹。"]
        self._file_away(cand, case_id, self.cfg.rejected, "rejected", REASON_FILE, text, [], reason="\n".join(reasons))

    def _file_away(self, cand: Candidate, case_id: int, area: Path, status: str, note_name: str | None,
                   note: list[str], outputs: list[str], reason: str | None = None) -> None:
        """Move the inputs (journaled, so that a crash halfway is finished on restart), with a note file."""
        dest = _unique(area / f"{datetime.now():%Y%m%d-%H%M%S}-{cand.top.stem if cand.top.is_file() else cand.top.name}")
        dest.mkdir(parents=True)
        if note_name:
            (dest / note_name).write_text("\n".join(note) + "\n", encoding="utf-8-sig")
        if cand.is_folder_case:
            moves = [(cand.top, dest / cand.top.name)]
        else:
            inbox = self.cfg.inbox
            moves = [(p, dest / p.relative_to(inbox)) for p in [cand.case_file, *cand.attachments]]
        self.ledger.update(case_id, reason=reason or (note[0] if note else None), outputs=[*outputs, str(dest)])
        self.ledger.journal(case_id, moves, status)
        _do_moves([(s, d) for s, d in moves])
        self.ledger.clear_moves(case_id, status)
        self.outcome.add(status)
        _prune_empty(self.cfg.inbox, [s.parent for s, _ in moves])

    def _finish_journaled_moves(self) -> None:
        for case_id, moves in self.ledger.pending_moves().items():
            _do_moves([(s, d) for s, d, _ in moves])
            self.ledger.clear_moves(case_id, moves[0][2])
            log.info(f"已完成上次中断时未完成的文件移动(记录 {case_id})")

    def _requeue_interrupted(self) -> None:
        for row in self.ledger.by_status("building"):
            self.ledger.update(row.id, status="waiting", reason="上次成卷被中断,将重新成卷")
            log.info(f"{row.archive_no or row.source} 上次成卷被中断,将重新成卷")

    def settling(self) -> list[str]:
        """Cases seen but not yet taken because their files are still changing (safe to call from another thread)."""
        return sorted(c.source for c in list(self.tracked.values()) if not c.missing)

    def request_stop(self, *_: object) -> None:
        if not self.stop.is_set():
            log.info("收到停止信号:完成正在处理的案卷后退出。")
        self.stop.set()
        self.wake.set()


def _init_worker() -> None:
    """Linux: a worker dies with the watcher, so a killed watcher leaves no build publishing behind its back.
    Then load what every build needs (libraries, the CJK font) before the first case arrives."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole terminal group: the watcher decides
    from kunnan_docs.forms.fonts import register
    from kunnan_docs.package.build import build  # noqa: F401 - imported for its import cost, paid here once

    register()


def _unique(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _do_moves(moves: list[tuple[Path, Path]]) -> None:
    for src, dst in moves:
        if src.exists() and not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)


def _prune_empty(inbox: Path, folders: list[Path]) -> None:
    for folder in sorted(set(folders), key=lambda p: len(p.parts), reverse=True):
        while folder != inbox and inbox in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent


def setup_logging(state: Path) -> None:
    state.mkdir(parents=True, exist_ok=True)
    logging.getLogger("watchdog").setLevel(logging.ERROR)  # its shutdown chatter is not for clerks
    log.setLevel(logging.INFO)
    log.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
    for handler in (logging.StreamHandler(), logging.FileHandler(state / "watch.log", encoding="utf-8")):
        handler.setFormatter(fmt)
        log.addHandler(handler)


@contextmanager
def prepared(config: Config) -> Iterator[Watcher]:
    """A watcher ready to run, owning the inbox until the block ends (used by `watch` and by `serve`)."""
    config.check()
    for area in (config.outbox, config.processed, config.rejected, config.state):
        area.mkdir(parents=True, exist_ok=True)
    setup_logging(config.state)
    with InboxLock(config.inbox):
        yield Watcher(config)


def watch(config: Config) -> ExitCode:
    with prepared(config) as watcher:
        signal.signal(signal.SIGINT, watcher.request_stop)
        signal.signal(signal.SIGTERM, watcher.request_stop)
        return watcher.run()
