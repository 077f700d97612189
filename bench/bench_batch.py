"""Batch and cluster benchmark (run by hand; figures go into README "Performance" and the closing note).

    .venv/bin/python bench/bench_batch.py [--cases 60]

Builds N example-sized cases (copies of the three examples with distinct archive numbers) as one
`kunnan-docs build` process each way — in one process (--workers 1), on the local process pool (the default),
and on a Dask LocalCluster of two worker processes through --scheduler — then once more on the pool to time the
up-to-date check of a rerun. Prints cases per second; this is what the province plan in the README scales from.
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

from copies import distinct_id  # the bench scripts' folder is on the path when one runs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/case.json"))
KUNNAN = [sys.executable, "-m", "kunnan_docs"]


def make_cases(folder: Path, n: int) -> None:
    for i in range(n):
        target = folder / f"c{i:05d}"
        shutil.copytree(EXAMPLES[i % len(EXAMPLES)], target)
        data = json.loads((target / "case.json").read_text(encoding="utf-8"))
        data["archive_no"] = f"BENCH-{i:05d}"
        data["worker"]["id_number"] = distinct_id(data["worker"]["id_number"], i)
        (target / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def timed(args: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([*KUNNAN, *args], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=60)
    n = parser.parse_args().cases
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        make_cases(work / "cases", n)
        rows = [("one process (--workers 1)", timed(["build", str(work / "cases"), "-o", str(work / "a"),
                                                     "--workers", "1"]))]
        rows.append(("local pool (default)", timed(["build", str(work / "cases"), "-o", str(work / "b")])))
        rows.append(("rerun, all up to date", timed(["build", str(work / "cases"), "-o", str(work / "b")])))
        from distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=40) as cluster:
            rows.append(("Dask LocalCluster, 2 workers", timed(
                ["build", str(work / "cases"), "-o", str(work / "c"), "--scheduler", cluster.scheduler_address,
                 "--batch-size", "8"])))
        print(f"{n} example-sized cases (the three examples in turn), whole `kunnan-docs build` process:")
        for name, seconds in rows:
            print(f"  {name:32s} {seconds:7.1f} s  {n / seconds:6.1f} cases/s")


if __name__ == "__main__":
    main()
