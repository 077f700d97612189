"""Is there ink where a signature or a seal belongs? Compare a scanned page with the blank print.

The QR code in the page footer is our registration mark: its four corners, found by zxing-cpp both on
the blank print (rendered here) and on the scan, give the affine map between them (position, scale,
rotation, a few degrees of skew). The scan is mapped onto the print; ink on the scan that the print does
not have ("new ink") inside a signature cell or the seal area means it was signed or sealed. Printed
grid lines and text are masked out (with a margin), and the alignment is refined locally around each
area against the printed cell borders, so a slightly stretched scan does not make a printed line look
like a signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageChops, ImageFilter

if TYPE_CHECKING:
    from kunnan_docs.forms.pdf import Box  # the renderer's areas; only their coordinates are read here

DPI = 150  # the blank print's rendering: enough for a pen stroke (0.5 mm = 3 px)
SCAN_DPI = 200  # a scan is read finer, so that a small or noisy QR code still gives its corners
INK = 150  # grey level below which a pixel is ink (a red seal is about 90 in grey)
INSET_MM = 2.5  # ignore this much inside each area's edge: the printed cell border lives there
SEARCH_MM = 2.0  # local refinement of the alignment, each way
MIN_INK_SHARE = 0.004  # share of an area's pixels that must be new ink to count as signed or sealed
KIND = {"盖章": "seal"}


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
class Located:
    text: str
    corners: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]  # top-left, top-right, bottom-left


def locate(image: Image.Image) -> list[Located]:
    """Every QR code on the image with the corners of its symbol (in the symbol's own orientation)."""
    import zxingcpp  # here: only a case with signed originals reads codes, most builds never do

    found = []
    for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode):
        p = r.position
        found.append(Located(r.text, ((p.top_left.x, p.top_left.y), (p.top_right.x, p.top_right.y),
                                      (p.bottom_left.x, p.bottom_left.y))))
    return found


def find_codes(scan: Image.Image) -> list[Located]:
    """The QR codes of a scanned page. A small code (the posted notice's) or a coarse or black-and-white scan
    may hold modules too small to read: then the page is tried again at twice the size."""
    found = locate(scan)
    if found:
        return found
    found = locate(scan.resize((scan.width * 2, scan.height * 2), Image.Resampling.BICUBIC))
    return [Located(c.text, tuple((x / 2, y / 2) for x, y in c.corners)) for c in found]  # type: ignore[misc]


