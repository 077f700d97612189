"""One writer per outbox (issue 22): several real processes write into one outbox at once — `build`s, watchers on
two inboxes — and none deletes another's staging, none loses a version, every package verifies, every case
published by a watcher has its ledger row."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kunnan_docs.core import idcard
from kunnan_docs.errors import ExitCode
from kunnan_docs.package.layout import HISTORY, STAGING
from kunnan_docs.package.lock import private_staging
from kunnan_docs.package.publish import recover

from .conftest import FILING_EXAMPLE
from .inbox_kit import assert_packages_verify, copy_case, packages

FILING_NO = "CD510108-2019-0037"
BUILD = [sys.executable, "-m", "kunnan_docs", "build"]


def another_family(target: Path, n: int) -> Path:
    """The filing example as another family's case folder: its own archive number and ID number (same birth date,
    same sex), without the example's signed scan (whose codes name the example's archive number)."""
    first17 = f"5101081972051{n:03d}"[:16] + "3"  # 17th digit odd: 男, like the example's worker
    case = json.loads((FILING_EXAMPLE / "case.json").read_text(encoding="utf-8"))
    signed = [a for a in case["attachments"] if a["path"].startswith("scans/签章-")]
    folder = copy_case(FILING_EXAMPLE, target, {
        "archive_no": f"CD510108-2019-{n:04d}", "/worker/id_number": first17 + idcard.check_digit(first17),
        "attachments": [a for a in case["attachments"] if a not in signed]})
    for a in signed:
        (folder / a["path"]).unlink()
    return folder / "case.json"


def test_two_builds_into_one_outbox_never_delete_each_others_staging(tmp_path: Path) -> None:
    """20 rounds of two `build` processes started together on one outbox, each publishing the same two archive
    numbers: no false 附件不存在, no exit 10, every package verifies, and every version is kept."""
    other = another_family(tmp_path / "cases" / "other", 501)
    cases = [str(FILING_EXAMPLE / "case.json"), str(other)]
    outbox = tmp_path / "outbox"
    rounds = 20
    for n in range(rounds):
        procs = [subprocess.Popen([*BUILD, *order, "-o", str(outbox), "--force", "--workers", "1"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for order in (cases, cases[::-1])]
        outputs = [p.communicate(timeout=300)[0] for p in procs]
        for proc, output in zip(procs, outputs, strict=True):
            assert proc.returncode == ExitCode.AWAITING_SIGNATURE, (n, output)  # the other's form is not signed
            assert "不存在" not in output and "内部错误" not in output, (n, output)
    assert packages(outbox) == [FILING_NO, "CD510108-2019-0501"]
    assert_packages_verify(outbox)
    for archive_no in packages(outbox):  # 2 builds a round: one is current, the others kept as history
        assert len(list((outbox / HISTORY / archive_no).iterdir())) == 2 * rounds - 1, archive_no
    assert [p.name for p in (outbox / STAGING).iterdir()] == []


def test_recover_leaves_a_live_writers_staging_alone(tmp_path: Path) -> None:
    """A writer's staging folder, half written: another process's recover() (here: this one's, through another lock
    handle) does not touch it while its writer lives, and clears it once the writer is gone."""
    outbox = tmp_path / "outbox"
    with private_staging(outbox) as staging:
        (staging / ".input").mkdir()
        (staging / ".input" / "case.json").write_text("{}", encoding="utf-8")
        assert recover(outbox) == []
        assert (staging / ".input" / "case.json").is_file()
    assert list((outbox / STAGING).iterdir()) == []
