"""The identity check over a large outbox (run by hand; figures go into README "Benchmarks").

    .venv/bin/python bench/bench_identity.py [--packages 10000] [--work DIR]

Builds one genuine package (the filing example), then fills the outbox with --packages folders as the identity
index reads them: that package's report.json naming another archive number, and an input/case.json with another
ID number. Times, in this process, median of 5: the index built from nothing (every package read), the check of
one case with the index current (what every build, drop and validate pays), and the check after one package
was republished (the outbox looked at again, one package read again).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from copies import distinct_id  # the bench scripts' folder is on the path when one runs

from kunnan_docs.core.casefile import Case
from kunnan_docs.package import identity
from kunnan_docs.package.layout import IDENTITY_DB, STATE_DIR

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "filing-li-jianhua"


def make_outbox(work: Path, total: int) -> Path:
    outbox = work / "outbox"
    if outbox.is_dir():
        return outbox
    subprocess.run([sys.executable, "-m", "kunnan_docs", "build", str(EXAMPLE / "case.json"), "-o", str(outbox)],
                   check=True, stdout=subprocess.DEVNULL)
    [real] = [p for p in outbox.iterdir() if not p.name.startswith((".", "_"))]
    report = json.loads((real / "report.json").read_text(encoding="utf-8"))
    case = json.loads((real / "input" / "case.json").read_text(encoding="utf-8"))
    original = case["worker"]["id_number"]
    for i in range(total - 1):
        folder = outbox / f"FILL-{i:06d}"
        (folder / "input").mkdir(parents=True)
        report["archive_no"] = folder.name
        (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
        (folder / "input" / "case.json").write_text(
            json.dumps({"worker": {"id_number": distinct_id(original, i + 1), "name": "李建华"}}, ensure_ascii=False),
            encoding="utf-8")
    return outbox


def median_ms(action: Callable[[], object], before: Callable[[], object] | None = None,
              runs: int = 5) -> tuple[float, float]:
    """Median wall and CPU milliseconds (the CPU figure means something on a loaded machine too)."""
    wall, cpu = [], []
    for _ in range(runs):
        if before is not None:
            before()
        t, c = time.perf_counter(), time.process_time()
        action()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=10000)
    parser.add_argument("--work", type=Path, help="keep the outbox here and reuse it")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-identity-"))
    try:
        outbox = make_outbox(work, args.packages)
        data = json.loads((EXAMPLE / "case.json").read_text(encoding="utf-8"))
        case = Case(data | {"archive_no": "NEW-0001"}, EXAMPLE / "case.json")
        database = outbox / STATE_DIR / IDENTITY_DB
        cold = median_ms(lambda: identity.load(outbox), lambda: database.unlink(missing_ok=True))
        report = outbox / "FILL-000000" / "report.json"
        text = report.read_text(encoding="utf-8")

        def republish() -> None:
            report.unlink()
            report.write_text(text, encoding="utf-8")
            folder = report.parent
            folder.rename(folder.with_suffix(".moved"))  # as publish renames a folder into the outbox
            folder.with_suffix(".moved").rename(folder)

        one = median_ms(lambda: identity.refusal(outbox, case), republish)
        time.sleep(2.1)  # the outbox's last change is no longer within the file system's timestamp granularity
        identity.load(outbox)
        warm = median_ms(lambda: identity.refusal(outbox, case))
        print(f"{args.packages} packages, ms wall (CPU), load {os.getloadavg()[0]:.1f}: index from nothing "
              f"{cold[0]:.0f} ({cold[1]:.0f}); a check, index current {warm[0]:.1f} ({warm[1]:.1f}); a check after one "
              f"package was republished {one[0]:.0f} ({one[1]:.0f}); database {database.stat().st_size / 1e6:.1f} MB")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
