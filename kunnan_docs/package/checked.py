"""已核对: a clerk looked at a package's 请核对 note (a signature area that looks blank, an outdated print not used)
and confirmed it. One JSON line per confirmation in `OUTBOX/.kunnan/已核对.jsonl`: the archive number, the note's
id (SHA-256 of its text: no personal data in the journal, and the same note after a rebuild is the same note; a
note whose text changes is a new note, open again), who and when.

A confirmation only says that a person looked. It never files a signature: the package's state (材料齐全 or
not) is decided by the build alone; only `status` and the desk stop counting a confirmed note as open.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from filelock import FileLock

from kunnan_docs.core.identity import archive_key
from kunnan_docs.package.layout import STATE_DIR

JOURNAL = "已核对.jsonl"  # in the outbox's state folder


@dataclass(frozen=True)
class Checked:
    by: str
    at: str  # ISO date-time, seconds

    @property
    def text(self) -> str:
        """已核对:张三 2026-12-03"""
        return f"已核对:{self.by} {self.at[:10]}"


def note_id(note: str) -> str:
    return hashlib.sha256(note.strip().encode("utf-8")).hexdigest()[:16]


def journal_path(outbox: Path) -> Path:
    return outbox / STATE_DIR / JOURNAL


def confirmations(outbox: Path) -> dict[tuple[str, str], Checked]:
    """(archive key, note id) → the first confirmation of it; torn or foreign lines are skipped."""
    path = journal_path(outbox)
    found: dict[tuple[str, str], Checked] = {}
    if not path.is_file():
        return found
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            data = json.loads(line)
            key = (archive_key(str(data["archive_no"])), str(data["note"]))
            found.setdefault(key, Checked(str(data["by"]), str(data["at"])))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return found


def checked(outbox: Path, archive_no: str, notes: list[str] | tuple[str, ...]) -> list[tuple[str, Checked | None]]:
    """Each note of a package with its confirmation, if any."""
    done = confirmations(outbox)
    return [(n, done.get((archive_key(archive_no), note_id(n)))) for n in notes]


def open_notes(outbox: Path, archive_no: str, notes: list[str] | tuple[str, ...]) -> list[str]:
    """The notes nobody has confirmed yet."""
    return [n for n, c in checked(outbox, archive_no, notes) if c is None]


def confirm(outbox: Path, archive_no: str, note: str, by: str) -> Checked:
    """Record that `by` checked the note now (a second confirmation of the same note keeps the first)."""
    path = journal_path(outbox)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.with_name(JOURNAL + ".lock")):  # two clerks confirming at once: one line
        earlier = confirmations(outbox).get((archive_key(archive_no), note_id(note)))
        if earlier is not None:
            return earlier
        done = Checked(by, datetime.now().isoformat(timespec="seconds"))
        line = json.dumps({"archive_no": archive_no, "note": note_id(note), "by": by, "at": done.at},
                          ensure_ascii=False) + "\n"
        with os.fdopen(os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600), "a+b") as f:
            if f.seek(0, os.SEEK_END):
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line  # ends a line a crash tore, so that this one stays whole
            f.write(line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
    return done
