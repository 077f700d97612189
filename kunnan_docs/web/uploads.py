"""Scans that come from the browser. A library without a web framework (casework.Casework files them).

A browser's file name is data, never a path: it is only shown (trimmed, in messages) and audited (masked). The
file is stored under a name we make — `scans/上传-<12 hex digits of its SHA-256>.<type>` — its type
taken from its first bytes (PDF, JPEG, PNG, TIFF), whatever the name says. Sizes and counts are bounded before
anything is decoded; the package's own loader (package.attachments) then reads every page, as a build would.
Pages carrying one of our QR codes are recognised, so that a printed form signed and scanned back is filed as its
signed original (and a hand-filled form is never one of our prints).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from kunnan_docs.core.identity import archive_key
from kunnan_docs.errors import UsageError
from kunnan_docs.forms.qr import COVER_KEY, PageCode, parse
from kunnan_docs.package.attachments import LoadedAttachment, load
from kunnan_docs.package.pageimage import ScanPages

MAX_FILE = 50 << 20  # one scan: a 20-page colour PDF at 300 dpi stays below it
MAX_FILES = 20  # in one upload
MAX_BODY = 200 << 20  # one request of uploads (web/app.py): the files together, as the browser sends them
CHUNK = 1 << 20
NAME_SHOWN = 60  # characters of a browser's file name shown in a message

# The types a scan may have, by its first bytes; the extension it is stored with.
_TYPES = ((b"%PDF-", ".pdf"), (b"\xff\xd8\xff", ".jpg"), (b"\x89PNG\r\n\x1a\n", ".png"), (b"II*\x00", ".tif"),
          (b"MM\x00*", ".tif"))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Upload:
    """One file as the browser sent it: the checklist item the clerk chose, its name (data), its bytes."""

    item: str
    name: str
    stream: BinaryIO


def shown(name: str) -> str:
    """A browser's file name as a message may quote it: its last part only (some browsers send a whole Windows
    path), no control characters, cut short."""
    last = re.split(r"[\\/]", name)[-1]
    text = _CONTROL.sub("", last).strip() or "(无名文件)"
    return text if len(text) <= NAME_SHOWN else text[:NAME_SHOWN] + "…"


def kind_of(head: bytes) -> str | None:
    """The stored extension of a scan by its first bytes (a PDF's header may follow up to 1 KB of junk)."""
    for magic, ext in _TYPES:
        if head.startswith(magic) or (ext == ".pdf" and magic in head[:1024]):
            return ext
    return None


def receive(upload: Upload, folder: Path) -> tuple[str, LoadedAttachment]:
    """Copy one upload into `folder` (a draft's private case folder) under a name we make, and read it as the build
    will. Returns its path relative to `folder` and its pages. Raises UsageError (or the loader's AttachmentError)
    naming the file by what the browser called it."""
    stored = stream(upload, folder / "scans")
    return stored.relative_to(folder).as_posix(), load(stored, shown(upload.name))


def stream(upload: Upload, folder: Path) -> Path:
    """Copy one upload into `folder` as `上传-<12 hex digits of its SHA-256>.<type>`, a chunk at a time, its size
    bounded and its type taken from its first bytes; nothing is decoded. Raises UsageError naming the file."""
    name = shown(upload.name)
    part = folder / f".upload-{os.getpid()}-{id(upload)}.part"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    digest, size, head = hashlib.sha256(), 0, b""
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := upload.stream.read(CHUNK):
                size += len(chunk)
                if size > MAX_FILE:
                    raise UsageError(f"文件“{name}”超过 {MAX_FILE >> 20} MB,没有上传。请用 200–300 dpi 重新扫描,"
                                     "或把很多页的材料分成几个文件上传。")
                head = (head + chunk)[:1024] if len(head) < 1024 else head
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise UsageError(f"文件“{name}”是空的(0 字节),没有上传。请重新扫描或重新选择文件。")
        ext = kind_of(head)
        if ext is None:
            raise UsageError(f"文件“{name}”不是 PDF、JPEG、PNG 或 TIFF 扫描件(按文件内容判断,与文件名无关),"
                             "没有上传。请用扫描软件另存为这几种格式之一再上传。")
        stored = folder / f"上传-{digest.hexdigest()[:12]}{ext}"
        os.replace(part, stored)
    finally:
        part.unlink(missing_ok=True)
    return stored


def codes(loaded: LoadedAttachment) -> list[PageCode | None]:
    """The code of ours on each page, or None (read as scan-in reads a page: its own image, strips first)."""
    pages = ScanPages(loaded.pdf)
    return [next((c for found in pages.codes(i).found if (c := parse(found.text))), None)
            for i in range(loaded.page_count)]


def signed_form(found: list[PageCode | None], name: str, archive_no: str) -> str | None:
    """The form key when every page is a page of one of this family's printed forms (a signed original), None when
    no page carries our code (a scan of something else). Anything in between is refused, saying what to do."""
    if not any(found):
        return None
    pages = [str(i + 1) for i, c in enumerate(found) if c is None]
    if pages:
        raise UsageError(f"文件“{name}”第{'、'.join(pages)}页没有读到本工具表单的二维码,其他页有。若这些页也是表单的一页,"
                         "请重新扫描(二维码要完整、清晰,200 dpi 以上);若是其他材料,请和签字盖章的表单分开,各自上传。")
    codes_ = [c for c in found if c is not None]
    other = next((c.archive_no for c in codes_ if archive_key(c.archive_no) != archive_key(archive_no)), None)
    if other is not None:
        raise UsageError(f"文件“{name}”是档案号 {other} 的表单,不是本户的。请到该档案号的案卷页上传。")
    if any(c.form_key == COVER_KEY for c in codes_):
        raise UsageError(f"文件“{name}”是案卷封面,不用上传。请只上传签字盖章后的表单和其他材料。")
    keys = sorted({c.form_key for c in codes_})
    if len(keys) > 1:
        raise UsageError(f"文件“{name}”里有几张不同表单的页。请每张表单扫描成一个文件,分别上传。")
    return keys[0]
