"""Read what an outbox holds: the current package of every archive number (history and state excluded), and
the folders among them that cannot be read as a package (损坏), so that lists can show them instead of dropping
them without a word."""

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
from kunnan_docs.package.nolinks import LinkFound, open_below

LINKED = "这个文件夹是一个链接(指向发件夹以外的地方),不是本程序生成的案卷;为安全起见工作台不读取它。请把它移出发件夹。"
PDF_TAIL = 1024  # a PDF ends with %%EOF within its last bytes; one cut short during copying or writing does not


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


@dataclass(frozen=True)
class Damaged:
    """A folder among the packages that cannot be read as one; `reason` (Chinese) says what is wrong."""

    folder: Path
    reason: str


def _read(folder: Path) -> Published | Damaged:
    try:
        return Published(folder, read_listing(folder))
    except BadPackage as exc:
        return Damaged(folder, str(exc))


def _read_whole(folder: Path) -> Published | Damaged:
    """For one package's page: the whole report checked up front, so that a spoilt checklist shows as 损坏."""
    try:
        report = read_report(folder)
    except BadPackage as exc:
        return Damaged(folder, str(exc))
    pkg = Published(folder, report.listing)
    pkg.report = report
    return pkg


def survey(outbox: Path) -> tuple[list[Published], list[Damaged]]:
    """Every current package sorted by archive number, and the folders in their place that are not readable
    packages (a spoilt report.json, a linked folder) sorted by name."""
    if not outbox.is_dir():
        return [], []
    found: list[Published] = []
    damaged: list[Damaged] = []
    with os.scandir(outbox) as entries:  # the directory listing tells folders apart: no stat per entry
        for e in entries:
            if not e.is_dir() or e.name.startswith(".") or e.name in AREAS:
                continue
            read = Damaged(Path(e.path), LINKED) if e.is_symlink() else _read(Path(e.path))
            if isinstance(read, Published):
                found.append(read)
            else:
                damaged.append(read)
    return sorted(found, key=lambda p: p.archive_no), sorted(damaged, key=lambda d: d.folder.name)


def published(outbox: Path) -> list[Published]:
    """Every current package, sorted by archive number; unreadable folders are left out (see survey)."""
    return survey(outbox)[0]


def package_in(outbox: Path, folder: str) -> Published | None:
    """One current package by its folder name (as links carry it), without reading the whole outbox."""
    found = open_package(outbox, folder)
    return found if isinstance(found, Published) else None


def open_package(outbox: Path, folder: str) -> Published | Damaged | None:
    """One folder of the outbox as a package, as 损坏 with the reason, or None if there is no such folder."""
    if folder != safe_name(folder) or folder.startswith(".") or folder in AREAS:
        return None
    path = outbox / folder
    if path.is_symlink():
        return Damaged(path, LINKED) if path.is_dir() else None
    return _read_whole(path) if path.is_dir() else None


def pdf_problem(pkg: Published) -> str | None:
    """Why the package PDF is not whole (missing, cut short, a link), or None; reads only its last bytes."""
    name = pkg.pdf.name
    try:
        with open_below(pkg.folder, (name,)) as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - PDF_TAIL))
            whole = b"%%EOF" in f.read()
    except FileNotFoundError:
        return f"缺少案卷 PDF({name})。" + _REBUILD
    except LinkFound as exc:
        return str(exc)
    except OSError as exc:
        return f"案卷 PDF({name})无法读取({exc.__class__.__name__})。" + _REBUILD
    return None if whole else f"案卷 PDF({name})不完整:文件在中途被截断了。" + _REBUILD


_REBUILD = "这个案卷需要重新成卷。"  # the desk's 损坏 page says by whom and how (only the desk shows reasons)


def history(outbox: Path, pkg: Published) -> list[tuple[int, Published]]:
    """The earlier versions of a package, numbered as publish numbered them, oldest first."""
    folder = outbox / HISTORY / pkg.folder.name
    versions = [(int(m.group(1)), v) for v in (folder.iterdir() if folder.is_dir() else []) if (m := VERSION.fullmatch(v.name))]
    return [(n, p) for n, v in sorted(versions) if isinstance(p := _read_whole(v), Published)]
