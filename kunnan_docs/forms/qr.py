"""QR codes of the archive number, drawn the same way in every PDF and Word file we make."""

from __future__ import annotations

import hashlib
import io
import json
from functools import cache
from typing import TYPE_CHECKING

import qrcode
from PIL import Image, ImageDraw
from qrcode.constants import ERROR_CORRECT_M
from reportlab.pdfgen.canvas import Canvas

if TYPE_CHECKING:
    from kunnan_docs.forms.fill import FilledForm

QUIET_ZONE = 2  # modules; scanners need a light margin around the code


@cache
def matrix(payload: str) -> tuple[tuple[bool, ...], ...]:
    """Cached: choosing the best mask is the slow part, and each payload is drawn on several pages."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
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
    """The same modules as a 1-bit PNG, for Word."""
    cells = matrix(payload)
    img = Image.new("1", (len(cells) * box, len(cells) * box), 1)
    draw = ImageDraw.Draw(img)
    for r, row in enumerate(cells):
        for c, dark in enumerate(row):
            if dark:
                draw.rectangle([c * box, r * box, (c + 1) * box - 1, (r + 1) * box - 1], fill=0)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def form_fingerprint(form: FilledForm) -> str:
    """8 hex digits naming what this print says: its filled values and its template (the form's layout
    in templates/forms.json). A scan whose code carries another fingerprint is of an outdated print."""
    content = {"values": form.values, "template": form.spec.raw, "seq": form.seq}
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
