"""Every exception class of the package lives in errors.py, where the CLI maps them onto exit codes."""

from __future__ import annotations

import ast

from .conftest import ROOT


def test_exception_classes_are_defined_only_in_errors_py() -> None:
    known = {"Exception", "BaseException", "ValueError", "OSError", "RuntimeError", "KeyError", "TypeError"}
    strays = []
    for source in sorted((ROOT / "kunnan_docs").rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                if bases & known or any(b.endswith(("Error", "Rejected", "Exception")) for b in bases):
                    strays.append(f"{source.relative_to(ROOT)}:{node.name}")
    assert strays and all(s.startswith("kunnan_docs/errors.py:") for s in strays), strays
