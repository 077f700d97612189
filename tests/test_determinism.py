"""Same inputs, byte-identical outputs: across two processes with different hash seeds, not twice in one."""

from __future__ import annotations

from pathlib import Path

from .conftest import build_examples


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_examples_build_byte_identical_in_processes_with_different_hash_seeds(built_examples, tmp_path) -> None:
    """Set iteration order, dict order from sets, and anything else PYTHONHASHSEED moves must not reach a file."""
    first = files(built_examples)
    second = files(build_examples(tmp_path / "outbox", "2"))
    assert sorted(first) == sorted(second)
    assert [name for name in first if first[name] != second[name]] == []
    assert sum(name.endswith(".pdf") for name in first) >= 3  # the packages and their forms were compared
