"""Many cases at once, on this machine or a Dask cluster, through one `concurrent.futures.Executor` code path.

The default is embedded: in this process for one case, else a local process pool — nothing to start. With a
scheduler address (`pip install 'kunnan-docs[cluster]'`, then `--scheduler tcp://HOST:8786`) the same batches run on
a Dask distributed cluster whose workers see the same case folders and outbox (shared storage). Cases go in batches,
because a Dask task costs milliseconds; cases with one archive number share a batch, so their versions are published
in order. A case whose inputs and generator match its published package is skipped, so a rerun after a failure
finishes the rest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path

from kunnan_docs.core.identity import archive_key
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.errors import BadPackage, UsageError
from kunnan_docs.forms.aside import process_pool
from kunnan_docs.package.layout import GENERATOR, INPUT_DIR, MANIFEST, read_report, safe_name, sha256_file
from kunnan_docs.package.signed import originals_for
from kunnan_docs.pipeline import CaseResult, process_case


@contextmanager
def executor_for(scheduler: str | None, workers: int) -> Iterator[Executor | None]:
    """A Dask executor for a scheduler address, a process pool for workers > 1, else None (run in process)."""
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("使用 --scheduler 需要先安装集群组件:pip install 'kunnan-docs[cluster]'。") from None
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise UsageError(f"连不上调度器 {scheduler}({exc})。请确认地址和端口,以及调度器已经启动。") from None
        with client:
            yield client.get_executor()
    elif workers > 1:
        with process_pool(workers) as pool:
            yield pool
    else:
        yield None


def run_cases(case_files: list[Path], outbox: Path, calendar: str | None = None, executor: Executor | None = None,
              batch_size: int = 8, force: bool = False) -> Iterator[CaseResult]:
    """Process the cases and yield their results in the order given, each as soon as it and those before it are done."""
    outbox_arg = str(outbox.resolve())
    batches = _batches(case_files, batch_size)
    if executor is None:
        outputs = ((batch, run_batch([str(case_files[i]) for i in batch], outbox_arg, calendar, force))
                   for batch in batches)
    else:
        futures = [(batch, executor.submit(run_batch, [str(case_files[i].resolve()) for i in batch], outbox_arg,
                                           calendar, force)) for batch in batches]
        outputs = ((batch, future.result()) for batch, future in futures)
    pending: dict[int, CaseResult] = {}
    next_index = 0
    for batch, results in outputs:
        pending.update(zip(batch, results, strict=True))
        while next_index in pending:
            yield pending.pop(next_index)
            next_index += 1


def warm_up(outbox: str | None = None) -> None:
    """Runs on a pool process that would otherwise wait (scan-in's main process files the pages it read): what the
    process's first build would pay for once (about 0.5 s) — the build stack imported, the fonts mapped, the kept
    forms' recipe digested, the characters the fonts print listed, Pillow's image formats loaded, the outbox's
    identity index brought up to date."""
    from PIL import Image

    from kunnan_docs.core.resources import printable_characters
    from kunnan_docs.forms.fonts import register
    from kunnan_docs.package import build, formcache, identity, publish  # noqa: F401 — imported for their cost, now

    register()
    formcache.recipe()
    printable_characters()
    Image.init()
    if outbox:
        identity.load(Path(outbox))


def _batches(case_files: list[Path], size: int) -> list[list[int]]:
    """Indexes of the cases, grouped so that one archive number (core.identity.archive_key) never spans two batches."""
    groups: dict[str, list[int]] = {}
    for i, path in enumerate(case_files):
        archive_no = _archive_no(path)
        groups.setdefault(archive_key(archive_no) if archive_no else f"\0{i}", []).append(i)
    batches: list[list[int]] = [[]]
    for members in groups.values():
        if batches[-1] and len(batches[-1]) + len(members) > size:
            batches.append([])
        batches[-1].extend(members)
    return [b for b in batches if b]


def _archive_no(case_file: Path) -> str | None:
    try:
        value = json.loads(case_file.read_bytes().decode("utf-8-sig")).get("archive_no")
    except (OSError, ValueError, AttributeError):
        return None  # the pipeline reports what is wrong with the file
    return str(value) if value else None


def run_batch(case_files: list[str], outbox: str, calendar: str | None, force: bool) -> list[CaseResult]:
    """Runs on a worker (a local process or a Dask worker): one batch, each case on its own."""
    cal = WorkCalendar(calendar)
    results = []
    for name in case_files:
        path = Path(name)
        existing = None if force else published_if_current(path, Path(outbox))
        results.append(existing or process_case(path, Path(outbox), cal))
    return results


def published_if_current(case_file: Path, outbox: Path) -> CaseResult | None:
    """The published package's result when it was built from exactly these inputs by this generator, else None."""
    archive_no = _archive_no(case_file)
    if archive_no is None:
        return None
    folder = outbox / safe_name(archive_no)
    try:
        report = read_report(folder)
        manifest = (folder / MANIFEST).read_text(encoding="utf-8").splitlines()
        attachments = json.loads(case_file.read_bytes().decode("utf-8-sig")).get("attachments", [])
        sources = {f"{INPUT_DIR}/{case_file.name}": case_file}
        sources |= {f"{INPUT_DIR}/{a['path']}": case_file.parent / a["path"] for a in attachments}
        wanted = {f"{sha256_file(path)}  {rel}" for rel, path in sources.items()}
    except (BadPackage, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    kept = {line for line in manifest if line.split("  ", 1)[-1].startswith(f"{INPUT_DIR}/")}
    if report.generator != GENERATOR or kept != wanted:
        return None
    if any(a.form_key in originals_for(outbox, archive_no) for a in report.awaiting_signature):
        return None  # a signed original was filed since: the form it waited for can go in now
    return CaseResult(case_file, report.status, archive_no, folder, report.status_label, report.pages.total,
                      skipped=True)


def default_workers(case_count: int) -> int:
    return max(1, min(case_count, os.cpu_count() or 1))
