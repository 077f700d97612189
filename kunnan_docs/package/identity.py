"""The identity index of an outbox, and the check every door runs before a case may be published.

For each current package: its archive number, its family key (core.identity: a keyed hash of the ID number)
and whether it is active (its listing's kind and notice date). Derived from the packages themselves — the
listing of report.json and the ID number in input/ — so it can always be rebuilt, and kept in
OUTBOX/.kunnan/identity.sqlite with each package's report.json stat (a publish writes a new one, never in place):
a package is read again only when that changed, and nothing at all is looked at while the outbox folder itself
is unchanged (every publish renames a folder into it). A check then costs two indexed look-ups. The database is
only ever a copy: missing, damaged or made with another key, it is rebuilt; each refresh is one transaction.

The key of the family hashes is OUTBOX/.kunnan/identity.key (owner-only, made on first use). Lost, a new one is
made and the index rebuilt from the packages; nothing else depends on it. An outbox where it cannot be written
(read-only share) is checked with a key and an index that live as long as the process.

Readers only: this module reads packages through layout, never the builder.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kunnan_docs.core.casefile import Case, parse_case_json, read_case_bytes
from kunnan_docs.core.findings import Finding, Severity, title_of
from kunnan_docs.core.identity import Correction, archive_key, closed_on, family_key, is_active
from kunnan_docs.errors import BadPackage, CaseRejected, ConfigError
from kunnan_docs.package.layout import (
    AREAS,
    IDENTITY_DB,
    IDENTITY_KEY,
    INPUT_DIR,
    REPORT,
    STATE_DIR,
    Corrected,
    read_listing,
    read_report,
)
from kunnan_docs.privacy import mask_number, mask_text

_KEY_HEX = 64  # 32 random bytes, written as hex
_RACY_NS = 2_000_000_000  # coarser than any file system's timestamps (FAT: 2 s)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS packages (  -- one row per current package folder; archive_no NULL: no readable listing
    folder TEXT PRIMARY KEY,
    stamp TEXT NOT NULL,               -- its report.json stat: inode, size, mtime, ctime
    archive_no TEXT,
    archive_key TEXT,                  -- core.identity.archive_key
    family TEXT,                       -- core.identity.family_key of the ID number in input/; NULL if unknown
    active INTEGER,
    name TEXT,
    id_masked TEXT
);
CREATE INDEX IF NOT EXISTS packages_archive ON packages(archive_key);
CREATE INDEX IF NOT EXISTS packages_family ON packages(family);
"""
_PROCESS_KEY = secrets.token_bytes(32)  # for an outbox whose key file cannot be written


@dataclass(frozen=True)
class Entry:
    """One file known to the index: a current package, or a case checked earlier in the same run."""

    archive_no: str
    family: str | None  # None: the ID number could not be read (a package from before input/ was kept)
    active: bool
    name: str
    id_masked: str
    folder: str | None = None  # the package folder; None for a case of this run (validate, import) not yet published
    origin: str = ""  # for such a case: where it is (a file, a sheet row), for the message

    @property
    def key(self) -> str:
        return archive_key(self.archive_no)


