"""QR codes that identify a printed page, drawn the same way in every PDF and Word file we make, and read back.

Payload: ``KD1|<archive_no>|<form_key>|<page>/<pages>|<fp8>``. The form key names the form (its `key` in
templates/forms.json) and its instance (annex3, annex7-2, cancel, cover), the fingerprint is a hash of the
form's template and the values it prints, so a scan of an outdated print is recognised. Nothing personal goes
in: the archive number is not personal data, the values are only hashed.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from kunnan_docs.core.resources import load_json

if TYPE_CHECKING:  # reading codes (verify, status, scan-in) must not load the drawing stack
    from PIL.Image import Image
    from reportlab.pdfgen.canvas import Canvas

    from kunnan_docs.forms.fill import FilledForm

QUIET_ZONE = 2  # modules; scanners need a light margin around the code
PREFIX = "KD1"
COVER_KEY = "cover"
UNKNOWN_PAGE = 0  # page field of a Word print: Word paginates itself, so the page is not known
SIZE_MM = 20  # printed size of a form's code, in PDF and Word
POSTER_SIZE_MM = 13  # the posted notice (Annex 5) is for the public: its code stays small
# Any mask reads back (ISO/IEC 18004); choosing the best of eight per code was most of the drawing time. Mask 2
# (vertical stripes) has the lowest mean and worst-case penalty score over our payloads (KD1|档案号|…).
MASK_PATTERN = 2


@dataclass(frozen=True)
class PageCode:
    """What the QR code of one printed page says."""

    archive_no: str
    form_key: str
    page: int
    pages: int
    fingerprint: str

    @property
    def text(self) -> str:
        return f"{PREFIX}|{self.archive_no}|{self.form_key}|{self.page}/{self.pages}|{self.fingerprint}"


def form_key(form: FilledForm) -> str:
    """annex3 … annex6, annex7-1, annex7-2, cancel: the form's key, and which return visit for Annex 7."""
    return form.spec.key + (f"-{form.seq}" if form.seq else "")


def form_label(key: str) -> str:
    """How a message names a printed form: annex7-2 → 附件7(第2份); cancel → 注销审批表; cover → 案卷封面."""
    if key == COVER_KEY:
        return "案卷封面"
    base, _, seq = key.partition("-")
    spec = next((f for f in load_json("templates", "forms.json")["forms"] if f["key"] == base), None)
    name = key if spec is None else f"附件{spec['annex']}" if spec["annex"] else spec["label"]
    return name + (f"(第{seq}份)" if seq else "")


def fingerprint(content: Any) -> str:
    """Eight hex digits of SHA-256 over canonical JSON: the same content always gives the same code."""
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:8]


def form_fingerprint(form: FilledForm) -> str:
    """8 hex digits naming what this print says: the values printed on it and its template (the form's layout
    in templates/forms.json). A scan whose code carries another fingerprint is of an outdated print; a value the
    form does not print (a later exit stage, a cancellation) leaves the prints already signed valid."""
    printed = {name: form.values[name] for name in form.spec.fields}
    return fingerprint({"values": printed, "template": form.spec.raw, "seq": form.seq})


def form_code(form: FilledForm, archive_no: str, page: int, pages: int) -> PageCode:
    return PageCode(archive_no, form_key(form), page, pages, form_fingerprint(form))


def parse(text: str) -> PageCode | None:
    """The page code in a decoded QR text, or None for any other text (an older print, a foreign code)."""
    parts = text.split("|")
    if len(parts) < 5 or parts[0] != PREFIX:
        return None
    archive_no, key, pages, fp = "|".join(parts[1:-3]), parts[-3], parts[-2], parts[-1]
    page, sep, total = pages.partition("/")
    if not (archive_no and key and sep and page.isdigit() and total.isdigit() and len(fp) == 8):
        return None
    return PageCode(archive_no, key, int(page), int(total), fp)


@dataclass(frozen=True)
class Found:
    """A decoded QR code: its text and how far it is turned clockwise in the image (0, 90, 180, 270)."""

    text: str
    turned: int


def read(image: Image) -> list[Found]:
    """QR codes only, no other symbology and no inverted search: what made handover checks slow."""
    import zxingcpp  # imported here: most commands never read a code

    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode, try_invert=False)
    return [Found(r.text, round(r.orientation / 90) % 4 * 90) for r in results]


@cache
def matrix(payload: str) -> tuple[tuple[bool, ...], ...]:
    """Cached: each payload is drawn on several pages."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE, mask_pattern=MASK_PATTERN)
    code.add_data(payload.encode("utf-8"))
    code.make(fit=True)
    return tuple(tuple(row) for row in code.get_matrix())


def draw(canvas: Canvas, payload: str, x: float, y: float, size: float) -> None:
    """Vector QR code: one filled rectangle per run of dark modules, no font and no image involved."""
    cells = matrix(payload)
    module = size / len(cells)
    canvas.saveState()
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(cells):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                canvas.rect(x + start * module, y + size - (r + 1) * module, (c - start) * module, module,
                            stroke=0, fill=1)
            else:
                c += 1
    canvas.restoreState()


def png(payload: str, box: int = 8) -> bytes:
    """The same modules as a 1-bit PNG, for Word: a pixel a module, enlarged `box` times without smoothing
    (drawing a square a module took three times as long)."""
    from PIL import Image

    cells = matrix(payload)
    size = len(cells)
    modules = Image.frombytes("L", (size, size), bytes(0 if dark else 255 for row in cells for dark in row))
    img = modules.resize((size * box, size * box), Image.Resampling.NEAREST).convert("1", dither=Image.Dither.NONE)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
