"""A full disk (and a refused write) on the outbox, the ledger, processed/ or rejected/ (issue 10).

Expected: the message says 磁盘空间不足 (or 没有写入权限) and where; the input stays in the inbox; the watcher
pauses, retries, says so once, and after space is freed files the case once — one case, one outcome.

Two ways to fill a disk, same checks: a real 4 MB tmpfs filled to the last byte (needs root to mount; skipped
elsewhere), and the documented injection KUNNAN_WRITE_FAULT (kunnan_docs/errors.py), which makes the write calls
below a folder raise the operating system's own OSError while a switch file exists — so these checks run
everywhere, root or not.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import FILING_EXAMPLE
from .inbox_kit import CMD, assert_packages_verify, content_counts, copy_case, packages, reason_files

FILING_NO = "CD510108-2019-0037"
MESSAGES = {"ENOSPC": "磁盘空间不足", "EACCES": "没有写入权限"}


@dataclass
class Disk:
    root: Path  # the areas under test are put below it
    fill: Callable[[], None]
    free: Callable[[], None]
    env: dict[str, str] = field(default_factory=dict)


def _tmpfs(tmp_path: Path) -> Iterator[Disk]:
    root = tmp_path / "disk"
    root.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(root)], capture_output=True,
                             check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here (needs root): {mounted.stderr.decode().strip()}")
    filler = root / "filler"

    def fill() -> None:
        with filler.open("wb", buffering=0) as f:  # unbuffered: nothing left to fail when it is closed
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass

    try:
        yield Disk(root, fill, filler.unlink)
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def _injected(tmp_path: Path, error: str) -> Iterator[Disk]:
    root, switch = tmp_path / "disk", tmp_path / "disk-is-full"
    root.mkdir()
    yield Disk(root, switch.touch, switch.unlink,
               {"KUNNAN_WRITE_FAULT": f"{error}:{root}", "KUNNAN_WRITE_FAULT_WHILE": str(switch)})


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except FileNotFoundError:
            pass  # the watcher moved a folder while we were counting it: look again
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


# (how the disk is filled, the OS error, which areas live on it). A tmpfs cannot hold processed/ or rejected/:
# they must share the inbox's drive.
CASES = [
    ("tmpfs", "ENOSPC", "outbox+ledger"),
    ("tmpfs", "ENOSPC", "outbox"),
    ("tmpfs", "ENOSPC", "ledger"),
    ("injected", "ENOSPC", "outbox+ledger"),
    ("injected", "ENOSPC", "outbox"),
    ("injected", "ENOSPC", "ledger"),
    ("injected", "ENOSPC", "processed"),
    ("injected", "ENOSPC", "rejected"),
    ("injected", "EACCES", "outbox"),
    ("injected", "EACCES", "processed"),
]


@pytest.mark.parametrize(("kind", "error", "full"), CASES, ids=["-".join(c) for c in CASES])
def test_full_disk_pauses_keeps_the_input_and_files_it_once_after_space_is_freed(
        tmp_path: Path, kind: str, error: str, full: str) -> None:
    disks = _tmpfs(tmp_path) if kind == "tmpfs" else _injected(tmp_path, error)
    disk = next(disks)
    try:
        _check(tmp_path, disk, error, full)
    finally:
        disks.close()


def _check(tmp_path: Path, disk: Disk, error: str, full: str) -> None:
    on_disk = lambda area: disk.root / area if area in full.split("+") else tmp_path / area  # noqa: E731
    inbox, outbox, processed, rejected = tmp_path / "inbox", on_disk("outbox"), on_disk("processed"), \
        on_disk("rejected")
    state = [] if full == "outbox+ledger" else ["--state", str(on_disk("ledger"))]
    where = disk.root / ("outbox" if full == "outbox+ledger" else full)
    inbox.mkdir()
    output = tmp_path / "watch-output.txt"

    def start() -> subprocess.Popen[bytes]:
        with output.open("a") as out:
            return subprocess.Popen([*CMD, str(inbox), str(outbox), "--workers", "1", "--settle", "0.3", "--rescan",
                                     "1", "--processed", str(processed), "--rejected", str(rejected), *state],
                                    stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **disk.env})

    proc = start()
    said = lambda: output.read_text(encoding="utf-8", errors="replace")  # noqa: E731
    message = MESSAGES[error]
    try:
        _wait_for(lambda: "开始监视" in said(), "start")
        disk.fill()
        edits = {"/worker/gender": "女", "/archive_no": "CD-BAD-1"} if full == "rejected" else None
        copy_case(FILING_EXAMPLE, inbox / "李建华", edits)
        inputs = content_counts(inbox)
        _wait_for(lambda: message in said(), f"the message {message}")
        time.sleep(3)  # several retries while the disk stays full
        assert str(where) in said()  # where
        assert said().count(message) == 1  # said once, not at every retry
        assert content_counts(inbox) == inputs  # the input stays where it was
        assert content_counts(processed) == {} and content_counts(rejected) == {}
        assert proc.poll() is None  # paused, not dead
        if full == "outbox+ledger":  # stopped and started again while the disk is still full: starts and waits
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
            proc = start()
            _wait_for(lambda: said().count(message) == 2, "the message again after the restart")
            time.sleep(2)
            assert proc.poll() is None and content_counts(inbox) == inputs
        disk.free()
        _wait_for(lambda: content_counts(inbox) == {}, "filing after freeing")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    if full == "rejected":  # one outcome: refused once, with its reason, nothing published
        assert packages(outbox) == []
        assert content_counts(rejected) == inputs and content_counts(processed) == {}
        assert list(reason_files(rejected)) == ["李建华"]
        return
    assert packages(outbox) == [FILING_NO]
    assert content_counts(processed) == inputs
    assert content_counts(rejected) == {}
    assert not (outbox / "_历史版本").exists()  # published once
    assert_packages_verify(outbox)
    assert list((outbox / ".staging").iterdir()) == []


@pytest.mark.parametrize("kind", ["tmpfs", "injected"])
def test_a_refusal_on_a_full_disk_is_filed_once_with_its_reason(tmp_path: Path, kind: str) -> None:
    """An entry the watcher refuses while rejected/ cannot be written: no new rejected/<时间>-<名称>/ (with an empty
    reason file) at every retry — one folder, its reason written once space is back, nothing left to finish."""
    disks = _tmpfs(tmp_path) if kind == "tmpfs" else _injected(tmp_path, "ENOSPC")
    try:
        _check_refusal(tmp_path, next(disks), kind)
    finally:
        disks.close()


def _check_refusal(tmp_path: Path, disk: Disk, kind: str) -> None:
    base = disk.root if kind == "tmpfs" else tmp_path  # processed/ and rejected/ share the inbox's drive
    inbox, rejected, outbox = base / "inbox", disk.root / "rejected", tmp_path / "outbox"
    inbox.mkdir()
    rejected.mkdir(exist_ok=True)
    output = tmp_path / "watch-output.txt"
    with output.open("a") as out:
        proc = subprocess.Popen([*CMD, str(inbox), str(outbox), "--workers", "1", "--settle", "2", "--rescan", "1",
                                 "--processed", str(base / "processed"), "--rejected", str(rejected)],
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **disk.env})
    said = lambda: output.read_text(encoding="utf-8", errors="replace")  # noqa: E731
    try:
        _wait_for(lambda: "开始监视" in said(), "start")
        (inbox / "坏.json").write_text("这不是 JSON", encoding="utf-8")
        disk.fill()
        _wait_for(lambda: "磁盘空间不足" in said(), "the message")
        time.sleep(4)  # several retries while the disk stays full
        assert said().count("磁盘空间不足") == 1 and f"退回区 {rejected}" in said()
        assert len(list(rejected.iterdir())) <= 1  # the one journaled destination, if made before the disk failed
        assert (inbox / "坏.json").is_file()
        disk.free()
        _wait_for(lambda: not (inbox / "坏.json").exists(), "filing after freeing")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    [folder] = list(rejected.iterdir())
    assert sorted(p.name for p in folder.iterdir()) == ["坏.json", "退回原因.txt"]
    assert "不是有效的 JSON" in (folder / "退回原因.txt").read_text(encoding="utf-8-sig")
    db = sqlite3.connect(outbox / ".kunnan" / "ledger.sqlite")
    try:
        assert db.execute("SELECT COUNT(*) FROM moves").fetchone() == (0,)  # nothing left to finish on a restart
        assert db.execute("SELECT status FROM cases").fetchall() == [("rejected",)]
    finally:
        db.close()
