"""Staff commands over a large outbox (run by hand; figures go into README "Benchmarks").

    .venv/bin/python bench/bench_staff.py [--packages 10000] [--real 100] [--work DIR] [--before CHECKOUT]

Builds `--real` genuine packages of one district (copies of the examples with distinct archive numbers), then
fills the outbox up to `--packages` folders with copies whose report.json names other districts, other archive
numbers and publicity months (what the staff commands read; they would not verify, and handover only takes the
real district). The copies share their files with the genuine packages by hard links, only report.json is
their own, so 10,000 packages take about as much disk as the genuine ones. Times each staff command as a whole
new process, with its CPU seconds and the load average beside it: status (over a ledger of as many published
rows), due, notices of one month, progress, and handover of one and of all the real district's packages
(handover verifies every package it hands over, so its cost is per package). `--work DIR` keeps the outbox for
profiling and reuses it on the next run; `--before CHECKOUT` runs every command with an earlier commit's code
first, alternating, so that both see the same load (link this checkout's built fonts/*.ttf and fonts.json into it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from copies import distinct_id  # the bench scripts' folder is on the path when one runs

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
        data["worker"]["id_number"] = distinct_id(data["worker"]["id_number"], i)
        (target / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    outbox = work / "outbox"
    subprocess.run([*KUNNAN, "build", str(cases), "-o", str(outbox)], check=False, stdout=subprocess.DEVNULL)
    return outbox


def fill(outbox: Path, total: int) -> None:
    """Hard-linked copies of the genuine packages; report.json and input/case.json (the family's ID number) are replaced
    by new files, never written through a link."""
    templates = sorted(p for p in outbox.iterdir() if p.is_dir() and p.name.startswith("REAL-"))
    for i in range(total - len(templates)):
        source = templates[i % len(templates)]
        target = outbox / f"FILL-{i:06d}"
        if target.exists():
            continue
        shutil.copytree(source, target, copy_function=os.link)
        (target / f"{source.name}.pdf").rename(target / f"{target.name}.pdf")  # the PDF is named by the number
        report_file = target / "report.json"
        report = json.loads(report_file.read_text(encoding="utf-8"))
        report["archive_no"] = target.name
        report["case"]["district"] = f"成都市第{i % 20}区总工会"
        if (report["case"].get("publicity") or {}).get("start"):
            report["case"]["publicity"]["start"] = f"2019-{1 + i % 12:02d}-16"
        fresh = report_file.with_suffix(".new")
        fresh.write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
        os.replace(fresh, report_file)
        case_file = target / "input" / "case.json"  # a family of its own (progress and due count people)
        case = json.loads(case_file.read_text(encoding="utf-8"))
        case["worker"]["id_number"] = distinct_id(case["worker"]["id_number"], total + i)
        fresh = case_file.with_suffix(".new")
        fresh.write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
        os.replace(fresh, case_file)


def ledger_rows(outbox: Path) -> None:
    """One published row per package, as a watcher that published them all on an earlier day leaves it."""
    from kunnan_docs.core.labels import Outcome
    from kunnan_docs.inbox.ledger import Ledger
    from kunnan_docs.package.layout import LEDGER, STATE_DIR

    ledger = Ledger(outbox / STATE_DIR / LEDGER)
    if ledger.db.execute("SELECT count(*) FROM cases").fetchone()[0] == 0:
        with ledger.transaction():
            ledger.db.executemany(
                "INSERT INTO cases (source, archive_no, status, outputs, first_seen, updated) VALUES (?, ?, ?, ?, ?, ?)",
                [(f"{p.name}/case.json", p.name, Outcome.COMPLETE.value, json.dumps([str(p)]),
                  "2019-01-01T00:00:00", "2019-01-01T00:00:00") for p in sorted(outbox.iterdir()) if p.is_dir()])
    ledger.close()


def timed(args: list[str], code: Path | None = None) -> tuple[float, float, float]:
    """Wall seconds of one new process, its CPU seconds (with its children: handover's verifying processes), and
    the 1-minute load average when it started. On a shared machine the CPU seconds are the steadier figure.
    code: run another checkout's kunnan_docs instead of this one."""
    env = {**os.environ, "PYTHONPATH": str(code)} if code else None
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([*KUNNAN, *args], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                   cwd=code)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, load


def run(work: Path, packages: int, real: int, before: Path | None) -> None:
    outbox = work / "outbox"
    if not outbox.is_dir():
        real_packages(work, real)
    fill(outbox, packages)
    ledger_rows(outbox)
    count = sum(1 for p in outbox.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    genuine = sum(1 for p in outbox.iterdir() if p.name.startswith("REAL-"))
    ob = ["--outbox", str(outbox)]
    handover = ["handover", *ob, "--district", DISTRICT, "--allow-unsigned", "-o", str(work / "handover")]
    commands = [
        ("status", ["status", *ob], 1),
        ("due --as-of 2020-03-01", ["due", *ob, "--as-of", "2020-03-01"], 1),
        ("due --as-of 2020-03-01 -o due.xlsx", ["due", *ob, "--as-of", "2020-03-01", "-o", str(work / "due.xlsx")], 1),
        ("notices of one month -o notices.pdf",
         ["notices", *ob, "--from", "2019-09-01", "--to", "2019-09-30", "-o", str(work / "n.pdf")], 1),
        ("progress", ["progress", *ob], 1),
        ("progress -o progress.pdf", ["progress", *ob, "-o", str(work / "p.pdf")], 1),
        ("handover of 1 package", [*handover, "--cases", "REAL-00000"], 1),
        (f"handover of {genuine} packages", handover, genuine),
    ]
    print(f"outbox of {count} packages ({genuine} genuine), each command as a new process"
          + (f"; 'before' runs {before} first" if before else "") + ":")
    for name, args, per in commands:
        for label, code in ([("before", before)] if before else []) + [("now", None)]:
            for old in (work / "handover", work / "handover.zip"):
                shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
            seconds, cpu, load = timed(args, code)
            each = f"  ({seconds / per:.2f} s, {cpu / per:.2f} CPU s a package)" if per > 1 else ""
            print(f"  {label:6s} {name:38s} {seconds:7.2f} s  CPU {cpu:6.2f} s  load {load:5.2f}{each}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=10000)
    parser.add_argument("--real", type=int, default=100)
    parser.add_argument("--work", type=Path, help="keep the outbox here and reuse it next time")
    parser.add_argument("--before", type=Path, help="a checkout of an earlier commit (git archive COMMIT | tar -x -C "
                        "DIR): each command runs with its code first, then with this one")
    args = parser.parse_args()
    if args.before:
        args.before = args.before.resolve()
    if args.work:
        args.work = args.work.resolve()
        args.work.mkdir(parents=True, exist_ok=True)
        run(args.work, args.packages, args.real, args.before)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(Path(tmp), args.packages, args.real, args.before)


if __name__ == "__main__":
    main()
