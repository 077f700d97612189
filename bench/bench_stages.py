"""Where a case's CPU goes in a warm worker (run by hand; figures go into the README and the closing note).

    .venv/bin/python bench/bench_stages.py [--rounds 10]

Copies of the three examples (distinct archive numbers, scans hard-linked, as `bench_watch.py` makes them) are
built round after round by `pipeline.process_case` in this one process, as a pool worker of `watch` or `build`
builds them: everything in-process (a second thread is kept alive, so the build forks nothing aside). After a
warm-up round, the CPU time of each stage is summed and printed per case, largest first. The stages nest:
`build` holds the forms, the sheets, the attachments and the Word forms; `assemble` holds the sheets.
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_watch import EXAMPLES, copy_case

STAGES = [  # module, function, label
    ("kunnan_docs.pipeline", "validate_file", "validate (schema and rules)"),
    ("kunnan_docs.pipeline", "_snapshot", "snapshot of the inputs"),
    ("kunnan_docs.pipeline", "hashed_inputs", "inputs' SHA-256 and SM3"),
    ("kunnan_docs.package.build", "build", "build (all of the below)"),
    ("kunnan_docs.package.build", "forms_for", "  fill the forms"),
    ("kunnan_docs.package.build", "render_with_boxes", "  forms as PDF"),
    ("kunnan_docs.forms.word", "render_each", "  forms as Word"),
    ("kunnan_docs.package.attachments", "undecodable", "  scans' decode check"),
    ("kunnan_docs.package.build", "load", "  attachments to PDF pages"),
    ("kunnan_docs.package.build", "read_signed_attachment", "  signed attachments' QR codes"),
    ("kunnan_docs.package.build", "_assemble", "  assemble (sheets included)"),
    ("kunnan_docs.package.sheets", "cover", "    cover"),
    ("kunnan_docs.package.sheets", "contents", "    contents list"),
    ("kunnan_docs.package.sheets", "remarks", "    remarks sheet"),
    ("kunnan_docs.package.sheets", "page_number_stamps", "    page numbers"),
    ("kunnan_docs.package.publish", "publish", "publish (write, hash, rename)"),
]


def timed(table: collections.Counter[str], label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            table[label] += time.process_time() - start

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    keep_company = threading.Event()  # a second thread: the build then works in-process, as a pool worker does
    threading.Thread(target=keep_company.wait, daemon=True).start()
    from kunnan_docs.core.workcal import WorkCalendar
    from kunnan_docs.pipeline import process_case

    table: collections.Counter[str] = collections.Counter()
    for module, name, label in STAGES:
        owner = importlib.import_module(module)
        setattr(owner, name, timed(table, label, getattr(owner, name)))
    calendar = WorkCalendar()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cases = []
        for i, example in enumerate(EXAMPLES):
            copy_case(example, work / f"case-{i}", i)
            cases.append(work / f"case-{i}" / "case.json")
        for case in cases:  # warm-up: imports, fonts, templates
            process_case(case, work / "out", calendar)
        table.clear()
        start, wall = time.process_time(), time.perf_counter()
        for _ in range(args.rounds):
            for case in cases:
                process_case(case, work / "out", calendar)
        built = args.rounds * len(cases)
        cpu = time.process_time() - start
        print(f"{built} cases ({len(cases)} examples × {args.rounds}), one warm process: "
              f"{cpu / built * 1000:.0f} ms CPU a case ({(time.perf_counter() - wall) / built * 1000:.0f} ms wall), "
              f"load average {os.getloadavg()[0]:.1f}")
        for _, _, label in STAGES:
            print(f"  {label:34s} {table[label] / built * 1000:6.1f} ms")
    keep_company.set()


if __name__ == "__main__":
    main()
