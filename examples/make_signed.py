"""Generate the "signed and scanned" forms the example cases carry (run after a form or an example changes;
outputs are committed).

For every example case: render the real forms (exactly what `kunnan-docs render` prints), draw a
handwriting-like signature in each signature cell and a red round seal over each seal area, rasterise at
200 dpi, tilt the sheet a little, add paper tone and sensor noise, convert to grey and save as an office
scanner does: one image PDF per form with a JPEG inside. The case file names each of them as a `signed`
attachment, so that `kunnan-docs build examples/*/case.json` files them as the signed originals.
Deterministic: the random strokes and noise are seeded by archive number and form.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import sys
from pathlib import Path

import img2pdf
import pylopdf_fonts_zh_cn
import pypdfium2 as pdfium
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from kunnan_docs.core.casefile import read_case
from kunnan_docs.forms.fill import FilledForm, forms_for, letter_text
from kunnan_docs.forms.pdf import Box, render_with_boxes
from kunnan_docs.forms.qr import form_key

FONT = Path(pylopdf_fonts_zh_cn.__file__).parent / "NotoSansSC-Regular.otf"
DPI = 200  # an office scanner's usual setting
PEN = (30, 38, 96)  # blue-black ballpoint
SEAL_RED = (214, 38, 44)
SEAL = "盖章"


def _spline(points: list[tuple[float, float]], steps: int = 8) -> list[tuple[float, float]]:
    """Catmull-Rom through the points: a pen moves in curves, not in straight segments."""
    pts = [points[0], *points, points[-1]]
    out = []
    for i in range(1, len(pts) - 2):
        p0, p1, p2, p3 = pts[i - 1], pts[i], pts[i + 1], pts[i + 2]
        for s in range(steps):
            t = s / steps
            out.append(tuple(0.5 * (2 * p1[k] + (-p0[k] + p2[k]) * t + (2 * p0[k] - 5 * p1[k] + 4 * p2[k] - p3[k]) * t * t
                                    + (-p0[k] + 3 * p1[k] - 3 * p2[k] + p3[k]) * t ** 3) for k in (0, 1)))
    out.append(points[-1])
    return out


def signature(page: Image.Image, box: tuple[float, float, float, float], rng: random.Random) -> None:
    """Two or three quick 'characters' of looping strokes, slanted, across the middle of the cell."""
    draw = ImageDraw.Draw(page)
    x0, y0, x1, y1 = box
    h = (y1 - y0) * 0.55
    chars = rng.choice((2, 3))
    width = min((x1 - x0) * 0.8, chars * h * 1.1)
    left, mid = x0 + ((x1 - x0) - width) / 2, (y0 + y1) / 2
    for c in range(chars):
        cx0 = left + c * width / chars
        for _ in range(rng.randint(2, 4)):
            n = rng.randint(4, 7)
            pts = [(cx0 + rng.uniform(0.05, 0.95) * width / chars + (mid - y) * 0.25, y)
                   for y in (mid + rng.uniform(-0.5, 0.5) * h for _ in range(n))]
            draw.line(_spline(pts), fill=PEN, width=3, joint="curve")
    tail = [(left + width * 0.6, mid + h * 0.3), (left + width * 0.85, mid + h * 0.45), (left + width * 1.05, mid + h * 0.1)]
    draw.line(_spline(tail), fill=PEN, width=2, joint="curve")


def seal(page: Image.Image, box: tuple[float, float, float, float], union: str) -> Image.Image:
    """A round union seal: ring, star and the union's name along the upper arc, in red ink over the print."""
    x0, y0, x1, y1 = box
    r = min(x1 - x0, y1 - y0) / 2 - 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    layer = Image.new("RGB", page.size, (255, 255, 255))
    draw = ImageDraw.Draw(layer)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=SEAL_RED, width=max(3, round(r / 22)))
    star = [(cx + (r * 0.28 if i % 2 == 0 else r * 0.11) * math.sin(i * math.pi / 5),
             cy - (r * 0.28 if i % 2 == 0 else r * 0.11) * math.cos(i * math.pi / 5)) for i in range(10)]
    draw.polygon(star, fill=SEAL_RED)
    size = max(10, round(r * 0.22))
    font = ImageFont.truetype(str(FONT), size)
    text = union[:14]
    span = math.radians(220)
    for i, ch in enumerate(text):
        angle = -span / 2 + span * (i + 0.5) / len(text)
        glyph = Image.new("L", (size * 2, size * 2), 0)
        ImageDraw.Draw(glyph).text((size, size), ch, font=font, fill=255, anchor="mm")
        glyph = glyph.rotate(-math.degrees(angle), resample=Image.Resampling.BICUBIC)
        gx, gy = cx + (r - size * 0.95) * math.sin(angle), cy - (r - size * 0.95) * math.cos(angle)
        layer.paste(Image.new("RGB", glyph.size, SEAL_RED), (round(gx - size), round(gy - size)), glyph)
    return ImageChops.multiply(page, layer)


