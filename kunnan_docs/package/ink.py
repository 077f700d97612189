"""Is there ink where a signature or a seal belongs? Compare a scanned page with the blank print.

The QR code in the page footer is our registration mark: its four corners, found by zxing-cpp both on
the blank print (rendered here) and on the scan, give the affine map between them (position, scale,
rotation, a few degrees of skew). Around each signature cell or seal area, the scan is mapped onto the
print; ink on the scan that the print does not have ("new ink") inside the area means it was signed or
sealed. Printed grid lines and text are masked out (with a margin), and the alignment is refined locally
around each area against the printed cell borders, so a slightly stretched scan does not make a printed
line look like a signature.

Cheap by design (a few milliseconds a page, README "签章原件回收"): the comparison is made at 100 dpi
(a pen stroke is still two pixels), the codes are looked for in the page's bottom and top strips first,
only the areas are mapped and filtered (box filters, not rank filters), and the local refinement matches
the column and row profiles of the print and the scan instead of trying every shift in two dimensions.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageChops, ImageFilter

from kunnan_docs.forms import qr
from kunnan_docs.package.geometry import affine_fit

if TYPE_CHECKING:
    import pypdfium2 as pdfium

    from kunnan_docs.forms.pdf import Box  # the renderer's areas; only their coordinates are read here

DPI = 100  # the comparison grid and the blank print's rendering: a pen stroke (0.5 mm) is two pixels
SCAN_DPI = 100  # a scan is decoded at this resolution or finer (a JPEG at half or quarter scale, which is cheap)
INK = 150  # grey level below which a pixel is ink (a red seal is about 90 in grey)
PRINT = 200  # grey level below which a pixel of the blank print is printed
INSET_MM = 2.5  # ignore this much inside each area's edge: the printed cell border lives there
SEARCH_MM = 2.0  # local refinement of the alignment, each way
NEAR_PRINT_MM = 0.75  # new ink this close to printed ink is taken for the print, slightly misaligned
MIN_INK_SHARE = 0.004  # share of an area's pixels that must be new ink to count as signed or sealed
STRIP = 0.25  # share of the page height where the code is looked for first, at the bottom and then at the top
KIND = {"盖章": "seal"}
METHOD = 2  # changes with how ink is judged: a kept result of another method is not reused (package/signed.py)


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
    corners: tuple[tuple[float, float], ...]  # top-left, top-right, bottom-right, bottom-left of the symbol


def locate(image: Image.Image) -> list[Located]:
    """Every QR code on the image with the corners of its symbol (in the symbol's own orientation)."""
    import zxingcpp  # here: only a case with signed originals reads codes, most builds never do

    found = []
    for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode, try_invert=False):
        p = r.position
        found.append(Located(r.text, tuple((float(c.x), float(c.y)) for c in
                                           (p.top_left, p.top_right, p.bottom_right, p.bottom_left))))
    return found


def find_codes(scan: Image.Image) -> list[Located]:
    """The QR codes of a page: in its bottom strip, its top strip (a sheet laid upside down), the whole page; a
    small code (the posted notice's) or a coarse or black-and-white scan may hold modules too small to read:
    then at twice the size."""
    width, height = scan.size
    strip = int(height * STRIP)
    for enlarge in (1, 2):
        for box in ((0, height - strip, width, height), (0, 0, width, strip), (0, 0, width, height)):
            part = scan.crop(box)
            if enlarge > 1:
                part = part.resize((part.width * enlarge, part.height * enlarge), Image.Resampling.BICUBIC)
            if found := locate(part):
                return [Located(c.text, tuple((x / enlarge + box[0], y / enlarge + box[1]) for x, y in c.corners))
                        for c in found]
    return []


def _render(page: pdfium.PdfPage, region: tuple[int, int, int, int], dpi: int = DPI) -> Image.Image:
    """A region of a page we printed (pixels at `dpi` from its top-left corner, reaching past the paper's edge
    if need be), in grey: only that region is drawn."""
    width, height = page.get_size()
    k = 72 / dpi
    crop = (max(0.0, region[0] * k), max(0.0, height - region[3] * k), max(0.0, width - region[2] * k),
            max(0.0, region[1] * k))
    drawn = page.render(scale=1 / k, crop=crop, grayscale=True).to_pil().convert("L")
    canvas = Image.new("L", (region[2] - region[0], region[3] - region[1]), 255)
    canvas.paste(drawn, (max(0, -region[0]), max(0, -region[1])))
    return canvas