class Index:
    """The files of an outbox by archive number and by person (from the index database), with the cases admitted
    in this run, and the checks against them."""

    def __init__(self, db: sqlite3.Connection, secret: bytes) -> None:
        self._db = db
        self._secret = secret
        self._admitted: list[Entry] = []

    def _rows(self, where: str = "", *args: object) -> list[Entry]:
        rows = self._db.execute(f"SELECT archive_no, family, active, name, id_masked, folder FROM packages "
                                f"WHERE archive_no IS NOT NULL {where} ORDER BY folder", args).fetchall()
        return [Entry(a, f, bool(active), n, i, folder) for a, f, active, n, i, folder in rows]

    def _same(self, key: str) -> list[Entry]:
        return self._rows("AND archive_key = ?", key) + [e for e in self._admitted if e.key == key]

    def _of_family(self, family: str) -> list[Entry]:
        return self._rows("AND family = ?", family) + [e for e in self._admitted if e.family == family]

    @property
    def entries(self) -> list[Entry]:
        return self._rows() + self._admitted

    def family(self, case: Case) -> str | None:
        number = case.worker.get("id_number")
        return family_key(number, self._secret) if isinstance(number, str) and number.strip() else None

    def families(self) -> dict[str, str]:
        """Family key by package folder, for lists that count people rather than packages."""
        return {e.folder: e.family for e in self.entries if e.folder is not None and e.family}

    def current(self, archive_no: str) -> Entry | None:
        """The published package of this archive number (case-folded), the one spelled alike first."""
        same = self._rows("AND archive_key = ?", archive_key(archive_no))
        return next((e for e in same if e.archive_no == archive_no), same[0] if same else None)

    def admit(self, case: Case, origin: str) -> None:
        """Count a case that passed the check as known, so that later cases of the same run are checked against it."""
        self._admitted.append(_entry_of(case, self.family(case), origin))

    def refusal(self, case: Case, correction: Correction | None = None) -> Finding | None:
        """Why this case may not be published over this outbox, or None."""
        return next((f for f in self.check(case, correction) if f.severity is Severity.ERROR), None)

    def check(self, case: Case, correction: Correction | None = None) -> list[Finding]:
        """The identity findings of a case: errors that refuse it, and a warning when its archive number is
        spelled otherwise than the published one (which it then is)."""
        number, key, family = case.archive_no, archive_key(case.archive_no), self.family(case)
        same = self._same(key)
        found: list[Finding] = []
        if correction is not None and not any(e.folder is not None for e in same):
            found.append(_error("ID-CORRECTION-NONE", "/archive_no",
                                f"档案号 {number} 还没有已发布的案卷,无可更正。新建档案请直接提交,不要作为更正。"))
        if correction is None:
            found += _family_change(number, family, case.worker.get("name"), same)
        if is_active(case.kind, closed_on(case.kind, case.data)):
            found += self._second_file(case, key, family, same)
        current = self.current(number)
        if current is not None and current.archive_no != number:
            found.append(Finding("ID-ARCHIVE-SPELLING", Severity.WARNING, "/archive_no",
                                 f"档案号 {number} 与已发布的 {current.archive_no} 只差大小写或首尾空格,是同一个档案号,"
                                 f"按 {current.archive_no} 成卷。请以后写作 {current.archive_no}。"))
        return found

    def _second_file(self, case: Case, key: str, family: str | None, same: list[Entry]) -> list[Finding]:
        """One person, one active file: an active case may not open a second one (keeping one that is already
        active, as in an outbox that holds duplicates from before this check, is no second one)."""
        found = []
        previous = case.data.get("previous_archive_no")
        if isinstance(previous, str) and archive_key(previous) != key:
            still = [e for e in self._same(archive_key(previous)) if e.active]
            if still:
                found.append(_error("ID-PREVIOUS-ACTIVE", "/previous_archive_no",
                                    f"原档案号 {still[0].archive_no} 的档案仍在档(建档中或脱困办理中,未发出书面通知,"
                                    "也未注销)。返困重新建档须在原档案脱困或注销之后;若仍是同一次困难,"
                                    f"请在档案 {still[0].archive_no} 上继续办理,不要另建。"))
        if family is None or any(e.active and e.family == family for e in same):
            return found
        others = sorted((e for e in self._of_family(family) if e.active and e.key != key), key=lambda e: e.key)
        if others:
            files = "、".join(f"{e.archive_no}({e.name}{_where(e)})" for e in others)
            masked = mask_number(str(case.worker.get("id_number", "")))
            found.append(_error("ID-PERSON-ACTIVE", "/worker/id_number",
                                f"身份证号 {masked} 的职工已有在档的档案 {files}。同一人只能有一份在档档案"
                                f"(建档中或脱困办理中):若是同一户,请在档案 {others[0].archive_no} 上继续办理,"
                                "不要另建档案;若那一份是重复建档,请先把它注销(注销原因“重复建档”)。"
                                "脱困或注销之后返困的,重新建档时在“原档案号”中填写原档案号。"))
        return found


def _family_change(number: str, family: str | None, name: Any, same: list[Entry]) -> list[Finding]:
    """Without a correction, an archive number keeps its family and its worker's name."""
    other = next((e for e in same if e.family and family and e.family != family), None)
    if other is not None:
        shown = f"{other.archive_no} " if other.archive_no == number else f"{other.archive_no}(与 {number} 只差大小写)"
        return [_error("ID-ARCHIVE-FAMILY", "/archive_no",
                       f"档案号 {shown}已是另一户(身份证号 {other.id_masked}{_where(other)})的档案。"
                       "若是另一户,请换一个档案号;若是更正本户的身份证号或姓名,请在工作台该案卷页点“更正”。")]
    renamed = next((e for e in same if e.family == family and isinstance(name, str)
                    and e.name.strip() != name.strip()), None)
    if renamed is not None:
        return [_error("ID-NAME-CHANGED", "/worker/name",
                       f"档案号 {renamed.archive_no} {_known_as(renamed)}中职工姓名是“{renamed.name}”,本次是“{name}”。"
                       "姓名不随重新提交改动:若是更正本户的姓名,请在工作台该案卷页点“更正”;"
                       "若是另一户,请换一个档案号。")]
    return []


