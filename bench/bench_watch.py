"""Watcher benchmark (run by hand; figures go into the closing note).

    .venv/bin/python bench/bench_watch.py [--cases 200]

1. Latency: a running watcher (settle 0.5 s); a typical case (the exit example) appears in the inbox by
   one rename; time until its package is published, minus the settle interval.
2. Throughput: `kunnan-docs watch --once` over N copies of the examples (distinct archive numbers), in
   cases per second, against building the same cases one by one with `kunnan-docs build`.
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
SETTLE = 0.5


def copy_case(example: Path, target: Path, n: int) -> None:
    shutil.copytree(example, target)
    case_file = target / "case.json"
    data = json.loads(case_file.read_text(encoding="utf-8"))
    data["archive_no"] = f"BENCH-{n:04d}"
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def published(outbox: Path) -> int:
    return sum(1 for p in outbox.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def latency(work: Path, samples: int = 9) -> list[float]:
    inbox, outbox = work / "lat-in", work / "lat-out"
    inbox.mkdir()
    proc = subprocess.Popen([*KUNNAN, "watch", str(inbox), str(outbox), "--settle", str(SETTLE)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not (outbox / ".kunnan" / "watch.log").exists():
            time.sleep(0.05)
        time.sleep(2)  # worker processes started
        results = []
        for i in range(samples):
            staged = work / f"lat-{i}"
            copy_case(EXAMPLES[0], staged, i)
            t = time.perf_counter()
            staged.rename(inbox / staged.name)  # the copy finishes at this instant
            while published(outbox) <= i:
                time.sleep(0.01)
            results.append(time.perf_counter() - t - SETTLE)
            time.sleep(1.5)  # let the watcher file the inputs away: one drop at a time, as in an office
        return results
    finally:
        proc.terminate()
        proc.wait()


def throughput(work: Path, n: int) -> tuple[float, float]:
    inbox, outbox = work / "tp-in", work / "tp-out"
    inbox.mkdir()
    for i in range(n):
        copy_case(EXAMPLES[i % len(EXAMPLES)], inbox / f"case-{i:04d}", 1000 + i)
    t = time.perf_counter()
    subprocess.run([*KUNNAN, "watch", str(inbox), str(outbox), "--once", "--settle", "0.2"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    once = time.perf_counter() - t
    assert published(outbox) == n
    cases = sorted((work / "processed").glob("*/case-*/case.json"))  # the same inputs, now filed away
    t = time.perf_counter()
    for case_file in cases:
        subprocess.run([*KUNNAN, "build", str(case_file), "-o", str(work / "one-by-one")], check=True,
                       stdout=subprocess.DEVNULL)
    serial = time.perf_counter() - t
    return n / once, len(cases) / serial


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        lat = sorted(latency(work))
        print(f"latency (settle {SETTLE} s excluded): median {lat[len(lat) // 2] * 1000:.0f} ms, "
              f"max {lat[-1] * 1000:.0f} ms over {len(lat)} drops")
        once, serial = throughput(work, args.cases)
        print(f"throughput over {args.cases} cases: watch --once {once:.1f} cases/s; "
              f"one `kunnan-docs build` per case {serial:.1f} cases/s ({once / serial:.1f}×)")


if __name__ == "__main__":
    main()
