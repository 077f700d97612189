"""A scanned page's own image, and the QR codes on it, read without rendering the page — within limits.

A scanner page is one image drawn over the whole page. Its QR code is decoded from that image at its own
resolution (a JPEG decoded straight to grey at a reduced scale), QR format only, the bottom strip of the
page first (where our forms carry it), then the top strip (a sheet laid upside down). A page where that finds
nothing is measured for ink (a blank back page of a duplex scan stops there), then searched harder: the
whole page, finer, enlarged twice (a small code on a coarse scan), and on the red channel of a colour scan
(a red seal stamped over a code vanishes there). Only a page that is not a single image is rendered.

Nothing is decoded beyond explicit limits, checked on the PDF's own numbers before any pixel is made: an image
of more than MAX_PIXELS, a decoded size above MAX_DECODED bytes, a Flate stream that inflates beyond the size
its image claims (a 110 KB file holding a 30000² image), a rendering above RENDER_PIXELS. Such a page gets a
Chinese reason instead of codes. Both the scanner folder (scan-in) and the signed attachments of a case
file read their pages here.
"""

from __future__ import annotations

import io
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import pikepdf
from pikepdf.models.image import PdfImage
from PIL import Image

from kunnan_docs.errors import TooLarge
from kunnan_docs.forms import qr

MAX_PIXELS = 120_000_000  # about a 1.2 m² sheet at 300 dpi: larger images would exhaust a clerk's PC (scans too)
QUICK_DPI = 100  # first try: most clean scans decode at 2.3 pixels a module, and a JPEG halves for free
DECODE_DPI = 150  # then: enough for our 20 mm codes on poor scans (about 3.5 pixels a module)
RENDER_DPI = 200
STRIP = 0.25  # share of the page height searched first, at the bottom and then at the top
CORNER = 0.3  # side of the corner squares searched last, as a share of the page's shorter side
MAX_DECODED = 200_000_000  # bytes one decoded page image may take (a case's whole budget, README goal 7)
RENDER_PIXELS = 40_000_000  # a rendered page is made smaller than this (an A4 page at 200 dpi is 3.9 million)
INK_DPI = 50  # the blank-page measure looks at the page this coarsely: noise and dust average out
INK_LEVEL = 128  # grey below which a coarse pixel counts as ink
INK_MARGIN = 0.06  # share of each side left out of the measure: scanner edges, punch holes
BLANK_SHARE = 0.0015  # less ink than this (a blank back of a duplex scan): the page is not searched further
FAINT = 0.15  # a code with less of its area darker than INK_LEVEL is not printed on this side of the sheet
_DECODE_ERRORS = (pikepdf.PdfError, NotImplementedError, OSError, ValueError, SyntaxError, Image.DecompressionBombError)


class Drawn(NamedTuple):
    """A page that is nothing but one image drawn upright: the image, and where it is drawn (x, y, width,
    height in points, the image's top-left pixel at (x, y + height))."""

    image: pikepdf.Stream
    x: float
    y: float
    width: float
    height: float


@dataclass
class PageRead:
    """What reading one page gave: the codes (corners in pixels of an image of `size`), whether that image is
    the page's own (whose turn ignores the page's /Rotate) or the rendered page (which shows it), the share of
    ink when no code was found quickly (None otherwise), and a Chinese reason when the page could not be read
    at all within the limits."""

    found: list[qr.Found]
    own_image: bool
    size: tuple[int, int]
    ink: float | None = None
    problem: str | None = None