def _known_as(entry: Entry) -> str:
    return "已发布的案卷" if entry.folder is not None else entry.origin


def _where(entry: Entry) -> str:
    return f",见{entry.origin}" if entry.origin else ""


def _error(code: str, pointer: str, message: str) -> Finding:
    return Finding(code, Severity.ERROR, pointer, message)


def _entry_of(case: Case, family: str | None, origin: str) -> Entry:
    return Entry(case.archive_no, family, is_active(case.kind, closed_on(case.kind, case.data)),
                 str(case.worker.get("name", "")), mask_number(str(case.worker.get("id_number", ""))), None, origin)


# -- the outbox's key and the index database -----------------------------------------------------------

def _key(outbox: Path) -> tuple[bytes, bool]:
    """The outbox's key, made on first use; (key, whether it is kept in the outbox)."""
    path = outbox / STATE_DIR / IDENTITY_KEY
    if not path.exists():
        try:
            _make_key(path)
        except OSError:  # a read-only outbox, a full disk: checked all the same, nothing kept
            if not path.exists():
                return _PROCESS_KEY, False
    return _read_key(path), True


def _make_key(path: Path) -> None:
    """Write a new key aside, then link it into place: the key file is whole whenever it exists, and of two
    processes making it at once, the first one's stays (the other reads it)."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(_KEY_HEX // 2) + "\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: its key stays
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _read_key(path: Path) -> bytes:
    text = path.read_text(encoding="ascii", errors="replace").strip()
    if len(text) != _KEY_HEX or any(c not in "0123456789abcdef" for c in text):
        raise ConfigError(f"身份密钥文件 {path} 已损坏。请删除该文件后重新运行:会自动生成新密钥,"
                          "并从各案卷重建身份索引,不影响已发布的案卷。")
    return bytes.fromhex(text)


def load(outbox: Path | None) -> Index:
    """The outbox's identity index, brought up to date with its packages (read only where they changed); for no
    outbox, an empty one (to check the cases of one run against each other). Where the index cannot be kept (a
    full disk, a read-only folder, its database held by another process past the timeout), the check is made
    all the same from an index in memory."""
    if outbox is None or not outbox.is_dir() or not any(_package_names(outbox)):
        return Index(_open(None), _PROCESS_KEY)  # nothing to compare with: no key made, nothing written
    secret, kept = _key(outbox)
    if kept:
        path = outbox / STATE_DIR / IDENTITY_DB
        try:
            db = _open(path)
            _refresh(db, path, outbox, secret)
            return Index(db, secret)
        except (sqlite3.Error, OSError):
            pass
    db = _open(None)
    _refresh(db, None, outbox, secret)
    return Index(db, secret)


def refusal(outbox: Path, case: Case, correction: Correction | None = None) -> Finding | None:
    """Why this case may not be published into this outbox (another family's archive number, a person's second
    active file, a refiling over an active file, a correction of nothing), or None. Every door calls this, the
    pipeline last of all right before it publishes."""
    return load(outbox).refusal(case, correction)


def _open(path: Path | None) -> sqlite3.Connection:
    """The index database (in memory for no path); a database that cannot be opened is started afresh: it is only
    ever a copy of what the packages say."""
    if path is not None:
        fresh = not path.exists()
        try:
            return _connect(path, fresh)
        except sqlite3.OperationalError:
            raise  # e.g. held by another process for longer than the timeout: not damaged
        except sqlite3.DatabaseError:  # not a database (any more)
            path.unlink()
            return _connect(path, True)
    return _connect(None, True)


def _connect(path: Path | None, fresh: bool) -> sqlite3.Connection:
    if fresh and path is not None:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # owner-only before the first byte is written
    db = sqlite3.connect(":memory:" if path is None else path, timeout=30, isolation_level=None)
    db.executescript(_SCHEMA)
    return db


def _refresh(db: sqlite3.Connection, path: Path | None, outbox: Path, secret: bytes) -> None:
    """Bring the index up to date with the packages: nothing to do while the outbox folder is unchanged since the
    last refresh (every publish renames a folder into or out of it); else each package whose report.json stat
    changed is read again, in one transaction (a kill leaves the old index or the new one)."""
    tag = hmac.new(secret, b"kunnan-identity-index", "sha256").hexdigest()[:16]
    before = _stamp(outbox)
    if before is not None and _meta(db, "outbox") == f"{tag} {before}":
        return
    db.execute("BEGIN IMMEDIATE")  # one refresh at a time; readers see the old index meanwhile
    try:
        if _meta(db, "key") != tag:  # made with another key: its family keys mean nothing now
            db.execute("DELETE FROM packages")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('key', ?)", (tag,))
        known = dict(db.execute("SELECT folder, stamp FROM packages").fetchall())
        current = dict(_packages(outbox))
        db.executemany("DELETE FROM packages WHERE folder = ?", [(f,) for f in known.keys() - current.keys()])
        db.executemany("INSERT OR REPLACE INTO packages VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       [_derive(outbox / name, stamp, secret) for name, stamp in sorted(current.items())
                        if known.get(name) != stamp])
        db.execute("INSERT OR REPLACE INTO meta VALUES ('outbox', ?)", (f"{tag} {before}",))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if before is not None and _racy(path, before):
        db.execute("DELETE FROM meta WHERE name = 'outbox'")


def _meta(db: sqlite3.Connection, name: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def _stamp(path: Path | str) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_ino} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns}"


def _racy(path: Path | None, stamp: str) -> bool:
    """A folder changed within the file system's timestamp granularity before the refresh may change again without
    its time moving (as git's racy index entries): then the next check looks at the packages again. Both times come
    from the outbox's file system (the database lives in it), so no other computer's clock matters."""
    return path is None or os.stat(path).st_mtime_ns - int(stamp.split()[2]) < _RACY_NS


def _package_names(outbox: Path) -> Iterator[str]:
    """The current package folders' names, as the directory lists them (no stat)."""
    with os.scandir(outbox) as entries:
        for e in entries:
            if not e.name.startswith(".") and e.name not in AREAS and e.is_dir():
                yield e.name


def _packages(outbox: Path) -> Iterator[tuple[str, str]]:
    """Each current package folder's name and its report.json stat ("" when it has none)."""
    root = os.fspath(outbox)
    for name in _package_names(outbox):
        yield name, _stamp(os.path.join(root, name, REPORT)) or ""  # plain strings: pathlib costs more than stat


def _derive(folder: Path, stamp: str, secret: bytes) -> tuple[object, ...]:
    """A package's row, read from its listing and input/; a package without a readable listing is kept as its
    stamp alone (no file the checks can compare with), so that it is not read again until it changes."""
    try:
        listing = read_listing(folder)
    except BadPackage:
        return folder.name, stamp, None, None, None, None, None, None
    case, data = listing.case, input_case(folder) or {}
    number = (data.get("worker") or {}).get("id_number")
    family = family_key(number, secret) if isinstance(number, str) and number.strip() else None
    return (folder.name, stamp, listing.archive_no, archive_key(listing.archive_no), family,
            is_active(listing.kind, closed_on(listing.kind, data) or case.get("notice_date")), str(case.get("worker_name") or ""),
            str(case.get("id_number_masked") or ""))


def input_case(folder: Path) -> dict[str, Any] | None:
    """The case file a package was built from (the one *.json in its input/), or None."""
    try:
        found = [p for p in (folder / INPUT_DIR).iterdir() if p.suffix.lower() == ".json" and p.is_file()]
        if len(found) != 1:
            return None
        data = parse_case_json(read_case_bytes(found[0]), found[0].name)
    except (OSError, CaseRejected):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("worker"), dict) else None


# -- corrections ----------------------------------------------------------------------------------------

def corrections(outbox: Path, index: Index, case: Case, correction: Correction | None) -> tuple[Corrected, ...]:
    """The corrections the case's package records: those of the current package, and this one (the titles of the
    fields it changes against the case the current package was built from, never their values)."""
    current = index.current(case.archive_no)
    earlier: tuple[Corrected, ...] = ()
    old: dict[str, Any] = {}
    if current is not None and current.folder is not None:
        folder = outbox / current.folder
        try:
            earlier = read_report(folder).corrections
        except BadPackage:
            earlier = ()
        old = input_case(folder) or {}
    if correction is None:
        return earlier
    fields = tuple(dict.fromkeys(title_of(p) for p in changed(old, case.data)))
    return (*earlier, Corrected(correction.date.isoformat(), mask_text(correction.by), mask_text(correction.reason),
                                fields))


def changed(old: Any, new: Any, pointer: str = "") -> Iterator[str]:
    """JSON pointers where two case files differ: the deepest object key that differs; a list as a whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*new, *(k for k in old if k not in new)]:
            if old.get(key) != new.get(key):
                yield from changed(old.get(key), new.get(key), f"{pointer}/{key}")
    elif old != new:
        yield pointer
