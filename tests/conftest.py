"""Shared fixtures. Every test runs in an isolated environment: no KUNNAN_* variable of the person running
the tests, HOME and caches in a temporary folder."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
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
CANCELLED_EXAMPLE = EXAMPLES / "cancelled-chen-guihua"


@pytest.fixture(scope="session", autouse=True)
def test_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No KUNNAN_* setting of the person running the tests changes a result (KUNNAN_SCREENSHOTS stays: it only says
    where the browser tests save what they saw); HOME and XDG caches point into a
    temporary folder (nothing is written to ~/.cache); subprocesses inherit all of it. Yields that HOME."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("KUNNAN_") and n != "KUNNAN_SCREENSHOTS"]:  # where to look
            patch.delenv(name)
        patch.setenv("HOME", str(home))
        patch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
        yield home


@pytest.fixture(autouse=True)
def isolated_environment() -> Iterator[None]:
    """Whatever a test does to os.environ (directly, not only through monkeypatch) ends with the test."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


def build_examples(outbox: Path, hash_seed: str) -> Path:
    """The README's main job (`kunnan-docs build examples/*/case.json`) in a fresh Python process."""
    cases = sorted(str(p) for p in EXAMPLES.glob("*/case.json"))
    proc = subprocess.run([sys.executable, "-m", "kunnan_docs", "build", *cases, "-o", str(outbox)],
                          env={**os.environ, "PYTHONHASHSEED": hash_seed}, cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, ("the examples are not all 材料齐全 (exit 0): after changing a form or an example, "
                                  "run `python examples/make_signed.py`\n" + proc.stdout + proc.stderr)
    return outbox


@pytest.fixture(scope="session")
def built_examples(test_environment: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The examples' packages, built once per session (per xdist worker) in a separate process (PYTHONHASHSEED=1).
    Read only: a test or module fixture that writes into an outbox copies it first
    (`shutil.copytree(built_examples, target, symlinks=True)`), which takes milliseconds where a build takes
    seconds."""
    return build_examples(tmp_path_factory.mktemp("examples-seed-1") / "outbox", "1")


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow files first (browser, cluster), each file's tests kept together and in order: spread over workers
    by file (.ci/run), the short files then fill the gaps instead of one long browser test running alone at the end."""
    slow = {item.path for item in items if item.get_closest_marker("browser") or item.get_closest_marker("cluster")}
    items.sort(key=lambda item: item.path not in slow)
