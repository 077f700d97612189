"""The builder's side of the package metadata (package/metadata.py): a built Package described as DA/T 46's 案卷
and its 件, with the format, size and digests of every file they came from, written beside the package PDF."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kunnan_docs.core.resources import checklist_data
from kunnan_docs.forms.qr import form_key
from kunnan_docs.package import metadata
from kunnan_docs.package.build import Package, Part
from kunnan_docs.package.layout import (
    DOCUMENTS,
    GENERATOR,
    INPUT_DIR,
    SIGNED,
    document,
    file_digests,
    package_metadata,
    package_pdf,
    safe_name,
)

FORMATS = {".pdf": "PDF", ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF"}
ARCHIVAL = "PDF/A-2b"  # the package PDF when declared so, and every generated form (forms/archival.py)
Digests = Mapping[str, tuple[str, str]]  # path relative to the package folder → (SHA-256, SM3)


def write_metadata(pkg: Package, folder: Path, known: Digests) -> dict[str, tuple[str, str]]:
    """Write the package's metadata XML (checked against the XSD first) once the PDF, documents/ and input/ are
    in the folder; `known` are the inputs' digests. Returns the digests it took of the files it read and of the
    XML itself, for the manifests, so that no file is read twice."""
    taken = dict(known)
    archive_no = pkg.case.archive_no

    def digests(path: Path) -> tuple[str, str]:
        name = path.relative_to(folder).as_posix()
        if name not in taken:
            taken[name] = file_digests(path)
        return taken[name]

    def electronic(path: Path, fmt: str = "", creator: str = "", location: str = "") -> metadata.Electronic:
        """A file of the package, or (`location` given) one kept in the outbox beside it."""
        sha256, sm3 = file_digests(path) if location else digests(path)
        return metadata.Electronic(path.name if location else path.relative_to(folder).as_posix(),
                                   path.stat().st_size, sha256, sm3, fmt or FORMATS[path.suffix.lower()],
                                   _pdf_version(path), creator, location)

    for path in sorted((folder / DOCUMENTS).iterdir()):
        digests(path)  # the Word files too: the manifests want them all
    pdf = electronic(package_pdf(folder, archive_no), "PDF" if pkg.pdfa_problems else ARCHIVAL, GENERATOR)
    stems = {form_key(f): f.stem for f, _, _ in pkg.forms}

    def source(part: Part) -> metadata.Electronic | None:
        if part.generated:
            return electronic(folder / document(stems[part.form_key], "pdf"), ARCHIVAL)
        if part.source:  # a scan, or a signed original, among the case's attachments: kept in input/
            path = folder / INPUT_DIR / part.source
            return electronic(path) if path.is_file() else None
        assert part.signed is not None  # filed by scan-in: kept in the outbox's signed originals store
        return electronic(part.signed.pdf, location=f"{SIGNED}/{safe_name(archive_no)}")

    parts = [(r, p) for r in pkg.results for p in r.parts]
    pieces = tuple(metadata.Piece(no, p.first, p.last, p.title, p.responsible, p.date.isoformat() if p.date else None,
                                  p.doc_no, _note(r.item.no, r.item.title, p, any(p is a for a in r.awaiting)),
                                  source(p))
                   for no, (r, p) in enumerate(parts, start=1))
    dates = sorted(p.date for _, p in parts if p.date)
    case = pkg.case
    filed = case.date_at("/filing_date")
    assert filed is not None  # required by the case schema
    volume = metadata.Volume(
        archive_no, filed.year, checklist_data()["retention"],
        case.data.get("district") or case.data.get("union", ""),
        f"{case.worker.get('name', '')} {pkg.spec.archive_title}", case.worker.get("name", ""),
        case.data.get("union", ""), (dates[0].isoformat(), dates[-1].isoformat()) if dates else None,
        checklist_data()["classification"], pkg.content_pages, pkg.status_label, pdf, pieces, GENERATOR)
    data = metadata.to_xml(volume)
    metadata.read(data)  # follows the XSD, or this is our fault: nothing is published
    path = package_metadata(folder, archive_no)
    path.write_bytes(data)
    digests(path)
    return taken


def _note(no: int, item: str, part: Part, awaiting: bool) -> str:
    """附注 of a 件: its checklist item, and what kind of original it is."""
    kind = "签章原件" if part.signed else "待签章,卷内为打印稿" if awaiting else ""
    return f"清单第{no}项 {item}" + (f";{kind}" if kind else "")


def _pdf_version(path: Path) -> str:
    """A PDF's version from its header (%PDF-1.7); "" for other files."""
    if path.suffix.lower() != ".pdf":
        return ""
    with path.open("rb") as f:
        head = f.read(16)
    return head[5:8].decode("ascii", "replace") if head.startswith(b"%PDF-") else ""
