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
import math
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from kunnan_docs.core.resources import case_schema, load_json

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
PAGE_MM = (210.0, 297.0)  # our forms are A4
# Where forms/pdf.py prints a form page's code (its footer), in mm: the right margin plus the code from the right
# edge, its bottom EDGE_MM above the paper's; the posted notice's code 4 mm in from the EDGE_MM margin.
# tests/test_scan_in.py checks code_square against real renders.
RIGHT_MM, EDGE_MM, POSTER_INSET_MM = 20.0, 10.0, 4.0
MAX_PAGES = 60  # a form has at most a few dozen pages: a larger page total is forged or damaged
MAX_TEXT = 120  # longest payload we print (a 40-character archive number in UTF-8 and the rest) with room
_KEY = re.compile(r"[a-z][a-z0-9]{0,15}(?:-[1-9][0-9]{0,2})?")  # annex3, annex7-12, cover …: ASCII, bounded
_NUMBER = re.compile(r"[0-9]{1,3}")  # ASCII digits only: str.isdigit() would take ², ٣ and 4,400-digit totals
_FINGERPRINT = re.compile(r"[0-9a-f]{8}")
# Any mask reads back (ISO/IEC 18004); choosing the best of eight per code was most of the drawing time. Mask 2
# (vertical stripes) has the lowest mean and worst-case penalty score over our payloads (KD1|档案号|…).
MASK_PATTERN = 2
OPTIMIZE = 20  # qrcode's own default: runs of digits or capitals this long are coded in their own, denser mode


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


def code_square(code: PageCode) -> tuple[float, float, float] | None:
    """Where a form page's code symbol is printed: its left and top edges in mm from the page's top-left corner,
    and its side; None for a code printed elsewhere (the cover, a Word print) or a form we do not know. The
    scan-in and the ink check locate a page by it."""
    if code.form_key == COVER_KEY or code.page == UNKNOWN_PAGE:
        return None
    base = code.form_key.partition("-")[0]
    spec = next((f for f in load_json("templates", "forms.json")["forms"] if f.get("key") == base), None)
    if spec is None:
        return None
    public = bool(spec.get("public"))
    size = POSTER_SIZE_MM if public else SIZE_MM
    quiet = QUIET_ZONE * size / modules(code.text)
    left = PAGE_MM[0] - (EDGE_MM + POSTER_INSET_MM + size if public else RIGHT_MM + size) + quiet
    top = PAGE_MM[1] - EDGE_MM - size + quiet
    return left, top, size - 2 * quiet


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


@cache
def _archive_pattern() -> re.Pattern[str]:
    """The case schema's own pattern: a code names only an archive number a case could have."""
    return re.compile(case_schema()["properties"]["archive_no"]["pattern"])


def parse(text: str) -> PageCode | None:
    """The page code in a decoded QR text, or None for any other text (an older print, a foreign, forged or
    damaged code). Every field is checked before it is used: the archive number against the case schema's
    pattern, the form key and numbers as bounded ASCII, the page within 1..MAX_PAGES (0/0 for a Word print)."""
    if len(text) > MAX_TEXT:
        return None
    parts = text.split("|")
    if len(parts) != 5 or parts[0] != PREFIX:
        return None
    _, archive_no, key, pages, fp = parts
    page, sep, total = pages.partition("/")
    if not (sep and _NUMBER.fullmatch(page) and _NUMBER.fullmatch(total) and _KEY.fullmatch(key)
            and _FINGERPRINT.fullmatch(fp) and _archive_pattern().fullmatch(archive_no)):
        return None
    number, count = int(page), int(total)
    if not (number == count == UNKNOWN_PAGE or 1 <= number <= count <= MAX_PAGES):
        return None
    return PageCode(archive_no, key, number, count, fp)


Point = tuple[float, float]


@dataclass(frozen=True)
class Found:
    """A decoded QR code: its text, how far it is turned clockwise in the image (0, 90, 180, 270), and its
    symbol's corners in the image's pixels (top-left, top-right, bottom-right, bottom-left of the symbol as it
    reads), which say where it lies, how large it is printed and how the sheet lies under the camera."""

    text: str
    turned: int
    corners: tuple[Point, Point, Point, Point] = ((0, 0), (0, 0), (0, 0), (0, 0))

    def moved(self, scale: float, dx: float = 0, dy: float = 0) -> Found:
        """The same code in another image: this one's pixels times `scale`, then shifted by (dx, dy)."""
        corners = tuple((x * scale + dx, y * scale + dy) for x, y in self.corners)
        return Found(self.text, self.turned, corners)  # type: ignore[arg-type]

    @property
    def centre(self) -> Point:
        return sum(x for x, _ in self.corners) / 4, sum(y for _, y in self.corners) / 4

    @property
    def side(self) -> float:
        """The symbol's mean side length, in pixels."""
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = self.corners
        return (math.dist((x0, y0), (x1, y1)) + math.dist((x1, y1), (x2, y2)) + math.dist((x2, y2), (x3, y3))
                + math.dist((x3, y3), (x0, y0))) / 4


def read(image: Image, limit: int = 4) -> list[Found]:
    """QR codes only, no other symbology and no inverted search: what made handover checks slow. At most `limit`
    codes, none of whose text is longer than a page code can be (a forged code cannot flood a log or a report)."""
    import zxingcpp  # imported here: most commands never read a code

    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode, try_invert=False)
    found = []
    for r in results[:limit]:
        p = r.position
        corners = tuple((float(c.x), float(c.y)) for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left))
        found.append(Found(r.text[:MAX_TEXT + 1], round(r.orientation / 90) % 4 * 90, corners))  # type: ignore[arg-type]
    return found


@cache
def matrix(payload: str) -> tuple[tuple[bool, ...], ...]:
    """Cached: each payload is drawn on several pages."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE, mask_pattern=MASK_PATTERN)
    code.add_data(payload.encode("utf-8"), optimize=OPTIMIZE)
    code.make(fit=True)
    return tuple(tuple(row) for row in code.get_matrix())


def modules(payload: str) -> int:
    """The side of a payload's symbol in modules, quiet zone included, without drawing it for every page read: the
    symbol's version depends only on the modes and lengths of the chunks qrcode splits the payload into, so one
    symbol drawn from a stand-in of the same chunks (digits, capitals, small letters) tells it."""
    from qrcode.util import MODE_ALPHA_NUM, MODE_NUMBER, optimal_data_chunks

    letter = {MODE_NUMBER: "0", MODE_ALPHA_NUM: "A"}
    return len(matrix("".join(letter.get(chunk.mode, "a") * len(chunk.data)
                              for chunk in optimal_data_chunks(payload.encode("utf-8"), minimum=OPTIMIZE))))


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
