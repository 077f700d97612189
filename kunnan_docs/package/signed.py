"""The signed originals store: scanned, signed and sealed pages of the forms we printed, per archive number.

`outbox/_签章原件/<档案号>/<form_key>.pdf` holds the scanned pages of one form in order (embedded as
they came, never re-encoded) and `<form_key>.json` says where they came from: the fingerprint of the
print that was signed, the scanner file and its page numbers, and which signature or seal areas looked
blank. The build puts these pages in place of the generated form when the fingerprint still matches.
Both files are written aside and renamed into place, the PDF first; the JSON carries the PDF's SHA-256,
so a pair torn by a crash between the two renames is not taken for an original.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pikepdf
from PIL import Image

from kunnan_docs.errors import injected_write_fault
from kunnan_docs.forms.qr import PAGE_MM, PageCode, code_square, form_label, parse
from kunnan_docs.forms.qr import form_key as form_key  # the store's file names: annex3, annex7-2 …
from kunnan_docs.package.geometry import fills, page_quad
from kunnan_docs.package.ink import METHOD, SCAN_DPI, InkFlag, Located, form_flags
from kunnan_docs.package.layout import SIGNED, safe_name
from kunnan_docs.package.pageimage import PageRead, ScanPages

if TYPE_CHECKING:
    from kunnan_docs.forms.pdf import Box  # the renderer's areas, for the ink check


@dataclass(frozen=True)
class SignedOriginal:
    form_key: str
    pdf: Path  # the scanned pages; a case attachment's file when named in the case
    fingerprint: str  # of the print that was signed (forms.qr.form_fingerprint)
    source: str  # scanner file name (or the case attachment's path)
    pages: list[int]  # page numbers within that file, in form order
    ink: list[InkFlag] | None = None  # None: not checked yet (the build checks it)
    filed: str = ""  # when the pages were filed (ISO date-time), for the due list; empty if unknown
    sha256: str = ""  # of the stored PDF (empty for a case's own attachment): keys its ink check's record
    hand_filled: bool = False  # a form filled in and signed by hand (paper first): no code read, no ink checked

    @property
    def blank_areas(self) -> list[InkFlag]:
        return [f for f in self.ink or [] if not f.ink]


PHOTOS = ".原图.pdf"  # beside <form_key>.pdf: the photos its pages were made flat from, as they came


def store_dir(outbox: Path, archive_no: str) -> Path:
    return outbox / SIGNED / safe_name(archive_no)


def write_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Written aside, synced, then renamed: a reader sees the old file or the whole new one. Not `durable`: not
    synced, for what is only kept to save work (a record a power cut may leave empty is checked and made again)."""
    injected_write_fault(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    with tmp.open("wb") as f:
        f.write(data)
        if durable:
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
                   meta: dict[str, Any], photos: list[pikepdf.Page] | None = None) -> SignedOriginal:
    """File one form's signed pages (replacing an earlier scan of the same form).

    `meta` holds fingerprint, source, pages and optionally ink (list of InkFlag dicts) and filed. `photos`: the
    phone photos some of the pages were made flat from, kept beside them as `<form_key>.原图.pdf`."""
    folder = store_dir(outbox, archive_no)
    folder.mkdir(parents=True, exist_ok=True)
    photo_path = folder / f"{key}{PHOTOS}"
    if photos:
        write_atomic(photo_path, _pdf_bytes(photos))
        meta = {**meta, "photos": photo_path.name}
    data = _pdf_bytes(pages)
    pdf_path = folder / f"{key}.pdf"
    write_atomic(pdf_path, data)
    record = {**meta, "form_key": key, "archive_no": archive_no, "pdf_sha256": hashlib.sha256(data).hexdigest()}
    write_atomic(folder / f"{key}.json", (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode())
    if not photos:
        photo_path.unlink(missing_ok=True)  # an earlier original's photos, replaced with it
    return _original(pdf_path, record)


def _original(pdf: Path, record: dict[str, Any]) -> SignedOriginal:
    return SignedOriginal(str(record["form_key"]), pdf, str(record["fingerprint"]), str(record.get("source", "")),
                          [int(p) for p in record.get("pages", [])],
                          [InkFlag.from_dict(d) for d in record["ink"]] if "ink" in record else None,
                          str(record.get("filed", "")), str(record.get("pdf_sha256", "")))


def originals_for(outbox: Path, archive_no: str) -> dict[str, SignedOriginal]:
    """Every complete (PDF and matching JSON) original filed for this archive number, by form_key."""
    folder = store_dir(outbox, archive_no)
    if not folder.is_dir():
        return {}
    found = (original_in(meta_path) for meta_path in sorted(folder.glob("*.json")))
    return {original.form_key: original for original in found if original}


def original_in(meta_path: Path) -> SignedOriginal | None:
    """The original a `<form_key>.json` of the store describes, if its PDF is there whole (scan-in asks for one form
    at a time, not every PDF of the archive number)."""
    pdf_path = meta_path.with_suffix(".pdf")
    try:
        record = json.loads(meta_path.read_text(encoding="utf-8"))
        data = pdf_path.read_bytes()
    except (OSError, ValueError):
        return None
    if record.get("pdf_sha256") != hashlib.sha256(data).hexdigest() or record.get("form_key") != meta_path.stem:
        return None
    return _original(pdf_path, record)


@dataclass
class Offer:
    """A signed original offered for a generated form: its record and its pages."""

    original: SignedOriginal
    pages: pikepdf.Pdf
    read: list[PageRead] | None = None  # each page's codes as they were read, when they were (a case's signed scan)

    def images(self) -> list[Image.Image]:
        """The scanned pages in grey, for the ink check: each page's own image where it is one."""
        pages = ScanPages(self.pages)
        return [pages.image(i, SCAN_DPI) for i in range(len(self.pages.pages))]

    def _codes(self, images: list[Image.Image]) -> list[list[Located] | None]:
        """The codes found when the pages were read, in the pixels of `images` (None: to be looked for)."""
        if self.read is None:
            return [None] * len(images)
        return [[Located(f.text, tuple((x * image.width / read.size[0], y * image.width / read.size[0])
                                       for x, y in f.corners)) for f in read.found] if read.size[0] else None
                for image, read in zip(images, self.read, strict=True)]

    def ink(self, blank_pdf: bytes, boxes: list[Box]) -> list[InkFlag]:
        """The ink check of these pages against the print. For a stored original it is kept beside it
        (`<form_key>.ink`), keyed by the SHA-256 of its pages and of the print, the areas and the method: a
        rebuild, which changes none of them, reads it instead of checking again. A store it cannot write to
        only means the next build checks again."""
        record = self._ink_record()
        key = ink_key(self.original.sha256, hashlib.sha256(blank_pdf).hexdigest(), ink_areas(boxes))
        if record:
            try:
                kept = json.loads(record.read_text(encoding="utf-8"))
                if kept.get("key") == key:
                    return [InkFlag.from_dict(d) for d in kept["flags"]]
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                pass
        images = self.images()
        flags = form_flags(images, blank_pdf, boxes, self._codes(images))
        if record:
            keep_ink(record, key, flags)
        return flags

    def _ink_record(self) -> Path | None:
        """Where a stored original's ink check is kept; None for a case's own attachment (not in the store)."""
        pdf = self.original.pdf
        return ink_record(pdf) if self.original.sha256 and pdf.is_absolute() else None


def ink_areas(boxes: list[Box]) -> list[list[Any]]:
    """A form's signature and seal areas as its kept ink check is keyed by them."""
    return [[b.name, b.page, b.x0, b.y0, b.x1, b.y1] for b in boxes]


def ink_key(pages_sha256: str, print_sha256: str, areas: list[list[Any]]) -> dict[str, Any]:
    """What a kept ink check was made of: the stored pages, the print, its areas and the method."""
    return {"pages": pages_sha256, "print": print_sha256, "method": METHOD, "areas": areas}


def ink_record(pdf: Path) -> Path:
    """`<form_key>.ink` beside a stored original's `<form_key>.pdf`."""
    return pdf.with_suffix(".ink")


def keep_ink(record: Path, key: dict[str, Any], flags: list[InkFlag]) -> None:
    """Keep an ink check beside its original; a store it cannot write to only means the next build checks again."""
    with contextlib.suppress(OSError):
        write_atomic(record, json.dumps({"key": key, "flags": [f.to_dict() for f in flags]}, ensure_ascii=False).encode(),
                     durable=False)


def hand_filled_offer(pdf: pikepdf.Pdf, name: str, key: str) -> Offer:
    """A case attachment marked `hand_filled`: the whole file is the signed original of the form `key`. It has no
    code of ours, so nothing is read from its pages and no signature area is checked (`ink` stays empty)."""
    return Offer(SignedOriginal(key, Path(name), "", name, list(range(1, len(pdf.pages) + 1)), [], hand_filled=True),
                 pdf)


def stored_offer(original: SignedOriginal) -> Offer:
    return Offer(original, pikepdf.open(original.pdf))


def _elsewhere(code: PageCode, read: PageRead) -> bool:
    """Whether the page is not where its code puts it in the picture read (a part of a sheet, or of a photo)."""
    hit = next(f for f in read.found if f.text == code.text)
    square = code_square(code)
    return bool(square and read.own_image and not fills(page_quad(hit.corners, square, PAGE_MM), read.size))


def read_signed_attachment(pdf: pikepdf.Pdf, name: str, archive_no: str) -> tuple[list[Offer], list[str]]:
    """A case attachment marked `signed`: its pages sorted into forms by their QR codes.

    Pages whose code cannot be read or names another archive number, and forms with pages missing, are
    not used; the returned notes say which, for the report."""
    scanned = ScanPages(pdf)
    groups: dict[str, dict[int, tuple[int, str, int]]] = {}  # form_key → page → (index in file, fingerprint, n)
    notes: list[str] = []
    reads: dict[int, PageRead] = {}
    for index in range(len(pdf.pages)):
        read = reads[index] = scanned.codes(index)
        codes = [c for found in read.found if (c := parse(found.text))]
        if read.problem:
            notes.append(f"签章扫描件“{name}”第{index + 1}页未入卷:{read.problem}")
            continue
        if not codes:
            notes.append(f"签章扫描件“{name}”第{index + 1}页的二维码无法识别,未入卷。请重新扫描这一页。")
            continue
        if len({c.text for c in codes}) == 1 and _elsewhere(codes[0], read):  # two forms a sheet, or a photo
            codes = [c for found in scanned.search(index).found if (c := parse(found.text))] or codes
        if len({c.text for c in codes}) > 1:
            forms = "、".join(dict.fromkeys(f"{form_label(c.form_key)}第{c.page}页" for c in
                                           sorted(codes, key=lambda c: (c.form_key, c.page))))
            notes.append(f"签章扫描件“{name}”第{index + 1}页印有多份表单({forms}),未入卷。"
                         "请每张纸只打印一页表单,签字盖章后重新扫描。")
            continue
        code = codes[0]
        if code.archive_no != archive_no:
            notes.append(f"签章扫描件“{name}”第{index + 1}页属于档案号 {code.archive_no},不是本卷,未入卷。"
                         "请把它归入那一卷,本卷换用本卷表单的签章扫描件。")
            continue
        groups.setdefault(code.form_key, {}).setdefault(code.page, (index, code.fingerprint, code.pages))
    offers = []
    for key, pages in sorted(groups.items()):
        total = max(n for _, _, n in pages.values())
        missing = [p for p in range(1, total + 1) if p not in pages]
        if missing:
            notes.append(f"签章扫描件“{name}”中{key}缺第{'、'.join(map(str, missing))}页,未入卷。请补扫后重新成卷。")
            continue
        order = [pages[p][0] for p in range(1, total + 1)]
        subset = pikepdf.new()
        subset.pages.extend(pdf.pages[i] for i in order)
        original = SignedOriginal(key, Path(name), pages[1][1], name, [i + 1 for i in order])
        offers.append(Offer(original, subset, [reads[i] for i in order]))
    return offers, notes
