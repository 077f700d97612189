from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# No timed assertions in tests (speed budgets live in bench/): Hypothesis' per-example deadline fails
# healthy runs on a loaded 2-core machine.
settings.register_profile("no-deadline", deadline=None)
settings.load_profile("no-deadline")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXIT_EXAMPLE = EXAMPLES / "exit-wang-shufen"
FILING_EXAMPLE = EXAMPLES / "filing-li-jianhua"
REFILED_EXAMPLE = EXAMPLES / "refiled-zhao-deming"


def set_pointer(data: Any, pointer: str, value: Any) -> None:
    """Set (or, with value DELETE, remove) the value at a JSON pointer."""
    parts = [p for p in pointer.split("/") if p]
    node = data
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last: Any = int(parts[-1]) if isinstance(node, list) else parts[-1]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value


DELETE = object()


@pytest.fixture
def case_copy(tmp_path: Path) -> Callable[..., Path]:
    """Copy an example case folder into tmp_path, apply {pointer: value} edits, return the case file."""

    def make(example: Path = EXIT_EXAMPLE, edits: dict[str, Any] | None = None, name: str = "case") -> Path:
        folder = tmp_path / name
        shutil.copytree(example, folder)
        case_file = folder / "case.json"
        data = json.loads(case_file.read_text(encoding="utf-8"))
        data = copy.deepcopy(data)
        for pointer, value in (edits or {}).items():
            set_pointer(data, pointer, value)
        case_file.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        return case_file

    return make
