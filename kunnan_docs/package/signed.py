"""The signed originals store: scanned, signed and sealed pages of the forms we printed, per archive number.

`outbox/_签章原件/<档案号>/<form_key>.pdf` holds the scanned pages of one form in order (embedded as
they came, never re-encoded) and `<form_key>.json` says where they came from: the fingerprint of the
print that was signed, the scanner file and its page numbers, and which signature or seal areas looked
blank. The build puts these pages in place of the generated form when the fingerprint still matches.
Both files are written aside and renamed into place, the PDF first; the JSON carries the PDF's SHA-256,
so a pair torn by a crash between the two renames is not taken for an original.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf

from kunnan_docs.forms.qr import form_key as form_key  # the store names files by it
from kunnan_docs.package.layout import SIGNED, safe_name


@dataclass(frozen=True)
class InkFlag:
    """One signature cell or seal area on one page of a form, and whether ink was found in it."""

    page: int  # page of the form, 1-based
    area: str  # the cell's printed label, e.g. 职工本人签字
    kind: str  # signature | seal
    ink: bool

    @property
    def message(self) -> str:
        return f"第{self.page}页'{self.area}'栏似为空白,请核对"

    def to_dict(self) -> dict[str, Any]:
        return {"page": self.page, "area": self.area, "kind": self.kind, "ink": self.ink}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InkFlag:
        return cls(int(d["page"]), str(d["area"]), str(d.get("kind", "signature")), bool(d["ink"]))


@dataclass(frozen=True)
class SignedOriginal:
    form_key: str
    pdf: Path  # the scanned pages; a case attachment's file when named in the case
    fingerprint: str  # of the print that was signed (forms.qr.form_fingerprint)
    source: str  # scanner file name (or the case attachment's path)
    pages: list[int]  # page numbers within that file, in form order
    ink: list[InkFlag] = field(default_factory=list)
    filed: str = ""  # when the pages were filed (ISO date-time), for the due list; empty if unknown

    @property
    def blank_areas(self) -> list[InkFlag]:
        return [f for f in self.ink if not f.ink]

    def meta(self) -> dict[str, Any]:
        return {"form_key": self.form_key, "fingerprint": self.fingerprint, "source": self.source,
                "pages": self.pages, "ink": [f.to_dict() for f in self.ink], "filed": self.filed}


def store_dir(outbox: Path, archive_no: str) -> Path:
    return outbox / SIGNED / safe_name(archive_no)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _pdf_bytes(pages: Path | bytes | pikepdf.Pdf | list[pikepdf.Page]) -> bytes:
    """The pages as one PDF; an existing PDF file or bytes go in unchanged, pages are copied without re-encoding."""
    if isinstance(pages, Path):
        return pages.read_bytes()
    if isinstance(pages, bytes):
        return pages
    if isinstance(pages, pikepdf.Pdf):
        source = pages
    else:
        source = pikepdf.new()
        source.pages.extend(pages)
    buf = io.BytesIO()
    source.save(buf, deterministic_id=True)
    return buf.getvalue()


def store_original(outbox: Path, archive_no: str, key: str, pages: Path | bytes | pikepdf.Pdf | list[pikepdf.Page],
                   meta: dict[str, Any]) -> SignedOriginal:
    """File one form's signed pages (replacing an earlier scan of the same form).

    `meta` holds fingerprint, source, pages and optionally ink (list of InkFlag dicts) and filed."""
    folder = store_dir(outbox, archive_no)
    folder.mkdir(parents=True, exist_ok=True)
    data = _pdf_bytes(pages)
    pdf_path = folder / f"{key}.pdf"
    _write_atomic(pdf_path, data)
    record = {**meta, "form_key": key, "archive_no": archive_no, "pdf_sha256": hashlib.sha256(data).hexdigest()}
    _write_atomic(folder / f"{key}.json", (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode())
    return _original(pdf_path, record)


def _original(pdf: Path, record: dict[str, Any]) -> SignedOriginal:
    return SignedOriginal(str(record["form_key"]), pdf, str(record["fingerprint"]), str(record.get("source", "")),
                          [int(p) for p in record.get("pages", [])],
                          [InkFlag.from_dict(d) for d in record.get("ink", [])], str(record.get("filed", "")))


def originals_for(outbox: Path, archive_no: str) -> dict[str, SignedOriginal]:
    """Every complete (PDF and matching JSON) original filed for this archive number, by form_key."""
    folder = store_dir(outbox, archive_no)
    found: dict[str, SignedOriginal] = {}
    if not folder.is_dir():
        return found
    for meta_path in sorted(folder.glob("*.json")):
        pdf_path = meta_path.with_suffix(".pdf")
        try:
            record = json.loads(meta_path.read_text(encoding="utf-8"))
            data = pdf_path.read_bytes()
        except (OSError, ValueError):
            continue
        if record.get("pdf_sha256") != hashlib.sha256(data).hexdigest() or record.get("form_key") != meta_path.stem:
            continue
        found[meta_path.stem] = _original(pdf_path, record)
    return found
