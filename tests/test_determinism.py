"""Same inputs, byte-identical outputs: across two processes with different hash seeds, not twice in one."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kunnan_docs.package.layout import STATE_DIR

from .conftest import EXIT_EXAMPLE, build_examples


def files(root: Path) -> dict[str, bytes]:
    """Every output file; not the outbox's own state (.kunnan: a random key, the identity index's cache)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] != STATE_DIR}


def test_examples_build_byte_identical_in_processes_with_different_hash_seeds(built_examples, tmp_path) -> None:
    """Set iteration order, dict order from sets, and anything else PYTHONHASHSEED moves must not reach a file."""
    first = files(built_examples)
    second = files(build_examples(tmp_path / "outbox", "2"))
    assert sorted(first) == sorted(second)
    assert [name for name in first if first[name] != second[name]] == []
    assert sum(name.endswith(".pdf") for name in first) >= 3  # the packages and their forms were compared


def test_word_forms_rendered_aside_are_the_bytes_a_pool_worker_renders(built_examples, tmp_path) -> None:
    """A single build (a process of its own, one thread) forks its Word forms onto the second core; `build` of
    several cases (pool workers, as for built_examples) renders them in the worker itself. Both give the same
    files."""
    if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no second core or no fork here: builds render Word forms in-process only")
    outbox = tmp_path / "outbox"
    done = subprocess.run([sys.executable, "-m", "kunnan_docs", "build", str(EXIT_EXAMPLE / "case.json"), "-o",
                           str(outbox)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [folder] = [p for p in outbox.iterdir() if not p.name.startswith((".", "_"))]
    alone, pooled = files(folder), files(built_examples / folder.name)
    compared = [name for name in alone if name.endswith((".docx", ".pdf")) and not name.startswith("input/")]
    assert sum(name.endswith(".docx") for name in compared) == 6
    assert [name for name in compared if alone[name] != pooled[name]] == []


def test_a_build_forks_only_while_it_is_the_only_thread(tmp_path) -> None:
    """A fork copies only the forking thread: a lock another thread holds at that instant stays held for ever in
    the child. Every fork of a single build (its Word forms, its input hashes, its scans' decode check) happens
    with no other thread."""
    script = ("import os, sys, threading\n"
              "os.register_at_fork(before=lambda: print('fork', threading.active_count(), file=sys.stderr))\n"
              "from kunnan_docs.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    done = subprocess.run([sys.executable, "-c", script, "build", str(EXIT_EXAMPLE / "case.json"), "-o",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    forks = [line for line in done.stderr.splitlines() if line.startswith("fork ")]
    if (os.cpu_count() or 1) > 1:
        assert len(forks) == 3  # the Word forms, the input hashes and the scans' decode check, on the second core
    assert set(forks) <= {"fork 1"}, forks
