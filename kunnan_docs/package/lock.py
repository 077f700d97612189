"""One writer at a time where writers meet in an outbox (README "收件夹", locks): OS locks (filelock) that the
kernel releases when their process dies, however it dies.

Every process that publishes — `build`, `rebuild`, `scan-in`, a watcher's workers, the desk — writes a package in
a staging folder of its own, `outbox/.staging/<token>/`, locked (`<token>.lock`) for as long as it is in use:
`recover()` by any other process leaves a locked one alone and clears only what a dead writer left. The last
step, putting a package in place (the current version retired to `_历史版本`, the new one renamed in), runs under
the outbox's publish lock (`outbox/.locks/publish.lock`), held for milliseconds; so does any check that must see
the outbox as it will be published into (one archive number = one family).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from kunnan_docs.errors import UsageError
from kunnan_docs.package.layout import STAGING

LOCKS = ".locks"
PUBLISH_LOCK = "publish.lock"
LOCK_SUFFIX = ".lock"
PUBLISH_WAIT = 600.0  # seconds: the lock is held for milliseconds; a longer wait means a writer is stuck


@contextmanager
def publishing(outbox: Path, archive_no: str) -> Iterator[None]:
    """Held while a package of `archive_no` is put in place in `outbox`, and while whatever must not change
    meanwhile is checked: no other process publishes into this outbox in between."""
    folder = outbox / LOCKS
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder / PUBLISH_LOCK, is_singleton=True)  # reentrant: a check run under it may publish too
    try:
        lock.acquire(timeout=PUBLISH_WAIT)
    except Timeout:
        waited = f"档案号 {archive_no} 的案卷等了 {PUBLISH_WAIT:g} 秒仍无法发布:发件夹"
        raise UsageError(f"{waited} {outbox} 被另一个程序占用({folder / PUBLISH_LOCK})。请确认没有卡住的 kunnan-docs 程序"
                         "(必要时结束它),再重新运行。",
                         f"{waited}正被另一个程序占用。请过几分钟再提交一次;一直如此的,请管理员检查运行工作台的电脑。"
                         ) from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def private_staging(outbox: Path) -> Iterator[Path]:
    """A new staging folder of this writer alone, locked while the block runs and removed at its end (whatever
    it holds then was not published)."""
    root = outbox / STAGING
    root.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{secrets.token_hex(6)}"
    lock_path = root / f"{token}{LOCK_SUFFIX}"
    lock = FileLock(lock_path)
    lock.acquire(timeout=0)  # a name nobody has used: free
    folder = root / token
    try:
        folder.mkdir()
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the folder first: a lock with no folder is never looked at
        lock_path.unlink(missing_ok=True)
        lock.release()


def abandoned_staging(outbox: Path) -> Iterator[Path]:
    """Staging folders whose writer died (their lock is free), each locked by us while the caller looks at it and
    removed, with its lock file, when the caller is done; a live writer's folder is never yielded."""
    root = outbox / STAGING
    if not root.is_dir():
        return
    tokens = sorted({p.name.removesuffix(LOCK_SUFFIX) for p in root.iterdir()})  # a lock alone: killed at the edges
    for token in tokens:
        folder, lock_path = root / token, root / f"{token}{LOCK_SUFFIX}"
        lock = FileLock(lock_path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue  # its writer is alive
        try:
            if folder.is_dir():  # not finished and removed by its writer since we listed it
                yield folder
                shutil.rmtree(folder, ignore_errors=True)
            lock_path.unlink(missing_ok=True)
        finally:
            lock.release()
