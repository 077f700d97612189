"""Read what an outbox holds: the current package of every archive number (history and state excluded)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from kunnan_docs.core.labels import Kind
from kunnan_docs.errors import BadPackage
from kunnan_docs.package.layout import (
    AREAS,
    HISTORY,
    VERSION,
    Listing,
    Report,
    package_pdf,
    read_listing,
    read_report,
    safe_name,
)


@dataclass
class Published:
    """A package as lists see it; the whole typed report (checklist and all) is read when first asked for."""

    folder: Path
    listing: Listing

    @property
    def archive_no(self) -> str:
        return self.listing.archive_no

    @property
    def kind(self) -> Kind:
        return self.listing.kind

    @property
    def case(self) -> dict[str, Any]:
        return self.listing.case

    @property
    def pdf(self) -> Path:
        return package_pdf(self.folder, self.archive_no)

    @property
    def complete(self) -> bool:
        return self.listing.complete

    @cached_property
    def report(self) -> Report:
        """Raises BadPackage if report.json was spoilt since the listing was read."""
        return read_report(self.folder)


def _read(folder: Path) -> Published | None:
    try:
        return Published(folder, read_listing(folder))
    except BadPackage:
        return None


def _read_whole(folder: Path) -> Published | None:
    """For one package's page: the whole report checked up front, so that a spoilt checklist hides the package."""
    try:
        report = read_report(folder)
    except BadPackage:
        return None
    pkg = Published(folder, report.listing)
    pkg.report = report
    return pkg


def published(outbox: Path) -> list[Published]:
    """Every current package, sorted by archive number; unreadable folders are skipped, not fatal."""
    if not outbox.is_dir():
        return []
    with os.scandir(outbox) as entries:  # the directory listing tells folders apart: no stat per entry
        folders = [Path(e.path) for e in entries if e.is_dir() and not e.name.startswith(".") and e.name not in AREAS]
    return sorted((p for f in folders if (p := _read(f))), key=lambda p: p.archive_no)


def package_in(outbox: Path, folder: str) -> Published | None:
    """One current package by its folder name (as links carry it), without reading the whole outbox."""
    if folder != safe_name(folder) or folder.startswith(".") or folder in AREAS:
        return None
    return _read_whole(outbox / folder)


def history(outbox: Path, pkg: Published) -> list[tuple[int, Published]]:
    """The earlier versions of a package, numbered as publish numbered them, oldest first."""
    folder = outbox / HISTORY / pkg.folder.name
    versions = [(int(m.group(1)), v) for v in (folder.iterdir() if folder.is_dir() else []) if (m := VERSION.fullmatch(v.name))]
    return [(n, p) for n, v in sorted(versions) if (p := _read_whole(v))]