def render_pages(pdf: bytes, dpi: int = DPI) -> list[Image.Image]:
    """Every page of a PDF we printed, as a grey image."""
    import pypdfium2 as pdfium  # here: only a case with signed originals renders its prints

    doc = pdfium.PdfDocument(pdf)
    try:
        return [doc[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for i in range(len(doc))]
    finally:
        doc.close()


def _affine(src: Located, dst: Located) -> tuple[float, ...]:
    """Coefficients (a, b, c, d, e, f) mapping a point of `src`'s image to `dst`'s: x' = a x + b y + c, …"""
    (x0, y0), (x1, y1), (x2, y2) = src.corners
    (u0, v0), (u1, v1), (u2, v2) = dst.corners
    det = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    a = ((u1 - u0) * (y2 - y0) - (u2 - u0) * (y1 - y0)) / det
    b = ((x1 - x0) * (u2 - u0) - (x2 - x0) * (u1 - u0)) / det
    d = ((v1 - v0) * (y2 - y0) - (v2 - v0) * (y1 - y0)) / det
    e = ((x1 - x0) * (v2 - v0) - (x2 - x0) * (v1 - v0)) / det
    return a, b, u0 - a * x0 - b * y0, d, e, v0 - d * x0 - e * y0


def _mask(image: Image.Image, level: int) -> Image.Image:
    return image.point(lambda v: 255 if v < level else 0)


def _count(mask: Image.Image) -> int:
    return mask.histogram()[255]


def page_flags(scan: Image.Image, blank: Image.Image, boxes: list[Box], page: int) -> list[InkFlag] | None:
    """Ink found or not in each box of this page; None when either QR code cannot be found."""
    codes_blank, codes_scan = find_codes(blank), find_codes(scan)
    if not codes_blank or not codes_scan:
        return None
    by_text = {c.text: c for c in codes_scan}
    target = by_text.get(codes_blank[0].text, codes_scan[0])
    aligned = scan.convert("L").transform(blank.size, Image.Transform.AFFINE, _affine(codes_blank[0], target),
                                          resample=Image.Resampling.BILINEAR, fillcolor=255)
    return [InkFlag(page, box.name, KIND.get(box.name, "signature"), share >= MIN_INK_SHARE)
            for box, share in ((box, new_ink_share(aligned, blank, box)) for box in boxes)]


def new_ink_share(aligned: Image.Image, blank: Image.Image, box: Box) -> float:
    """Share of the box's pixels (less its edge) inked on the scan but not on the print, best local alignment."""
    px, k = DPI / 25.4, DPI / 72  # pixels per mm, per point
    reach, inset = round(SEARCH_MM * px), round(INSET_MM * px)
    margin = reach + 8
    box_px = (round(box.x0 * k), round(blank.height - box.y1 * k), round(box.x1 * k), round(blank.height - box.y0 * k))
    region = (box_px[0] - margin, box_px[1] - margin, box_px[2] + margin, box_px[3] + margin)
    scan_ink = _mask(aligned.crop(region).filter(ImageFilter.MedianFilter(3)), INK)
    print_ink = _mask(blank.crop(region), 200)
    near_print = print_ink.filter(ImageFilter.MaxFilter(7))
    dx, dy = _refine(scan_ink, print_ink, reach)
    inner = (margin + inset, margin + inset, region[2] - region[0] - margin - inset, region[3] - region[1] - margin - inset)
    if inner[2] <= inner[0] or inner[3] <= inner[1]:
        return 1.0  # an area too small to judge is not flagged
    shifted = (inner[0] + dx, inner[1] + dy, inner[2] + dx, inner[3] + dy)
    new_ink = ImageChops.subtract(scan_ink.crop(shifted), near_print.crop(inner))
    return _count(new_ink) / ((inner[2] - inner[0]) * (inner[3] - inner[1]))


def _refine(scan_ink: Image.Image, print_ink: Image.Image, reach: int) -> tuple[int, int]:
    """The small shift that best lays the scan's ink over the print's ink around this area (cell borders, text)."""
    if _count(print_ink) == 0:
        return 0, 0
    w, h = print_ink.size
    printed = print_ink.crop((reach, reach, w - reach, h - reach))

    def overlap(shift: tuple[int, int]) -> int:
        dx, dy = shift
        moved = scan_ink.crop((reach + dx, reach + dy, w - reach + dx, h - reach + dy))
        return _count(ImageChops.multiply(moved, printed))

    coarse = max(((dx, dy) for dx in range(-reach, reach + 1, 2) for dy in range(-reach, reach + 1, 2)), key=overlap)
    return max(((coarse[0] + dx, coarse[1] + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)), key=overlap)


def form_flags(scan_pages: list[Image.Image], blank_pdf: bytes, boxes: list[Box]) -> list[InkFlag]:
    """Ink flags for every signature and seal area of a form, its scanned pages given in form order.

    An area whose page cannot be registered (QR code unreadable) counts as not checked: no flag is raised
    for it, since the tool cannot tell."""
    if not boxes:
        return []
    blanks = render_pages(blank_pdf)
    flags: list[InkFlag] = []
    for page in sorted({b.page for b in boxes}):
        if page > len(scan_pages) or page > len(blanks):
            continue
        found = page_flags(scan_pages[page - 1], blanks[page - 1], [b for b in boxes if b.page == page], page)
        flags += found or []
    return flags
