"""Findings: what the validator says about a case. A finding keeps its stable code and JSON pointer as fields of
their own (for `--json`, logs, report.json and the desk, which shows a message next to the field it points at);
its message is for people: the field's Chinese title, what is wrong and what to do, no code and no pointer."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from kunnan_docs.core.resources import case_schema
from kunnan_docs.privacy import mask_text


class Severity(StrEnum):
    ERROR = "error"  # 阻止成卷
    WARNING = "warning"  # 提示,不阻止


SEVERITY_LABEL = {Severity.ERROR: "错误", Severity.WARNING: "提醒"}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    pointer: str  # JSON pointer into the case file, "" for the whole file
    message: str  # Chinese, names the field by its title and says how to fix it; ID and phone numbers masked

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", mask_text(self.message))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        """The command line's line, for whoever edits the JSON file: code and pointer before the message."""
        where = f" {self.pointer}" if self.pointer else ""
        return f"[{SEVERITY_LABEL[self.severity]} {self.code}{where}] {self.message}"


def is_blocking(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and node["$ref"].startswith("#/$defs/"):
        merged = dict(schema["$defs"][node["$ref"].split("/")[-1]])
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        node = merged
    return node


def schema_node(pointer: str) -> dict[str, Any]:
    """The schema describing the value at a JSON pointer of a case ({} when unknown)."""
    schema = case_schema()
    node = schema
    for part in [p for p in pointer.split("/") if p]:
        node = _resolve(schema, node)
        if part.isdigit() and "items" in node:
            node = node["items"]
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        else:
            return {}
    return _resolve(schema, node)


def title_of(pointer: str) -> str:
    """Chinese title of a field, with the titles of its parents for context (e.g. 脱困公示/公示开始日期)."""
    parts = [p for p in pointer.split("/") if p]
    titles: list[str] = []
    for i in range(1, len(parts) + 1):
        part = parts[i - 1]
        if part.isdigit():
            titles.append(f"第{int(part) + 1}条")
            continue
        title = schema_node("/" + "/".join(parts[:i])).get("title")
        if title:
            titles.append(title)
    return "/".join(titles) if titles else "案卷"


def field(pointer: str) -> str:
    """How a message names a field: its Chinese title only (the pointer is the finding's own field)."""
    return f"【{title_of(pointer)}】"


def changed_fields(old: Any, new: Any, whole: Collection[str] = ()) -> list[str]:
    """The Chinese titles of the fields whose values differ (never the values), each once: what the audit log says
    a correction changed, what a re-imported row changes. A pointer in `whole` (e.g. /attachments) is compared as
    one value and named by its own title."""
    return list(dict.fromkeys(title_of(p) for p in _differences(old, new, "", whole)))


def _differences(old: Any, new: Any, pointer: str, whole: Collection[str]) -> Iterator[str]:
    if pointer not in whole and isinstance(old, dict) and isinstance(new, dict):
        for key in dict.fromkeys([*old, *new]):
            yield from _differences(old.get(key), new.get(key), f"{pointer}/{key}", whole)
    elif pointer not in whole and isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            yield from _differences(old[i] if i < len(old) else None, new[i] if i < len(new) else None,
                                    f"{pointer}/{i}", whole)
    elif old != new:
        yield pointer
