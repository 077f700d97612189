"""Deterministic crashes: the watcher, and separately a worker, SIGKILLed at every journaled step (issue 10).

KUNNAN_FAULT_AT=<step> makes the process reaching that step kill itself there (kunnan_docs/inbox/faults.py).
After a restart every input file ends in exactly one place (processed/ or rejected/, counted by content),
every package verifies, nothing is published twice, and no worker or helper process outlives the watcher.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from pathlib import Path

import pytest

from kunnan_docs.inbox.faults import STEPS

from .conftest import EXIT_EXAMPLE, FILING_EXAMPLE
from .inbox_kit import (
    assert_packages_verify,
    content_counts,
    copy_case,
    make_areas,
    packages,
    reason_files,
    tagged_processes,
    watch_once,
)

EXIT_NO, FILING_NO = "CD510104-2018-0112", "CD510108-2019-0037"
WORKER_STEPS = {"worker-start", "worker-published"}


def _drop_three(areas: dict[str, Path]) -> dict[str, int]:
    """A folder case, a loose case with its scans beside it, and an invalid case; their inputs by content."""
    copy_case(EXIT_EXAMPLE, areas["inbox"] / "王淑芬")
    shutil.copytree(FILING_EXAMPLE / "scans", areas["inbox"] / "scans")
    shutil.copy(FILING_EXAMPLE / "case.json", areas["inbox"] / "李建华.json")
    copy_case(FILING_EXAMPLE, areas["inbox"] / "坏案卷", {"/worker/gender": "女", "/archive_no": "CD-BAD-1"})
    return content_counts(areas["inbox"])


def _no_process_left(tag: str) -> None:
    deadline = time.monotonic() + 15
    while (left := tagged_processes("KUNNAN_TEST_TAG", tag)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:  # do not leave them to the next test, then fail
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes outlived the watcher: {left}"


def _assert_one_outcome_each(areas: dict[str, Path], inputs: dict[str, int]) -> None:
    assert content_counts(areas["inbox"]) == {}
    filed = content_counts(areas["processed"])
    for digest, n in content_counts(areas["rejected"]).items():
        filed[digest] = filed.get(digest, 0) + n
    assert filed == inputs  # every input once: none lost, none doubled
    assert packages(areas["outbox"]) == [EXIT_NO, FILING_NO]
    assert not (areas["outbox"] / "_历史版本").exists()  # nothing published twice
    assert_packages_verify(areas["outbox"])
    assert list(reason_files(areas["rejected"])) == ["坏案卷"]


@pytest.mark.parametrize("step", STEPS)
def test_killed_at_every_step_then_restarted(tmp_path: Path, step: str) -> None:
    areas = make_areas(tmp_path)
    inputs = _drop_three(areas)
    tag = uuid.uuid4().hex
    env = {"KUNNAN_FAULT_AT": step, "KUNNAN_FAULT_ONCE": str(tmp_path / "fault-fired"), "KUNNAN_TEST_TAG": tag}
    first = watch_once(areas, env, workers=1)  # one worker: the cheapest run that still restarts a pool
    assert (tmp_path / "fault-fired").exists(), f"step {step} never reached: {first.stderr}"
    if step in WORKER_STEPS:  # the watcher lives on: restarts its workers once and retries the case
        assert first.returncode == 1, first.stderr
        assert "成卷进程意外退出" in first.stderr
    else:
        assert first.returncode == -signal.SIGKILL, first.stderr
    _no_process_left(tag)
    second = watch_once(areas, workers=1)
    assert second.returncode in (0, 1), second.stderr
    _assert_one_outcome_each(areas, inputs)
