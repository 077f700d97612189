"""Watcher benchmark (run by hand; figures go into the README and the closing note).

    .venv/bin/python bench/bench_watch.py [--sizes 50 200 1000 10000] [--workers 2] [--compare-up-to 1000]

1. Latency: a running watcher (settle 0.5 s); a typical case (the exit example) appears in the inbox by
   one rename; time until its package is published, minus the settle interval.
2. Throughput and its curve: `kunnan-docs watch --once` over N copies of the examples (distinct archive
   numbers; scans hard-linked to save disk), in cases per second for each N — linear work keeps the rate
   flat as N grows — against `kunnan-docs build` of the same N case files (the same pipeline through a
   process pool, no inbox), so the watcher's own overhead shows as the ratio.
3. Idle: CPU used by a running watcher (and its workers) over 20 s while one case waits for an
   attachment that does not come, in event mode and in polling mode.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from copies import distinct_id  # the bench scripts' folder is on the path when one runs
from soak import rss_mb  # the bench scripts' folder is on the path when one runs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/case.json"))
KUNNAN = [sys.executable, "-m", "kunnan_docs"]
SETTLE = 0.5


def copy_case(example: Path, target: Path, n: int) -> None:
    """A case folder with a distinct archive number; scans hard-linked (same bytes, no disk used)."""
    shutil.copytree(example, target, copy_function=os.link)
    case_file = target / "case.json"
    data = json.loads(case_file.read_text(encoding="utf-8"))
    data["archive_no"] = f"BENCH-{n:05d}"
    data["worker"]["id_number"] = distinct_id(data["worker"]["id_number"], n)
    case_file.unlink()  # the link is shared with the example: write a file of its own
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def published(outbox: Path) -> int:
    return sum(1 for p in outbox.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))) \
        if outbox.exists() else 0


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


def throughput(work: Path, n: int, workers: int, compare: bool) -> tuple[float, float | None]:
    """Cases per second: watch --once over n cases, and (if `compare`) `build` over the same n case files."""
    inbox, outbox = work / f"tp-in-{n}", work / f"tp-out-{n}"
    inbox.mkdir()
    for i in range(n):
        copy_case(EXAMPLES[i % len(EXAMPLES)], inbox / f"case-{i:05d}", 10_000 + i)
    t = time.perf_counter()
    watch = subprocess.Popen([*KUNNAN, "watch", str(inbox), str(outbox), "--once", "--settle", "0.2", "--workers",
                              str(workers), "--processed", str(work / f"done-{n}"), "--rejected",
                              str(work / f"rejected-{n}")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if n >= 2 * STEP:
        _print_curve(watch, outbox, t)
    # the copies carry the examples' signed scans, of another archive number: published as 待签章 (exit 5)
    assert watch.wait() in (0, 3, 5), watch.returncode
    once = time.perf_counter() - t
    assert published(outbox) == n, (published(outbox), n)
    built = None
    if compare:
        cases = sorted((work / f"done-{n}").glob("*/case-*/case.json"))  # the same inputs, now filed away
        t = time.perf_counter()
        subprocess.run([*KUNNAN, "build", *map(str, cases), "-o", str(work / f"built-{n}"), "--workers", str(workers)],
                       check=False, stdout=subprocess.DEVNULL)
        built = len(cases) / (time.perf_counter() - t)
    for folder in (outbox, work / f"built-{n}", work / f"done-{n}"):
        shutil.rmtree(folder, ignore_errors=True)
    return n / once, built


STEP = 1000  # a large run prints the time of each further thousand published: the curve within one run


def _print_curve(watch: subprocess.Popen, outbox: Path, start: float) -> None:
    """Until the watcher exits: the time each further STEP packages took, the load average meanwhile, and the
    memory of the watcher's own process (it holds what it knows of every case still waiting)."""
    last_count, last_time = 0, start
    while watch.poll() is None:
        time.sleep(5)
        count = published(outbox)
        while count >= last_count + STEP:
            now = time.perf_counter()
            last_count += STEP
            print(f"    {last_count:>6} published at {now - start:6.0f} s: this thousand in {now - last_time:5.0f} s "
                  f"({STEP / (now - last_time):4.1f} cases/s, load average {os.getloadavg()[0]:.1f}; "
                  f"watcher process {rss_mb([watch.pid]):.0f} MB)", flush=True)
            last_time = now


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children that have not been waited for (its live workers)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(proc.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def idle(work: Path, poll: bool, seconds: float = 20) -> float:
    """CPU seconds per wall second of a watcher whose only case waits for a missing attachment."""
    inbox, outbox = work / f"idle-in-{poll}", work / f"idle-out-{poll}"
    inbox.mkdir()
    copy_case(EXAMPLES[0], inbox / "waiting", 1)
    (inbox / "waiting" / "scans" / sorted(os.listdir(inbox / "waiting" / "scans"))[0]).unlink()
    proc = subprocess.Popen([*KUNNAN, "watch", str(inbox), str(outbox), "--settle", "0.5",
                             *(["--poll"] if poll else [])], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        log = outbox / ".kunnan" / "watch.log"
        while not log.exists() or "等待附件" not in log.read_text(encoding="utf-8"):
            time.sleep(0.1)
        time.sleep(3)  # workers warmed up
        before = cpu_seconds(proc.pid)
        time.sleep(seconds)
        return (cpu_seconds(proc.pid) - before) / seconds
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 1000, 10_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument("--compare-up-to", type=int, default=1000,
                        help="time `build` of the same case files only up to this N (it doubles the run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_latency:
            lat = sorted(latency(work))
            print(f"latency (settle {SETTLE} s excluded): median {lat[len(lat) // 2] * 1000:.0f} ms, "
                  f"max {lat[-1] * 1000:.0f} ms over {len(lat)} drops", flush=True)
        for poll in () if args.skip_idle else (False, True):
            print(f"idle with one case waiting for an attachment ({'poll' if poll else 'events'}): "
                  f"{idle(work, poll) * 100:.1f} % of one core", flush=True)
        for n in args.sizes:
            load = os.getloadavg()[0]
            once, built = throughput(work, n, args.workers, n <= args.compare_up_to)
            versus = f"; `build` of the same case files {built:5.1f} cases/s (watcher at {once / built:.0%} of it)" \
                if built else ""
            print(f"N = {n:>6}: watch --once {once:5.1f} cases/s{versus} (load average {load:.1f} at the start)",
                  flush=True)


if __name__ == "__main__":
    main()
