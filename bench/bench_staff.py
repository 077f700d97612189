"""Staff commands over a large outbox (run by hand; figures go into README "Benchmarks").

    .venv/bin/python bench/bench_staff.py [--packages 10000] [--real 100]

Builds `--real` genuine packages of one district (copies of the examples with distinct archive numbers), then
fills the outbox up to `--packages` folders with copies whose report.json names other districts and other
archive numbers (what the staff commands read; they would not verify, and handover only takes the real
district). Times each staff command as a whole new process: due, notices, progress, handover of the real
district, status over a ledger of as many rows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/case.json"))
KUNNAN = [sys.executable, "-m", "kunnan_docs"]
DISTRICT = "成都市基准区总工会"


def real_packages(work: Path, n: int) -> Path:
    cases = work / "cases"
    for i in range(n):
        target = cases / f"c{i:05d}"
        shutil.copytree(EXAMPLES[i % len(EXAMPLES)], target)
        data = json.loads((target / "case.json").read_text(encoding="utf-8"))
        data["archive_no"], data["district"] = f"REAL-{i:05d}", DISTRICT
        (target / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    outbox = work / "outbox"
    subprocess.run([*KUNNAN, "build", str(cases), "-o", str(outbox)], check=False, stdout=subprocess.DEVNULL)
    return outbox


def fill(outbox: Path, total: int) -> None:
    templates = sorted(p for p in outbox.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    for i in range(total - len(templates)):
        source = templates[i % len(templates)]
        target = outbox / f"FILL-{i:06d}"
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("input", "documents"))
        report_file = target / "report.json"
        report = json.loads(report_file.read_text(encoding="utf-8"))
        report["archive_no"] = target.name
        report["case"]["district"] = f"成都市第{i % 20}区总工会"
        report_file.write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")


def timed(*args: str) -> float:
    t = time.perf_counter()
    subprocess.run([*KUNNAN, *args], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=10000)
    parser.add_argument("--real", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        outbox = real_packages(work, args.real)
        fill(outbox, args.packages)
        ob = ["--outbox", str(outbox)]
        rows = [
            ("due --as-of 2020-03-01 -o due.xlsx", timed("due", *ob, "--as-of", "2020-03-01", "-o",
                                                          str(work / "due.xlsx"))),
            ("notices (all dates) -o notices.pdf", timed("notices", *ob, "-o", str(work / "n.pdf"))),
            ("progress -o progress.pdf", timed("progress", *ob, "-o", str(work / "p.pdf"))),
            (f"handover of {args.real} real packages", timed("handover", *ob, "--district", DISTRICT, "-o",
                                                              str(work / "handover"))),
        ]
        print(f"outbox of {args.packages} packages ({args.real} real), each command as a new process:")
        for name, seconds in rows:
            print(f"  {name:40s} {seconds:7.2f} s")


if __name__ == "__main__":
    main()
