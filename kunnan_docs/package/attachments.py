"""Stage 3a: scanned attachments → PDF pages, losslessly, with every failure a Chinese rejection.

JPEG (grey, RGB, CMYK) and CCITT G4 TIFF go into the package byte for byte (img2pdf); PNG and other
TIFF compressions are re-packed losslessly (Flate). PNG with alpha is flattened onto white paper
first (a PDF page has no transparency to show). PDF attachments keep their pages (size, rotation) but
lose what could act on the reader: annotations (links, JavaScript, launch actions, attached files),
page actions, and everything document-level (OpenAction, JavaScript and embedded-file name trees).
"""

from __future__ import annotations

import io
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import img2pdf
import pikepdf
from PIL import Image, UnidentifiedImageError

from kunnan_docs.errors import AttachmentError
from kunnan_docs.package.pageimage import MAX_PIXELS

MIN_DPI, MAX_DPI = 50, 2400  # outside this the resolution stored in the file is not believable
A4 = (img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297))
ACTIVE_PAGE_KEYS = ("/Annots", "/AA")

_MAGIC = {
    ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".tif": (b"II*\x00", b"MM\x00*"), ".tiff": (b"II*\x00", b"MM\x00*"),
    ".pdf": (b"%PDF-",),
}
_KIND = {".jpg": "JPEG 图片", ".jpeg": "JPEG 图片", ".png": "PNG 图片", ".tif": "TIFF 图片", ".tiff": "TIFF 图片",
         ".pdf": "PDF 文件"}

_UNDECODABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


@dataclass
class LoadedAttachment:
    path: Path
    pdf: pikepdf.Pdf  # pages ready to be copied into the package

    @property
    def page_count(self) -> int:
        return len(self.pdf.pages)


def load(path: Path, name: str, decode_checked: bool = False) -> LoadedAttachment:
    """The attachment's pages. `decode_checked`: the caller has images decoded by `undecodable` (aside, on the
    second core), so this does not decode them again."""
    suffix = path.suffix.lower()
    if suffix not in _MAGIC:
        raise AttachmentError(name, f"的类型({suffix or '无扩展名'})不受支持。请扫描为 PDF、JPEG、PNG 或 TIFF 后重新提交。")
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(1024)
    except OSError:
        raise AttachmentError(name, "无法读取。请确认文件没有被其他程序占用,并且可以读取。") from None
    if size == 0:
        raise AttachmentError(name, "是空文件(0 字节),可能复制时出错。请重新扫描或重新复制该文件。")
    if not any(head.startswith(m) or (suffix == ".pdf" and m in head) for m in _MAGIC[suffix]):
        raise AttachmentError(name, f"的内容不是{_KIND[suffix]},与扩展名不符。请确认文件没有被改名,或用扫描软件重新导出。")
    if suffix == ".pdf":
        return LoadedAttachment(path, _load_pdf(path, name))
    return LoadedAttachment(path, _load_image(path, name, decode_checked))


def _load_pdf(path: Path, name: str) -> pikepdf.Pdf:
    try:
        src = pikepdf.open(path)
    except pikepdf.PasswordError:
        raise AttachmentError(name, "设置了打开密码(已加密)。请取消密码后重新导出 PDF 再提交。") from None
    except pikepdf.PdfError:
        raise AttachmentError(name, "已损坏,无法打开。请重新扫描或重新导出 PDF。") from None
    if src.is_encrypted:
        raise AttachmentError(name, "设置了权限密码(已加密)。请取消加密后重新导出 PDF 再提交。")
    if len(src.pages) == 0:
        raise AttachmentError(name, "没有任何页面。请重新扫描。")
    clean = pikepdf.new()
    try:
        for page in src.pages:
            clean.pages.append(page)  # pages only: document-level actions and attachments stay behind
        for page in clean.pages:
            for key in ACTIVE_PAGE_KEYS:
                if key in page.obj:
                    del page.obj[key]
        for page in clean.pages:  # read every content stream now: a truncated file fails here, not mid-build
            contents = page.obj.get("/Contents")
            for stream in contents if isinstance(contents, pikepdf.Array) else [contents]:
                if isinstance(stream, pikepdf.Stream):
                    stream.read_bytes()
    except (pikepdf.PdfError, RuntimeError, KeyError, ValueError):
        raise AttachmentError(name, "已损坏,页面无法读取。请重新扫描或重新导出 PDF。") from None
    return clean


