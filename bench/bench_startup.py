"""Start-up cost of the command line (run by hand; figures go into README "Benchmarks").

    .venv/bin/python bench/bench_startup.py [--runs 5]

For each command: the best wall time of `--runs` fresh processes, and the import time of kunnan_docs and the
five slowest top-level imports as `python -X importtime` reports them for one run. `verify` runs on a built
example package, `status` on an empty ledger, so each command does its real work, not only its imports.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KUNNAN = [sys.executable, "-m", "kunnan_docs"]
EXAMPLE = ROOT / "examples" / "exit-wang-shufen" / "case.json"


def wall(argv: list[str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(KUNNAN + argv, capture_output=True, check=False)
        best = min(best, time.perf_counter() - start)
    return best


def slowest_imports(argv: list[str], top: int = 5) -> tuple[float, list[tuple[str, float]]]:
    """Cumulative import time of kunnan_docs, and of the slowest third-party packages it pulled in (seconds)."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-m", "kunnan_docs", *argv],
                         capture_output=True, text=True, check=False).stderr
    times: dict[str, float] = {}
    for line in err.splitlines():
        if m := re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line):
            name = m.group(3)
            times[name] = max(times.get(name, 0.0), int(m.group(1)) / 1e6)
    own = max((t for n, t in times.items() if n.split(".")[0] == "kunnan_docs"), default=0.0)
    third = {n: t for n, t in times.items() if "." not in n and n != "kunnan_docs" and not n.startswith("_")}
    return own, sorted(third.items(), key=lambda x: -x[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        outbox = Path(tmp) / "outbox"
        subprocess.run([*KUNNAN, "build", str(EXAMPLE), "-o", str(outbox)], capture_output=True, check=True)
        package = next(p for p in outbox.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
        (outbox / ".kunnan").mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-c", "import sys, pathlib; from kunnan_docs.inbox.ledger import Ledger; "
                        "Ledger(pathlib.Path(sys.argv[1])).close()", str(outbox / ".kunnan" / "ledger.sqlite")],
                       check=True)
        commands = {"--version": ["--version"], "--help": ["--help"], "verify": ["verify", str(package)],
                    "status": ["status", "--outbox", str(outbox)], "validate": ["validate", str(EXAMPLE)]}
        print(f"{'command':<10} {'wall s':>7} {'kunnan_docs imports s':>22}  slowest imports")
        for name, argv in commands.items():
            own, slow = slowest_imports(argv)
            print(f"{name:<10} {wall(argv, runs):>7.2f} {own:>22.2f}  "
                  + ", ".join(f"{n} {t:.2f}" for n, t in slow))


if __name__ == "__main__":
    main()
