"""The ledger: one SQLite database recording every case the watcher has seen, and pending file moves.

Only the watcher's main process writes to it. Personal data stays out: a family is recognised by a
salted hash of the worker's ID number, never the number itself.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kunnan_docs.core.labels import OUTCOME, STAGE

STATUS_LABEL = {**STAGE, "published": "已发布", "incomplete": f"已发布({OUTCOME['incomplete']}或{OUTCOME['follow_up']})",
                "rejected": OUTCOME["rejected"]}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,            -- the case file, relative to the inbox
    content_hash TEXT,               -- SHA-256 over the case file and every attachment
    archive_no TEXT,
    family TEXT,                     -- hash of the worker's ID number (conflict detection)
    status TEXT NOT NULL,
    reason TEXT,                     -- for waiting / rejected / duplicate, in Chinese
    outputs TEXT,                    -- JSON list of published or moved-to paths
    first_seen TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_source ON cases(source);
CREATE INDEX IF NOT EXISTS cases_hash ON cases(content_hash);
CREATE TABLE IF NOT EXISTS moves (   -- journal: moves still to be done after a crash
    case_id INTEGER NOT NULL,
    src TEXT NOT NULL,
    dst TEXT NOT NULL,
    final_status TEXT NOT NULL
);
"""


def family_key(id_number: str) -> str:
    return hashlib.sha256(f"kunnan-family:{id_number.upper()}".encode()).hexdigest()[:24]


def now() -> str:
    return datetime.now().isoformat(timespec="seconds")


@dataclass
class Row:
    id: int
    source: str
    content_hash: str | None
    archive_no: str | None
    family: str | None
    status: str
    reason: str | None
    outputs: list[str]
    first_seen: str
    updated: str


class Ledger:
    def __init__(self, path: Path, read_only: bool = False) -> None:
        """read_only: for readers beside the watcher (the web desk), which must never write or create it."""
        if read_only:
            self.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit, explicit transactions; `serve` opens it in the main thread and hands it to the watcher's thread
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _rows(self, sql: str, *args: object) -> list[Row]:
        rows = self.db.execute(f"SELECT id, source, content_hash, archive_no, family, status, reason, outputs, "
                               f"first_seen, updated FROM cases {sql}", args).fetchall()
        return [Row(*r[:7], json.loads(r[7] or "[]"), *r[8:]) for r in rows]

    def open_row(self, source: str) -> Row | None:
        """The unfinished record (waiting or building) for a case file still in the inbox."""
        rows = self._rows("WHERE source = ? AND status IN ('waiting', 'building') ORDER BY id DESC LIMIT 1", source)
        return rows[0] if rows else None

    def start(self, source: str, status: str, reason: str | None = None) -> int:
        row = self.open_row(source)
        if row:
            self.update(row.id, status=status, reason=reason)
            return row.id
        t = now()
        cur = self.db.execute("INSERT INTO cases (source, status, reason, first_seen, updated) VALUES (?, ?, ?, ?, ?)",
                              (source, status, reason, t, t))
        return int(cur.lastrowid)

    def update(self, case_id: int, **fields: object) -> None:
        if "outputs" in fields:
            fields["outputs"] = json.dumps(fields["outputs"], ensure_ascii=False)
        fields["updated"] = now()
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE cases SET {cols} WHERE id = ?", (*fields.values(), case_id))

    def finished_with_hash(self, content_hash: str) -> Row | None:
        rows = self._rows("WHERE content_hash = ? AND status IN ('published', 'incomplete') ORDER BY id DESC LIMIT 1",
                          content_hash)
        return rows[0] if rows else None

    def family_of(self, archive_no: str) -> str | None:
        """The family already published under this archive number, if any."""
        rows = self._rows("WHERE archive_no = ? AND status IN ('published', 'incomplete') ORDER BY id LIMIT 1",
                          archive_no)
        return rows[0].family if rows else None

    def journal(self, case_id: int, moves: list[tuple[Path, Path]], final_status: str) -> None:
        with self.transaction():
            self.db.executemany("INSERT INTO moves VALUES (?, ?, ?, ?)",
                                [(case_id, str(s), str(d), final_status) for s, d in moves])

    def pending_moves(self) -> dict[int, list[tuple[Path, Path, str]]]:
        pending: dict[int, list[tuple[Path, Path, str]]] = {}
        for case_id, src, dst, status in self.db.execute("SELECT case_id, src, dst, final_status FROM moves"):
            pending.setdefault(case_id, []).append((Path(src), Path(dst), status))
        return pending

    def clear_moves(self, case_id: int, status: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM moves WHERE case_id = ?", (case_id,))
            self.db.execute("UPDATE cases SET status = ?, updated = ? WHERE id = ?", (status, now(), case_id))

    def transaction(self) -> _Transaction:
        return _Transaction(self.db)

    def by_status(self, *statuses: str) -> list[Row]:
        marks = ", ".join("?" for _ in statuses)
        return self._rows(f"WHERE status IN ({marks}) ORDER BY id", *statuses)

    def newest(self, limit: int, *statuses: str) -> list[Row]:
        marks = ", ".join("?" for _ in statuses)
        return self._rows(f"WHERE status IN ({marks}) ORDER BY updated DESC, id DESC LIMIT ?", *statuses, limit)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
