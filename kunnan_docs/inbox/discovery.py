"""Discovery: which entries of the inbox are cases, what each needs, and what cannot be a case (and why).

Rules (README "收件夹"): a case is a folder directly in the inbox holding exactly one *.json case file
(any letter case) with its scans, or a *.json file directly in the inbox with its scans beside it. Each
entry is looked at with lstat first and read only if it is a regular file, opened without blocking, so
that links, FIFOs, sockets and devices are refused with a reason instead of followed or waited on, and
nothing outside the inbox is ever read. Limits apply before parsing (core.casefile: size, nesting,
numbers JSON allows; MAX_ATTACHMENT_BYTES here). Entries that are not a case and not needed by one are
reported (`status` lists them), never silently skipped. Discovery yields jobs: another kind of inbox
entry (the scanner folder) plugs in with its own kind.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kunnan_docs.core.casefile import parse_case_json, read_case_bytes
from kunnan_docs.core.rules import MISSING, attachment_path_problem
from kunnan_docs.errors import CaseRejected

CASE_SUFFIX = ".json"
IGNORED_PREFIXES = (".", "~$")  # our lock file, hidden files, Office's and WPS's temporary copies
MAX_ATTACHMENT_BYTES = 2 << 30  # 2 GB: far beyond any scan, small enough to copy and hash without harm
Signature = tuple[Any, ...]


@dataclass
class Job:
    """One inbox entry to act on once it has settled: a case to build, or an entry to refuse with a reason."""

    kind: str  # "case"; the scanner folder adds its own kind
    source: str  # the case file (or the refused entry) relative to the inbox: its name in ledger and log
    entry: Path  # the inbox entry it came from: a case folder, a loose case file, or the refused entry
    case_file: Path | None = None
    raw: bytes | None = None  # the case file's bytes as read: exactly these are hashed and built
    # What the watcher needs of the case's content; not the parsed case, which a full inbox would hold 10,000 times
    named: list[str] = field(default_factory=list)  # attachment paths as the case file gives them
    archive_no: str | None = None  # which package it becomes (who it belongs to is the pipeline's check)
    unreadable: str | None = None  # why the case file could not be read or parsed
    attachments: list[Path] = field(default_factory=list)  # present and inside the case folder
    missing: list[str] = field(default_factory=list)  # named in the case file, not (yet) there
    refusal: str | None = None  # why this cannot be built as it stands
    signature: Signature = ()
    stable_since: float = 0.0
    first_missing: float | None = None

    @property
    def inputs(self) -> list[Path]:
        return [self.case_file, *self.attachments] if self.case_file else []

    @property
    def loose(self) -> bool:
        """A case file directly in the inbox: its attachments are other inbox entries."""
        return self.case_file == self.entry

    def movables(self) -> list[Path]:
        """What is moved to processed/ or rejected/ afterwards."""
        return [self.entry, *self.attachments] if self.loose and self.refusal is None else [self.entry]

    def needs(self) -> set[str]:
        """Inbox entries (top-level names) a loose case's attachments live in: a change there concerns it."""
        if not self.loose or self.case_file is None:
            return set()
        return {a.relative_to(self.entry.parent).parts[0] for a in self.attachments} | \
            {Path(m).parts[0] for m in self.missing if Path(m).parts}


def signature(job: Job) -> Signature:
    """What changes when an input is written to, replaced or touched (a copy cannot set ctime back)."""
    return (tuple(_stat_key(p) for p in job.inputs or [job.entry]), tuple(job.missing), job.refusal)


