"""Print-and-scan, simulated on real files: our PDFs rendered at a scanner's resolution, spoiled as scanners
spoil pages (noise, skew, pages turned, low-quality JPEG, black-and-white), saved as office scanners save them."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

import img2pdf
import pypdfium2 as pdfium
from PIL import Image, ImageChops


@dataclass(frozen=True)
class Spoil:
    dpi: int = 200
    turn: int = 0  # degrees the sheet lay turned on the glass, clockwise: 0, 90, 180, 270
    skew: float = 0.0  # degrees, counter-clockwise
    noise: float = 0.0  # sigma of grey noise
    bw: bool = False  # black-and-white (CCITT G4) instead of grey JPEG
    colour: bool = False  # colour, on slightly yellowish paper
    quality: int = 60


def pages_of(pdf: Path | bytes) -> list[pdfium.PdfPage]:
    doc = pdfium.PdfDocument(pdf)
    return [doc[i] for i in range(len(doc))]


def scan(page: pdfium.PdfPage, spoil: Spoil = Spoil(), seed: int = 0) -> Image.Image:
    """One sheet as the scanner sees it: grey (or bw) pixels at spoil.dpi."""
    img = page.render(scale=spoil.dpi / 72, grayscale=True).to_pil().convert("L")
    if spoil.colour:
        img = Image.merge("RGB", (img, img, img.point(lambda v: v * 9 // 10)))
    if spoil.skew:
        img = img.rotate(spoil.skew, resample=Image.Resampling.BILINEAR, fillcolor=255)
    if spoil.turn:
        img = img.rotate(-spoil.turn, expand=True)
    if spoil.noise:
        random.seed(seed)
        noise = Image.effect_noise(img.size, spoil.noise).convert(img.mode)  # centred on 128
        img = ImageChops.add(img, noise, scale=1.0, offset=-128)
    if spoil.bw:
        img = img.point(lambda v: 255 if v > 150 else 0).convert("1")
    img.info["dpi"] = (spoil.dpi, spoil.dpi)
    return img


def encoded(img: Image.Image, spoil: Spoil = Spoil()) -> bytes:
    """What the scanner writes for one page: CCITT G4 TIFF for black-and-white, JPEG otherwise."""
    buf = io.BytesIO()
    if img.mode == "1":
        img.save(buf, "TIFF", compression="group4", dpi=(spoil.dpi, spoil.dpi))
    else:
        img.save(buf, "JPEG", quality=spoil.quality, dpi=(spoil.dpi, spoil.dpi))
    return buf.getvalue()


def scanner_pdf(pages: list[bytes], path: Path) -> Path:
    """A multi-page image PDF as office scanners write it: each page one image, embedded as it is."""
    path.write_bytes(img2pdf.convert(pages, nodate=True))
    return path
