"""A build's second core: work handed to forked child processes while the build goes on (the Word forms, the
inputs' hashes, the scans' decode check); and the process pools of the commands that spread work over the cores
(`process_pool`), whose processes end with the process that started them.

Only a build that is a process of its own uses it: the main thread of a process that is no pool worker, where
the OS can fork and the machine has a second core. A pool worker (`build` of several cases, the watcher's
workers, Dask) shares the cores with its fellow workers already, so it does the work itself, at once. The
result is the same either way; only where it is computed differs.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.connection import Connection
from typing import Any


def _call(target: str, args: tuple[Any, ...]) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(*args)


def _run(send: Connection, target: str, args: tuple[Any, ...]) -> None:
    try:
        send.send((True, _call(target, args)))
    except BaseException as exc:  # whatever it is, it is raised again in the parent
        send.send((False, exc))


def process_pool(workers: int, preload: Callable[[], object] | None = None) -> ProcessPoolExecutor:
    """A pool of `workers` processes, each ending when the process that started it is gone.

    New (spawned) processes, each importing for itself what its work needs, unless `preload` is given and this
    process may fork (Linux, no other thread yet): `preload` then loads here what every process would load, and
    the processes are forked from this one with it (about 0.7 s of CPU a process: the interpreter, the imports,
    the fonts). They are forked at the first task submitted, which the caller submits at once."""
    if preload is not None and sys.platform == "linux" and spare_core():
        preload()
        gc.freeze()  # what is loaded stays shared: no collection in a child writes to (and so copies) its pages
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_ends_with_parent)
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_ends_with_parent)


def _ends_with_parent() -> None:
    """Each pool process ends when the process that started it is gone (killed, crashed): it would otherwise wait
    for work forever. Killed in the middle of a case, it leaves what a kill leaves (the old package or the new).

    Told to stop, it ends at once, without tearing its interpreter down (a fifth of a second with the build and
    reading stacks loaded, which the command would wait for): every task's result has been sent by then, and
    what it wrote it closed."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=lambda: (parent.join(), os._exit(1)), name="ends-with-parent", daemon=True).start()
    atexit.register(_end_now)


def _end_now() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def spare_core() -> bool:
    """A fork is safe only from a process with no other thread: a lock another thread holds at that instant
    stays held for ever in the child (Python 3.12 warns of it)."""
    return ("fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1
            and multiprocessing.parent_process() is None and threading.current_thread() is threading.main_thread()
            and threading.active_count() == 1)


def start(target: str, *args: Any) -> Callable[[], Any]:
    """Begin `target` ("module:function", imported only where it runs) on `args`; the function returned waits
    for its result, or raises its exception (done at once where there is no spare core). Call it at least once
    (that reaps the child); later calls give the same answer.

    A bare forked process and a pipe, not a process pool: a pool keeps a thread in this process, and the next
    fork (of the same build or the next) would then be a fork of a threaded process."""
    if not spare_core():  # done now, as the build did before it had a second core: not on top of its later peak
        try:
            answer = (True, _call(target, args))
        except Exception as exc:  # raised when asked for, as from a child
            answer = (False, exc)
        return lambda: _unpack(*answer)
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    # The child must never collect, and so finalize, what it inherits: an earlier build's spooled scans would
    # be closed there too, moving the file offsets it shares with this process.
    gc.freeze()
    try:
        child = context.Process(target=_run, args=(send, target, args), daemon=True)
        child.start()
    finally:
        gc.unfreeze()
    send.close()

    answer: list[tuple[bool, Any]] = []

    def result() -> Any:
        if not answer:
            try:
                answer.append(receive.recv())
            except EOFError:
                answer.append((False, ChildProcessError(f"{target} 的子进程意外退出(退出码 {child.exitcode})")))
            finally:
                receive.close()
                child.join()
        return _unpack(*answer[0])

    return result


def _unpack(ok: bool, value: Any) -> Any:
    if not ok:
        raise value
    return value
