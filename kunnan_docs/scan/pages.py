"""A scanner file → its pages as PDF pages, each with the QR code it carries and the turn that shows it upright.

Fast by design: codes are read from each page's own image (package/pageimage.py). Pages are straightened
by setting their /Rotate; no pixel is re-encoded — except a phone photo, which is the only way to make it
a page. Where the code lies in the picture says what the picture is (package/geometry.py):

- the page itself, as a scanner gives it: filed as it is; when its file claims an absurd resolution (a
  72-dpi header makes an A4 scan 1 m wide), the page takes its size from the code's known printed size;
- a sheet carrying two forms' codes (printed two pages a sheet): cut into its two halves (the same image,
  each page showing one half), when both name one archive number and lie in the two halves; else the
  sheet goes to review naming both, never one filed as the whole sheet;
- a photo (the page somewhere in the picture, in perspective): the paper's edges found, the page mapped
  flat onto A4, the photo kept beside it as the original.

A page with no code and next to no ink is a blank back of a duplex scan.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf
from PIL import Image

from kunnan_docs.errors import AttachmentError
from kunnan_docs.forms import qr
from kunnan_docs.package.attachments import load
from kunnan_docs.package.geometry import fills, find_paper, flatten, page_quad
from kunnan_docs.package.pageimage import (
    BLANK_SHARE,
    Drawn,
    PageRead,
    ScanPages,
    TooLarge,
    decode,
    reduction,
    single_image,
)
from kunnan_docs.scan.prints import PageInk, Prints

MAX_SCAN_PAGES = 1000  # a scanner file of more pages is not a stack a clerk scanned
PHOTO_DPI = 200  # a photographed page is made an A4 page at this resolution
PHOTO_QUALITY = 85
SIZE_TOLERANCE = 0.1  # a code printed this much larger or smaller than its page says: the page's size is wrong
_PAGE_ERRORS = (pikepdf.PdfError, ValueError, OSError, RuntimeError, KeyError, TypeError, ZeroDivisionError,
                Image.DecompressionBombError, MemoryError)


@dataclass
class ScannedPage:
    number: int  # 1-based, within its scanner file
    code: qr.PageCode | None
    foreign: str | None  # the beginning of a QR code's text that is not ours, if any
    rotate: int  # the /Rotate that shows the page upright
    index: int = -1  # the page of ScanFile.pdf holding it: the scanner's own, or one made from it (a half, a photo)
    part: str = ""  # which half of a sheet of two forms, e.g. 左半
    problem: str | None = None  # why the page cannot be read or filed as it is, in Chinese
    blank: bool = False  # no code and next to no ink: the back of a duplex scan
    photo: bool = False  # made flat from a photo: the photo itself is the scanner's page `number`
    ink: PageInk | None = None  # its ink check, made as it was read (a page of the scanner's own, filed as it is)

    def __post_init__(self) -> None:
        if self.index < 0:
            self.index = self.number - 1

    @property
    def where(self) -> str:
        return f"第{self.number}页{self.part}"


@dataclass
class ScanFile:
    path: Path
    pdf: pikepdf.Pdf  # the scanner's pages, images untouched, each set upright; pages made from them after those
    pages: list[ScannedPage]
    kept: list[pikepdf.Pdf] = field(default_factory=list)  # the PDFs made pages are copied from, kept open


def read_scan(path: Path, executor: Executor | None = None, prints: Prints | None = None) -> ScanFile:
    """Raises AttachmentError (Chinese message) for a file that is not a readable scan; a page that cannot be
    read within the limits, or is damaged, gets its reason and the other pages are read on. Given a process pool,
    a long file's pages are read on its processes too (a page whose read failed there is read here). Given the
    outbox's `prints`, each page of one of its forms is checked for ink as it is read."""
    reading = _read_aside(path, executor, prints) if executor else None  # the pool starts while this loads
    pdf = load(path, path.name).pdf
    if len(pdf.pages) > MAX_SCAN_PAGES:
        raise AttachmentError(path.name, f"有 {len(pdf.pages)} 页,超过一个扫描件 {MAX_SCAN_PAGES} 页的上限。"
                                         "请分成几个文件扫描后再放入。")
    scan = ScanFile(path, pdf, [])
    aside = reading() if reading else {}
    scanned = ScanPages(pdf, {index: read for index, (read, _) in aside.items()})
    inks = {index: ink for index, (_, ink) in aside.items()}
    for number in range(1, len(pdf.pages) + 1):
        index = number - 1
        try:
            read = scanned.codes(index)
            ink = inks[index] if index in aside else _checked(scanned, index, read, prints)
            scan.pages += _read_page(scan, scanned, number, read, ink)
        except _PAGE_ERRORS as exc:
            reason = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
            scan.pages.append(ScannedPage(number, None, None, 0, problem=f"此页已损坏,无法解码({reason})。"
                                                                         "请重新扫描这一页。"))
    return scan


