"""CPU time of typesetting the PDFs of a case, part by part, in a warm process (run by hand; see README).

    .venv/bin/python bench/bench_typeset.py [ROUNDS]

Builds each example case once to record the calls the build makes to the typesetter (annex forms as
PDF, cover, contents list, remarks, page-number stamps), then repeats exactly those calls ROUNDS times
and prints the median CPU time per case of each part (process time: the other engineers' load on the
machine does not count, but it does slow a core's caches). Stamps for pages of the same sizes are kept by
the process (a scan-in's rebuilds mostly stamp such pages); here they are typeset in every round.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kunnan_docs.core.validate import validate_file
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.package import build, sheets

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*/case.json"))
PARTS = {"forms": (build, "render_with_boxes"), "cover": (sheets, "cover"), "contents": (sheets, "contents"),
         "remarks": (sheets, "remarks"), "stamps": (sheets, "page_number_stamps")}


def recorded_calls() -> dict[str, tuple[Callable[..., Any], list[tuple[tuple, dict]]]]:
    """Each part's function and the arguments one build of every example passes it."""
    calls: dict[str, tuple[Callable[..., Any], list[tuple[tuple, dict]]]] = {}
    for part, (module, name) in PARTS.items():
        function, seen = getattr(module, name), []

        def recording(*args: Any, _f: Callable[..., Any] = function, _seen: list = seen, **kwargs: Any) -> Any:
            _seen.append((args, kwargs))
            return _f(*args, **kwargs)

        setattr(module, name, recording)
        calls[part] = function, seen
    try:
        calendar = WorkCalendar()
        for case_file in EXAMPLES:
            checked = validate_file(case_file, calendar)
            assert checked.case is not None
            build.build(checked.case, checked.findings, calendar).pdf.close()
    finally:
        for part, (module, name) in PARTS.items():
            setattr(module, name, calls[part][0])
    return calls


def main(rounds: int) -> None:
    calls = recorded_calls()
    times: dict[str, list[float]] = {part: [] for part in calls}
    for n in range(rounds + 2):  # two rounds to warm caches
        sheets.stamps_kept.cache_clear()  # the stamps are typeset each round, as for pages never stamped before
        for part, (function, args) in calls.items():
            start = time.process_time()
            for a, kw in args:
                function(*a, **kw)
            if n >= 2:
                times[part].append((time.process_time() - start) / len(EXAMPLES) * 1000)
    medians = {part: statistics.median(t) for part, t in times.items()}
    print(f"CPU per case over {len(EXAMPLES)} examples, median of {rounds} rounds: "
          + ", ".join(f"{part} {ms:.1f} ms" for part, ms in medians.items())
          + f"; all {sum(medians.values()):.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
