"""Print-and-scan, simulated on real files: our PDFs rendered at a scanner's resolution, spoiled as scanners
spoil pages (noise, skew, pages turned, low-quality JPEG, black-and-white), saved as office scanners save them;
and what offices and forgers also bring: blank duplex backs, red seals over a code, two forms on one sheet,
phone photos in perspective, absurd resolutions, forged codes, decompression bombs."""

from __future__ import annotations

import io
import math
import random
import zlib
from dataclasses import dataclass
from pathlib import Path

import img2pdf
import pypdfium2 as pdfium
from PIL import Image, ImageChops, ImageDraw, ImageOps


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
        noise = _noise(img.size, spoil.noise, seed).convert(img.mode)
        img = ImageChops.add(img, noise, scale=1.0, offset=-128)
    if spoil.bw:
        img = img.point(lambda v: 255 if v > 150 else 0).convert("1")
    img.info["dpi"] = (spoil.dpi, spoil.dpi)
    return img


def _noise(size: tuple[int, int], sigma: float, seed: int) -> Image.Image:
    """Grey sensor noise centred on 128 with this standard deviation, the same for the same seed (Pillow's
    effect_noise draws from C's rand(), which the tests before a test have moved on: a test's page would differ
    with the tests run before it)."""
    uniform = Image.frombytes("L", size, random.Random(seed).randbytes(size[0] * size[1]))
    return uniform.point([max(0, min(255, round(128 + (v - 127.5) * sigma / 73.9))) for v in range(256)])


def encoded(img: Image.Image, spoil: Spoil = Spoil(), header_dpi: int | None = None) -> bytes:
    """What the scanner writes for one page: CCITT G4 TIFF for black-and-white, JPEG otherwise; `header_dpi`
    writes another resolution into the file than the pixels have (a 72-dpi header)."""
    buf = io.BytesIO()
    dpi = header_dpi or spoil.dpi
    if img.mode == "1":
        img.save(buf, "TIFF", compression="group4", dpi=(dpi, dpi))
    else:
        img.save(buf, "JPEG", quality=spoil.quality, dpi=(dpi, dpi))
    return buf.getvalue()


def scanner_pdf(pages: list[bytes], path: Path) -> Path:
    """A multi-page image PDF as office scanners write it: each page one image, embedded as it is."""
    path.write_bytes(img2pdf.convert(pages, nodate=True))
    return path


