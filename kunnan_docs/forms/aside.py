"""A build's second core: work handed to a forked child process while the build goes on (the Word forms).

Only a build that is a process of its own uses it: the main thread of a process that is no pool worker, where
the OS can fork and the machine has a second core. A pool worker (`build` of several cases, the watcher's
workers, Dask) shares the cores with its fellow workers already, so it does the work itself, at once. The
result is the same either way; only where it is computed differs.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def _call(target: str, args: tuple[Any, ...]) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(*args)


def spare_core() -> bool:
    return ("fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1
            and multiprocessing.parent_process() is None and threading.current_thread() is threading.main_thread())


def start(target: str, *args: Any) -> Callable[[], Any]:
    """Begin `target` ("module:function", imported only where it runs) on `args`; the function returned waits
    for its result, or raises its exception (done at once where there is no spare core)."""
    if not spare_core():  # done now, as the build did before it had a second core: not on top of its later peak
        result = _call(target, args)
        return lambda: result
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    # The child must never collect, and so finalize, what it inherits: an earlier build's spooled scans would
    # be closed there too, moving the file offsets it shares with this process. (submit forks right away.)
    gc.freeze()
    try:
        future = pool.submit(_call, target, args)
    finally:
        gc.unfreeze()
    pool.shutdown(wait=False)  # the child ends after this one task
    return future.result