PARALLEL_PAGES = 12  # a file this long or longer is read on the pool too
CHUNK_PAGES = 6  # in chunks of this many pages (about 0.1 s of a process each): the processes finish together


def _read_aside(path: Path, executor: Executor, prints: Prints | None
                ) -> Callable[[], dict[int, tuple[PageRead, PageInk | None]]]:
    """The codes of a long file's pages (and their ink checks), read on the pool's processes, chunk by chunk: asked
    for now, collected by the function returned; what failed there is left out (and read here)."""
    from kunnan_docs.batch import warm_up  # here: it imports the pipeline, which reading pages needs not

    count = _page_count(path)
    if not PARALLEL_PAGES <= count <= MAX_SCAN_PAGES:
        return dict
    chunks = [list(range(start, min(start + CHUNK_PAGES, count))) for start in range(0, count, CHUNK_PAGES)]
    where = (str(prints.outbox), prints.calendar.override_path) if prints else None
    futures = [(chunk, executor.submit(read_codes, str(path), chunk, where)) for chunk in chunks]
    for _ in range(min(len(chunks), os.cpu_count() or 1)):  # each process, done reading, readies itself to rebuild
        executor.submit(warm_up, where[0] if where else None)

    def collect() -> dict[int, tuple[PageRead, PageInk | None]]:
        done: dict[int, tuple[PageRead, PageInk | None]] = {}
        for chunk, future in futures:
            try:
                done.update(zip(chunk, future.result(), strict=True))
            except Exception:  # whatever broke there is met again, and reported, when the page is read here
                continue
        return done

    return collect


def read_codes(path: str, indices: list[int], where: tuple[str, str | None] | None = None
               ) -> list[tuple[PageRead, PageInk | None]]:
    """Runs on a pool process: the quick reading of some pages of a scanner file (opened once a process, however
    many of its chunks come to the process), each checked for ink against its print in the outbox `where` names
    (with its calendar file)."""
    from kunnan_docs.core.workcal import WorkCalendar

    stat = Path(path).stat()
    key = (path, stat.st_size, stat.st_mtime_ns)
    if _opened.get("key") != key:
        _opened.clear()
        _opened.update(key=key, pages=ScanPages(load(Path(path), Path(path).name).pdf))
    if where and _opened.get("where") != where:
        _opened.update(where=where, prints=Prints(Path(where[0]), WorkCalendar(where[1])))
    pages: ScanPages = _opened["pages"]
    prints: Prints | None = _opened.get("prints") if where else None
    return [(read, _checked(pages, i, read, prints)) for i in indices for read in (pages.codes(i),)]


def long_enough(files: list[Path]) -> bool:
    """Whether the scanner files hold PARALLEL_PAGES pages or more (a PDF counted, any other file one page): the
    pool is worth starting at once only for such a stack."""
    return sum(_page_count(path) or 1 for path in files) >= PARALLEL_PAGES


def _page_count(path: Path) -> int:
    """How many pages a PDF has, 0 for any other file or one that does not open (what is wrong with it is said
    when it is loaded)."""
    try:
        with pikepdf.open(path) as pdf:
            return len(pdf.pages)
    except (pikepdf.PdfError, OSError, ValueError):
        return 0


def ready_to_read() -> None:
    """Runs on a pool process as it starts: what reading pages loads on first use (the code reader, the renderer),
    loaded while the main process is still starting."""
    import pypdfium2  # noqa: F401 — imported for their cost, now
    import zxingcpp  # noqa: F401


_opened: dict[str, Any] = {}  # on a pool process: the scanner file whose pages it is reading, and its outbox's prints


