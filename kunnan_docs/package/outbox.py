"""Read what an outbox holds: the current package of every archive number (history and state excluded)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kunnan_docs.errors import BadPackage
from kunnan_docs.package.layout import AREAS, HISTORY, VERSION, Report, package_pdf, read_report, safe_name


@dataclass
class Published:
    folder: Path
    report: Report

    @property
    def archive_no(self) -> str:
        return self.report.archive_no

    @property
    def kind(self) -> str:
        return self.report.kind

    @property
    def case(self) -> dict[str, Any]:
        return self.report.case

    @property
    def pdf(self) -> Path:
        return package_pdf(self.folder, self.archive_no)

    @property
    def complete(self) -> bool:
        return self.report.complete


def _read(folder: Path) -> Published | None:
    try:
        return Published(folder, read_report(folder))
    except BadPackage:
        return None


def published(outbox: Path) -> list[Published]:
    """Every current package, sorted by archive number; unreadable folders are skipped, not fatal."""
    if not outbox.is_dir():
        return []
    folders = [f for f in outbox.iterdir() if f.is_dir() and not f.name.startswith(".") and f.name not in AREAS]
    return sorted((p for f in folders if (p := _read(f))), key=lambda p: p.archive_no)


def package_in(outbox: Path, folder: str) -> Published | None:
    """One current package by its folder name (as links carry it), without reading the whole outbox."""
    if folder != safe_name(folder) or folder.startswith(".") or folder in AREAS:
        return None
    return _read(outbox / folder)


def history(outbox: Path, pkg: Published) -> list[tuple[int, Published]]:
    """The earlier versions of a package, numbered as publish numbered them, oldest first."""
    folder = outbox / HISTORY / pkg.folder.name
    versions = [(int(m.group(1)), v) for v in (folder.iterdir() if folder.is_dir() else []) if (m := VERSION.fullmatch(v.name))]
    return [(n, p) for n, v in sorted(versions) if (p := _read(v))]
