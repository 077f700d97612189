"""Faults: deterministic crash injection for tests, and OS errors told to a clerk in Chinese.

KUNNAN_FAULT_AT=<step> makes the process that reaches that journaled step SIGKILL itself there (README
"收件夹", fault injection); with KUNNAN_FAULT_ONCE=<file> only the first process to get there does,
so that a restarted worker or watcher then runs normally. With KUNNAN_FAULT_HOLD=<file> it waits there
instead until that file exists (a build held in the middle, to test what must wait for it). Steps are
listed in STEPS.
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import time
from pathlib import Path

STEPS = (
    "pool-started",  # watcher: worker processes started, not yet ready
    "taken",  # watcher: the ledger says 成卷中, the case is not yet handed to a worker
    "worker-start",  # worker: about to validate, build and publish
    "worker-published",  # worker: package published, result not yet returned
    "collected",  # watcher: result received, nothing filed yet
    "journaled",  # watcher: the filing (note, moves) journaled in the ledger, none of it done
    "note-written",  # watcher: the reason/note file written, no input moved
    "moved",  # watcher: the first move done, journal not cleared
    "filed",  # watcher: moves done and journal cleared
)


def fault_point(step: str) -> None:
    """SIGKILL (or hold) this process here if KUNNAN_FAULT_AT names this step (tests only; see module docstring)."""
    if os.environ.get("KUNNAN_FAULT_AT") != step:
        return
    marker = os.environ.get("KUNNAN_FAULT_ONCE")
    if marker:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    if hold := os.environ.get("KUNNAN_FAULT_HOLD"):
        while not os.path.exists(hold):
            time.sleep(0.05)
        return
    os.kill(os.getpid(), signal.SIGKILL)


ENVIRONMENT_ERRORS = (OSError, sqlite3.OperationalError)


# What a clerk reads for an operating system's refusal to write.
WRITE_REFUSALS = {errno.ENOSPC: "磁盘空间不足", errno.EDQUOT: "磁盘配额已用完", errno.EACCES: "没有写入权限",
                  errno.EPERM: "没有写入权限", errno.EROFS: "磁盘是只读的"}


def write_failure(exc: BaseException, areas: dict[str, Path]) -> str | None:
    """What the operating system refused and where (the area's name and folder), e.g. 没有写入权限:发件夹 /srv/outbox
    写不进去(Permission denied); None when `exc` is no refused write."""
    number = getattr(exc, "errno", None)
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError):
        number = errno.ENOSPC if "full" in text else errno.EACCES if "readonly" in text else None
    what = WRITE_REFUSALS.get(number or 0)
    return _located(what, exc, areas) if what else None


def describe(exc: BaseException, areas: dict[str, Path]) -> str:
    """A write or read failure as the watcher's message: what went wrong, where, and that the input is kept."""
    what = write_failure(exc, areas) or _located("读写文件失败", exc, areas)
    return f"{what}。案卷仍留在收件夹中,没有退回;请腾出空间或修正权限,监视程序会定时重试。"


def _located(what: str, exc: BaseException, areas: dict[str, Path]) -> str:
    filename = getattr(exc, "filename", None)
    if isinstance(exc, sqlite3.Error):
        filename = areas.get("状态文件夹")  # the ledger lives there
    where = _area_of(Path(filename), areas) if filename else "磁盘"
    return f"{what}:{where}写不进去({getattr(exc, 'strerror', None) or exc})"


def _area_of(path: Path, areas: dict[str, Path]) -> str:
    for label, area in sorted(areas.items(), key=lambda item: -len(item[1].parts)):  # the innermost first
        if path == area or area in path.parents:
            return f"{label} {area}"
    return str(path)
