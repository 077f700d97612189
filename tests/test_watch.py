"""The watched inbox with real watchdog observers, real folders and real subprocesses (no mocks).

Each test ends by asserting the whole state: what is left in the inbox, processed, rejected and outbox.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from kunnan_docs.package.verify import verify_folder

from .conftest import EXIT_EXAMPLE, FILING_EXAMPLE

EXIT_NO, FILING_NO = "CD510104-2018-0112", "CD510108-2019-0037"
CMD = [sys.executable, "-m", "kunnan_docs", "watch"]


@pytest.fixture
def areas(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / name for name in ("inbox", "outbox", "processed", "rejected")}
    paths["inbox"].mkdir()
    return paths


def args(areas: dict[str, Path], *extra: str) -> list[str]:
    return [*CMD, str(areas["inbox"]), str(areas["outbox"]), "--workers", "2", *extra]


def run_once(areas: dict[str, Path], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args(areas, "--once", "--settle", "0.3", *extra), capture_output=True, text=True,
                          timeout=120, check=False)


def start(areas: dict[str, Path], *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(args(areas, "--settle", "0.8", "--rescan", "1", *extra), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    wait_for(lambda: "开始监视" in log_text(areas), f"watcher start: {proc.poll()}")
    return proc


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)  # drains and closes the output pipe (an unclosed pipe is a ResourceWarning)
    return proc.returncode


def log_text(areas: dict[str, Path]) -> str:
    log = areas["outbox"] / ".kunnan" / "watch.log"
    return log.read_text(encoding="utf-8") if log.exists() else ""


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def listing(folder: Path) -> list[str]:
    """Files below a folder, relative, without the watcher's own state and lock files. Read while the watcher moves
    folders away: one that is gone mid-walk is skipped (os.walk), not a FileNotFoundError as from rglob."""
    found = []
    for root, _, names in os.walk(folder):
        for name in names:
            rel = (Path(root) / name).relative_to(folder)
            if not any(part.startswith(".") for part in rel.parts):
                found.append(rel.as_posix())
    return sorted(found)


def packages(areas: dict[str, Path]) -> list[str]:
    outbox = areas["outbox"]
    return sorted(p.name for p in outbox.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))) \
        if outbox.exists() else []


def drop_folder(areas: dict[str, Path], example: Path, name: str, edits: dict | None = None) -> Path:
    target = areas["inbox"] / name
    staging = areas["inbox"].parent / f"copy-{name}"
    shutil.copytree(example, staging)
    if edits:
        case = json.loads((staging / "case.json").read_text(encoding="utf-8"))
        for pointer, value in edits.items():
            node = case
            parts = pointer.strip("/").split("/")
            for part in parts[:-1]:
                node = node[part]
            node[parts[-1]] = value
        (staging / "case.json").write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    os.rename(staging, target)  # appears at once, like a move within the share
    return target


def assert_no_half_package(areas: dict[str, Path]) -> None:
    for name in packages(areas):
        assert verify_folder(areas["outbox"] / name) == [], name


def test_once_builds_good_cases_and_rejects_bad_one(areas) -> None:
    drop_folder(areas, EXIT_EXAMPLE, "王淑芬")
    shutil.copytree(FILING_EXAMPLE / "scans", areas["inbox"] / "scans")
    shutil.copy(FILING_EXAMPLE / "case.json", areas["inbox"] / "李建华.json")  # loose case, scans beside it
    drop_folder(areas, FILING_EXAMPLE, "坏案卷", {"/worker/gender": "女", "/archive_no": "CD-BAD-1"})
    result = run_once(areas)
    assert result.returncode == 1, result.stderr  # one rejected
    assert packages(areas) == [EXIT_NO, FILING_NO]
    assert_no_half_package(areas)
    assert listing(areas["inbox"]) == []
    processed = listing(areas["processed"])
    assert any(p.endswith("王淑芬/case.json") for p in processed)
    assert any(p.endswith("李建华/李建华.json") for p in processed)
    assert sum("/scans/" in p for p in processed) == 11 + 6 + 10 + 1  # scans and signed forms of both cases
    rejected = listing(areas["rejected"])
    assert any(p.endswith("坏案卷/case.json") for p in rejected)
    reason = next(areas["rejected"].rglob("退回原因.txt")).read_text(encoding="utf-8-sig")
    assert "【职工本人/性别】" in reason and "如何重新提交" in reason
    assert "ID-SEX" not in reason and "/worker" not in reason  # codes and pointers are for the log
    assert "CD-BAD-1 退回:1 个问题(ID-SEX)" in log_text(areas)
    log = log_text(areas)
    assert "510108197205141236" not in log and "510104196811021242" not in log  # no ID numbers in the log
    # what the clerk sees in the terminal is Chinese, line by line: nothing the file-event library says to itself
    assert result.stderr and [line for line in result.stderr.splitlines()
                              if not any("\u4e00" <= ch <= "\u9fff" for ch in line)] == []


def test_status_command_reports_the_day(areas) -> None:
    drop_folder(areas, FILING_EXAMPLE, "a")
    assert run_once(areas).returncode == 0
    out = subprocess.run([sys.executable, "-m", "kunnan_docs", "status", "--outbox", str(areas["outbox"])],
                         capture_output=True, text=True, check=True).stdout
    assert "今天发布:1 份" in out and FILING_NO in out and "已退回:0 份" in out


def _slow_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((1600, 2200), 80).convert("RGB").save(buf, "JPEG", quality=95, dpi=(200, 200))
    return buf.getvalue()


def test_partial_write_is_not_picked_up(areas) -> None:
    proc = start(areas)
    try:
        staging = areas["inbox"].parent / "staging"
        shutil.copytree(FILING_EXAMPLE, staging)
        case = json.loads((staging / "case.json").read_text(encoding="utf-8"))
        case["attachments"].append({"item": "supporting_proof", "path": "scans/big.jpg"})
        (staging / "case.json").write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
        folder = areas["inbox"] / "李建华"
        os.rename(staging, folder)
        data = _slow_jpeg()
        with (folder / "scans" / "big.jpg").open("wb") as f:  # a slow copy over the network
            for i in range(6):
                f.write(data[i * len(data) // 6:(i + 1) * len(data) // 6])
                f.flush()
                time.sleep(0.4)
                assert packages(areas) == [], "picked up while still being written"
        wait_for(lambda: packages(areas) == [FILING_NO] and listing(areas["inbox"]) == [], "package")
        manifest = (areas["outbox"] / FILING_NO / "manifest-sha256.txt").read_text(encoding="utf-8")
        import hashlib

        assert f"{hashlib.sha256(data).hexdigest()}  input/scans/big.jpg" in manifest
    finally:
        assert stop(proc) == 0
    assert_no_half_package(areas)
    assert listing(areas["rejected"]) == []


def test_attachments_arriving_after_the_json(areas) -> None:
    proc = start(areas)
    try:
        folder = areas["inbox"] / "李建华"
        folder.mkdir()
        shutil.copy(FILING_EXAMPLE / "case.json", folder / "case.json")
        wait_for(lambda: "等待附件" in log_text(areas), "waiting status")
        status = subprocess.run([sys.executable, "-m", "kunnan_docs", "status", "--outbox", str(areas["outbox"])],
                                capture_output=True, text=True, check=True).stdout
        assert "等待中:1 份" in status and "等待附件" in status
        assert packages(areas) == []
        shutil.copytree(FILING_EXAMPLE / "scans", areas["inbox"].parent / "scans-copy")
        os.rename(areas["inbox"].parent / "scans-copy", folder / "scans")
        wait_for(lambda: packages(areas) == [FILING_NO] and listing(areas["inbox"]) == [], "package")
    finally:
        assert stop(proc) == 0
    assert listing(areas["rejected"]) == [] and len(listing(areas["processed"])) == 1 + 10 + 1  # case, scans, signed form


def test_missing_attachment_is_rejected_after_timeout(areas) -> None:
    proc = start(areas, "--timeout", "2")
    try:
        folder = areas["inbox"] / "李建华"
        folder.mkdir()
        shutil.copy(FILING_EXAMPLE / "case.json", folder / "case.json")
        wait_for(lambda: listing(areas["rejected"]) != [], "rejection")
    finally:
        assert stop(proc) == 0
    reason = next(areas["rejected"].rglob("退回原因.txt")).read_text(encoding="utf-8-sig")
    assert "scans/01-身份证复印件.jpg" in reason and "仍未放入" in reason
    assert listing(areas["inbox"]) == [] and packages(areas) == []


def test_same_content_twice_is_not_rebuilt(areas) -> None:
    drop_folder(areas, FILING_EXAMPLE, "第一次")
    assert run_once(areas).returncode == 0
    drop_folder(areas, FILING_EXAMPLE, "第二次")
    result = run_once(areas)
    assert result.returncode == 0
    assert "重复提交" in log_text(areas)
    assert not (areas["outbox"] / "_历史版本").exists()  # nothing was rebuilt
    note = next(areas["processed"].rglob("处理说明.txt")).read_text(encoding="utf-8-sig")
    assert "完全相同" in note
    assert listing(areas["inbox"]) == [] and packages(areas) == [FILING_NO]


def test_corrected_resubmission_rebuilds_and_keeps_previous(areas) -> None:
    drop_folder(areas, FILING_EXAMPLE, "第一次")
    assert run_once(areas).returncode == 0
    drop_folder(areas, FILING_EXAMPLE, "改正后", {"/contact_person/phone": "028-83329999"})  # not on a signed form
    assert run_once(areas).returncode == 0
    assert (areas["outbox"] / "_历史版本" / FILING_NO / "第1版").is_dir()
    assert_no_half_package(areas)


def test_archive_number_of_another_family_is_a_conflict(areas) -> None:
    drop_folder(areas, EXIT_EXAMPLE, "王淑芬")
    assert run_once(areas).returncode == 0
    drop_folder(areas, FILING_EXAMPLE, "李建华", {"/archive_no": EXIT_NO})
    assert run_once(areas).returncode == 1
    reason = next(areas["rejected"].rglob("退回原因.txt")).read_text(encoding="utf-8-sig")
    assert f"档案号 {EXIT_NO} 已是另一户(身份证号 510104********1242)的档案" in reason
    assert packages(areas) == [EXIT_NO] and listing(areas["inbox"]) == []


EXTRA_PAGES = 16  # each adds about 0.1 s to a build on the idle machine: seconds of building after 开始成卷
HEAVY_FILES = 18 + EXTRA_PAGES  # case file, 11 scans, 6 signed forms, the extra pages


def _heavy_case(areas: dict[str, Path]) -> None:
    """The exit example with extra scanned pages, so that a build takes long enough to be interrupted."""
    staging = areas["inbox"].parent / "heavy"
    shutil.copytree(EXIT_EXAMPLE, staging)
    case = json.loads((staging / "case.json").read_text(encoding="utf-8"))
    page = _slow_jpeg()
    for i in range(EXTRA_PAGES):
        (staging / "scans" / f"extra-{i}.jpg").write_bytes(page)
        case["attachments"].append({"item": "supporting_proof", "path": f"scans/extra-{i}.jpg"})
    (staging / "case.json").write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    os.rename(staging, areas["inbox"] / "王淑芬")


@pytest.mark.parametrize("delay", [0.05, 0.6])
def test_kill_9_mid_build_then_restart(areas, delay) -> None:
    _heavy_case(areas)
    proc = subprocess.Popen(args(areas, "--settle", "0.2"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: "开始成卷" in log_text(areas), "build start")
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    # right after the kill: the case is whole in the inbox or filed away with its package; no half package
    in_inbox = listing(areas["inbox"])
    assert len(in_inbox) in (0, HEAVY_FILES)
    if not in_inbox:
        assert packages(areas) == [EXIT_NO]
    assert_no_half_package(areas)
    result = run_once(areas)
    assert result.returncode == 0, result.stderr
    assert listing(areas["inbox"]) == [] and packages(areas) == [EXIT_NO]
    assert len(listing(areas["processed"])) == HEAVY_FILES and listing(areas["rejected"]) == []
    assert not any((areas["outbox"] / ".staging").iterdir())
    assert_no_half_package(areas)


IN_ACCESS, IN_CLOSE_NOWRITE, IN_OPEN = 0x1, 0x10, 0x20  # <sys/inotify.h>


def inotify_masks(pid: int) -> list[int]:
    """The event mask of every inotify watch the process holds, as the kernel lists them in /proc."""
    masks = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) != "anon_inode:inotify":
                continue
            info = Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text()
        except OSError:
            continue
        masks += [int(field[5:], 16) for line in info.splitlines() if line.startswith("inotify ")
                  for field in line.split() if field.startswith("mask:")]
    return masks


@pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="inotify watches are listed in Linux's /proc")
def test_the_kernel_reports_changes_only_not_reads(areas) -> None:
    """Reads in the inbox (the watcher's own: it hashes and copies every case) are not even queued by the kernel. At
    10,000 cases they overflowed inotify's queue, and watchdog answers an overflow by walking the whole inbox."""
    waiting = drop_folder(areas, FILING_EXAMPLE, "waiting")
    min((waiting / "scans").iterdir()).unlink()  # an attachment still to come: the case's folders stay watched
    proc = start(areas)
    try:
        wait_for(lambda: len(inotify_masks(proc.pid)) >= 3, "watches on the inbox and the case's folders")
        masks = inotify_masks(proc.pid)
    finally:
        stop(proc)
    assert [hex(m) for m in masks if m & (IN_ACCESS | IN_OPEN | IN_CLOSE_NOWRITE)] == []


def test_polling_mode(areas) -> None:
    proc = start(areas, "--poll")
    try:
        drop_folder(areas, FILING_EXAMPLE, "李建华")
        wait_for(lambda: packages(areas) == [FILING_NO] and listing(areas["inbox"]) == [], "package")
    finally:
        assert stop(proc) == 0
    assert "轮询模式" in log_text(areas)


def test_second_watcher_on_the_same_inbox_is_refused(areas) -> None:
    proc = start(areas)
    try:
        second = run_once(areas)
        assert second.returncode == 2 and "另一个监视程序" in second.stderr
    finally:
        assert stop(proc) == 0


def test_outbox_inside_inbox_is_refused(areas) -> None:
    result = subprocess.run([*CMD, str(areas["inbox"]), str(areas["inbox"] / "out"), "--once"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "在收件夹" in result.stderr


def test_sigterm_finishes_the_case_in_progress(areas) -> None:
    proc = start(areas)
    _heavy_case(areas)
    wait_for(lambda: "开始成卷" in log_text(areas), "build start")
    assert stop(proc) == 0
    assert packages(areas) == [EXIT_NO] and listing(areas["inbox"]) == []
    assert "收到停止信号" in log_text(areas)
