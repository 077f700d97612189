"""Build benchmark (run by hand; figures go into the README, never into tests).

    .venv/bin/python bench/bench_build.py [--runs 5] [--pages 40] [--skip-memory]

One exit case (the richest example) with 40 scanned A4 JPEG pages of about 300 KB each, side by side:

1. `kunnan-docs build` as a new process: wall time (median of --runs) and peak RSS;
2. the floor: a new process that does only the unavoidable work — img2pdf of the same scans, pikepdf
   concatenation, 5 reportlab pages with an embedded CJK subset — and the ratio build / floor (goal ≤ 1.5);
3. the obvious alternative, docxtpl → LibreOffice headless → merge, and the ratio build / alternative
   (goal ≤ 0.20); skipped with a message where `soffice` is not installed (Debian: libreoffice-writer-nogui);
4. package size against scans + 2 % + forms;
5. peak RSS of `kunnan-docs build` for the memory cases (goal ≤ 200 MB each): a 500-page PDF attachment of
   distinct images, 200 scans, 600-dpi colour scans.
Wall time and peak RSS come from os.wait4 on the child process.
"""

from __future__ import annotations

import argparse
import compileall
import io
import json
import os
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
FONT = ROOT / "fonts" / "NotoSerifSC-Regular.ttf"
BUILT = (0, 3, 5)  # exit codes of a published package: complete, incomplete / in follow-up, awaiting signatures

FLOOR = """
import io, sys
import img2pdf, pikepdf
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
out, font, scans = sys.argv[1], sys.argv[2], sys.argv[3:]
package = pikepdf.open(io.BytesIO(img2pdf.convert(scans)))
pdfmetrics.registerFont(TTFont("CJK", font))
buf = io.BytesIO()
canvas = Canvas(buf)
for page in range(5):
    canvas.setFont("CJK", 11)
    for line in range(40):
        canvas.drawString(60, 780 - 18 * line, f"第{page + 1}页 第{line + 1}行 困难职工入户调查表 家庭成员 收入 帮扶措施")
    canvas.showPage()
canvas.save()
package.pages.extend(pikepdf.open(buf).pages)
package.save(out)
"""


def scanned_page(seed: int, size: tuple[int, int] = (1654, 2339), dpi: int = 200) -> bytes:
    """An A4 page that compresses like a real scan (~300 KB at 200 dpi): paper grain plus text-like marks."""
    rnd = random.Random(seed)
    img = Image.effect_noise(size, 18).point(lambda v: 200 + v // 5).convert("RGB")
    draw = ImageDraw.Draw(img)
    scale = size[0] / 1654
    for _ in range(900):
        x, y = rnd.randrange(int(120 * scale), int(1500 * scale)), rnd.randrange(int(150 * scale), int(2200 * scale))
        w, h = rnd.randrange(8, 30) * scale, rnd.randrange(8, 30) * scale
        draw.rectangle([x, y, x + w, y + h], fill=(40 + seed % 50, 40, 60))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=72, dpi=(dpi, dpi))
    return buf.getvalue()


def make_case(folder: Path, pages: int, size: tuple[int, int] = (1654, 2339), dpi: int = 200) -> tuple[Path, int]:
    shutil.copytree(EXAMPLE, folder)
    case_file = folder / "case.json"
    data = json.loads(case_file.read_text(encoding="utf-8"))
    items = [a["item"] for a in data["attachments"]]
    attachments, total = [], 0
    for i in range(pages):
        scan = folder / "scans" / f"bench-{i:03d}.jpg"
        scan.write_bytes(scanned_page(i, size, dpi))
        total += scan.stat().st_size
        attachments.append({"item": items[i % len(items)], "path": f"scans/{scan.name}"})
    data["attachments"] = attachments
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return case_file, total


def big_pdf_case(folder: Path, pages: int) -> Path:
    """One attachment: a PDF of `pages` distinct scanned images (a thick file scanned in one go)."""
    case_file, _ = make_case(folder, 1)
    data = json.loads(case_file.read_text(encoding="utf-8"))
    big = folder / "scans" / "big.pdf"
    layout = img2pdf.get_layout_fun(pagesize=(img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297)))
    pdf = pikepdf.new()
    for i in range(pages):
        one = pikepdf.open(io.BytesIO(img2pdf.convert(scanned_page(1000 + i, (827, 1170), 100), layout_fun=layout)))
        pdf.pages.append(one.pages[0])
    pdf.save(big)
    data["attachments"].append({"item": "supporting_proof", "path": "scans/big.pdf"})
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return case_file


def run(cmd: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, float, float]:
    """Wall time, CPU time (user + system, with the children it waited for) and peak resident memory (MB) of a
    child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in ok:
        raise SystemExit(f"command failed: {' '.join(cmd)}\n{proc.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def median_run(make_cmd, runs: int, ok: tuple[int, ...] = (0,)) -> tuple[float, float, float]:
    samples = [run(make_cmd(i), ok) for i in range(runs)]
    return (statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples),
            max(s[2] for s in samples))


def load() -> str:
    """The 1-minute load average: the machine is shared, so every figure is quoted with it."""
    return f"load {os.getloadavg()[0]:.1f}"


def build_cmd(case_file: Path, outbox: Path) -> list[str]:
    return [*KUNNAN, "build", str(case_file), "-o", str(outbox)]


def libreoffice_alternative(case_file: Path, work: Path) -> float | None:
    """docxtpl (our templates) → LibreOffice headless → merge with the scans, as a new process."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        return None
    script = f"""
import io, subprocess, sys
from pathlib import Path
import img2pdf, pikepdf
from kunnan_docs.core.casefile import read_case
from kunnan_docs.forms.fill import forms_for
from kunnan_docs.forms.word import render_docx
work = Path({str(work)!r})
case = read_case(Path({str(case_file)!r}))
docx = []
for form in forms_for(case):
    path = work / f"{{form.stem}}.docx"
    path.write_bytes(render_docx(form, case.archive_no))
    docx.append(str(path))
subprocess.run([{soffice!r}, "--headless", "-env:UserInstallation=file://" + str(work / "profile"),
                "--convert-to", "pdf", "--outdir", str(work), *docx], check=True, capture_output=True)
merged = pikepdf.new()
for d in docx:
    merged.pages.extend(pikepdf.open(Path(d).with_suffix(".pdf")).pages)
scans = [str(case.folder / a["path"]) for a in case.data["attachments"]]
merged.pages.extend(pikepdf.open(io.BytesIO(img2pdf.convert(scans))).pages)
merged.save(work / "merged.pdf")
"""
    run([sys.executable, "-c", script])  # first run creates LibreOffice's profile
    return statistics.median(run([sys.executable, "-c", script])[0] for _ in range(3))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--only-memory", action="store_true")
    args = parser.parse_args()
    # An installed package is byte-compiled by pip; an editable checkout run with PYTHONDONTWRITEBYTECODE=1 would
    # compile our ~60 modules from source in every timed process instead.
    compileall.compile_dir(ROOT / "kunnan_docs", quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.only_memory:
            speed_and_size(work, args)
        if not args.skip_memory:
            memory(work)


def speed_and_size(work: Path, args: argparse.Namespace) -> None:
    case_file, scans = make_case(work / "case", args.pages)
    scan_files = sorted(str(p) for p in (work / "case" / "scans").glob("bench-*.jpg"))
    print(f"{args.pages} scanned pages, {scans / 1e6:.1f} MB of JPEG ({scans / args.pages / 1e3:.0f} KB each); "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {load()}")

    build, cpu, rss = median_run(lambda i: build_cmd(case_file, work / f"out-{i}"), args.runs, BUILT)
    floor, floor_cpu, floor_rss = median_run(
        lambda i: [sys.executable, "-c", FLOOR, str(work / f"floor-{i}.pdf"), str(FONT), *scan_files], args.runs)
    print(f"`kunnan-docs build`, new process:   {build * 1000:6.0f} ms  CPU {cpu * 1000:5.0f} ms  "
          f"peak RSS {rss:4.0f} MB  (median of {args.runs})")
    print(f"floor (img2pdf + pikepdf + 5 reportlab CJK pages): {floor * 1000:6.0f} ms  CPU {floor_cpu * 1000:5.0f} ms  "
          f"peak RSS {floor_rss:4.0f} MB  ({load()})")
    print(f"  build / floor = {build / floor:.2f}  (goal ≤ 1.5); CPU build / floor = {cpu / floor_cpu:.2f}")
    alternative = libreoffice_alternative(case_file, work / "lo" if (work / "lo").mkdir() is None else work)
    if alternative is None:
        print("docxtpl → LibreOffice → merge: skipped, LibreOffice (soffice) is not installed")
    else:
        print(f"docxtpl → LibreOffice headless → merge: {alternative * 1000:6.0f} ms  ({load()})")
        print(f"  build / LibreOffice pipeline = {build / alternative:.2f}  (goal ≤ 0.20)")

    folder = next(p for p in (work / "out-0").iterdir() if not p.name.startswith((".", "_")))
    package = next(folder.glob("*.pdf")).stat().st_size
    forms = sum(p.stat().st_size for p in (folder / "documents").glob("*.pdf"))
    print(f"package {package / 1e6:.2f} MB; scans + 2 % + forms = {(scans * 1.02 + forms) / 1e6:.2f} MB "
          f"({'within' if package <= scans * 1.02 + forms else 'over'}; forms {forms / 1e3:.0f} KB)")


def memory(work: Path) -> None:
    # Made in a child process: a child started from this one inherits its peak RSS (vfork), so a bench process
    # that had drawn 500 pages itself would report its own size for every build.
    make = ("import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; import bench_build as b; "
            "w = Path(sys.argv[2]); b.big_pdf_case(w / 'big', 500); b.make_case(w / 'many', 200); "
            "b.make_case(w / 'dpi600', 40, (4960, 7016), 600)")
    subprocess.run([sys.executable, "-c", make, str(Path(__file__).parent), str(work)], check=True)
    cases = {
        "500-page PDF attachment (distinct images)": work / "big" / "case.json",
        "200 scans": work / "many" / "case.json",
        "40 colour scans at 600 dpi": work / "dpi600" / "case.json",
    }
    for label, case in cases.items():
        wall, _, peak = run(build_cmd(case, work / f"out-{label[:3]}"), BUILT)
        print(f"{label}: {wall * 1000:6.0f} ms  peak RSS {peak:4.0f} MB  (goal ≤ 200 MB; {load()})")


if __name__ == "__main__":
    main()
