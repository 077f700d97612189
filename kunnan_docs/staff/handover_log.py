"""The outbox's memory of its handovers, so that a package goes to the district once, and again only when it
was corrected after it went.

Every handover is one JSON line in OUTBOX/.kunnan/handovers.jsonl: date, district, receiving unit, who made
it, where its folder and zip are, and each package's archive number, version and the SHA-256 of its
manifest-sha256.txt as handed over. A package whose manifest now differs was changed after its handover.
A line is written whole by one write under a lock, then flushed to disk; a crash mid-write leaves a torn
last line, which readers skip and the next writer ends, so a handover counts once its line is complete.
Reads only report.json listings and manifests: `status` loads no typesetting.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

from filelock import FileLock

from kunnan_docs.core.zh import zh_date
from kunnan_docs.errors import BadPackage
from kunnan_docs.package.layout import HISTORY, MANIFEST, STATE_DIR, VERSION, read_report
from kunnan_docs.package.outbox import Published

LOG = "handovers.jsonl"  # in the outbox's state folder, beside the ledger and the desk's audit log


def log_path(outbox: Path) -> Path:
    return outbox / STATE_DIR / LOG


def same_archive_no(archive_no: str) -> str:
    """Archive numbers compared as the outbox compares them: trimmed and case-folded."""
    return archive_no.strip().casefold()


@dataclass(frozen=True)
class Handed:
    """One package as it left: which version, and the digest of its manifest (its whole content)."""

    archive_no: str
    version: int
    manifest: str


@dataclass(frozen=True)
class HandoverRecord:
    date: date
    district: str
    receiver: str  # 接收单位 on the register; the district unless told otherwise
    by: str  # who made it: the desk's user, or --by / the login name on the command line
    folder: str  # relative to the outbox when inside it (the desk's), else as given
    zip: str
    packages: tuple[Handed, ...]

    def to_json(self) -> str:
        data = asdict(self)
        data["date"] = self.date.isoformat()
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HandoverRecord:
        """KeyError, TypeError or ValueError for a line that is not a whole record."""
        packages = tuple(Handed(str(p["archive_no"]), int(p["version"]), str(p["manifest"])) for p in data["packages"])
        return cls(date.fromisoformat(data["date"]), str(data["district"]), str(data["receiver"]), str(data["by"]),
                   str(data["folder"]), str(data["zip"]), packages)

    def holds(self, archive_no: str) -> Handed | None:
        key = same_archive_no(archive_no)
        return next((p for p in self.packages if same_archive_no(p.archive_no) == key), None)


def past(outbox: Path) -> list[HandoverRecord]:
    """Every complete handover recorded in the outbox, oldest first."""
    path = log_path(outbox)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            records.append(HandoverRecord.from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            continue  # the torn tail of a write a crash interrupted: that handover never completed
    return records


def record(outbox: Path, handover: HandoverRecord) -> None:
    """Append one line, whole, flushed to disk; concurrent handovers (desk and command line) take turns."""
    path = log_path(outbox)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = handover.to_json() + "\n"
    with (FileLock(path.with_name(LOG + ".lock")),
          os.fdopen(os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600), "a+b") as f):
        if f.seek(0, os.SEEK_END):
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                line = "\n" + line  # ends the torn line a crash left, so that this one stays whole
        f.write(line.encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def manifest_digest(folder: Path) -> str:
    """SHA-256 of a package's manifest-sha256.txt, which lists every file's digest: equal digests, equal packages."""
    return hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()


def version(outbox: Path, folder: Path) -> int:
    """The current package's version number: one more than its latest earlier version in _历史版本/."""
    earlier = outbox / HISTORY / folder.name
    numbers = [int(m.group(1)) for p in (earlier.iterdir() if earlier.is_dir() else []) if (m := VERSION.fullmatch(p.name))]
    return 1 + max(numbers, default=0)


class Standing(StrEnum):
    """Where a package stands towards the district."""

    NEW = "new"
    HANDED_OVER = "handed_over"
    CHANGED = "changed"  # its manifest differs from the one handed over: a record, a scan, a step since
    CORRECTED = "corrected"  # changed, and a correction (更正) among the changes: named as such

    @property
    def label(self) -> str:
        return {"new": "未移交", "handed_over": "已移交", "changed": "移交后有变动，需重新移交",
                "corrected": "移交后已更正，需重新移交"}[self.value]


@dataclass(frozen=True)
class Offer:
    """A package of the district with its standing and its latest handover (None if never handed over)."""

    package: Published
    standing: Standing
    last: HandoverRecord | None = None
    last_version: int = 0  # the version that went then

    @property
    def offered(self) -> bool:
        """Offered by default: never handed over, or changed or corrected since."""
        return self.standing is not Standing.HANDED_OVER

    @property
    def text(self) -> str:
        """已移交（2019年11月1日）, 移交后已更正，需重新移交（前次2019年11月1日移交第1版）, 未移交."""
        if self.last is None:
            return self.standing.label
        if self.standing is Standing.HANDED_OVER:
            return f"{self.standing.label}（{zh_date(self.last.date)}）"
        return f"{self.standing.label}（前次{zh_date(self.last.date)}移交第{self.last_version}版）"


def standings(packages: Iterable[Published], history: list[HandoverRecord]) -> list[Offer]:
    """Each package's standing against the history; only packages handed over before have their manifest read."""
    latest: dict[str, tuple[HandoverRecord, Handed]] = {}
    for handover in history:
        for handed in handover.packages:
            latest[same_archive_no(handed.archive_no)] = (handover, handed)
    offers = []
    for pkg in packages:
        found = latest.get(same_archive_no(pkg.archive_no))
        if found is None:
            offers.append(Offer(pkg, Standing.NEW))
            continue
        handover, handed = found
        try:
            same = manifest_digest(pkg.folder) == handed.manifest
        except OSError:  # a manifest gone missing: verify names the problem, here it is simply not the same
            same = False
        standing = Standing.HANDED_OVER if same else corrected_since(pkg, handed)
        offers.append(Offer(pkg, standing, handover, handed.version))
    return offers


def corrected_since(pkg: Published, handed: Handed) -> Standing:
    """CORRECTED when the package records more corrections than the version handed over did (corrections are carried
    forward from version to version), else CHANGED. Reads the two report.json files of a changed package only."""
    try:
        now = len(pkg.report.corrections)
        if not now:
            return Standing.CHANGED
        then = read_report(pkg.folder.parent / HISTORY / pkg.folder.name / f"第{handed.version}版").corrections
    except BadPackage:  # the version handed over is gone from the history: any correction may be newer
        return Standing.CORRECTED
    return Standing.CORRECTED if now > len(then) else Standing.CHANGED