def _checked(scanned: ScanPages, index: int, read: PageRead, prints: Prints | None) -> PageInk | None:
    """The ink check of a page just read, on the picture its one code of ours was found in; None when there is
    nothing to check it against here (the rebuild then checks it). A failure here only defers the check: the
    rebuild makes it again and reports what fails."""
    ours = {c.text: c for f in read.found if (c := qr.parse(f.text))}
    if prints is None or len(ours) != 1 or not read.own_image or not scanned.picture or scanned.picture[0] != index:
        return None
    _, picture, factor = scanned.picture
    try:
        return prints.page_ink(picture, factor, read.found, next(iter(ours.values())))
    except Exception:  # see above: the rebuild checks it again
        return None


def _ours(found: list[qr.Found]) -> list[tuple[qr.PageCode, qr.Found]]:
    return [(code, hit) for hit in found if (code := qr.parse(hit.text))]


def _read_page(scan: ScanFile, scanned: ScanPages, number: int, read: PageRead, ink: PageInk | None
               ) -> list[ScannedPage]:
    index = number - 1
    page = scan.pdf.pages[index]
    rotate = int(page.obj.get("/Rotate", 0)) // 90 * 90 % 360
    if read.problem:
        return [ScannedPage(number, None, None, rotate, problem=read.problem)]
    ours = _ours(read.found)
    if not ours:
        blank = not read.found and read.ink is not None and read.ink < BLANK_SHARE
        return [ScannedPage(number, None, read.found[0].text[:40] if read.found else None, rotate, blank=blank)]
    drawn = single_image(page) if read.own_image else None
    if len(ours) == 1 and drawn:
        code, hit = ours[0]
        square = qr.code_square(code)
        if square:
            quad = page_quad(hit.corners, square, qr.PAGE_MM)
            if not fills(quad, read.size):  # the page is a part of the picture: two forms a sheet, or a photo
                more = _ours(scanned.search(index).found)
                if len({c.text for c, _ in more}) < 2:
                    return [_photo(scan, number, code, hit, drawn, quad, read.size)]
                ours = more
            elif abs(hit.side / square[2] / _pixels_per_mm(drawn, read.size) - 1) > SIZE_TOLERANCE:
                return [_resized(scan, number, code, hit, drawn, square[2])]
    if len({c.text for c, _ in ours}) > 1:
        return _several(scan, number, ours, drawn, read.size, rotate)
    code, hit = ours[0]
    shown = hit.turned + (rotate if read.own_image else 0)  # a rendered page is already shown with its /Rotate
    upright = (rotate - shown) % 360
    page.obj.Rotate = upright
    return [ScannedPage(number, code, None, upright, ink=ink)]


def _pixels_per_mm(drawn: Drawn, size: tuple[int, int]) -> float:
    """The image's resolution as its page says it (width in points)."""
    return size[0] / (drawn.width / 72 * 25.4)


def _made_page(scan: ScanFile, source: pikepdf.Page, mediabox: list[float], rotate: int,
               contents: bytes | None = None) -> int:
    """A page made from a scanner page: its image (not copied, not re-encoded) under another page box or drawing;
    appended to the scan's PDF, its index returned."""
    resources = source.obj.Resources
    if contents is None:
        new = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=pikepdf.Array(mediabox), Resources=resources,
                                 Contents=source.obj.Contents, Rotate=rotate)
    else:
        name, image = next(iter(resources.XObject.items()))
        new = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=pikepdf.Array(mediabox), Rotate=rotate,
                                 Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary({name: image})),
                                 Contents=pikepdf.Stream(scan.pdf, contents.replace(b"/IMAGE", name.encode())))
    scan.pdf.pages.append(pikepdf.Page(new))
    return len(scan.pdf.pages) - 1


def _resized(scan: ScanFile, number: int, code: qr.PageCode, hit: qr.Found, drawn: Drawn, side_mm: float
             ) -> ScannedPage:
    """The page at the size its code says (the file's resolution is absurd): the same image drawn on a page of
    that size, so that the package shows an A4 sheet, not a 1-metre one."""
    page = scan.pdf.pages[number - 1]
    points_per_pixel = side_mm / hit.side * 72 / 25.4
    width, height = int(drawn.image.Width) * points_per_pixel, int(drawn.image.Height) * points_per_pixel
    upright = -hit.turned % 360
    index = _made_page(scan, page, [0, 0, round(width, 2), round(height, 2)], upright,
                       f"q {width:.2f} 0 0 {height:.2f} 0 0 cm /IMAGE Do Q".encode())
    return ScannedPage(number, code, None, upright, index)


