"""Generate the sample 'scans' the example cases refer to (run once; outputs are committed).

Each attachment becomes a small greyscale page image with its title in Chinese, written in the
format its file name says (JPEG, PNG, multi-page TIFF or PDF), so that the examples exercise the
same paths as real scanner output. Deterministic: same code, same bytes.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pylopdf_fonts_zh_cn
from PIL import Image, ImageDraw, ImageFont

FONT = Path(pylopdf_fonts_zh_cn.__file__).parent / "NotoSansSC-Regular.otf"
DPI = 72  # small files; a real scanner gives 200-300 dpi
A4_PX = (595, 842)


def page(title: str, lines: list[str]) -> Image.Image:
    img = Image.new("L", A4_PX, 246)
    draw = ImageDraw.Draw(img)
    big, small = ImageFont.truetype(str(FONT), 26), ImageFont.truetype(str(FONT), 15)
    draw.text((A4_PX[0] // 2, 80), title, font=big, fill=20, anchor="mm")
    y = 140
    for line in lines:
        draw.text((60, y), line, font=small, fill=40)
        y += 30
    for x in range(60, 535, 8):  # a faint ruled area standing in for handwriting
        draw.line([(x, 600), (x + 4, 600)], fill=120)
    draw.rectangle([40, 40, A4_PX[0] - 40, A4_PX[1] - 40], outline=90)
    draw.text((A4_PX[0] - 60, A4_PX[1] - 70), "(样例扫描件)", font=small, fill=90, anchor="rm")
    return img


def write(path: Path, images: list[Image.Image]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    buf = io.BytesIO()
    if suffix in (".jpg", ".jpeg"):
        images[0].save(buf, "JPEG", quality=40, dpi=(DPI, DPI), optimize=True)
    elif suffix == ".png":
        images[0].save(buf, "PNG", dpi=(DPI, DPI))
    elif suffix in (".tif", ".tiff"):
        bw = [im.convert("1") for im in images]
        bw[0].save(buf, "TIFF", compression="group4", dpi=(DPI, DPI), save_all=True, append_images=bw[1:])
    elif suffix == ".pdf":
        images[0].save(buf, "PDF", resolution=DPI, save_all=True, append_images=images[1:])
    else:
        raise SystemExit(f"unsupported sample format: {path}")
    path.write_bytes(buf.getvalue())


def main(root: Path) -> None:
    for case_file in sorted(root.glob("*/case.json")):
        case = json.loads(case_file.read_text(encoding="utf-8"))
        name = case["worker"]["name"]
        for att in (a for a in case["attachments"] if not a.get("signed")):  # make_signed.py writes those
            title = att.get("title") or Path(att["path"]).stem.split("-", 1)[-1]
            lines = [f"档案号:{case['archive_no']}", f"职工姓名:{name}", f"材料日期:{att.get('date', '')}",
                     f"出具单位:{att.get('responsible', case['union'])}"]
            pages = 2 if att["path"].endswith((".pdf", ".tif")) else 1
            images = [page(title + (f"(第{i + 1}页)" if pages > 1 else ""), lines) for i in range(pages)]
            write(case_file.parent / att["path"], images)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
