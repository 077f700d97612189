"""A full disk for real: the outbox (and the ledger beside it) on a small tmpfs filled to the last byte.

Expected (issue 10): the message says 磁盘空间不足 and where; the input stays in the inbox; the watcher pauses,
retries, and after space is freed publishes the case once — one case, one outcome.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import FILING_EXAMPLE
from .inbox_kit import CMD, assert_packages_verify, content_counts, copy_case, packages

FILING_NO = "CD510108-2019-0037"


@pytest.fixture
def small_disk(tmp_path: Path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True,
                             check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def _wait_for(predicate, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except FileNotFoundError:
            pass  # the watcher moved a folder while we were counting it: look again
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("ledger_on_full_disk", [True, False], ids=["ledger-full", "outbox-full"])
def test_full_disk_pauses_keeps_the_input_and_publishes_once_after_space_is_freed(
        tmp_path: Path, small_disk: Path, ledger_on_full_disk: bool) -> None:
    inbox, outbox = tmp_path / "inbox", small_disk / "outbox"
    inbox.mkdir()
    output = tmp_path / "watch-output.txt"
    state = [] if ledger_on_full_disk else ["--state", str(tmp_path / "state")]
    with output.open("w") as out:
        proc = subprocess.Popen([*CMD, str(inbox), str(outbox), "--workers", "1", "--settle", "0.3", "--rescan", "1",
                                 *state], stdout=out, stderr=subprocess.STDOUT)
    said = lambda: output.read_text(encoding="utf-8", errors="replace")  # noqa: E731
    try:
        _wait_for(lambda: "开始监视" in said(), "start")
        filler = _fill(small_disk)
        copy_case(FILING_EXAMPLE, inbox / "李建华")
        inputs = content_counts(inbox)
        _wait_for(lambda: "磁盘空间不足" in said(), "disk full message")
        time.sleep(3)  # several retries while the disk stays full
        assert str(outbox) in said()  # where
        assert said().count("磁盘空间不足") == 1  # said once, not at every retry
        assert content_counts(inbox) == inputs  # the input stays where it was
        assert not (tmp_path / "rejected").exists() or not any((tmp_path / "rejected").iterdir())
        assert proc.poll() is None  # paused, not dead
        filler.unlink()
        _wait_for(lambda: packages(outbox) == [FILING_NO] and content_counts(inbox) == {}, "publish after freeing")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    assert content_counts(tmp_path / "processed") == inputs
    assert not (tmp_path / "rejected").exists() or not any((tmp_path / "rejected").rglob("*"))
    assert not (outbox / "_历史版本").exists()
    assert_packages_verify(outbox)
    assert os.listdir(outbox / ".staging") == []
