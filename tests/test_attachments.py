"""Every kind of scan a clerk's scanner or phone produces, and every way a file can be broken."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from PIL import Image

from kunnan_docs.errors import AttachmentError
from kunnan_docs.package.attachments import load

A4_PT = (595.28, 841.89)


def page_size(pdf: pikepdf.Pdf, i: int = 0) -> tuple[float, float]:
    box = [float(v) for v in pdf.pages[i].mediabox]
    return box[2] - box[0], box[3] - box[1]


def scan(mode: str = "RGB", size: tuple[int, int] = (620, 877), color: object = (200, 180, 160)) -> Image.Image:
    img = Image.new(mode, size, color)
    return img


def write(tmp_path: Path, name: str, img: Image.Image, **kw) -> Path:
    path = tmp_path / name
    img.save(path, **kw)
    return path


@pytest.mark.parametrize("mode,color", [("RGB", (200, 180, 160)), ("L", 200), ("CMYK", (10, 20, 30, 0))])
def test_jpeg_is_embedded_byte_for_byte(tmp_path, mode, color) -> None:
    path = write(tmp_path, "s.jpg", scan(mode, color=color), format="JPEG", dpi=(75, 75), quality=80)
    pdf = load(path, path.name).pdf
    [image] = list(pdf.pages[0].get_images().values())
    assert image.Filter == pikepdf.Name.DCTDecode
    assert image.read_raw_bytes() == path.read_bytes()


def test_page_size_follows_resolution(tmp_path) -> None:
    path = write(tmp_path, "a4at300.jpg", scan(size=(2480, 3508)), format="JPEG", dpi=(300, 300))
    width, height = page_size(load(path, path.name).pdf)
    assert abs(width - 595.2) < 1 and abs(height - 841.9) < 1


@pytest.mark.parametrize("dpi", [None, (1, 1), (30000, 30000)])
def test_missing_or_absurd_resolution_fits_a4(tmp_path, dpi) -> None:
    kw = {"dpi": dpi} if dpi else {}
    path = write(tmp_path, "nodpi.jpg", scan(size=(1000, 1000)), format="JPEG", **kw)
    width, height = page_size(load(path, path.name).pdf)
    assert width <= A4_PT[0] + 1 and height <= A4_PT[1] + 1 and (abs(width - A4_PT[0]) < 1 or abs(height - A4_PT[1]) < 1)


def test_exif_orientation_is_honoured(tmp_path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # camera held sideways: rotate 90° clockwise to view
    path = write(tmp_path, "phone.jpg", scan(size=(877, 620)), format="JPEG", dpi=(75, 75), exif=exif)
    pdf = load(path, path.name).pdf
    assert int(pdf.pages[0].obj.get("/Rotate", 0)) == 90
    [image] = list(pdf.pages[0].get_images().values())
    assert image.read_raw_bytes() == path.read_bytes()  # still not re-encoded


def test_png_with_alpha_is_flattened(tmp_path) -> None:
    path = write(tmp_path, "alpha.png", scan("RGBA", color=(0, 0, 0, 0)), format="PNG", dpi=(75, 75))
    pdf = load(path, path.name).pdf
    [image] = list(pdf.pages[0].get_images().values())
    pil = pikepdf.PdfImage(image).as_pil_image()
    assert pil.mode == "RGB" and pil.getpixel((5, 5)) == (255, 255, 255)  # transparent became paper white


def test_sixteen_bit_png(tmp_path) -> None:
    path = write(tmp_path, "deep.png", Image.new("I;16", (300, 400), 40000), format="PNG")
    assert load(path, path.name).page_count == 1


def test_multipage_g4_tiff_keeps_ccitt(tmp_path) -> None:
    pages = [Image.new("1", (1240, 1754), 1) for _ in range(3)]
    path = tmp_path / "contract.tif"
    pages[0].save(path, compression="group4", save_all=True, append_images=pages[1:], dpi=(150, 150))
    pdf = load(path, path.name).pdf
    assert len(pdf.pages) == 3
    [image] = list(pdf.pages[1].get_images().values())
    assert list(image.Filter) == [pikepdf.Name.CCITTFaxDecode]  # G4 data kept, not re-encoded


def test_lzw_tiff(tmp_path) -> None:
    path = write(tmp_path, "lzw.tiff", scan(), format="TIFF", compression="tiff_lzw", dpi=(75, 75))
    assert load(path, path.name).page_count == 1


def _pdf_with_active_content(path: Path, rotate: int = 90) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(842, 595))
    page = pdf.pages[0]
    page.obj.Rotate = rotate
    js = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('x')")))
    pdf.Root.OpenAction = js
    launch = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 100, 100],
                                A=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe")))
    page.obj.Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(launch)]))
    page.obj.AA = pikepdf.Dictionary(O=js)
    pdf.attachments["evil.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ...", filename="evil.exe")
    pdf.save(path)


def test_pdf_keeps_size_and_rotation_and_loses_active_content(tmp_path) -> None:
    path = tmp_path / "scan.pdf"
    _pdf_with_active_content(path)
    pdf = load(path, path.name).pdf
    assert page_size(pdf) == (842, 595) and int(pdf.pages[0].obj.Rotate) == 90
    out = io.BytesIO()
    pdf.save(out)
    data = out.getvalue()
    for active in (b"/JavaScript", b"/Launch", b"/EmbeddedFile", b"/OpenAction", b"/AA", b"evil"):
        assert active not in data


BROKEN = {
    "zero bytes": ("empty.jpg", lambda p: p.write_bytes(b""), "空文件"),
    "truncated jpeg": ("cut.jpg", lambda p: p.write_bytes(_jpeg()[: len(_jpeg()) // 2]), "不完整"),
    "png named jpg": ("fake.jpg", lambda p: scan().save(p, format="PNG"), "与扩展名不符"),
    "not a pdf": ("note.pdf", lambda p: p.write_text("hello", encoding="utf-8"), "与扩展名不符"),
    "corrupt pdf": ("bad.pdf", lambda p: p.write_bytes(b"%PDF-1.7\n1 0 obj garbage"), "已损坏"),
    "encrypted pdf": ("locked.pdf", lambda p: _encrypted(p), "加密"),
    "huge image": ("huge.png", lambda p: Image.new("1", (12000, 11000)).save(p), "像素太多"),
    "unsupported": ("letter.docx", lambda p: p.write_bytes(b"PK\x03\x04"), "不受支持"),
}


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((400, 400), 60).convert("RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _encrypted(path: Path) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.save(path, encryption=pikepdf.Encryption(owner="o", user="secret"))


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_broken_attachment_is_rejected_with_its_name(tmp_path, case) -> None:
    name, make, reason = BROKEN[case]
    path = tmp_path / name
    make(path)
    with pytest.raises(AttachmentError) as info:
        load(path, f"scans/{name}")
    assert f"scans/{name}" in str(info.value) and reason in str(info.value)
