"""A scanner file → its pages as PDF pages, each with the QR code it carries and the turn that shows it upright.

Fast by design: a scanner page is one image, so the code is decoded from that image at its own
resolution (a JPEG decoded straight to grey at a reduced scale), QR format only, the bottom strip of the
page first (where our forms carry it), then the top strip (a sheet laid upside down), then the whole
image. Only a page that is not a single upright image is rendered. Pages are straightened by setting
their /Rotate; no pixel is re-encoded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from pikepdf.models.image import PdfImage
from PIL import Image

from kunnan_docs.forms import qr
from kunnan_docs.package.attachments import load

QUICK_DPI = 100  # first try: most clean scans decode at 2.3 pixels a module, and a JPEG halves for free
DECODE_DPI = 150  # then: enough for our 22 mm codes on poor scans (about 3.5 pixels a module)
RENDER_DPI = 200
STRIP = 0.25  # share of the page height searched first, at the bottom and then at the top
SCANNER_SUFFIXES = (".pdf", ".jpg", ".jpeg", ".png", ".tif", ".tiff")


@dataclass
class ScannedPage:
    number: int  # 1-based, within its scanner file
    code: qr.PageCode | None
    foreign: str | None  # text of a QR code that is not ours, if any
    rotate: int  # the /Rotate that shows the page upright


@dataclass
class ScanFile:
    path: Path
    pdf: pikepdf.Pdf  # the scanner's pages, images untouched, each set upright
    pages: list[ScannedPage]


def read_scan(path: Path) -> ScanFile:
    """Raises AttachmentError (Chinese message) for a file that is not a readable scan."""
    pdf = load(path, path.name).pdf
    renderer = _Renderer(pdf)
    pages = []
    for number, page in enumerate(pdf.pages, start=1):
        rotate = int(page.obj.get("/Rotate", 0)) // 90 * 90 % 360
        image = _single_image(page)
        found = _read_image(*image) if image else None
        if found is None:
            image = None
            found = renderer.read(number - 1)
        ours = [(c, f) for f in found if (c := qr.parse(f.text))]
        if ours:
            code, hit = ours[0]
            shown = hit.turned + (rotate if image else 0)  # a rendered page is already shown with its /Rotate
            upright = (rotate - shown) % 360
            page.obj.Rotate = upright
            pages.append(ScannedPage(number, code, None, upright))
        else:
            pages.append(ScannedPage(number, None, found[0].text if found else None, rotate))
    return ScanFile(path, pdf, pages)


def _single_image(page: pikepdf.Page) -> tuple[pikepdf.Stream, float] | None:
    """The page's image and its drawn width in points, when the page is nothing but one image drawn upright
    (what scanners write)."""
    xobjects = page.obj.get("/Resources", {}).get("/XObject", {})
    if len(xobjects) != 1:
        return None
    name, image = next(iter(xobjects.items()))
    if image.get("/Subtype") != "/Image":
        return None
    matrix = None
    for operands, operator in pikepdf.parse_content_stream(page):
        if str(operator) == "cm":
            matrix = [float(v) for v in operands]
        elif str(operator) == "Do" and str(operands[0]) == name:
            break
        elif str(operator) in ("re", "f", "F", "f*", "S", "B", "b", "sh", "BI"):
            return None  # the page draws more than its image (a text layer, as OCR adds, does not count)
    if not matrix or matrix[1] or matrix[2] or matrix[0] <= 0 or matrix[3] <= 0:
        return None
    return image, matrix[0]


def _grey(image: pikepdf.Stream, factor: int) -> Image.Image:
    """The image in grey, reduced by `factor` (a JPEG is decoded straight at that scale, which costs less)."""
    filters = image.get("/Filter")
    if filters == pikepdf.Name.DCTDecode or (isinstance(filters, pikepdf.Array) and list(filters) == ["/DCTDecode"]):
        pil = Image.open(io.BytesIO(image.read_raw_bytes()))
        pil.draft("L", (pil.width // factor, pil.height // factor))
        return pil if pil.mode == "L" else pil.convert("L")
    pil = PdfImage(image).as_pil_image()
    pil = pil if pil.mode == "L" else pil.convert("L")
    return pil.reduce(factor) if factor > 1 else pil


def _factor(dpi: float, at_least: int) -> int:
    factor = 1
    while factor < 8 and dpi / (factor * 2) >= at_least:
        factor *= 2
    return factor


def _read_image(image: pikepdf.Stream, width_pt: float) -> list[qr.Found] | None:
    """Strips first, at a quick resolution, then at a safe one; the whole page last.

    None when Pillow cannot decode the image (JBIG2, say): the page is rendered instead."""
    dpi = int(image.Width) / (width_pt / 72)
    factors = dict.fromkeys((_factor(dpi, QUICK_DPI), _factor(dpi, DECODE_DPI)))
    for factor in factors:
        try:
            grey = _grey(image, factor)
        except (pikepdf.PdfError, NotImplementedError, OSError, ValueError):
            return None
        width, height = grey.size
        strip = int(height * STRIP)
        for box in ((0, height - strip, width, height), (0, 0, width, strip)):
            if found := qr.read(grey.crop(box)):
                return found
    return qr.read(grey)


class _Renderer:
    """pdfium, opened on the file only when some page is not a single image."""

    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self.pdf = pdf
        self.doc = None

    def read(self, index: int) -> list[qr.Found]:
        import pypdfium2 as pdfium

        if self.doc is None:
            buf = io.BytesIO()
            self.pdf.save(buf)
            self.doc = pdfium.PdfDocument(buf.getvalue())
        return qr.read(self.doc[index].render(scale=RENDER_DPI / 72, grayscale=True).to_pil())