def _blank_code(page: pdfium.PdfPage) -> list[Located]:
    """The code of a blank print, in DPI pixels: read where our forms carry it (the bottom right, then the whole
    bottom strip, then the whole page), rendered at twice DPI: the posted notice's small code has modules of 1.5
    pixels at DPI, which no reader takes."""
    fine = 2 * DPI
    width, height = round(page.get_width() * fine / 72), round(page.get_height() * fine / 72)
    strip = round(height * (1 - STRIP))
    for region in ((width // 2, strip, width, height), (0, strip, width, height), (0, 0, width, height)):
        if found := locate(_render(page, region, fine)):
            return [Located(c.text, tuple(((x + region[0]) * DPI / fine, (y + region[1]) * DPI / fine)
                                          for x, y in c.corners)) for c in found]
    return []


def _printed_code(codes_scan: list[Located]) -> list[Located]:
    """Where the print carries the scan's one code of ours, in DPI pixels, from the layout (nothing to read); empty
    for several codes (a sheet of two forms: which is this page's is read from the print) or an unknown form."""
    code = qr.parse(codes_scan[0].text) if len(codes_scan) == 1 else None
    square = qr.code_square(code) if code else None
    if square is None:
        return []
    left, top, side = (v * DPI / 25.4 for v in square)
    return [Located(codes_scan[0].text, ((left, top), (left + side, top), (left + side, top + side), (left, top + side)))]


def _page_flags(scan: Image.Image, printed: pdfium.PdfPage, boxes: list[Box], page: int,
                codes_scan: list[Located] | None = None) -> list[InkFlag] | None:
    """Ink found or not in each box of this page; None when either QR code cannot be found. `codes_scan`: the
    scan's codes when they were found already (scan-in reads them), else they are looked for here."""
    if codes_scan is None:
        codes_scan = find_codes(scan)
    codes_blank = _printed_code(codes_scan) or _blank_code(printed) if codes_scan else []
    if not codes_blank or not codes_scan:
        return None
    target = next((c for c in codes_scan if c.text == codes_blank[0].text), codes_scan[0])
    to_scan = affine_fit(list(codes_blank[0].corners), list(target.corners))  # blank pixel → scan pixel
    grey = scan if scan.mode == "L" else scan.convert("L")
    height = printed.get_height() * DPI / 72
    return [InkFlag(page, box.name, KIND.get(box.name, "signature"), share >= MIN_INK_SHARE)
            for box, share in ((box, new_ink_share(grey, to_scan, printed, height, box)) for box in boxes)]


def new_ink_share(scan: Image.Image, to_scan: tuple[float, ...], printed: pdfium.PdfPage, height: float,
                  box: Box) -> float:
    """Share of the box's pixels (less its edge) inked on the scan but not on the print, best local alignment.
    Only the box and a margin around it are drawn from the print and mapped from the scan (`to_scan`: print pixel
    → scan pixel; `height`: the print's page height in pixels)."""
    px, k = DPI / 25.4, DPI / 72  # pixels per mm, per point
    reach, inset = round(SEARCH_MM * px), round(INSET_MM * px)
    margin = reach + 4
    box_px = (round(box.x0 * k), round(height - box.y1 * k), round(box.x1 * k), round(height - box.y0 * k))
    region = (box_px[0] - margin, box_px[1] - margin, box_px[2] + margin, box_px[3] + margin)
    size = (region[2] - region[0], region[3] - region[1])
    a, b, c, d, e, f = to_scan
    moved = (a, b, c + a * region[0] + b * region[1], d, e, f + d * region[0] + e * region[1])
    aligned = scan.transform(size, Image.Transform.AFFINE, moved, resample=Image.Resampling.BILINEAR, fillcolor=255)
    scan_ink = _mask(aligned.filter(ImageFilter.BoxBlur(1)), INK)  # a speck of noise or a hair line averages out
    print_ink = _mask(_render(printed, region), PRINT)
    near_print = _spread(print_ink, round(NEAR_PRINT_MM * px))
    dx, dy = _refine(scan_ink, print_ink, reach)
    inner = (margin + inset, margin + inset, size[0] - margin - inset, size[1] - margin - inset)
    if inner[2] <= inner[0] or inner[3] <= inner[1]:
        return 1.0  # an area too small to judge is not flagged
    shifted = (inner[0] + dx, inner[1] + dy, inner[2] + dx, inner[3] + dy)
    new_ink = ImageChops.subtract(scan_ink.crop(shifted), near_print.crop(inner))
    return _count(new_ink) / ((inner[2] - inner[0]) * (inner[3] - inner[1]))


def _mask(image: Image.Image, level: int) -> Image.Image:
    """255 where the image is darker than `level`, else 0."""
    return image.point([255] * level + [0] * (256 - level))


def _spread(mask: Image.Image, radius: int) -> Image.Image:
    """The mask grown by `radius` pixels each way (a box blur is non-zero wherever the mask is within reach)."""
    return mask.filter(ImageFilter.BoxBlur(radius)).point([0] + [255] * 255)


def _count(mask: Image.Image) -> int:
    return mask.histogram()[255]


def _profiles(mask: Image.Image) -> tuple[list[float], list[float]]:
    """How much ink each column and each row of a mask holds."""
    grey = mask.convert("F")
    columns, rows = grey.resize((mask.width, 1), Image.Resampling.BOX), grey.resize((1, mask.height), Image.Resampling.BOX)
    return memoryview(columns.tobytes()).cast("f").tolist(), memoryview(rows.tobytes()).cast("f").tolist()


def _best_shift(moving: list[float], fixed: list[float], reach: int) -> int:
    """The shift of `moving` (longer by 2 × reach) that lays it best over `fixed`: coarse steps of 2, then ±1."""
    def overlap(shift: int) -> float:
        return sum(map(operator.mul, moving[reach + shift:reach + shift + len(fixed)], fixed))

    coarse = max(range(-reach, reach + 1, 2), key=overlap)
    return max((s for s in (coarse - 1, coarse, coarse + 1) if -reach <= s <= reach), key=overlap)


def _refine(scan_ink: Image.Image, print_ink: Image.Image, reach: int) -> tuple[int, int]:
    """The small shift that best lays the scan's ink over the print's ink around this area (cell borders, text):
    the columns' ink profiles give it across, the rows' profiles down."""
    if _count(print_ink) == 0:
        return 0, 0
    w, h = print_ink.size
    scan_columns, scan_rows = _profiles(scan_ink)
    print_columns, print_rows = _profiles(print_ink.crop((reach, reach, w - reach, h - reach)))
    return _best_shift(scan_columns, print_columns, reach), _best_shift(scan_rows, print_rows, reach)


def page_flags(scan: Image.Image, codes: list[Located], blank: pdfium.PdfDocument, boxes: list[Box],
               page: int) -> list[InkFlag]:
    """The ink flags of page `page` of a form, its scan given with the codes found on it when it was read: the check
    form_flags makes of that page, without looking for its codes again (scan-in, scan/prints.py)."""
    mine = [b for b in boxes if b.page == page]
    if not mine or not codes or page > len(blank):
        return []
    return _page_flags(scan, blank[page - 1], mine, page, codes) or []


def form_flags(scan_pages: list[Image.Image], blank_pdf: bytes, boxes: list[Box],
               codes: list[list[Located] | None] | None = None) -> list[InkFlag]:
    """Ink flags for every signature and seal area of a form, its scanned pages given in form order (with the codes
    found on each when it was read, in its pixels, if they were: they are not looked for again).

    An area whose page cannot be registered (QR code unreadable) counts as not checked: no flag is raised
    for it, since the tool cannot tell. Only the print's pages with areas are rendered."""
    import pypdfium2 as pdfium  # here: only a case with signed originals renders its prints

    if not boxes:
        return []
    doc = pdfium.PdfDocument(blank_pdf)
    try:
        flags: list[InkFlag] = []
        for page in sorted({b.page for b in boxes}):
            if page > len(scan_pages) or page > len(doc):
                continue
            found = _page_flags(scan_pages[page - 1], doc[page - 1], [b for b in boxes if b.page == page], page,
                                codes[page - 1] if codes else None)
            flags += found or []
        return flags
    finally:
        doc.close()
