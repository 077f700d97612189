"""Stopping (issue 10): SIGTERM finishes only what the workers hold, and a SIGTERM to the whole process group
(as a service manager or a terminal sends it) does not kill the builds in progress or set off pool restarts."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from .conftest import EXIT_EXAMPLE, FILING_EXAMPLE
from .inbox_kit import CMD, assert_packages_verify, content_counts, copy_case, make_areas, packages
from .test_watch import wait_for


def _start(areas: dict[str, Path], **popen: object) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([*CMD, str(areas["inbox"]), str(areas["outbox"]), "--workers", "2", "--settle", "0.3"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen)  # type: ignore[call-overload]
    return proc


def _log(areas: dict[str, Path]) -> str:
    log = areas["outbox"] / ".kunnan" / "watch.log"
    return log.read_text(encoding="utf-8") if log.exists() else ""


def test_sigterm_builds_only_what_the_workers_hold(tmp_path: Path) -> None:
    areas = make_areas(tmp_path)
    for i in range(12):
        copy_case(FILING_EXAMPLE if i % 2 else EXIT_EXAMPLE, areas["inbox"] / f"case-{i:02d}",
                  {"archive_no": f"CD-STOP-{i:02d}"})
    proc = _start(areas)
    wait_for(lambda: "开始成卷" in _log(areas), "first build")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    built = packages(areas["outbox"])
    assert 1 <= len(built) <= 4, built  # what two workers held, not the queue of twelve
    left = [p.name for p in areas["inbox"].iterdir() if not p.name.startswith(".")]
    assert len(left) == 12 - len(built)
    assert_packages_verify(areas["outbox"])


def test_sigterm_to_the_whole_group_lets_builds_finish(tmp_path: Path) -> None:
    areas = make_areas(tmp_path)
    copy_case(EXIT_EXAMPLE, areas["inbox"] / "王淑芬")
    inputs = content_counts(areas["inbox"])
    proc = _start(areas, start_new_session=True)
    wait_for(lambda: "开始成卷" in _log(areas), "build start")
    os.killpg(proc.pid, signal.SIGTERM)  # the watcher and its workers alike
    assert proc.wait(timeout=60) == 0
    assert "成卷进程意外退出" not in _log(areas)
    assert packages(areas["outbox"]) == ["CD510104-2018-0112"]
    assert content_counts(areas["processed"]) == inputs and content_counts(areas["inbox"]) == {}
