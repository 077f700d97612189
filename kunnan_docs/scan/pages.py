"""A scanner file → its pages as PDF pages, each with the QR code it carries and the turn that shows it upright.

Fast by design: codes are read from each page's own image (package/pageimage.py). Pages are straightened
by setting their /Rotate; no pixel is re-encoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pikepdf

from kunnan_docs.forms import qr
from kunnan_docs.package.attachments import load
from kunnan_docs.package.pageimage import ScanPages

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
    scanned = ScanPages(pdf)
    pages = []
    for number, page in enumerate(pdf.pages, start=1):
        rotate = int(page.obj.get("/Rotate", 0)) // 90 * 90 % 360
        found, own_image = scanned.codes(number - 1)
        ours = [(c, f) for f in found if (c := qr.parse(f.text))]
        if ours:
            code, hit = ours[0]
            shown = hit.turned + (rotate if own_image else 0)  # a rendered page is already shown with its /Rotate
            upright = (rotate - shown) % 360
            page.obj.Rotate = upright
            pages.append(ScannedPage(number, code, None, upright))
        else:
            pages.append(ScannedPage(number, None, found[0].text if found else None, rotate))
    return ScanFile(path, pdf, pages)
