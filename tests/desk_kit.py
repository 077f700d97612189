"""What a browser would post for the editor's form on a case: every field by its pointer, as the page holds it."""

from __future__ import annotations

from typing import Any

from kunnan_docs.web.form import Box, Field, Group, Node, Rows, editor_form


def form_pairs(case: dict[str, Any]) -> list[tuple[str, str]]:
    """The (name, value) pairs of the editor's form filled with `case`, in page order, as a browser posts them."""
    pairs: list[tuple[str, str]] = []

    def emit(node: Node | Group) -> None:
        if isinstance(node, Group | Box):
            for child in node.children:
                emit(child)
        elif isinstance(node, Rows):
            for row in node.rows:
                emit(row)
        elif isinstance(node, Field):
            if node.widget == "checks":
                pairs.extend((node.pointer, str(v)) for v in node.value)
            elif node.widget == "bool":
                pairs.extend([(node.pointer, "true")] if node.value is True else [])
            else:
                pairs.append((node.pointer, node.text))

    for group in editor_form(case):
        emit(group)
    return pairs