def _load_image(path: Path, name: str, decode_checked: bool) -> pikepdf.Pdf:
    try:
        with _open_image(path) as img:
            frames = getattr(img, "n_frames", 1)
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise AttachmentError(name, _too_many_pixels(f"({width}×{height})"))
            dpi = img.info.get("dpi")
            has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
            if not decode_checked:
                _check_decodes(img, frames)
    except AttachmentError:
        raise
    except Image.DecompressionBombError:  # Pillow refuses it on opening, or a later frame of a TIFF is too large
        raise AttachmentError(name, _too_many_pixels("")) from None
    except _UNDECODABLE:
        raise AttachmentError(name, _undecodable()) from None
    source: Path | bytes = _flatten(path) if has_alpha else path
    try:
        spool = _Spool(tempfile.TemporaryFile(buffering=0))  # noqa: SIM115 - closes with the Pdf that reads it
        img2pdf.convert(source, layout_fun=_layout(dpi), rotation=img2pdf.Rotation.ifvalid, nodate=True,
                        engine=img2pdf.Engine.internal, outputstream=spool)
        spool.seek(0)
        return pikepdf.open(spool)
    except (img2pdf.ImageOpenError, img2pdf.UnsupportedColorspaceError, img2pdf.JpegColorspaceError,
            img2pdf.AlphaChannelError, ValueError, OSError, pikepdf.PdfError):
        raise AttachmentError(name, "无法转换为 PDF。请另存为普通 JPEG 或 PDF 后重新提交。") from None


class _Spool(io.BufferedRandom):
    """A converted scan waits in a temporary file, not in memory, until the package is saved (200 scans would
    otherwise be held at once). The Pdf reading it owns it; a Pdf takes no weak reference, so the file closes
    (and disappears) itself when the Pdf is garbage-collected."""

    def __del__(self) -> None:
        self.close()


def _too_many_pixels(size: str) -> str:
    return f"的像素太多{size},处理时会耗尽内存,未解码。请用 300 dpi 以下的分辨率重新扫描。"


def _undecodable() -> str:
    """No detail of the decoder: it is English and may quote a server path (README "说给办事员的话")."""
    return "已损坏或不完整,无法解码。请重新扫描或重新复制该文件。"


def is_image(path: Path) -> bool:
    return path.suffix.lower() in _MAGIC and path.suffix.lower() != ".pdf"


def undecodable(files: list[tuple[Path, str]]) -> dict[str, str]:
    """name → the clerk's message, for each image that does not decode to its end, in the order given.

    The build runs this aside while it typesets the forms, and loads the images with `decode_checked`; what
    `load` refuses before decoding (type, size, pixel count) is left to `load`, which says it first."""
    problems: dict[str, str] = {}
    for path, name in files:
        try:
            with _open_image(path) as img:
                if img.size[0] * img.size[1] <= MAX_PIXELS:
                    _check_decodes(img, getattr(img, "n_frames", 1))
        except Image.DecompressionBombError:
            problems[name] = _too_many_pixels("")
        except _UNDECODABLE:
            problems[name] = _undecodable()
    return problems


def _open_image(path: Path) -> Image.Image:
    with warnings.catch_warnings():  # our own pixel limit decides, with a clerk's message
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(path)


def _check_decodes(img: Image.Image, frames: int) -> None:
    """Decode each frame cheaply (JPEG at 1/8 scale) so that a truncated file is caught now; a frame beyond the
    pixel limit is not decoded at all."""
    for i in range(frames):
        img.seek(i)
        if img.size[0] * img.size[1] > MAX_PIXELS:
            raise Image.DecompressionBombError(f"frame {i + 1}: {img.size[0]}×{img.size[1]}")
        if img.format == "JPEG":
            img.draft(img.mode, (max(1, img.size[0] // 8), max(1, img.size[1] // 8)))
        img.load()


def _flatten(path: Path) -> bytes:
    with Image.open(path) as img:
        rgba = img.convert("RGBA")
        paper = Image.new("RGB", rgba.size, (255, 255, 255))
        paper.paste(rgba, mask=rgba.getchannel("A"))
        buf = io.BytesIO()
        paper.save(buf, "PNG", dpi=img.info.get("dpi", (0, 0)))
        return buf.getvalue()


def _layout(dpi: object):
    """Page size from the image's resolution; fit to A4 when the file has none or an absurd one."""
    if isinstance(dpi, tuple) and len(dpi) == 2 and all(MIN_DPI <= float(d) <= MAX_DPI for d in dpi):
        return img2pdf.default_layout_fun
    return img2pdf.get_layout_fun(pagesize=A4, fit=img2pdf.FitMode.into)