def scanned(page: Image.Image, rng: random.Random) -> Image.Image:
    """What a flatbed gives back: slightly turned and shifted, paper tone, noise, softened edges, grey."""
    turned = page.rotate(rng.uniform(-0.8, 0.8), resample=Image.Resampling.BILINEAR, fillcolor=(255, 255, 255),
                         translate=(rng.uniform(-6, 6), rng.uniform(-6, 6)))
    grey = turned.convert("L").filter(ImageFilter.GaussianBlur(0.5))
    noise = Image.frombytes("L", grey.size, rng.randbytes(grey.width * grey.height))
    paper = grey.point(lambda v: 18 + v * 222 // 255)  # toner never black, paper never white
    return Image.blend(paper, noise, 0.06)


def boxes_px(box: Box, height: int) -> tuple[float, float, float, float]:
    k = DPI / 72
    return box.x0 * k, height - box.y1 * k, box.x1 * k, height - box.y0 * k


def signed_scan(form: FilledForm, archive_no: str, union: str, unsigned: frozenset[str] = frozenset(),
                seed: str = "") -> list[Image.Image]:
    """The form as printed, signed and sealed (except the areas named in `unsigned`), then scanned."""
    pdf, boxes = render_with_boxes(form, archive_no)
    rng = random.Random(hashlib.sha256(f"{archive_no}|{form_key(form)}|{seed}".encode()).digest())
    doc = pdfium.PdfDocument(pdf)
    pages = []
    for index in range(len(doc)):
        page = doc[index].render(scale=DPI / 72).to_pil().convert("RGB")
        for box in (b for b in boxes if b.page == index + 1 and b.name not in unsigned):
            area = boxes_px(box, page.height)
            if box.name == SEAL:
                page = seal(page, area, union)
            else:
                signature(page, area, rng)
        pages.append(scanned(page, rng))
    doc.close()
    return pages


def scanner_pdf(pages: list[Image.Image], quality: int = 35) -> bytes:
    """One image PDF, one grey JPEG per page at the scan's resolution, no clock inside."""
    jpegs = []
    for page in pages:
        buf = io.BytesIO()
        page.save(buf, "JPEG", quality=quality, dpi=(DPI, DPI), optimize=True)
        jpegs.append(buf.getvalue())
    return img2pdf.convert(jpegs, nodate=True, engine=img2pdf.Engine.internal)  # pikepdf's engine adds a random /ID


def sealing_union(form: FilledForm, union: str) -> str:
    """The union named under the seal line of a letter form (Annex 5, 6), else the case's union."""
    letter = form.spec.raw.get("letter")
    if not letter:
        return union
    return letter_text(letter["seal"], form.values).strip("（）()").removesuffix("盖章") or union


def scan_name(form: FilledForm) -> str:
    return f"scans/签章-{form.stem}.pdf"


def main(root: Path) -> None:
    for case_file in sorted(root.glob("*/case.json")):
        case = read_case(case_file)
        data = json.loads(case_file.read_text(encoding="utf-8"))
        listed = {a["path"] for a in data["attachments"]}
        for form in forms_for(case):
            target = case_file.parent / scan_name(form)
            target.write_bytes(scanner_pdf(signed_scan(form, case.archive_no, sealing_union(form, data["union"]))))
            if scan_name(form) not in listed:
                data["attachments"].append({"item": form.spec.item, "path": scan_name(form),
                                            "title": f"{form.title}(签章原件)", "signed": True})
        case_file.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