def _several(scan: ScanFile, number: int, ours: list[tuple[qr.PageCode, qr.Found]], drawn: Drawn | None,
             size: tuple[int, int], rotate: int) -> list[ScannedPage]:
    """A sheet with two or more of our codes: two forms of one archive number printed side by side are cut into
    their halves; anything else goes to review, naming every form on it."""
    codes = sorted({c.text: (c, f) for c, f in ours}.values(), key=lambda cf: (cf[0].archive_no, cf[0].form_key, cf[0].page))
    if drawn and len(codes) == 2 and codes[0][0].archive_no == codes[1][0].archive_no:
        halves = _halves(scan, number, codes, drawn, size)
        if halves:
            return halves
    names = "、".join(f"{c.archive_no} {qr.form_label(c.form_key)}第{c.page}页" for c, _ in codes)
    return [ScannedPage(number, None, None, rotate, problem=(
        f"一张纸上有 {len(codes)} 份表单的二维码({names}),无法分开归档。"
        "请每张纸只打印一页表单(不要缩印或合并打印),签字盖章后重新扫描。"))]


def _halves(scan: ScanFile, number: int, codes: list[tuple[qr.PageCode, qr.Found]], drawn: Drawn,
            size: tuple[int, int]) -> list[ScannedPage] | None:
    """The two halves of the sheet along its long side, each a page of its own; None unless each holds one code."""
    width, height = size
    across = width >= height  # side by side on a landscape image, one above the other on a portrait one
    at = [(f.centre[0] / width if across else f.centre[1] / height) for _, f in codes]
    if not (min(at) < 0.5 < max(at)):
        return None
    x, y, w, h = drawn.x, drawn.y, drawn.width, drawn.height
    page = scan.pdf.pages[number - 1]
    made = []
    for code, hit in sorted(codes, key=lambda c: c[1].centre[0] if across else c[1].centre[1]):
        first = (hit.centre[0] / width if across else hit.centre[1] / height) < 0.5
        if across:
            box, part = ([x, y, x + w / 2, y + h], "左半") if first else ([x + w / 2, y, x + w, y + h], "右半")
        else:  # the image's top half is the page's upper half
            box, part = ([x, y + h / 2, x + w, y + h], "上半") if first else ([x, y, x + w, y + h / 2], "下半")
        upright = -hit.turned % 360
        made.append(ScannedPage(number, code, None, upright, _made_page(scan, page, box, upright), part))
    return made


def _photo(scan: ScanFile, number: int, code: qr.PageCode, hit: qr.Found, drawn: Drawn,
           quad: tuple[tuple[float, float], ...], size: tuple[int, int]) -> ScannedPage:
    """A photographed page made flat: found by its code and its edges, mapped onto A4 at PHOTO_DPI."""
    import img2pdf  # here: only a photo is made a page; the processes reading a stack need not load it

    square = qr.code_square(code)
    assert square is not None
    dpi = hit.side / square[2] * 25.4  # the page's resolution in the photo
    factor = reduction(dpi, PHOTO_DPI)
    try:
        picture = decode(drawn.image, factor, "RGB")
    except TooLarge as exc:
        return ScannedPage(number, None, None, 0, problem=str(exc))
    k = picture.width / size[0]
    seed = tuple((x * k, y * k) for x, y in quad)
    paper = find_paper(picture, seed) or seed  # type: ignore[arg-type]
    out = flatten(picture if picture.mode in ("RGB", "L") else picture.convert("RGB"), paper,  # type: ignore[arg-type]
                  (round(qr.PAGE_MM[0] / 25.4 * PHOTO_DPI), round(qr.PAGE_MM[1] / 25.4 * PHOTO_DPI)))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=PHOTO_QUALITY, dpi=(PHOTO_DPI, PHOTO_DPI))
    made = pikepdf.open(io.BytesIO(img2pdf.convert(buf.getvalue(), nodate=True)))
    scan.kept.append(made)
    again = _ours(ScanPages(made).codes(0).found)
    if [c.text for c, _ in again] != [code.text]:
        return ScannedPage(number, None, None, 0, problem=(
            f"是一张照片({code.archive_no} {qr.form_label(code.form_key)}第{code.page}页),但照片中的页面无法拉正。"
            "请把纸张平放、从正上方拍满整页,或用扫描仪扫描后再放入。"))
    scan.pdf.pages.append(made.pages[0])
    upright = -again[0][1].turned % 360
    scan.pdf.pages[-1].obj.Rotate = upright
    return ScannedPage(number, code, None, upright, len(scan.pdf.pages) - 1, photo=True)
