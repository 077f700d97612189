"""The ledger: one SQLite database recording every case the watcher has seen, pending filings, and entries
of the inbox it cannot use.

Watchers' main processes write it — one per inbox; the watchers of several inboxes may share an outbox and so
its ledger — and the desk adds one finished row per submission (source 工作台, with its user; `record`). Personal data stays out: neither the worker's ID number nor a hash of it is kept (who a file
belongs to is package.identity's business), and every text stored is masked
(privacy.mask_text) so that an ID or phone number quoted by a message or a file name never lands here.
Statuses: core.labels.Outcome values for finished cases, plus the watcher's own stages (core.labels.InboxStage).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kunnan_docs.core.labels import LEGACY_PUBLISHED, Outcome
from kunnan_docs.errors import injected_write_fault
from kunnan_docs.privacy import mask_text

BUSY_WAIT = 30.0  # seconds a statement waits for another writer (watchers of several inboxes, the desk)
PUBLISHED = (*(o.value for o in Outcome if o.published), LEGACY_PUBLISHED)

_TABLES = (
    """CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,            -- the case file, relative to the inbox
    content_hash TEXT,               -- pipeline.inputs_digest of the case file and every attachment
    archive_no TEXT,
    family TEXT,                     -- unused: ledgers before package.identity kept an unkeyed hash here
    status TEXT NOT NULL,
    reason TEXT,                     -- for waiting / rejected / duplicate, in Chinese, masked
    outputs TEXT,                    -- JSON list of published or moved-to paths
    first_seen TEXT NOT NULL,
    updated TEXT NOT NULL,
    user TEXT,                       -- who submitted it at the desk (source 工作台); NULL for inbox drops
    inbox TEXT                       -- the watched inbox (resolved, masked); NULL for the desk's rows
)""",
    """CREATE TABLE IF NOT EXISTS moves (   -- journal: a filing still to be finished after a crash
    case_id INTEGER NOT NULL,
    src TEXT NOT NULL,               -- '' for a note file to write at dst
    dst TEXT NOT NULL,
    final_status TEXT NOT NULL,
    note TEXT,
    inbox TEXT
)""",
    """CREATE TABLE IF NOT EXISTS unclaimed (  -- inbox entries that are neither a case nor refused: `status` names them
    inbox TEXT NOT NULL,
    entry TEXT NOT NULL,
    reason TEXT NOT NULL,
    seen TEXT NOT NULL,
    PRIMARY KEY (inbox, entry)
)""",
)
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS cases_inbox_source ON cases(inbox, source)",
    "CREATE INDEX IF NOT EXISTS cases_hash ON cases(content_hash)",
    "CREATE INDEX IF NOT EXISTS cases_archive_no ON cases(archive_no)",
    "CREATE INDEX IF NOT EXISTS cases_status ON cases(status)",
)
# Columns added since the first ledgers: (table, column, type). A ledger from before `inbox` has an unclaimed
# table keyed by entry alone; it is a list refreshed at every full scan, so it is made again.
_ADDED = (("moves", "note", "TEXT"), ("cases", "user", "TEXT"), ("cases", "inbox", "TEXT"), ("moves", "inbox", "TEXT"))


def now() -> str:
    return datetime.now().isoformat(timespec="seconds")


@dataclass
class Row:
    id: int
    source: str
    content_hash: str | None
    archive_no: str | None
    status: str
    reason: str | None
    outputs: list[str]
    first_seen: str
    updated: str
    user: str | None = None  # the desk's user, for rows of source 工作台


@dataclass
class Step:
    """One journaled step of a filing: move src to dst, or (src None) write `note` to dst."""

    src: Path | None
    dst: Path
    note: str | None = None


class Ledger:
    """The ledger of the outbox's watchers. Each watcher sees and changes only its own inbox's open cases, filings
    and unclaimed entries (`inbox`), so that watchers of several inboxes can share one outbox and one ledger;
    `status` and the desk (no inbox) read all of them."""

    def __init__(self, path: Path, inbox: Path | None = None, read_only: bool = False) -> None:
        """read_only: for readers beside the watcher (the web desk), which must never write or create it."""
        self.path = path
        self.inbox = mask_text(str(inbox.resolve())) if inbox else None
        self.user = "user"  # the column, or NULL in a ledger from before it, read by the desk before any migration
        if read_only:
            self.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_WAIT)
            if "user" not in {r[1] for r in self.db.execute("PRAGMA table_info(cases)")}:
                self.user = "NULL"
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # autocommit, explicit transactions; `serve` opens it in the main thread and hands it to the watcher's thread.
        # Several watchers write at once: every write waits its turn (busy timeout), a transaction takes the write
        # lock when it begins (BEGIN IMMEDIATE), and WAL lets readers go on meanwhile.
        self.db = sqlite3.connect(path, timeout=BUSY_WAIT, isolation_level=None, check_same_thread=False)
        self._wal()
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL: a killed process loses nothing committed
        with _Transaction(self.db):  # two watchers starting together: one creates or upgrades, the other sees it done
            self._create()

    def _wal(self) -> None:
        """Journal mode WAL. Two watchers opening a new ledger at once: SQLite refuses the second switch at once
        (database is locked) without waiting as for other statements, so it is retried here, for as long."""
        deadline = time.monotonic() + BUSY_WAIT
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _create(self) -> None:
        for statement in _TABLES:
            self.db.execute(statement)
        if "inbox" not in self._columns("unclaimed"):
            self.db.execute("DROP TABLE unclaimed")
            self.db.execute(_TABLES[2])
        for table, column, kind in _ADDED:
            if column not in self._columns(table):
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        for statement in _INDEXES:
            self.db.execute(statement)
        # an unkeyed hash of an ID number is found again by trying every birth date: ledgers before the keyed
        # family key (package.identity) lose it
        self.db.execute("UPDATE cases SET family = NULL WHERE family IS NOT NULL")
        if self.inbox:  # inbox rows from before the ledger knew inboxes: the one watcher of those days was this one
            self.db.execute("UPDATE cases SET inbox = ? WHERE inbox IS NULL AND user IS NULL", (self.inbox,))
            self.db.execute("UPDATE moves SET inbox = ? WHERE inbox IS NULL", (self.inbox,))

    def _columns(self, table: str) -> set[str]:
        return {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}

    def _mine(self) -> tuple[str, tuple[object, ...]]:
        """An SQL condition (and its argument) selecting this watcher's inbox; every row for a reader."""
        return ("inbox IS ?", (self.inbox,)) if self.inbox else ("1", ())

    def close(self) -> None:
        self.db.close()

    def _rows(self, sql: str, *args: object) -> list[Row]:
        rows = self.db.execute(f"SELECT id, source, content_hash, archive_no, status, reason, outputs, "
                               f"first_seen, updated, {self.user} FROM cases {sql}", args).fetchall()
        return [Row(*r[:6], json.loads(r[6] or "[]"), *r[7:]) for r in rows]

    def row(self, case_id: int) -> Row | None:
        rows = self._rows("WHERE id = ?", case_id)
        return rows[0] if rows else None

    def record(self, source: str, status: str, user: str, reason: str | None = None, **fields: object) -> int:
        """A case that came in finished (the desk builds it itself): one row, written whole in one statement."""
        t = now()
        injected_write_fault(self.path)
        values = {"source": mask_text(source), "status": status, "user": mask_text(user), "reason": _masked(reason),
                  "first_seen": t, "updated": t, **fields}
        if "outputs" in values:
            values["outputs"] = mask_text(json.dumps(values["outputs"], ensure_ascii=False))
        cur = self.db.execute(f"INSERT INTO cases ({', '.join(values)}) VALUES ({_marks(tuple(values))})",
                              tuple(values.values()))
        return int(cur.lastrowid)

    def open_row(self, source: str) -> Row | None:
        """The unfinished record (waiting or building) for a case file still in the inbox."""
        mine, scope = self._mine()
        rows = self._rows(f"WHERE {mine} AND source = ? AND status IN ('waiting', 'building') ORDER BY id DESC LIMIT 1",
                          *scope, mask_text(source))
        return rows[0] if rows else None

    def start(self, source: str, status: str, reason: str | None = None, **fields: object) -> int:
        """The open record of this case file, updated, or a new one."""
        row = self.open_row(source)
        if row:
            self.update(row.id, status=status, reason=reason, **fields)
            return row.id
        t = now()
        injected_write_fault(self.path)
        cur = self.db.execute("INSERT INTO cases (source, status, reason, first_seen, updated, inbox) "
                              "VALUES (?, ?, ?, ?, ?, ?)", (mask_text(source), status, _masked(reason), t, t, self.inbox))
        if fields:
            self.update(int(cur.lastrowid), **fields)
        return int(cur.lastrowid)

    def update(self, case_id: int, **fields: object) -> None:
        if "outputs" in fields:
            fields["outputs"] = mask_text(json.dumps(fields["outputs"], ensure_ascii=False))
        if "reason" in fields:
            fields["reason"] = _masked(fields["reason"])  # type: ignore[arg-type]
        fields["updated"] = now()
        injected_write_fault(self.path)
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(f"UPDATE cases SET {cols} WHERE id = ?", (*fields.values(), case_id))

    def finished_with_hash(self, content_hash: str) -> Row | None:
        rows = self._rows(f"WHERE content_hash = ? AND status IN ({_marks(PUBLISHED)}) ORDER BY id DESC LIMIT 1",
                          content_hash, *PUBLISHED)
        return rows[0] if rows else None

    def journal(self, case_id: int, steps: list[Step], final_status: str, **fields: object) -> None:
        """Record a whole filing (and the case's reason and outputs) at once, before any of it is done."""
        with self.transaction():
            if fields:
                self.update(case_id, **fields)
            self.db.executemany("INSERT INTO moves (case_id, src, dst, final_status, note, inbox) "
                                "VALUES (?, ?, ?, ?, ?, ?)",
                                [(case_id, str(s.src) if s.src else "", str(s.dst), final_status, s.note, self.inbox)
                                 for s in steps])

    def pending(self) -> dict[int, tuple[str, list[Step]]]:
        """This watcher's filings still to be finished (another inbox's are its watcher's to finish)."""
        filings: dict[int, tuple[str, list[Step]]] = {}
        mine, scope = self._mine()
        for case_id, src, dst, status, note in self.db.execute(
                f"SELECT case_id, src, dst, final_status, note FROM moves WHERE {mine} ORDER BY rowid", scope):
            filings.setdefault(case_id, (status, []))[1].append(Step(Path(src) if src else None, Path(dst), note))
        return filings

    def finish(self, case_id: int, status: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM moves WHERE case_id = ?", (case_id,))
            self.db.execute("UPDATE cases SET status = ?, updated = ? WHERE id = ?", (status, now(), case_id))

    def set_unclaimed(self, entries: dict[str, str]) -> None:
        """Replace the list of this watcher's inbox entries it cannot use."""
        with self.transaction():
            self.db.execute("DELETE FROM unclaimed WHERE inbox = ?", (self.inbox,))
            self.db.executemany("INSERT INTO unclaimed (inbox, entry, reason, seen) VALUES (?, ?, ?, ?)",
                                [(self.inbox, mask_text(e), mask_text(r), now()) for e, r in sorted(entries.items())])

    def unclaimed(self) -> list[tuple[str, str, str]]:
        mine, scope = self._mine()
        return self.db.execute(f"SELECT entry, reason, seen FROM unclaimed WHERE {mine} ORDER BY inbox, entry",
                               scope).fetchall()

    def transaction(self) -> _Transaction:
        injected_write_fault(self.path)
        return _Transaction(self.db)

    def by_status(self, *statuses: str) -> list[Row]:
        mine, scope = self._mine()
        return self._rows(f"WHERE {mine} AND status IN ({_marks(statuses)}) ORDER BY id", *scope, *statuses)

    def newest(self, limit: int, *statuses: str) -> list[Row]:
        return self._rows(f"WHERE status IN ({_marks(statuses)}) ORDER BY updated DESC, id DESC LIMIT ?",
                          *statuses, limit)


def _marks(values: tuple[str, ...]) -> str:
    return ", ".join("?" for _ in values)


def _masked(text: str | None) -> str | None:
    return mask_text(text) if text else text


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
