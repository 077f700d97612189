"""Only one watcher per inbox: an OS lock (filelock) on a file in it, released even if the process is killed."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout

from kunnan_docs.errors import UsageError

LOCK_NAME = ".kunnan-watch.lock"


class InboxLock:
    def __init__(self, inbox: Path) -> None:
        self.inbox = inbox
        self.lock = FileLock(inbox / LOCK_NAME)

    def __enter__(self) -> InboxLock:
        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            raise UsageError(f"另一个监视程序正在处理收件夹 {self.inbox}。同一个收件夹只能运行一个;"
                             "如确认没有,请稍候再试。") from None
        return self

    def __exit__(self, *_: object) -> None:
        self.lock.release()
