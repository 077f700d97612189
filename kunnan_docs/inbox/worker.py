"""The worker processes: one case each at a time, through the one pipeline; they die with the watcher.

A worker ignores SIGINT and SIGTERM (the watcher decides when to stop and lets a build in progress
finish) and, on Linux, is killed by the kernel when the watcher dies, at any moment: the death signal is
set first thing and the parent checked afterwards, so a watcher killed during start-up leaves no worker
behind, nor multiprocessing's helper, which ends once the last worker holding its pipe is gone.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kunnan_docs.core.labels import Outcome
from kunnan_docs.inbox.faults import ENVIRONMENT_ERRORS, fault_point


@dataclass
class WorkResult:
    """What a worker sends back: an outcome, or a fault that no case is to blame for (input kept)."""

    outcome: Outcome | None = None
    folder: str | None = None
    label: str = ""
    messages: list[str] = field(default_factory=list)  # for people (the ledger, 退回原因.txt): no codes
    codes: list[str] = field(default_factory=list)  # the findings' codes, for the log
    input_digest: str = ""
    fault: str | None = None  # "config" (broken installation) or "environment" (disk full, permissions)
    error: BaseException | None = None


def init_worker(parent: int) -> None:
    """Die with the watcher; leave stopping to it; load what every build needs before the first case."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the watcher died before the line above: nobody to work for
            os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # held while it was born
    from kunnan_docs.forms.fonts import register
    from kunnan_docs.pipeline import process_case  # noqa: F401 - imported for its import cost, paid here once

    register()


def build_case(case_file: str, raw: bytes, outbox: str, calendar: str | None) -> WorkResult:
    """Validate, build and publish from exactly `raw` (the bytes the watcher hashed) and the attachments."""
    from kunnan_docs.core.workcal import WorkCalendar
    from kunnan_docs.errors import ConfigError
    from kunnan_docs.pipeline import process_case

    fault_point("worker-start")
    try:
        result = process_case(Path(case_file), Path(outbox), WorkCalendar(calendar), data=raw)
    except ConfigError as exc:
        return WorkResult(fault="config", messages=[str(exc)])
    except ENVIRONMENT_ERRORS as exc:
        return WorkResult(fault="environment", error=_plain(exc, outbox))
    except Exception as exc:
        return WorkResult(Outcome.REJECTED, messages=[
            f"程序内部错误({type(exc).__name__})。请联系技术支持;问题解决后把文件放回收件夹即可重新处理。"])
    fault_point("worker-published")
    return WorkResult(result.outcome, str(result.folder) if result.folder else None, result.label,
                      result.messages, [f.code for f in result.findings], result.input_digest)


def _plain(exc: BaseException, outbox: str) -> BaseException:
    """An OSError that survives pickling with its errno and file name (subclasses may not); a failed write
    names no file, and a worker writes only in the outbox."""
    if isinstance(exc, OSError):
        return OSError(exc.errno, exc.strerror, exc.filename or outbox)
    return exc
