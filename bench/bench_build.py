"""Build benchmark (run by hand, figures go into the closing note; never part of the tests).

    .venv/bin/python bench/bench_build.py [--runs 7] [--big-pages 500] [--libreoffice]

1. The richest example (exit case) with 40 scanned A4 JPEG pages of about 300 KB each: median wall
   time of a build in one process, peak memory of a `kunnan-docs build` process, and the package size
   against the scans plus the forms.
2. Peak memory with one 500-page PDF attachment, to show memory does not grow with page count.
3. With --libreoffice: the obvious alternative (docxtpl → LibreOffice headless → PDF merge) timed
   side by side, if `soffice` is installed (Debian: libreoffice-writer-nogui).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import img2pdf
import pikepdf
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "exit-wang-shufen"
KUNNAN = [sys.executable, "-m", "kunnan_docs"]


def scanned_page(seed: int) -> bytes:
    """An A4 page at 200 dpi that compresses like a real scan (~300 KB): paper grain plus text-like marks."""
    rnd = random.Random(seed)
    img = Image.effect_noise((1654, 2339), 18).point(lambda v: 200 + v // 5).convert("RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(900):
        x, y = rnd.randrange(120, 1500), rnd.randrange(150, 2200)
        draw.rectangle([x, y, x + rnd.randrange(8, 30), y + rnd.randrange(8, 30)], fill=(40, 40, 60))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=72, dpi=(200, 200))
    return buf.getvalue()


def make_case(folder: Path, pages: int) -> tuple[Path, int]:
    shutil.copytree(EXAMPLE, folder)
    case_file = folder / "case.json"
    data = json.loads(case_file.read_text(encoding="utf-8"))
    items = [a["item"] for a in data["attachments"]]
    attachments, total = [], 0
    for i in range(pages):
        scan = folder / "scans" / f"bench-{i:02d}.jpg"
        scan.write_bytes(scanned_page(i))
        total += scan.stat().st_size
        attachments.append({"item": items[i % len(items)], "path": f"scans/{scan.name}"})
    data["attachments"] = attachments
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return case_file, total


def big_pdf_case(folder: Path, pages: int) -> Path:
    case_file, _ = make_case(folder, 1)
    data = json.loads(case_file.read_text(encoding="utf-8"))
    jpeg = scanned_page(7)
    big = folder / "scans" / "big.pdf"
    layout = img2pdf.get_layout_fun(pagesize=(img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297)))
    one = pikepdf.open(io.BytesIO(img2pdf.convert(jpeg, layout_fun=layout)))
    pdf = pikepdf.new()
    for _ in range(pages):  # the same image object repeated: a 500-page file that stays small on disk
        pdf.pages.append(one.pages[0])
    pdf.save(big)
    data["attachments"].append({"item": "supporting_proof", "path": "scans/big.pdf"})
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return case_file


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """Wall time and peak resident memory of a command, measured by GNU time's wrapper-free way: wait4."""
    import os

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise SystemExit(f"command failed: {' '.join(cmd)}")
    return elapsed, usage.ru_maxrss / 1024


def in_process_median(case_file: Path, outbox: Path, runs: int) -> float:
    from kunnan_docs.core.validate import validate_file
    from kunnan_docs.package.build import build
    from kunnan_docs.package.publish import publish

    samples = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        result = validate_file(case_file)
        publish(build(result.case, result.findings), outbox)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples[1:])  # the first run loads the font and templates


def libreoffice_alternative(case_file: Path, work: Path) -> float | None:
    """docxtpl (our templates) → LibreOffice headless → merge with the scans: what an IT helper would script."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        return None
    from kunnan_docs.core.casefile import read_case
    from kunnan_docs.forms.fill import forms_for
    from kunnan_docs.forms.word import render_docx

    t = time.perf_counter()
    case = read_case(case_file)
    docx_files = []
    for form in forms_for(case):
        path = work / f"{form.stem}.docx"
        path.write_bytes(render_docx(form, case.archive_no))
        docx_files.append(str(path))
    subprocess.run([soffice, "--headless", "--convert-to", "pdf", "--outdir", str(work), *docx_files],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    merged = pikepdf.new()
    for docx in docx_files:
        merged.pages.extend(pikepdf.open(Path(docx).with_suffix(".pdf")).pages)
    for att in case.data["attachments"]:
        merged.pages.extend(pikepdf.open(io.BytesIO(img2pdf.convert(str(case.folder / att["path"])))).pages)
    merged.save(work / "merged.pdf")
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--big-pages", type=int, default=500)
    parser.add_argument("--libreoffice", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        case_file, scans = make_case(work / "case", args.pages)
        median = in_process_median(case_file, work / "outbox", args.runs)
        wall, rss = peak_rss_mb([*KUNNAN, "build", str(case_file), "-o", str(work / "outbox-cli")])
        folder = next(p for p in (work / "outbox-cli").iterdir() if not p.name.startswith((".", "_")))
        package = next(folder.glob("*.pdf")).stat().st_size
        forms = sum(p.stat().st_size for p in (folder / "documents").glob("*.pdf"))
        print(f"{args.pages} scanned pages, {scans / 1e6:.1f} MB of JPEG ({scans / args.pages / 1e3:.0f} KB each)")
        print(f"build, in process: median {median * 1000:.0f} ms over {args.runs} runs")
        print(f"build, new process (`kunnan-docs build`): {wall * 1000:.0f} ms wall, peak RSS {rss:.0f} MB")
        print(f"package {package / 1e6:.2f} MB = {package / (scans + forms) * 100:.1f}% of scans + forms "
              f"({(scans + forms) / 1e6:.2f} MB)")
        big_case = big_pdf_case(work / "big", args.big_pages)
        wall_big, rss_big = peak_rss_mb([*KUNNAN, "build", str(big_case), "-o", str(work / "outbox-big")])
        print(f"{args.big_pages}-page PDF attachment: {wall_big * 1000:.0f} ms wall, peak RSS {rss_big:.0f} MB")
        if args.libreoffice:
            lo = libreoffice_alternative(case_file, work / "lo" if (work / "lo").mkdir() is None else work)
            if lo is None:
                print("LibreOffice not installed: comparison skipped")
            else:
                print(f"docxtpl → LibreOffice → merge: {lo * 1000:.0f} ms ({lo / wall:.1f}× a `kunnan-docs build`)")


if __name__ == "__main__":
    main()