def single_image(page: pikepdf.Page) -> Drawn | None:
    """The page's image and where it is drawn, when the page is nothing but one image drawn upright
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
    return Drawn(image, matrix[4], matrix[5], matrix[0], matrix[3])


def _is_jpeg(image: pikepdf.Stream) -> bool:
    filters = image.get("/Filter")
    return filters == pikepdf.Name.DCTDecode or (isinstance(filters, pikepdf.Array) and list(filters) == ["/DCTDecode"])


def check_limits(image: pikepdf.Stream, factor: int = 1) -> None:
    """Raises TooLarge for an image that would cost too much to decode at 1/`factor` of its size, judged from
    its dictionary (and, for a Flate stream, by inflating it into nothing, a bounded chunk at a time)."""
    try:
        width, height = int(image.get("/Width", 0)), int(image.get("/Height", 0))
        bits = int(image.get("/BitsPerComponent", 8))
    except (TypeError, ValueError):
        raise TooLarge("图像尺寸信息已损坏,无法读取。请重新扫描这一页。") from None
    if width <= 0 or height <= 0 or bits not in (1, 2, 4, 8, 16):
        raise TooLarge("图像尺寸信息已损坏,无法读取。请重新扫描这一页。")
    if width * height > MAX_PIXELS:
        raise TooLarge(f"图像像素太多({width}×{height}),超出处理上限,未解码。请用 600 dpi 以下的分辨率重新扫描这一页。")
    jpeg = _is_jpeg(image)
    scale = factor if jpeg else 1  # a JPEG is decoded at the reduced scale itself; other images whole
    if (width // scale + 1) * (height // scale + 1) * (1 if jpeg else 3) > MAX_DECODED:
        raise TooLarge(f"图像解码后太大({width}×{height}),超出内存上限,未解码。请用 300 dpi 灰度重新扫描这一页。")
    if image.get("/Filter") == pikepdf.Name.FlateDecode:
        components = 4 if image.get("/ColorSpace") == pikepdf.Name.DeviceCMYK else 3
        claimed = (width * components * bits + 7) // 8 * height + height  # a PNG predictor adds a byte a row
        if _inflated_size(image.read_raw_bytes(), claimed + 1) > claimed:
            raise TooLarge("图像数据解压后远大于图像本身应有的大小(疑似压缩炸弹),未解码。请重新扫描这一页。")


def _inflated_size(data: bytes, limit: int) -> int:
    """How many bytes a zlib stream inflates to, counting no further than `limit` and keeping none of them."""
    inflater, total, chunk = zlib.decompressobj(), 0, 1 << 20
    try:
        out = inflater.decompress(data, chunk)
        while True:
            total += len(out)
            if total >= limit or not inflater.unconsumed_tail:
                return total
            out = inflater.decompress(inflater.unconsumed_tail, chunk)
    except zlib.error:
        return total  # Pillow reports the damage when it decodes


def grey(image: pikepdf.Stream, factor: int) -> Image.Image:
    """The image in grey, reduced by `factor` (a JPEG is decoded straight at that scale, which costs less).

    Raises TooLarge beyond the limits, and one of _DECODE_ERRORS when Pillow cannot decode it."""
    return decode(image, factor, "L")


def red(image: pikepdf.Stream, factor: int) -> Image.Image | None:
    """The red channel of a colour image (a red seal over a black code disappears in it), None for a grey one."""
    space = image.get("/ColorSpace")
    if space == pikepdf.Name.DeviceGray or (isinstance(space, pikepdf.Array) and len(space) > 1 and space[0] ==
                                            pikepdf.Name.ICCBased and int(space[1].get("/N", 3)) == 1):
        return None  # not decoded again for nothing
    picture = decode(image, factor, "RGB")
    return picture.getchannel("R") if picture.mode == "RGB" else None


def decode(image: pikepdf.Stream, factor: int, mode: str) -> Image.Image:
    """The image in `mode` ("L"; or "RGB" for any colour image, a grey one staying grey), reduced by `factor`."""
    check_limits(image, factor)
    with warnings.catch_warnings():  # our own limits decide, above
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if _is_jpeg(image):
            pil = Image.open(io.BytesIO(image.read_raw_bytes()))
            pil.draft(mode, (pil.width // factor, pil.height // factor))
            factor = 1  # the JPEG decoder reduced it
        else:
            pil = PdfImage(image).as_pil_image()
        if mode == "L" and pil.mode != "L":
            pil = pil.convert("L")
        elif mode == "RGB" and pil.mode in ("CMYK", "P", "YCbCr", "LAB", "HSV"):
            pil = pil.convert("RGB")
    return pil.reduce(factor) if factor > 1 else pil


def reduction(dpi: float, at_least: int) -> int:
    """The largest power-of-two reduction (at most 8) that keeps the image at `at_least` dpi or more."""
    factor = 1
    while factor < 8 and dpi / (factor * 2) >= at_least:
        factor *= 2
    return factor


def ink_share(picture: Image.Image, dpi: float) -> float:
    """Share of the page (less its margins) that is ink, looked at about INK_DPI: a blank sheet is near 0, the
    sparsest printed form about 2 %."""
    coarse = picture.reduce(max(1, round(dpi / INK_DPI)))
    w, h = coarse.size
    inner = coarse.crop((int(w * INK_MARGIN), int(h * INK_MARGIN), int(w * (1 - INK_MARGIN)), int(h * (1 - INK_MARGIN))))
    pixels = inner.width * inner.height
    return sum(inner.histogram()[:INK_LEVEL]) / pixels if pixels else 0.0


def _read(picture: Image.Image) -> list[qr.Found]:
    """The codes on a picture that are printed in ink: a code showing through from the front of the sheet (the
    back of a duplex scan, mirrored and faint) reads too, but its modules are grey, not dark."""
    found = []
    for code in qr.read(picture):
        xs, ys = [x for x, _ in code.corners], [y for _, y in code.corners]
        box = picture.crop((int(min(xs)), int(min(ys)), int(max(xs)) + 1, int(max(ys)) + 1))
        histogram = box.histogram()
        if sum(histogram[:INK_LEVEL]) >= FAINT * max(1, box.width * box.height):
            found.append(code)
    return found


def _strips(picture: Image.Image, scale: float, enlarge: int = 1) -> list[qr.Found]:
    """Codes in the bottom strip, else the top strip (read `enlarge` times their size: modules of two pixels read
    then); corners scaled by `scale` into the full image."""
    width, height = picture.size
    strip = int(height * STRIP)
    for top in (height - strip, 0):
        part = picture.crop((0, top, width, top + strip))
        if enlarge > 1:
            part = part.resize((part.width * enlarge, part.height * enlarge), Image.Resampling.BICUBIC)
        if found := _read(part):
            return [f.moved(1 / enlarge, 0, top).moved(scale) for f in found]
    return []


def _corners(picture: Image.Image, scale: float, enlarge: int = 4) -> list[qr.Found]:
    """Codes in the picture's corners (where our forms carry theirs, however the sheet lay), each read `enlarge`
    times its size: a small, worn code that a reader misses in a wide strip is found in a tight crop."""
    width, height = picture.size
    side = int(min(width, height) * CORNER)
    for left, top in ((width - side, height - side), (0, 0), (0, height - side), (width - side, 0)):
        part = picture.crop((left, top, left + side, top + side))
        if found := _read(part.resize((side * enlarge, side * enlarge), Image.Resampling.BICUBIC)):
            return [f.moved(1 / enlarge, left, top).moved(scale) for f in found]
    return []


def _whole(picture: Image.Image, scale: float, enlarge: int = 1) -> list[qr.Found]:
    if enlarge > 1:
        return [f.moved(scale / enlarge) for f in _read(
            picture.resize((picture.width * enlarge, picture.height * enlarge), Image.Resampling.BICUBIC))]
    return [f.moved(scale) for f in _read(picture)]


class ScanPages:
    """The pages of a scanner PDF, read from their own images; pdfium is opened on the file only when some
    page is not a single image."""

    def __init__(self, pdf: pikepdf.Pdf, done: dict[int, PageRead] | None = None) -> None:
        """`done`: pages already read elsewhere (another process read part of a long scanner file), by index."""
        self.pdf = pdf
        self.doc = None
        self.done = done or {}
        # the grey picture the last page read here was decoded to: its index, the picture and its reduction (the
        # ink check of that page, made as it is read, needs exactly it: scan/prints.py)
        self.picture: tuple[int, Image.Image, int] | None = None

    def codes(self, index: int) -> PageRead:
        """The codes of page `index` (0-based): the quick search, then (unless the page is blank) the hard one."""
        return self.done.get(index) or self._read(index, thorough=False)

    def search(self, index: int) -> PageRead:
        """Every code on page `index`, read from the whole page (several forms printed on one sheet)."""
        return self._read(index, thorough=True)

    def _read(self, index: int, thorough: bool) -> PageRead:
        try:
            drawn = single_image(self.pdf.pages[index])
            if drawn:
                read = self._read_image(drawn, thorough, index)
                if read is not None:
                    return read
            return self._read_rendered(index, thorough)
        except TooLarge as exc:
            return PageRead([], True, (0, 0), problem=str(exc))

    def _read_image(self, drawn: Drawn, thorough: bool, index: int) -> PageRead | None:
        """None when Pillow cannot decode the image (JBIG2, say): the page is rendered instead."""
        image = drawn.image
        check_limits(image)
        size = (int(image.Width), int(image.Height))
        dpi = size[0] / (drawn.width / 72)
        safe = reduction(dpi, DECODE_DPI)
        ink = None
        try:
            if thorough:
                picture = grey(image, safe)
                self.picture = (index, picture, safe)
            else:
                for factor in dict.fromkeys((reduction(dpi, QUICK_DPI), safe)):
                    picture = grey(image, factor)
                    self.picture = (index, picture, factor)
                    if found := _strips(picture, factor):
                        return PageRead(found, True, size)
                ink = ink_share(picture, dpi / safe)
                if ink < BLANK_SHARE:
                    return PageRead([], True, size, ink)
            channel: list[Image.Image | None] = []

            def on_red(enlarge: int = 1) -> list[qr.Found]:
                if not channel:
                    channel.append(red(image, safe))
                return [] if channel[0] is None else _whole(channel[0], safe, enlarge)

            attempts: list[Callable[[], list[qr.Found]]] = [lambda: _whole(picture, safe), on_red]
            if safe > 1:
                attempts.append(lambda: _whole(grey(image, safe // 2), safe // 2))
            if not thorough:  # a small code (the posted notice's) on a coarse scan: modules of two pixels
                attempts += [lambda: _strips(picture, safe, 3), lambda: _corners(picture, safe),
                             lambda: _whole(picture, safe, 2)]
            return PageRead(_first(attempts, thorough), True, size, ink)
        except _DECODE_ERRORS:
            return None

    def _read_rendered(self, index: int, thorough: bool) -> PageRead:
        picture = self._render(index, RENDER_DPI)
        dpi = picture.width / (self._width_pt(index) / 72)
        ink = None
        if not thorough:
            if found := _read(picture):
                return PageRead(found, False, picture.size)
            ink = ink_share(picture, dpi)
            if ink < BLANK_SHARE:
                return PageRead([], False, picture.size, ink)

        def on_red() -> list[qr.Found]:
            return _read(self._render(index, RENDER_DPI, grayscale=False).getchannel("R"))

        attempts: list[Callable[[], list[qr.Found]]] = [lambda: _read(picture), on_red]
        if not thorough:
            attempts += [lambda: _strips(picture, 1, 3), lambda: _corners(picture, 1), lambda: _whole(picture, 1, 2)]
        return PageRead(_first(attempts, thorough), False, picture.size, ink)

    def image(self, index: int, at_least_dpi: int) -> Image.Image:
        """Page `index` in grey at `at_least_dpi` or finer: the page's own image when it is one (in its own
        orientation, whatever the page's /Rotate), the rendered page otherwise. Raises TooLarge beyond limits."""
        drawn = single_image(self.pdf.pages[index])
        if drawn:
            try:
                return grey(drawn.image, reduction(int(drawn.image.Width) / (drawn.width / 72), at_least_dpi))
            except _DECODE_ERRORS:
                pass
        return self._render(index, at_least_dpi)

    def _width_pt(self, index: int) -> float:
        """The page's width as shown (its /Rotate applied), in points."""
        page = self.pdf.pages[index]
        box = page.mediabox
        width, height = abs(float(box[2]) - float(box[0])), abs(float(box[3]) - float(box[1]))
        return height if int(page.obj.get("/Rotate", 0)) % 180 else width

    def _render(self, index: int, dpi: int, grayscale: bool = True) -> Image.Image:
        """The page rendered at `dpi`, or coarser when that would exceed RENDER_PIXELS; TooLarge when one of its
        images is beyond the limits (pdfium would decode it whole)."""
        import pypdfium2 as pdfium

        for image in images_of(self.pdf.pages[index]):
            check_limits(image)
        if self.doc is None:
            buf = io.BytesIO()
            self.pdf.save(buf)
            self.doc = pdfium.PdfDocument(buf.getvalue())
        page = self.doc[index]
        width, height = page.get_size()
        scale = min(dpi / 72, (RENDER_PIXELS / max(width * height, 1.0)) ** 0.5)
        if scale * min(width, height) < 1:
            raise TooLarge(f"页面尺寸异常({width:.0f}×{height:.0f} 磅),无法显示。请重新扫描这一页。")
        bitmap = page.render(scale=scale, grayscale=grayscale).to_pil()
        return bitmap.convert("L") if grayscale else bitmap.convert("RGB")


