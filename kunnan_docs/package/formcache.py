"""Typeset forms kept between builds of the same outbox: a rebuild whose forms did not change takes their PDF, Word
file and signature areas from here instead of typesetting them again (reportlab and docxtpl are most of a rebuild
after scan-in, where the case is unchanged and only signed originals came in).

An entry is keyed by SHA-256 over everything that decides the bytes of a form: the form's values, date, spec and
sequence number, the archive number, its Word template's bytes, and a recipe digest of the program (every source
file of kunnan_docs, the shipped forms.json and templates, the fonts, the versions of Python, zlib, qpdf and the
rendering libraries). A case that changed, a new template or an upgrade therefore never meets an old entry. Each
entry names its key and the SHA-256 and length of each part, and is checked against them when read: a torn or
altered file is a miss (and removed), never a form. Entries are written aside and renamed; the folder is bounded
(`SHARDS` × `SHARD_ENTRIES`, the least recently used go first). A cache that cannot be read or written only means
the form is typeset again: the package is the same either way. The forms print names and ID numbers, so the
folder is its owner's only, like identity.key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import zlib
from dataclasses import asdict, dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

import pikepdf

import kunnan_docs
from kunnan_docs.core.resources import data_dir
from kunnan_docs.forms.fill import FilledForm, template_path
from kunnan_docs.forms.pdf import Box

FOLDER = "forms"  # in the outbox's STATE_DIR
MAGIC = b"KDFORM1\n"
SHARDS = 16  # sub-folders by the key's first hex digit: eviction lists one small folder, never the whole cache
SHARD_ENTRIES = 128  # so at most 2,048 forms (about 85 KB each: 170 MB), some 340 cases of six forms
LIBRARIES = ("reportlab", "python-docx", "docxtpl", "Jinja2", "pikepdf", "qrcode", "fonttools", "lxml", "pillow")


@dataclass(frozen=True)
class Typeset:
    """One form as the build makes it: its PDF, its Word file and where its signature and seal areas lie."""

    pdf: bytes
    docx: bytes
    boxes: list[Box]


@cache
def recipe() -> bytes:
    """What, besides the form itself, decides its bytes; computed once a process (about 15 ms, mostly the fonts)."""
    digest = hashlib.sha256()
    versions = [sys.version, zlib.ZLIB_RUNTIME_VERSION, pikepdf.__libqpdf_version__]
    for name in LIBRARIES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} -")
    digest.update(json.dumps(versions).encode() + b"\0")
    package = Path(kunnan_docs.__file__).parent
    files = sorted(package.rglob("*.py"))
    files += sorted(p for folder in ("templates", "fonts") for p in data_dir(folder).iterdir() if p.is_file())
    for path in files:
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.digest()


def form_key(form: FilledForm, archive_no: str) -> str | None:
    """The entry's name: SHA-256 of the recipe, the form and its Word template (the clerk's own, if set); None when
    the template cannot be read (the form is then typeset, which reports it)."""
    spec = form.spec
    try:
        template = hashlib.sha256(template_path(spec).read_bytes()).digest()
    except OSError:
        return None
    described = {"archive_no": archive_no, "date": form.date.isoformat(), "values": form.values, "seq": form.seq,
                 "spec": [spec.id, spec.key, spec.annex, spec.item, spec.title, spec.file, spec.raw]}
    digest = hashlib.sha256(recipe())
    digest.update(json.dumps(described, ensure_ascii=False, sort_keys=True).encode())
    digest.update(template)
    return digest.hexdigest()


class FormCache:
    """The outbox's kept forms (`OUTBOX/.kunnan/forms/`); any process of any writer may share it."""

    def __init__(self, folder: Path, shard_entries: int = SHARD_ENTRIES) -> None:
        self.folder = folder
        self.shard_entries = shard_entries

    def _path(self, key: str) -> Path:
        return self.folder / key[0] / f"{key}.form"

    def get(self, key: str) -> Typeset | None:
        """The kept form, or None when there is none or it fails its check (then it is removed)."""
        path = self._path(key)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        kept = _parse(data, key)
        if kept is None:
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: evicted last
        return kept

    def put(self, key: str, form: Typeset) -> None:
        """Keep a form (written aside and renamed), then trim its shard to its bound, oldest first."""
        path = self._path(key)
        head = {"key": key, "boxes": [asdict(b) for b in form.boxes],
                "parts": [[len(part), hashlib.sha256(part).hexdigest()] for part in (form.pdf, form.docx)]}
        tmp = path.with_name(f".{key}.{os.getpid()}.part")
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # the forms print names and ID numbers
            path.parent.mkdir(mode=0o700, exist_ok=True)
            tmp.write_bytes(MAGIC + json.dumps(head).encode() + b"\n" + form.pdf + form.docx)
            os.replace(tmp, path)
            self._trim(path.parent)
        except OSError:  # a full disk or a read-only outbox: the next build typesets again
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _trim(self, shard: Path) -> None:
        entries = []
        for entry in os.scandir(shard):
            with contextlib.suppress(OSError):
                if entry.name.endswith(".form"):
                    entries.append((entry.stat().st_mtime_ns, entry.name))
        for _, name in sorted(entries)[:max(0, len(entries) - self.shard_entries)]:
            with contextlib.suppress(OSError):
                (shard / name).unlink()


def _parse(data: bytes, key: str) -> Typeset | None:
    """An entry's parts if it is whole and names `key`; else None."""
    if not data.startswith(MAGIC):
        return None
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        return None
    try:
        head = json.loads(data[len(MAGIC):end])
        (pdf_len, pdf_sha), (docx_len, docx_sha) = head["parts"]
        boxes = [Box(**b) for b in head["boxes"]]
    except (ValueError, TypeError, KeyError):
        return None
    body = data[end + 1:]
    pdf, docx = body[:pdf_len], body[pdf_len:]
    if (head.get("key") != key or len(body) != pdf_len + docx_len or hashlib.sha256(pdf).hexdigest() != pdf_sha
            or hashlib.sha256(docx).hexdigest() != docx_sha):
        return None
    return Typeset(pdf, docx, boxes)
