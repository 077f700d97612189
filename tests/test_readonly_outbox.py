"""A read-only outbox (a share mounted without write rights, a folder the clerk may only read): every command that
writes there says 没有写入权限 and names the folder, exits 8, rejects nothing and leaves its inputs where they were
(issue 22; exit 10 before, with 程序内部错误).

Real permissions: the outbox is made read-only with chmod; as root, the commands run without the capability that
lets root write anywhere (setpriv), so that the kernel refuses them as it refuses a clerk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kunnan_docs.errors import ExitCode

from .conftest import FILING_EXAMPLE
from .inbox_kit import content_counts, copy_case

FILING_NO = "CD510108-2019-0037"
SIGNED_SCAN = FILING_EXAMPLE / "scans" / "签章-附件3-入户调查表.pdf"


def _as_a_clerk() -> list[str]:
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("root without setpriv: cannot drop the right to write into read-only folders")
    return ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_as_a_clerk(), sys.executable, "-m", "kunnan_docs", *args], capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Path]:
    """An outbox holding one package, then made read-only (and writable again for the clean-up)."""
    folder = tmp_path / "outbox"
    built = run("build", str(FILING_EXAMPLE / "case.json"), "-o", str(folder))
    assert built.returncode == ExitCode.OK, built.stdout + built.stderr
    before = content_counts(folder, skip_notes=False)
    modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")] if p.is_dir()}
    for path in modes:
        path.chmod(0o555)
    yield folder
    for path, mode in modes.items():
        path.chmod(mode)
    assert content_counts(folder, skip_notes=False) == before  # nothing written, nothing lost


def _refused(result: subprocess.CompletedProcess[str], outbox: Path) -> None:
    assert result.returncode == ExitCode.WRITE_FAILED, result.stdout + result.stderr
    assert f"没有写入权限:发件夹 {outbox}" in result.stderr, result.stderr
    assert "内部错误" not in result.stderr and "Traceback" not in result.stderr


def test_build_into_a_read_only_outbox(outbox: Path, tmp_path: Path) -> None:
    case = shutil.copytree(FILING_EXAMPLE, tmp_path / "case")
    _refused(run("build", str(case / "case.json"), "-o", str(outbox), "--force"), outbox)


def test_rebuild_of_a_read_only_outbox(outbox: Path) -> None:
    _refused(run("rebuild", "-o", str(outbox), "--force"), outbox)


def test_scan_in_into_a_read_only_outbox(outbox: Path, tmp_path: Path) -> None:
    scans = tmp_path / "扫描"
    scans.mkdir()
    scan = shutil.copy(SIGNED_SCAN, scans / "scan0001.pdf")
    before = content_counts(scans)
    _refused(run("scan-in", str(scan), "-o", str(outbox)), outbox)
    assert content_counts(scans) == before and Path(scan).is_file()  # the scan stays where it was


@pytest.mark.parametrize("state", ["in the outbox", "elsewhere"])
def test_watch_once_into_a_read_only_outbox(outbox: Path, tmp_path: Path, state: str) -> None:
    """The ledger in the outbox: refused as the watcher starts; elsewhere: the watcher starts, and the build's write
    into the outbox is refused."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    copy_case(FILING_EXAMPLE, inbox / "李建华", {"union": "另一个单位工会"})  # new content: to be built, not filed
    inputs = content_counts(inbox)
    where = [] if state == "in the outbox" else ["--state", str(tmp_path / "state")]
    result = run("watch", str(inbox), str(outbox), "--once", "--settle", "0.3", "--rescan", "1", "--workers", "1",
                 *where)
    _refused(result, outbox)
    assert content_counts(inbox) == inputs