def _first(attempts: list[Callable[[], list[qr.Found]]], every: bool) -> list[qr.Found]:
    """The codes of the first attempt that finds any; with `every`, of all attempts until two codes are known
    (two forms on one sheet), each text once."""
    found: dict[str, qr.Found] = {}
    for attempt in attempts:
        for code in attempt():
            found.setdefault(code.text, code)
        if found and (not every or len(found) >= 2):
            break
    return list(found.values())


def images_of(page: pikepdf.Page) -> list[pikepdf.Stream]:
    """Every image a page draws, in its resources and in those of its forms (each looked at once)."""
    found: list[pikepdf.Stream] = []
    seen: set[tuple[int, int]] = set()
    stack = [page.obj.get("/Resources")]
    while stack:
        resources = stack.pop()
        if not isinstance(resources, pikepdf.Dictionary):
            continue
        for xobject in resources.get("/XObject", pikepdf.Dictionary()).values():
            if not isinstance(xobject, pikepdf.Stream) or xobject.objgen in seen:
                continue
            if xobject.objgen != (0, 0):
                seen.add(xobject.objgen)
            if xobject.get("/Subtype") == pikepdf.Name.Image:
                found.append(xobject)
            elif xobject.get("/Subtype") == pikepdf.Name.Form:
                stack.append(xobject.get("/Resources"))
    return found
