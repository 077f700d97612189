"""Helpers shared by the inbox tests: real folders, real `kunnan-docs watch` processes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from kunnan_docs.package.verify import verify_folder

CMD = [sys.executable, "-m", "kunnan_docs", "watch"]
NOTES = {"退回原因.txt", "处理说明.txt"}


def make_areas(tmp_path: Path) -> dict[str, Path]:
    paths = {name: tmp_path / name for name in ("inbox", "outbox", "processed", "rejected")}
    paths["inbox"].mkdir()
    return paths


def watch_once(areas: dict[str, Path], env: dict[str, str] | None = None, timeout: float = 180,
               workers: int = 2) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CMD, str(areas["inbox"]), str(areas["outbox"]), "--workers", str(workers), "--once",
                           "--settle", "0.3", "--rescan", "1"], capture_output=True, text=True,
                          timeout=timeout, check=False, env={**os.environ, **(env or {})})


def copy_case(example: Path, target: Path, edits: dict[str, object] | None = None) -> Path:
    """A copy of an example case folder, with {top-level key or /a/b pointer: value} edits."""
    staging = target.parent.parent / f".staging-{len(list(target.parent.parent.iterdir()))}"
    shutil.copytree(example, staging)
    case = json.loads((staging / "case.json").read_text(encoding="utf-8"))
    for pointer, value in (edits or {}).items():
        node, parts = case, pointer.strip("/").split("/")
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    (staging / "case.json").write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(staging, target)
    return target


def content_counts(folder: Path, skip_notes: bool = True) -> dict[str, int]:
    """How many files below a folder hold each content (by SHA-256): inputs are counted, not names."""
    counts: dict[str, int] = {}
    for p in folder.rglob("*") if folder.exists() else []:
        if p.is_file() and not p.is_symlink() and not (skip_notes and p.name in NOTES) \
                and not any(part.startswith(".") for part in p.relative_to(folder).parts):
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            counts[digest] = counts.get(digest, 0) + 1
    return counts


def packages(outbox: Path) -> list[str]:
    return sorted(p.name for p in outbox.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))) \
        if outbox.exists() else []


def assert_packages_verify(outbox: Path) -> None:
    for name in packages(outbox):
        assert verify_folder(outbox / name) == [], name


def status(outbox: Path) -> str:
    return subprocess.run([sys.executable, "-m", "kunnan_docs", "status", "--outbox", str(outbox)],
                          capture_output=True, text=True, check=True).stdout


def reason_files(rejected: Path) -> dict[str, str]:
    """Reason file text by the name of the entry it explains."""
    texts = {}
    for reason in rejected.rglob("退回原因.txt"):
        entries = [p.name for p in reason.parent.iterdir() if p.name not in NOTES]
        texts[entries[0] if entries else ""] = reason.read_text(encoding="utf-8-sig")
    return texts


def tagged_processes(variable: str, tag: str) -> list[int]:
    """Processes (a watcher, its workers, multiprocessing's helpers) whose environment has variable=tag: what a
    test or the soak started, found again however it was started or orphaned."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if f"{variable}={tag}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found
