"""One writer per outbox (issue 22): several real processes write into one outbox at once — `build`s, watchers on
two inboxes — and none deletes another's staging, none loses a version, every package verifies, every case
published by a watcher has its ledger row."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from kunnan_docs.core import idcard
from kunnan_docs.errors import ExitCode
from kunnan_docs.inbox.ledger import Ledger
from kunnan_docs.package.layout import HISTORY, STAGING
from kunnan_docs.package.lock import private_staging
from kunnan_docs.package.publish import recover

from .conftest import FILING_EXAMPLE
from .inbox_kit import CMD, assert_packages_verify, copy_case, packages

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
    """8 rounds (before the fix, 9 rounds in 10 failed) of two `build` processes started together on one outbox, each publishing the same two archive
    numbers: no false 附件不存在, no exit 10, every package verifies, and every version is kept."""
    other = another_family(tmp_path / "cases" / "other", 501)
    cases = [str(FILING_EXAMPLE / "case.json"), str(other)]
    outbox = tmp_path / "outbox"
    rounds = 8
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
        (outbox / STAGING / "123-dead.lock").touch()  # a writer killed between its lock and its folder
        assert recover(outbox) == []
        assert (staging / ".input" / "case.json").is_file()
    assert list((outbox / STAGING).iterdir()) == []


def test_two_watchers_on_two_inboxes_sharing_an_outbox_record_every_case(tmp_path: Path) -> None:
    """Two real watchers, two inboxes whose entries have the same names (each clerk calls her folders 家庭01 …), one
    outbox and so one ledger: 24 published, 24 ledger rows (before the fix: 50 published, 33 rows), each inbox's
    unclaimed entry kept."""
    per_inbox = 12
    for w in (0, 1):
        inbox = tmp_path / f"inbox{w}"
        for i in range(per_inbox):
            another_family(inbox / f"家庭{i:02d}", 100 * w + i + 1)
        (inbox / "说明.txt").write_text("not a case", encoding="utf-8")
    outbox = tmp_path / "outbox"
    procs = [subprocess.Popen([*CMD, str(tmp_path / f"inbox{w}"), str(outbox), "--workers", "1", "--once",
                               "--settle", "0.3", "--rescan", "1", "--processed", str(tmp_path / f"processed{w}"),
                               "--rejected", str(tmp_path / f"rejected{w}")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for w in (0, 1)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [ExitCode.AWAITING_SIGNATURE] * 2, outputs
    assert len(packages(outbox)) == 2 * per_inbox
    db = sqlite3.connect(outbox / ".kunnan" / "ledger.sqlite")
    try:
        rows = db.execute("SELECT archive_no, status FROM cases").fetchall()
    finally:
        db.close()
    assert sorted(a for a, _ in rows) == packages(outbox)
    assert {s for _, s in rows} == {"awaiting_signature"}
    shown = subprocess.run([sys.executable, "-m", "kunnan_docs", "status", "--outbox", str(outbox)],
                           capture_output=True, text=True, check=True).stdout
    assert "等待中:0 份" in shown and "成卷中:0 份" in shown and "无法处理的项目:2 个" in shown, shown


OLD_LEDGER = """
CREATE TABLE cases (id INTEGER PRIMARY KEY, source TEXT NOT NULL, content_hash TEXT, archive_no TEXT, family TEXT,
    status TEXT NOT NULL, reason TEXT, outputs TEXT, first_seen TEXT NOT NULL, updated TEXT NOT NULL);
CREATE INDEX cases_source ON cases(source);
CREATE TABLE moves (case_id INTEGER NOT NULL, src TEXT NOT NULL, dst TEXT NOT NULL, final_status TEXT NOT NULL,
    note TEXT);
CREATE TABLE unclaimed (entry TEXT PRIMARY KEY, reason TEXT NOT NULL, seen TEXT NOT NULL);
INSERT INTO cases VALUES (1, '家庭01/case.json', NULL, NULL, NULL, 'waiting', '等待附件:a.jpg', '[]', 't', 't');
INSERT INTO moves VALUES (1, 'x', 'y', 'rejected', NULL);
INSERT INTO unclaimed VALUES ('说明.txt', '不是案卷文件', 't');
"""


def test_a_ledger_from_before_inboxes_is_taken_over_by_its_watcher(tmp_path: Path) -> None:
    """A ledger written by the single watcher of earlier versions: its open case and pending filing are this
    watcher's, another inbox's watcher sees neither, and the list of unclaimed entries is made again."""
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.executescript(OLD_LEDGER)
    db.close()
    mine, other, reader = Ledger(path, tmp_path / "inbox0"), Ledger(path, tmp_path / "inbox1"), Ledger(path)
    try:
        assert mine.open_row("家庭01/case.json") is not None and list(mine.pending()) == [1]
        assert other.open_row("家庭01/case.json") is None and other.pending() == {}
        mine.set_unclaimed({"说明.txt": "不是案卷文件"})
        other.set_unclaimed({"说明.txt": "不是案卷文件"})
        assert len(reader.unclaimed()) == 2 and len(mine.unclaimed()) == 1
    finally:
        for ledger in (mine, other, reader):
            ledger.close()


def test_the_publish_lock_is_reentrant_and_exclusive(tmp_path: Path) -> None:
    """A check run under `publishing` may itself publish (nested in one thread); another thread waits its turn.
    In a child process with a time limit: a lock that deadlocked on itself would hang the test for 10 minutes."""
    script = f"""
import threading, time
from pathlib import Path
from kunnan_docs.package.lock import publishing
outbox, order = Path({str(tmp_path)!r}), []
def other():
    with publishing(outbox, "CD-2"):
        order.append("other")
with publishing(outbox, "CD-1"):
    with publishing(outbox, "CD-1"):
        order.append("nested")
    thread = threading.Thread(target=other)
    thread.start()
    time.sleep(0.5)
    order.append("first")
thread.join()
print(order)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "['nested', 'first', 'other']"


def _open_ledger(barrier: Any, path: Path, inbox: Path, errors: Any) -> None:
    barrier.wait()
    try:
        Ledger(path, inbox).close()
    except Exception as exc:  # reported to the test, which names it
        errors.put(f"{type(exc).__name__}: {exc}")


def test_watchers_starting_together_open_a_new_ledger(tmp_path: Path) -> None:
    """Four processes open one new ledger at the same instant, 120 times: none fails. SQLite refuses a second switch
    to WAL at once (database is locked) without waiting as for other statements; before, 2 rounds in 50 failed."""
    ctx = multiprocessing.get_context("fork")  # forked: the test's own imports, no start-up cost per process
    failed = []
    for n in range(120):
        folder = tmp_path / str(n)
        folder.mkdir()
        barrier, errors = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_open_ledger, args=(barrier, folder / "ledger.sqlite", folder / f"inbox{i}", errors))
                 for i in range(4)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=120)
        failed += [errors.get() for _ in range(errors.qsize())]
        errors.close()
        errors.join_thread()
    assert failed == []
