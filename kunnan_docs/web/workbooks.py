"""导入Excel at the desk: a workbook uploaded, previewed family by family, then the families the clerk ticks submitted
through the one pipeline (casework.Casework, as any desk submission). A library without a web framework.

An uploaded workbook is kept, owner-only, in `STATE/workbooks/<id>/` (`book.xlsx` and `upload.json`: its name as
the browser gave it, who, when) until it is confirmed or cancelled; one left alone for EXPIRES is removed the next
time the page lists what is pending (audited). The preview is made afresh from the kept workbook against the outbox
as it is now, each time it is shown and again on confirming, so that what is imported is what the rows say then: a
family already imported by a confirmation that was cut short is unchanged the second time, never built twice.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from kunnan_docs.errors import UsageError
from kunnan_docs.staff.xlsx_import import DESK_TEMPLATE, OLE_MAGIC, Family, Preview, RowState, preview
from kunnan_docs.web.casework import Casework, Origin, Submission
from kunnan_docs.web.security import audit
from kunnan_docs.web.uploads import CHUNK, shown

FOLDER = "workbooks"  # in the state folder
BOOK, META = "book.xlsx", "upload.json"
MAX_BOOK = 20 << 20  # one workbook: 1,000 families with their lists stay below 2 MB
EXPIRES = timedelta(days=1)
ZIP_MAGIC = b"PK\x03\x04"  # every .xlsx is a zip
_ID = re.compile(r"[0-9a-f]{12}")
_CONFIRMING = threading.Lock()  # one confirmation at a time: two clerks clicking together import a family once


@dataclass
class Pending:
    """An uploaded workbook waiting to be confirmed or cancelled."""

    id: str
    folder: Path
    name: str  # as the browser named it, trimmed (data: shown and audited, never a path)
    user: str
    uploaded: str  # ISO, seconds

    @property
    def book(self) -> Path:
        return self.folder / BOOK


@dataclass
class Done:
    """What became of one family ticked for import."""

    family: Family
    submission: Submission | None  # None: not imported, `note` says why
    note: str = ""


class Workbooks:
    """The uploaded workbooks of one desk (its outbox and state folder), and their import."""

    def __init__(self, casework: Casework) -> None:
        self.casework = casework
        self.root = casework.state / FOLDER

    def receive(self, name: str, stream: BinaryIO, user: str) -> tuple[Pending, Preview]:
        """Keep an upload (bounded, an .xlsx by its first bytes whatever its name) and preview it; a file that is no
        readable workbook is refused, saying what it is and what to do, and nothing is kept."""
        label = shown(name)
        folder = self.root / secrets.token_hex(6)
        _private(folder)
        try:
            size, head = 0, b""
            fd = os.open(folder / BOOK, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > MAX_BOOK:
                        raise UsageError(f"工作簿“{label}”超过 {MAX_BOOK >> 20} MB,没有上传。请把各户分到几个工作簿里,"
                                         "分几次导入。")
                    head = head or chunk[: len(OLE_MAGIC)]
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if not head.startswith(ZIP_MAGIC) and head != OLE_MAGIC and size:
                raise UsageError(f"“{label}”不是 Excel 工作簿(按文件内容判断,与文件名无关),没有上传。请用{DESK_TEMPLATE}"
                                 "填写,WPS 表格请“另存为”Excel 工作簿(*.xlsx)后再上传。")
            pending = Pending(folder.name, folder, label, user, _now())
            found = self.preview(pending)
            meta = {"name": label, "user": user, "uploaded": pending.uploaded}
            (folder / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            os.chmod(folder / META, 0o600)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        audit(self.casework.state, user, "上传Excel工作簿", workbook=pending.id, file=label, size=size,
              families=len(found.families), ready=found.count(RowState.READY), changed=found.count(RowState.CHANGED),
              unchanged=found.count(RowState.UNCHANGED), problems=found.count(RowState.PROBLEM))
        return pending, found

    def preview(self, pending: Pending) -> Preview:
        return preview(pending.book, self.casework.outbox, self.casework.calendar, shown=pending.name, scans_later=False)

    def pending(self) -> list[Pending]:
        """The workbooks waiting, the latest first; those left longer than EXPIRES are removed (and audited)."""
        found = [p for f in (sorted(self.root.iterdir()) if self.root.is_dir() else []) if (p := self.get(f.name))]
        now = datetime.now()
        for p in [p for p in found if now - datetime.fromisoformat(p.uploaded) > EXPIRES]:
            shutil.rmtree(p.folder, ignore_errors=True)
            audit(self.casework.state, p.user, "Excel导入预览过期", workbook=p.id, file=p.name, uploaded=p.uploaded)
            found.remove(p)
        return sorted(found, key=lambda p: (p.uploaded, p.id), reverse=True)

    def get(self, pending_id: str) -> Pending | None:
        if not _ID.fullmatch(pending_id):
            return None
        folder = self.root / pending_id
        try:
            meta = json.loads((folder / META).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return Pending(pending_id, folder, meta["name"], meta["user"], meta["uploaded"])

    def confirm(self, pending: Pending, chosen: set[str], user: str) -> list[Done]:
        """Submit the families ticked (by archive number) that the workbook, read again now, still offers: a new
        family, or a published one whose row changed (a new version). Each ends in one outcome, in the ledger and
        the audit log; the workbook is removed once all are done."""
        with _CONFIRMING:
            if self.get(pending.id) is None:
                raise UsageError("这个工作簿已经导入或取消了。请到“导入Excel”页查看,需要时重新上传。")
            done = []
            for family in self.preview(pending).families:
                if family.archive_no not in chosen:
                    continue
                if family.state not in (RowState.READY, RowState.CHANGED):
                    done.append(Done(family, None, "预览之后情况有变(" + family.state.label + "),这次没有导入。"))
                    continue
                source = family.folder.parent.name if family.folder else ""
                draft = self.casework.create(family.case, user, Origin.WORKBOOK, source, family.folder)
                changes = {"fields": family.changes} if family.changes else {}
                done.append(Done(family, self.casework.submit(draft, user, file=pending.name, row=family.row,
                                                               **changes)))
            shutil.rmtree(pending.folder)
        published = [d for d in done if d.submission and d.submission.outcome.published]
        audit(self.casework.state, user, "确认导入Excel", workbook=pending.id, file=pending.name, chosen=len(chosen),
              published=len(published), refused=len(done) - len(published),
              archive_nos=[d.family.archive_no for d in published])
        return done

    def cancel(self, pending: Pending, user: str) -> None:
        shutil.rmtree(pending.folder, ignore_errors=True)
        audit(self.casework.state, user, "取消导入Excel", workbook=pending.id, file=pending.name)


def _private(folder: Path) -> None:
    for path in [*reversed(folder.parents), folder]:
        if not path.exists():
            path.mkdir(mode=0o700)
            os.chmod(path, 0o700)


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")
