"""A scanned page's own image, and the QR codes on it, read without rendering the page.

A scanner page is one image drawn over the whole page. Its QR code is decoded from that image at its own
resolution (a JPEG decoded straight to grey at a reduced scale), QR format only, the bottom strip of the
page first (where our forms carry it), then the top strip (a sheet laid upside down), then the whole
image. Only a page that is not a single upright image is rendered. Both the scanner folder (scan-in) and
the signed attachments of a case file read their pages here.
"""

from __future__ import annotations

import io

import pikepdf
from pikepdf.models.image import PdfImage
from PIL import Image

from kunnan_docs.forms import qr

QUICK_DPI = 100  # first try: most clean scans decode at 2.3 pixels a module, and a JPEG halves for free
DECODE_DPI = 150  # then: enough for our 22 mm codes on poor scans (about 3.5 pixels a module)
RENDER_DPI = 200
STRIP = 0.25  # share of the page height searched first, at the bottom and then at the top


def single_image(page: pikepdf.Page) -> tuple[pikepdf.Stream, float] | None:
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


def grey(image: pikepdf.Stream, factor: int) -> Image.Image:
    """The image in grey, reduced by `factor` (a JPEG is decoded straight at that scale, which costs less).

    Raises pikepdf.PdfError, NotImplementedError, OSError or ValueError when Pillow cannot decode it."""
    filters = image.get("/Filter")
    if filters == pikepdf.Name.DCTDecode or (isinstance(filters, pikepdf.Array) and list(filters) == ["/DCTDecode"]):
        pil = Image.open(io.BytesIO(image.read_raw_bytes()))
        pil.draft("L", (pil.width // factor, pil.height // factor))
        return pil if pil.mode == "L" else pil.convert("L")
    pil = PdfImage(image).as_pil_image()
    pil = pil if pil.mode == "L" else pil.convert("L")
    return pil.reduce(factor) if factor > 1 else pil


def reduction(dpi: float, at_least: int) -> int:
    """The largest power-of-two reduction (at most 8) that keeps the image at `at_least` dpi or more."""
    factor = 1
    while factor < 8 and dpi / (factor * 2) >= at_least:
        factor *= 2
    return factor


def _read_image(image: pikepdf.Stream, width_pt: float) -> list[qr.Found] | None:
    """Strips first, at a quick resolution, then at a safe one; the whole page last.

    None when Pillow cannot decode the image (JBIG2, say): the page is rendered instead."""
    dpi = int(image.Width) / (width_pt / 72)
    factors = dict.fromkeys((reduction(dpi, QUICK_DPI), reduction(dpi, DECODE_DPI)))
    for factor in factors:
        try:
            picture = grey(image, factor)
        except (pikepdf.PdfError, NotImplementedError, OSError, ValueError):
            return None
        width, height = picture.size
        strip = int(height * STRIP)
        for box in ((0, height - strip, width, height), (0, 0, width, strip)):
            if found := qr.read(picture.crop(box)):
                return found
    return qr.read(picture)


class ScanPages:
    """The pages of a scanner PDF, read from their own images; pdfium is opened on the file only when some
    page is not a single image."""

    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self.pdf = pdf
        self.doc = None

    def codes(self, index: int) -> tuple[list[qr.Found], bool]:
        """The codes of page `index` (0-based), and whether they were read from the page's own image (whose
        turn ignores the page's /Rotate) rather than from the rendered page (which shows it)."""
        image = single_image(self.pdf.pages[index])
        found = _read_image(*image) if image else None
        if found is not None:
            return found, True
        return qr.read(self._render(index, RENDER_DPI)), False

    def image(self, index: int, at_least_dpi: int) -> Image.Image:
        """Page `index` in grey at `at_least_dpi` or finer: the page's own image when it is one (in its own
        orientation, whatever the page's /Rotate), the rendered page otherwise."""
        image = single_image(self.pdf.pages[index])
        if image:
            stream, width_pt = image
            try:
                return grey(stream, reduction(int(stream.Width) / (width_pt / 72), at_least_dpi))
            except (pikepdf.PdfError, NotImplementedError, OSError, ValueError):
                pass
        return self._render(index, at_least_dpi)

    def _render(self, index: int, dpi: int) -> Image.Image:
        import pypdfium2 as pdfium

        if self.doc is None:
            buf = io.BytesIO()
            self.pdf.save(buf)
            self.doc = pdfium.PdfDocument(buf.getvalue())
        return self.doc[index].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