def duplex_back(front: Image.Image, seed: int = 0) -> Image.Image:
    """The blank back of a printed sheet as a duplex scanner gives it: grey paper, the front showing through
    mirrored and faint, sensor noise, a dark scanner edge along one side."""
    back = ImageOps.mirror(front.convert("L")).point(lambda v: 232 - (255 - v) * 22 // 100)
    back = ImageChops.add(back, _noise(back.size, 10, seed), scale=1.0, offset=-128)
    back.paste(40, (0, 0, back.width, max(2, back.height // 300)))
    back.info["dpi"] = front.info.get("dpi", (200, 200))
    return back


def red_seal(img: Image.Image, centre: tuple[float, float], radius: float) -> Image.Image:
    """A union's round red seal stamped over the sheet at `centre` (pixels): ring, star and a band of
    characters-like marks, in seal red multiplied over the print (as ink is)."""
    sheet = img.convert("RGB")
    layer = Image.new("RGB", sheet.size, (255, 255, 255))
    draw = ImageDraw.Draw(layer)
    cx, cy = centre
    red = (214, 38, 44)
    width = max(3, round(radius / 14))
    draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], outline=red, width=width)
    star = [(cx + (radius * 0.3 if i % 2 == 0 else radius * 0.12) * math.sin(i * math.pi / 5),
             cy - (radius * 0.3 if i % 2 == 0 else radius * 0.12) * math.cos(i * math.pi / 5)) for i in range(10)]
    draw.polygon(star, fill=red)
    for i in range(14):  # the union's name along the upper arc
        a = math.radians(-150 + i * 120 / 13)
        x, y = cx + radius * 0.75 * math.cos(a), cy + radius * 0.75 * math.sin(a)
        draw.rectangle([x - radius * 0.07, y - radius * 0.07, x + radius * 0.07, y + radius * 0.07], fill=red)
    draw.line([(cx - radius * 0.6, cy + radius * 0.45), (cx + radius * 0.6, cy + radius * 0.45)], fill=red,
              width=width)
    stamped = ImageChops.multiply(sheet, layer)
    stamped.info["dpi"] = img.info.get("dpi", (200, 200))
    return stamped


def two_up(first: pdfium.PdfPage, second: pdfium.PdfPage, dpi: int = 200) -> Image.Image:
    """Two A4 pages printed on one landscape A4 sheet ("2 pages per sheet"), each scaled to fit its half."""
    width, height = round(297 / 25.4 * dpi), round(210 / 25.4 * dpi)
    sheet = Image.new("L", (width, height), 255)
    scale = min(width / 2 / (210 / 25.4 * dpi), height / (297 / 25.4 * dpi))
    for i, page in enumerate((first, second)):
        img = page.render(scale=dpi * scale / 72, grayscale=True).to_pil().convert("L")
        sheet.paste(img, (i * width // 2 + (width // 2 - img.width) // 2, (height - img.height) // 2))
    sheet.info["dpi"] = (dpi, dpi)
    return sheet


def phone_photo(page: pdfium.PdfPage, corners: tuple[tuple[float, float], ...], size: tuple[int, int] = (1800, 2400),
                seed: int = 0) -> Image.Image:
    """A phone photo of the sheet lying on a desk: the page (rendered at 150 dpi) in perspective with its corners
    at `corners` (top-left, top-right, bottom-right, bottom-left, as fractions of `size`), a darker textured desk
    around it, uneven light, colour, noise."""
    sheet = page.render(scale=150 / 72).to_pil().convert("RGB")
    w, h = size
    target = [(x * w, y * h) for x, y in corners]
    sw, sh = sheet.size
    coefficients = _homography(target, [(0, 0), (sw, 0), (sw, sh), (0, sh)])
    mask = Image.new("L", sheet.size, 255).transform(size, Image.Transform.PERSPECTIVE, coefficients,
                                                    Image.Resampling.BILINEAR)
    warped = sheet.transform(size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC)
    desk = Image.merge("RGB", [_noise(size, 18, seed + k).point(lambda v, k=k: v * k // 255)
                               for k in (150, 110, 80)])  # brown wood
    photo = Image.composite(warped, desk, mask)
    light = Image.linear_gradient("L").resize(size).point(lambda v: 200 + v * 55 // 255)
    photo = ImageChops.multiply(photo, Image.merge("RGB", (light, light, light)))
    photo = ImageChops.add(photo, _noise(size, 6, seed).convert("RGB"), scale=1.0, offset=-128)
    photo.info["dpi"] = (72, 72)
    return photo


def _homography(src: list[tuple[float, float]], dst: list[tuple[float, float]]) -> tuple[float, ...]:
    """Pillow's PERSPECTIVE coefficients taking output points `src` to input points `dst` (a test's own solver)."""
    rows = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, v])
    for col in range(8):
        pivot = max(range(col, 8), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        rows[col] = [v / rows[col][col] for v in rows[col]]
        for r in range(8):
            if r != col:
                rows[r] = [a - rows[r][col] * b for a, b in zip(rows[r], rows[col], strict=True)]
    return tuple(row[8] for row in rows)


def code_sheet(payload: str, dpi: int = 200, size_mm: float = 20, quiet: int = 2) -> Image.Image:
    """A sheet carrying nothing but a QR code with any payload (forged or damaged codes), where our forms carry
    theirs: bottom right, 10 mm above the paper's edge."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_L

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_L, border=quiet)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    modules = Image.frombytes("L", (len(matrix), len(matrix)), bytes(0 if d else 255 for row in matrix for d in row))
    side = max(round(size_mm / 25.4 * dpi), len(matrix) * 3)  # at least 3 pixels a module: a long payload is large
    sheet = Image.new("L", (round(210 / 25.4 * dpi), round(297 / 25.4 * dpi)), 246)
    margin = round(10 / 25.4 * dpi)
    sheet.paste(modules.resize((side, side), Image.Resampling.NEAREST),
                (min(sheet.width - round(40 / 25.4 * dpi), sheet.width - margin - side), sheet.height - margin - side))
    sheet.info["dpi"] = (dpi, dpi)
    return sheet


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose header claims `width` × `height` pixels (a decompression bomb's header): decoding it
    whole would take width × height bytes."""
    buf = io.BytesIO()
    Image.new("L", (16, 16), 255).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    at = data.index(b"\xff\xc0")  # SOF0: length (2), precision (1), height (2), width (2)
    data[at + 5:at + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def flate_bomb_pdf(path: Path, side: int, claimed: int | None = None, with_text: bool = False) -> Path:
    """A one-page PDF holding one 1-bit side × side image of nothing (Flate: 30000² is 110 KB); `claimed`
    writes a smaller /Width and /Height than the data holds (a stream that inflates far beyond its image);
    `with_text` adds a drawn rectangle, so that the page is not one image and would be rendered."""
    import pikepdf

    deflate, chunk = zlib.compressobj(9), bytes(1 << 20)
    row_bytes = (side + 7) // 8
    remaining, parts = row_bytes * side, []
    while remaining:
        n = min(remaining, len(chunk))
        parts.append(deflate.compress(chunk[:n]))
        remaining -= n
    parts.append(deflate.flush())
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, b"".join(parts))
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width = image.Height = claimed or side
    image.BitsPerComponent, image.ColorSpace = 1, pikepdf.Name.DeviceGray
    image.Filter = pikepdf.Name.FlateDecode
    content = b"q 595 0 0 842 0 0 cm /Im0 Do Q" + (b" 0 0 10 10 re f" if with_text else b"")
    page = pdf.add_blank_page(page_size=(595, 842))
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.obj.Contents = pikepdf.Stream(pdf, content)
    pdf.save(path)
    return path


def with_jpeg_claiming(pages: list[bytes], width: int, height: int, path: Path) -> Path:
    """A scanner PDF of `pages` whose first page holds a JPEG claiming width × height pixels (no PDF writer that
    looks at its images would make it: it is put together here)."""
    import pikepdf

    scanner_pdf(pages, path)
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        image = pikepdf.Stream(pdf, jpeg_claiming(width, height))
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height = width, height
        image.BitsPerComponent, image.ColorSpace = 8, pikepdf.Name.DeviceGray
        image.Filter = pikepdf.Name.DCTDecode
        page = pikepdf.Page(pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, 595, 842],
                                               Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
                                               Contents=pikepdf.Stream(pdf, b"q 595 0 0 842 0 0 cm /Im0 Do Q")))
        pdf.pages.insert(0, page)
        pdf.save(path)
    return path