def _stat_key(path: Path) -> tuple[int, int, int, int] | None:
    """lstat, so that a file replaced by a link, or by another file, counts as a change."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Discovery:
    """Looks at inbox entries by name; a case file is read again only when its stat changed."""

    def __init__(self, inbox: Path) -> None:
        self.inbox = inbox
        self.real_inbox = inbox.resolve()
        self._known: dict[Path, Job] = {}  # by case file: reused while nothing it depends on changed

    def names(self) -> list[str]:
        with os.scandir(self.inbox) as entries:
            return sorted(e.name for e in entries if not e.name.startswith(IGNORED_PREFIXES))

    def look(self, names: Iterable[str]) -> tuple[dict[str, Job], dict[str, str]]:
        """Jobs and, for entries that are neither a case nor refused, what to tell the clerk; by entry name."""
        jobs: dict[str, Job] = {}
        unclaimed: dict[str, str] = {}
        for name in names:
            try:
                found = self._entry(name)
            except FileNotFoundError:
                continue  # gone since listed
            except Exception as exc:  # one strange entry must never stop the others
                found = f"{name} 无法读取({type(exc).__name__}: {getattr(exc, 'strerror', None) or exc})。请检查该项的权限。"
            if isinstance(found, Job):
                if not found.signature:
                    found.signature = signature(found)
                jobs[name] = found
            elif found:
                unclaimed[name] = found
        return jobs, unclaimed

    def forget_gone(self) -> None:
        """Drop what is remembered of case files no longer in the inbox (after a full scan)."""
        for path in [p for p in self._known if not os.path.lexists(p)]:
            del self._known[path]

    def _entry(self, name: str) -> Job | str | None:
        path = self.inbox / name
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            return self._refused(path, f"{name} 是快捷方式(链接)。收件夹不读取链接所指的内容,请放入文件或文件夹本身。")
        if stat.S_ISDIR(mode):
            return self._folder(path)
        if not stat.S_ISREG(mode):
            return self._refused(path, f"{name} 不是普通文件或文件夹(是管道、套接字或设备),不能作为案卷处理。"
                                       "请放入导出的 .json 案卷文件和扫描件。")
        if name.lower().endswith(CASE_SUFFIX):
            return self._case(path, path, self.inbox)
        return (f"{name} 不是案卷文件(*.json),也还没有案卷文件引用它。"
                "请把扫描件和案卷文件放进同一个文件夹,再把文件夹放入收件夹。")

    def _folder(self, folder: Path) -> Job | str:
        regular, other = [], []
        with os.scandir(folder) as children:
            for child in children:
                if child.name.startswith(IGNORED_PREFIXES) or not child.name.lower().endswith(CASE_SUFFIX):
                    continue
                (regular if child.is_file(follow_symlinks=False) else other).append(child.name)
        if other:
            return self._refused(folder, f"文件夹 {folder.name} 中的 {'、'.join(sorted(other))} 不是普通文件"
                                         "(是链接、文件夹、管道或设备),不能作为案卷文件读取。请放入案卷文件本身。")
        if not regular:
            return (f"文件夹 {folder.name} 中没有案卷文件(*.json)。请把案卷文件放进该文件夹;"
                    "如果里面是多份案卷,请把每个案卷文件夹直接放在收件夹下。")
        if len(regular) > 1:  # which one is the case? Never guess: refuse the folder as a whole
            names = "、".join(sorted(regular))
            return self._refused(folder, f"文件夹 {folder.name} 里有 {len(regular)} 个案卷文件({names}),"
                                         "一个文件夹只能放一份案卷。请把每份案卷连同它自己的扫描件放进单独的文件夹,"
                                         "再放入收件夹。", case_file=folder / sorted(regular)[0])
        return self._case(folder, folder / regular[0], folder)

    def _refused(self, entry: Path, reason: str, case_file: Path | None = None) -> Job:
        source = (case_file or entry).relative_to(self.inbox).as_posix()
        return Job("case", source, entry, refusal=reason)

    def _case(self, entry: Path, case_file: Path, folder: Path) -> Job:
        known = self._known.get(case_file)
        if known and not known.missing and known.entry == entry and signature(known) == known.signature \
                and (known.refusal or not self._borrowed(known)):
            return known  # unchanged: neither read nor resolved again (keeps rescans of a full inbox cheap)
        job = Job("case", case_file.relative_to(self.inbox).as_posix(), entry, case_file)
        if known and known.case_file and _stat_key(case_file) == _stat_key_of(known, case_file):
            job.raw, job.named, job.archive_no, job.unreadable = known.raw, known.named, known.archive_no, known.unreadable
        else:
            try:
                job.raw = read_case_bytes(case_file)
                data = parse_case_json(job.raw, case_file.name)
                job.named = _attachment_paths(data)
                job.archive_no = data["archive_no"] if isinstance(data.get("archive_no"), str) else None
            except CaseRejected as exc:
                job.unreadable = str(exc)
        real_folder = folder.resolve()
        job.refusal = job.unreadable or self._borrowed(job)
        for rel in job.named:
            problem = attachment_path_problem(real_folder, rel)
            if problem == MISSING:
                job.missing.append(rel)
            elif problem is None:  # other problems: the validator names them; never waited for nor moved
                path = folder / rel
                if path.stat().st_size > MAX_ATTACHMENT_BYTES:
                    job.refusal = (f"附件 {rel} 超过 {MAX_ATTACHMENT_BYTES >> 30} GB,不像是扫描件。"
                                   "请检查是否放错了文件,或分成几个文件后重新提交。")
                if path not in job.attachments:
                    job.attachments.append(path)
        job.attachments.sort()
        job.signature = signature(job)
        self._known[case_file] = job
        return job

    def _borrowed(self, job: Job) -> str | None:
        """Why a loose case may not be built: an attachment of it lies in another case of the inbox (the case
        folder may have come after the loose case was first read)."""
        for rel in job.named if job.loose and job.case_file else []:
            if other := self._another_case(job.case_file, rel):
                return (f"附件 {rel} 在收件夹中另一份案卷({other})里。一份案卷不能使用另一户的材料,"
                        "另一份案卷照常处理。请把本案卷和它自己的扫描件放进单独的文件夹,再放入收件夹。")
        return None

    def _another_case(self, case_file: Path, rel: str) -> str | None:
        """The inbox entry a loose case's attachment lies in (or is), when that entry is another case: a folder
        holding a case file, or a case file itself. Its scans are that family's, never to be taken away."""
        parts = Path(rel).parts
        if not parts or parts[0] in (".", "..") or parts[0] == case_file.name:
            return None
        top = self.inbox / parts[0]
        try:
            if top.is_dir() and not top.is_symlink():
                with os.scandir(top) as children:
                    if any(_is_case_name(c.name) for c in children):
                        return parts[0]
            elif _is_case_name(parts[0]):
                return parts[0]
        except OSError:
            return None  # unreadable: the validator says what is wrong with the path
        return None


def _is_case_name(name: str) -> bool:
    return name.lower().endswith(CASE_SUFFIX) and not name.startswith(IGNORED_PREFIXES)


def _stat_key_of(job: Job, path: Path) -> tuple[int, int, int, int] | None:
    """The stat of `path` when `job` was made (its signature lists the inputs' stats in order)."""
    return job.signature[0][job.inputs.index(path)] if job.signature else None


def _attachment_paths(data: dict[str, Any]) -> list[str]:
    attachments = data.get("attachments")
    if not isinstance(attachments, list):
        return []
    return [a["path"] for a in attachments if isinstance(a, dict) and isinstance(a.get("path"), str)]
