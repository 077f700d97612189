"""Journaled filing: a case's inputs move to processed/ or rejected/ (with a note) only after its outcome is
safe, and a filing interrupted by a crash or a full disk is finished on the next attempt.

The whole filing — destination, note text, every move — is written to the ledger first, then carried out;
each step can be repeated (a move already done is skipped, the note is rewritten), so a filing ends exactly
once, whatever stops it. Destination names keep within the file system's 255-byte limit whatever the script.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from kunnan_docs.errors import injected_write_fault
from kunnan_docs.inbox.discovery import Job
from kunnan_docs.inbox.faults import fault_point
from kunnan_docs.inbox.ledger import Ledger, Step
from kunnan_docs.privacy import mask_text

REASON_FILE = "退回原因.txt"
NOTE_FILE = "处理说明.txt"
NAME_MAX = 255  # bytes in one file name on ext4, NTFS (as UTF-16 units: fewer) and most shares
_SUFFIX_ROOM = 8  # for "-<n>" when the name is taken


def reason_text(reasons: list[str]) -> list[str]:
    return ["案卷被退回,原因如下:", "", *[f"- {r}" for r in reasons], "",
            "如何重新提交:按上面的提示改正案卷文件或附件,然后把改好的案卷(连同附件)重新放入收件夹。"]


class Filing:
    def __init__(self, inbox: Path, ledger: Ledger) -> None:
        self.inbox = inbox
        self.ledger = ledger

    def file_away(self, job: Job, case_id: int, area: Path, status: str, note_name: str | None,
                  note: list[str], outputs: list[str], reason: str | None = None) -> Path:
        """Journal the filing, then carry it out; returns the destination folder."""
        dest = _unique(area / _bounded(f"{datetime.now():%Y%m%d-%H%M%S}-{_stem(job.entry)}"))
        steps = [Step(None, dest / note_name, mask_text("\n".join(note) + "\n"))] if note_name else []
        steps += [Step(src, dest / src.relative_to(self.inbox)) for src in job.movables()]
        self.ledger.journal(case_id, steps, status, reason=reason or (note[0] if note else None),
                            outputs=[*outputs, str(dest)])
        fault_point("journaled")
        self._carry_out(case_id, status, steps)
        return dest

    def finish_pending(self) -> list[int]:
        """Carry out filings a crash or a write error interrupted; returns their ledger ids."""
        done = []
        for case_id, (status, steps) in self.ledger.pending().items():
            self._carry_out(case_id, status, steps)
            done.append(case_id)
        return done

    def _carry_out(self, case_id: int, status: str, steps: list[Step]) -> None:
        moved = False
        for step in steps:
            step.dst.parent.mkdir(parents=True, exist_ok=True)
            injected_write_fault(step.dst)  # after the folder, as a full disk does: a folder still fits, no text
            if step.src is None:
                try:
                    step.dst.write_text(step.note or "", encoding="utf-8-sig")  # BOM: Notepad shows it right
                except OSError as exc:  # a write that fails names no file: say where, for the clerk's message
                    raise OSError(exc.errno, exc.strerror, exc.filename or str(step.dst)) from None
                fault_point("note-written")
            elif os.path.lexists(step.src) and not os.path.lexists(step.dst):
                os.replace(step.src, step.dst)  # a link, pipe or device moves as itself: nothing is opened
                if not moved:
                    moved = True
                    fault_point("moved")
        self.ledger.finish(case_id, status)
        fault_point("filed")
        _prune_empty(self.inbox, [s.src.parent for s in steps if s.src is not None])


def _stem(entry: Path) -> str:
    return entry.stem if entry.suffix.lower() == ".json" else entry.name


def _bounded(name: str, limit: int = NAME_MAX - _SUFFIX_ROOM) -> str:
    """The name cut (at a character boundary) to fit the file system's limit in UTF-8 bytes."""
    return name.encode("utf-8")[:limit].decode("utf-8", errors="ignore").rstrip(" .")


def _unique(path: Path) -> Path:
    candidate, n = path, 1
    while os.path.lexists(candidate):
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _prune_empty(inbox: Path, folders: list[Path]) -> None:
    for folder in sorted(set(folders), key=lambda p: len(p.parts), reverse=True):
        while folder != inbox and inbox in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent
