"""Scanner round-trip benchmark (run by hand, figures go into the README; never part of the tests).

    .venv/bin/python bench/bench_scan.py [--pages 140] [--families 24] [--runs 1]

Builds `families` exit cases (the shipped example under new archive numbers, without its signed scans: just
printed), prints their forms, scans them as an office scanner would (grey JPEG, 200 dpi, light noise, some
sheets upside down or sideways), shuffles them into one `pages`-page scanner PDF, then measures:

1. on one core, reading and sorting: every page's code decoded (scan/pages.py) and classified against the outbox;
2. the whole `kunnan-docs scan-in` run as a clerk starts it (a new process, the machine's cores): filing, moving
   the file, and rebuilding every package that received originals, once each (the goal: 20 pages/s or more) —
   first on a copy of the outbox without its kept forms (.kunnan/forms: each rebuild typesets its forms again, as
   before they were kept), then on the outbox itself, whose forms were kept when its packages were built;
3. on one core, the ink check of every page as scan-in makes it while reading the page (scan/prints.py: on the
   picture the page was read from, its code known), then the check a build makes from stored pages alone
   (package/ink.py, its page decoded and its code looked for again), per page; then a rebuild of one package,
   which reads its kept checks;
4. side by side, the obvious way: render every page at 300 dpi and decode it with every barcode format;
5. `verify`'s QR check of the rebuilt packages (what `handover` spends its time on): QR only, grey, bottom
   strip first, against rendering each checked page whole at 150 dpi in colour with every format.
"""

from __future__ import annotations

import argparse
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

import pypdfium2 as pdfium
import zxingcpp
from copies import distinct_id  # the bench scripts' folder is on the path when one runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kunnan_docs.core.casefile import read_case  # noqa: E402
from kunnan_docs.core.workcal import WorkCalendar  # noqa: E402
from kunnan_docs.forms.fill import forms_for  # noqa: E402
from kunnan_docs.forms.pdf import render_with_boxes  # noqa: E402
from kunnan_docs.forms.qr import form_key  # noqa: E402
from kunnan_docs.package.attachments import load  # noqa: E402
from kunnan_docs.package.formcache import FOLDER as FORMS_CACHE  # noqa: E402
from kunnan_docs.package.ink import form_flags  # noqa: E402
from kunnan_docs.package.layout import INPUT_DIR, REPORT, safe_name  # noqa: E402
from kunnan_docs.package.pageimage import ScanPages  # noqa: E402
from kunnan_docs.package.signed import originals_for, stored_offer  # noqa: E402
from kunnan_docs.package.verify import read_page_codes  # noqa: E402
from kunnan_docs.pipeline import process_case  # noqa: E402
from kunnan_docs.scan.filing import Packages, _problem  # noqa: E402
from kunnan_docs.scan.pages import _checked, read_scan  # noqa: E402
from kunnan_docs.scan.prints import Prints  # noqa: E402
from tests.scanner_sim import Spoil, encoded, pages_of, scan, scanner_pdf  # noqa: E402

EXAMPLE = ROOT / "examples" / "exit-wang-shufen"


def build_families(root: Path, outbox: Path, families: int, calendar: WorkCalendar) -> list[str]:
    numbers = []
    for n in range(families):
        folder = root / f"case-{n:03d}"
        shutil.copytree(EXAMPLE, folder)
        case_file = folder / "case.json"
        data = json.loads(case_file.read_text(encoding="utf-8"))
        data["archive_no"] = f"CD510104-2018-{n + 1000:04d}"
        data["worker"]["id_number"] = distinct_id(data["worker"]["id_number"], n)
        data["attachments"] = [a for a in data["attachments"] if not a.get("signed")]  # printed, not signed yet
        case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        result = process_case(case_file, outbox, calendar)
        assert result.outcome.published, result.messages
        numbers.append(data["archive_no"])
    return numbers


def scanner_file(outbox: Path, numbers: list[str], pages: int, path: Path) -> Path:
    rnd = random.Random(1)
    sheets = [p for no in numbers for pdf in sorted((outbox / safe_name(no) / "documents").glob("*.pdf"))
              for p in pages_of(pdf)]
    rnd.shuffle(sheets)
    spoils = [Spoil(noise=8), Spoil(noise=8), Spoil(noise=8, turn=180), Spoil(noise=8, skew=1.5),
              Spoil(noise=8, turn=90)]
    data = [encoded(scan(page, spoils[i % len(spoils)], seed=i)) for i, page in enumerate(sheets[:pages])]
    return scanner_pdf(data, path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=140)
    parser.add_argument("--families", type=int, default=24)
    parser.add_argument("--runs", type=int, default=1, help="whole runs with the forms kept, each on a fresh copy")
    args = parser.parse_args()
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if cores:
        os.sched_setaffinity(0, {min(cores)})  # one core for what is measured in this process
    calendar = WorkCalendar()
    installed_bytecode()
    print(f"this machine now: {machine_reference():.2f} s CPU for a fixed piece of Python (a virtual machine's speed "
          "drifts by a third from hour to hour: compare figures taken beside the same reference)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        outbox = root / "outbox"
        t = time.perf_counter()
        numbers = build_families(root, outbox, args.families, calendar)
        print(f"setup: {len(numbers)} packages built in {time.perf_counter() - t:.1f} s")
        scanner = root / "inbox" / "扫描件"
        scanner.mkdir(parents=True)
        path = scanner_file(outbox, numbers, args.pages, scanner / "scan.pdf")
        print(f"scanner file: {args.pages} grey JPEG pages, 200 dpi, {path.stat().st_size / 1e6:.1f} MB")

        t, cpu = time.perf_counter(), time.process_time()
        read = read_scan(path)
        packages = Packages(outbox, calendar)
        problems = [_problem(p, packages) for p in read.pages]
        reading, cpu = time.perf_counter() - t, time.process_time() - cpu
        unread = sum(1 for p in problems if p)
        print(f"reading and sorting: {reading:.2f} s wall, {args.pages / reading:.1f} pages/s; {cpu:.2f} s CPU, "
              f"{args.pages / cpu:.1f} pages per CPU second ({unread} pages not filable; load average "
              f"{os.getloadavg()[0]:.1f})")

        bare = root / "without kept forms"  # the same outbox and stack, its forms to be typeset again
        shutil.copytree(outbox, bare / "outbox", ignore=shutil.ignore_patterns(FORMS_CACHE))
        (bare / "扫描件").mkdir()
        shutil.copyfile(path, bare / "扫描件" / path.name)
        whole_run(bare / "扫描件" / path.name, bare / "outbox", args.pages, cores, "forms typeset again")
        walls: list[float] = []
        for n in range(1, args.runs):  # on fresh copies: a run changes its outbox and moves its scanner file
            again = root / f"run {n}"
            shutil.copytree(outbox, again / "outbox")
            (again / "扫描件").mkdir()
            shutil.copyfile(path, again / "扫描件" / path.name)
            walls.append(whole_run(again / "扫描件" / path.name, again / "outbox", args.pages, cores,
                                   f"forms kept, run {n} of {args.runs}"))
            shutil.rmtree(again)
        walls.append(whole_run(path, outbox, args.pages, cores, "forms kept since the packages were built"))
        if len(walls) > 1:
            rates = sorted(args.pages / w for w in walls)
            print(f"whole `scan-in` run with the forms kept, {len(walls)} runs: median {statistics.median(rates):.1f} "
                  f"pages/s (min {rates[0]:.1f}, max {rates[-1]:.1f})")
        ink_check(outbox, numbers, calendar, scanner / "已处理" / "scan.pdf")

        doc = pdfium.PdfDocument(scanner / "已处理" / "scan.pdf")
        t = time.perf_counter()
        found = sum(bool(zxingcpp.read_barcodes(doc[i].render(scale=300 / 72).to_pil())) for i in range(len(doc)))
        naive = time.perf_counter() - t
        print(f"render every page at 300 dpi, all barcode formats: {naive:.1f} s, {len(doc) / naive:.1f} pages/s "
              f"({found} pages decoded) — reading is {naive / reading:.0f}× faster")
        verify_qr(outbox, numbers)


def installed_bytecode() -> None:
    """The program's modules compiled to bytecode, as pip compiles them when it installs the program: a shell with
    PYTHONDONTWRITEBYTECODE set (as some sandboxes are) otherwise compiles every module again in every process."""
    import compileall

    compileall.compile_dir(ROOT / "kunnan_docs", quiet=1)


def machine_reference() -> float:
    """CPU seconds for a fixed piece of work: integer arithmetic in Python, and SM3 of 16 MB (the manifests' hash)."""
    import hashlib

    start = time.process_time()
    total = 0
    for i in range(2_000_000):
        total += i * i
    try:
        hashlib.new("sm3", bytes(16 << 20)).hexdigest()
    except ValueError:  # this Python's OpenSSL has no SM3
        hashlib.sha256(bytes(16 << 20)).hexdigest()
    return time.process_time() - start


def whole_run(path: Path, outbox: Path, pages: int, cores: set[int], what: str) -> float:
    """`scan-in` as a clerk starts it: a new process on the machine's cores, its pool's CPU counted."""
    load = os.getloadavg()[0]
    ticks = _cpu_ticks()
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        run = subprocess.Popen([sys.executable, "-m", "kunnan_docs", "scan-in", str(path), "-o", str(outbox)],
                               stdout=out, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                               preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None)
        _, status, usage = os.wait4(run.pid, 0)  # its own CPU and its pool's
        run.returncode = os.waitstatus_to_exitcode(status)
        whole = time.perf_counter() - t
        out.seek(0)
        said = out.read()
    cpu = usage.ru_utime + usage.ru_stime
    filed, rebuilt = said.count("已归档  "), said.count("已重新成卷  ")
    n = len(cores) or os.cpu_count() or 1
    print(f"whole `scan-in` run ({what}), a new process on {n} cores: {whole:.1f} s, {pages / whole:.1f} pages/s "
          f"({filed} forms filed, {rebuilt} packages rebuilt, exit {run.returncode}; load average {load:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after{_stolen(ticks)}); CPU {cpu:.1f} s with its pool: on {n} idle cores no less "
          f"than {cpu / n:.1f} s, {pages / (cpu / n):.1f} pages/s")
    return whole


def _cpu_ticks() -> list[int] | None:
    """The machine's CPU time so far by kind (Linux's /proc/stat), to tell how much the hypervisor took."""
    try:
        return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None


def _stolen(before: list[int] | None) -> str:
    """'; the hypervisor took N % of the CPU time meanwhile': a virtual machine whose host is busy runs slower by
    that share, whatever its load average says (steal time, the 8th figure of /proc/stat)."""
    after = _cpu_ticks()
    if not before or not after or sum(after) == sum(before):
        return ""
    return f"; the hypervisor took {100 * (after[7] - before[7]) / (sum(after) - sum(before)):.0f} % of the CPU time"


def ink_check(outbox: Path, numbers: list[str], calendar: WorkCalendar, scanner: Path) -> None:
    """CPU per page of the ink check as scan-in makes it — on the picture each page was read from, with the codes
    found there (scan/prints.py) — then of the check a build makes from stored pages alone (a stored original
    without its kept check: its scan decoded and its codes looked for again); then one rebuild."""
    pages = ScanPages(load(scanner, scanner.name).pdf)
    prints = Prints(outbox, calendar)
    reading, checking, checked = 0.0, 0.0, 0
    for first in (True, False):  # the first round also opens each form's print (once a process per form)
        for i in range(len(pages.pdf.pages)):
            cpu = time.process_time()
            read = pages.codes(i)
            reading += time.process_time() - cpu
            cpu = time.process_time()
            ink = _checked(pages, i, read, prints)
            if not first:
                checking += time.process_time() - cpu
                checked += ink is not None
    print(f"ink check as scan-in makes it, {checked} pages: {checking * 1000 / checked:.1f} ms CPU a page (its picture "
          f"and code from reading it, {reading * 500 / len(pages.pdf.pages):.1f} ms a page; load average "
          f"{os.getloadavg()[0]:.1f})")
    decoding, checking, count = 0.0, 0.0, 0
    for no in numbers:
        case = read_case(next((outbox / safe_name(no) / INPUT_DIR).glob("*.json")))
        printed = {form_key(f): render_with_boxes(f, no) for f in forms_for(case, calendar)}
        for key, original in originals_for(outbox, no).items():
            blank, boxes = printed[key]
            cpu = time.process_time()
            images = [image.copy() for image in stored_offer(original).images()]  # decoded now
            decoding += time.process_time() - cpu
            cpu = time.process_time()
            form_flags(images, blank, boxes)
            checking += time.process_time() - cpu
            count += len(images)
    print(f"ink check from the stored pages alone ({count} pages; a stored original without its kept check): "
          f"{checking * 1000 / count:.1f} ms CPU a page, and {decoding * 1000 / count:.1f} ms decoding the page's scan "
          f"for it (load average {os.getloadavg()[0]:.1f})")
    case_file = next((outbox / safe_name(numbers[0]) / INPUT_DIR).glob("*.json"))
    cpu = time.process_time()
    process_case(case_file, outbox, calendar)
    print(f"a rebuild of one package, its ink checks kept beside its originals: {time.process_time() - cpu:.2f} s CPU "
          "(this process; its Word forms, decode check and hashes run in forked children)")


def verify_qr(outbox: Path, numbers: list[str]) -> None:
    checked, ours, before = 0, 0.0, 0.0
    for no in numbers:
        folder = outbox / safe_name(no)
        report = json.loads((folder / REPORT).read_text(encoding="utf-8"))
        doc = pdfium.PdfDocument(folder / f"{safe_name(no)}.pdf")
        pages = [0] + [report["pages"]["content_start_index"] + d["pages"][0] - 1
                       for e in report["checklist"] for d in e["documents"] if d["generated"]]
        t = time.perf_counter()
        for index in pages:
            assert read_page_codes(doc[index])
        ours += time.perf_counter() - t
        t = time.perf_counter()
        for index in pages:
            assert zxingcpp.read_barcodes(doc[index].render(scale=150 / 72).to_pil())
        before += time.perf_counter() - t
        checked += len(pages)
    print(f"verify's QR check, {len(numbers)} packages, {checked} pages: {ours * 1000 / checked:.1f} ms a page, "
          f"against {before * 1000 / checked:.1f} ms rendering whole colour pages with every format "
          f"({before / ours:.1f}×)")


if __name__ == "__main__":
    main()
