"""One table of Chinese labels: no module keeps its own copy of the words for kinds, outcomes or inbox stages."""

from __future__ import annotations

import ast
from pathlib import Path

from kunnan_docs.core import labels

PACKAGE = Path(labels.__file__).resolve().parent.parent
CODES = set(labels.KIND) | set(labels.OUTCOME) | set(labels.STAGE)


def _own_tables(path: Path) -> list[str]:
    """Dict literals that map one of our codes to Chinese text."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Dict):
            pairs = [(k.value, v.value) for k, v in zip(node.keys, node.values, strict=True)
                     if isinstance(k, ast.Constant) and isinstance(v, ast.Constant) and isinstance(v.value, str)]
            if any(k in CODES and any("\u4e00" <= c <= "\u9fff" for c in v) for k, v in pairs):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def test_kind_and_status_words_come_from_the_one_table() -> None:
    allowed = {"core/labels.py", "inbox/watcher.py"}  # the watcher moves over with its split
    tables = [t for p in sorted(PACKAGE.rglob("*.py")) for t in _own_tables(p) if t.split(":")[0] not in allowed]
    assert tables == []


def test_kinds_use_the_annex_titles_wording() -> None:
    assert labels.archive_title("exit") == "脱困困难职工档案" and labels.archive_title("filing") == "建档困难职工档案"
