"""Time to render every form of the richest example case, both formats (run by hand; see README).

    .venv/bin/python bench/bench_render.py [RUNS]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from kunnan_docs.core.casefile import read_case
from kunnan_docs.forms.fill import forms_for
from kunnan_docs.forms.fonts import register
from kunnan_docs.forms.pdf import render_pdf
from kunnan_docs.forms.word import render_docx

CASE = Path(__file__).resolve().parent.parent / "examples" / "exit-wang-shufen" / "case.json"


def once() -> tuple[float, float]:
    case = read_case(CASE)
    t0 = time.perf_counter()
    forms = forms_for(case)
    for form in forms:
        render_pdf(form, case.archive_no)
    t1 = time.perf_counter()
    for form in forms:
        render_docx(form, case.archive_no)
    return t1 - t0, time.perf_counter() - t1


def main(runs: int) -> None:
    t = time.perf_counter()
    register()  # first use in a process: load (and on a new machine, convert once) the CJK font
    print(f"font ready in {time.perf_counter() - t:.3f} s")
    once()  # warm-up: template parsing, imports
    samples = [once() for _ in range(runs)]
    pdf = statistics.median(s[0] for s in samples)
    docx = statistics.median(s[1] for s in samples)
    print(f"{len(forms_for(read_case(CASE)))} forms, median of {runs}: PDF {pdf * 1000:.0f} ms, "
          f"Word {docx * 1000:.0f} ms, both {(pdf + docx) * 1000:.0f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
