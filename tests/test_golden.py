"""Golden snapshots of the examples' packages: report.json and the text of every page, under tests/golden/.

A change to the forms, the sheets or the report shows up here as a diff to review. After an intended
change, regenerate the snapshots with one command and commit them with the change (README "Tests"):

    KUNNAN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from .conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("KUNNAN_UPDATE_GOLDEN") == "1"  # read at import, before the fixtures clear KUNNAN_*


def page_texts(pdf: Path) -> str:
    """The package as a reader sees it: each page's text, lines as extracted, pages numbered."""
    doc = pdfium.PdfDocument(pdf)
    try:
        pages = [doc[i].get_textpage().get_text_range().replace("\r\n", "\n").replace("\r", "\n").rstrip()
                 for i in range(len(doc))]
    finally:
        doc.close()
    return "".join(f"===== 第 {i} 页 =====\n{text}\n" for i, text in enumerate(pages, start=1))


def snapshots(outbox: Path) -> dict[str, str]:
    """File name under tests/golden/ → expected content, for every package in the outbox."""
    found: dict[str, str] = {}
    for folder in sorted(p for p in outbox.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found[f"{folder.name}/report.json"] = (folder / "report.json").read_text(encoding="utf-8")
        found[f"{folder.name}/package.txt"] = page_texts(folder / f"{folder.name}.pdf")
    return found


def test_packages_match_golden_snapshots(built_examples) -> None:
    actual = snapshots(built_examples)
    if UPDATE:
        for old in GOLDEN.rglob("*"):
            if old.is_file() and old.relative_to(GOLDEN).as_posix() not in actual:
                old.unlink()
        for name, text in actual.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_text(text, encoding="utf-8", newline="\n")
    stored = {p.relative_to(GOLDEN).as_posix(): p.read_text(encoding="utf-8")
              for p in sorted(GOLDEN.rglob("*")) if p.is_file()}
    assert sorted(stored) == sorted(actual), "packages added or removed: regenerate (see this file's docstring)"
    for name, text in actual.items():
        assert text == stored[name], f"{name} differs from tests/golden/: review, then regenerate if intended " \
                                     "(KUNNAN_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py)"


@pytest.mark.parametrize("name", ["report.json", "package.txt"])
def test_every_example_has_snapshots(name: str) -> None:
    examples = sorted(p.parent.name for p in (ROOT / "examples").glob("*/case.json"))
    assert len(list(GOLDEN.glob(f"*/{name}"))) == len(examples)
