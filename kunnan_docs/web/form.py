"""The case editor's form, generated from the case schema, and the way back from a posted form to a case.

Titles, widgets, choices, limits and hints all come from `schemas/case.schema.json`; `schemas/desk_form.json`
only orders the fields into groups as on Annex 3, and a field the schema has but the layout does not name
still appears, in a last group 其他. Field names are the fields' JSON pointers (/worker/name,
/family_members/0/name), the same pointers the findings carry, so a finding is shown beside its field and a
posted form turns back into a case by the schema alone. A value the widget cannot hold as it is (a date
written 2019/3/5, a choice not in the list, text in a number field) is shown as text: opening and saving a
case loses nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kunnan_docs.core.casefile import parse_date
from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.findings import Finding, schema_node
from kunnan_docs.core.labels import Kind
from kunnan_docs.core.resources import case_schema, load_json

ROW = "__i__"  # a row's index in the blank row that the page's script copies when a row is added
DROP = "drop-attachment"  # the form's name for an attachment the clerk takes out of the case (its index)
LONG_TEXT = 200  # strings allowed to be longer than this get a text area
_ENUM_TITLES = {"/kind": {k.value: k.label for k in Kind}}  # the kinds' words live in core.labels, not in the schema


@dataclass
class Field:
    pointer: str
    title: str
    widget: str  # text, textarea, select, checks, date, number, integer, bool
    required: bool
    hint: str
    value: Any
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, what the clerk reads)
    limits: dict[str, Any] = field(default_factory=dict)  # min, max, maxlength

    @property
    def text(self) -> str:
        """The value as the input shows it."""
        if self.value is None or isinstance(self.value, list | dict):
            return ""
        return str(self.value)


@dataclass
class Box:
    """An object: its fields together under its title."""

    pointer: str
    title: str
    hint: str
    children: list[Node]


@dataclass
class Rows:
    """A list: one row per item, a blank row (index ROW) to copy, add and remove buttons."""

    pointer: str
    title: str
    hint: str
    item_title: str
    rows: list[Node]
    blank: Node
    max_items: int | None


Node = Field | Box | Rows


@dataclass
class Group:
    title: str
    children: list[Node]
    pointer: str = ""  # a group that is one object of the case (帮扶联系人) takes that object's findings
    folded: bool = False  # shown closed unless it holds something


def layout() -> dict[str, Any]:
    return load_json("schemas", "desk_form.json")


def _schema(pointer: str) -> dict[str, Any]:
    return schema_node(pointer.replace(ROW, "0"))


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if kind else set()


def _hint(node: dict[str, Any]) -> str:
    return str(node.get("x-hint") or ("" if "enum" in node else node.get("description", "")))


def _options(pointer: str, node: dict[str, Any], values: list[Any]) -> list[tuple[str, str]]:
    """The schema's choices with their Chinese words, and any value outside them, so that it is not lost."""
    titles = _ENUM_TITLES.get(pointer) or node.get("x-enum-titles", {})
    options = [(str(v), titles.get(v, str(v))) for v in node["enum"]]
    options += [(str(v), f"{v}(不在可选范围内)") for v in values if v not in node["enum"]]
    return options


def _field(pointer: str, node: dict[str, Any], value: Any, required: bool) -> Field:
    types, title = _types(node), node.get("title", pointer.rsplit("/", 1)[-1])
    widget, options, limits = "text", [], {}
    if "enum" in node:
        widget, options = "select", _options(pointer, node, [] if value is None else [value])
    elif "boolean" in types:
        widget = "bool" if value is None or isinstance(value, bool) else "text"
    elif types & {"number", "integer"}:
        numeric = value is None or (isinstance(value, int | float) and not isinstance(value, bool))
        widget = ("integer" if "integer" in types else "number") if numeric else "text"
        limits = {k: node[k] for k in ("minimum", "maximum") if k in node}
    elif node.get("format") == "date":
        widget = "date" if value is None or parse_date(value) else "text"
    elif node.get("maxLength", 0) > LONG_TEXT:
        widget = "textarea"
    if "maxLength" in node:
        limits["maxlength"] = node["maxLength"]
    hint = "" if widget in ("date", "select") else _hint(node)
    return Field(pointer, title, widget, required, hint, value, options, limits)


def _node(pointer: str, value: Any, required: bool) -> Node:
    node = _schema(pointer)
    types = _types(node)
    if "properties" in node and not isinstance(value, list):
        data = value if isinstance(value, dict) else {}
        wanted = set(node.get("required", []))
        children = [_node(f"{pointer}/{key}", data.get(key), key in wanted)
                    for key in node["properties"] if f"{pointer}/{key}" not in _hidden()]
        return Box(pointer, node.get("title", ""), _hint(node), children)
    if "array" in types:
        items = _schema(f"{pointer}/{ROW}")
        values = value if isinstance(value, list) else []
        if "enum" in items:
            titles = _options(pointer, items, values)
            return Field(pointer, node.get("title", ""), "checks", required, _hint(node), values, titles)
        rows = [_node(f"{pointer}/{i}", v, True) for i, v in enumerate(values)]
        return Rows(pointer, node.get("title", ""), _hint(node), items.get("title", ""), rows,
                    _node(f"{pointer}/{ROW}", None, True), node.get("maxItems"))
    return _field(pointer, node, value, required)


def _hidden() -> set[str]:
    return set(layout()["hidden"])


def editor_form(case: dict[str, Any]) -> list[Group]:
    """The whole case as groups of fields, filled with its values."""
    listed: set[str] = set()
    groups = []
    for group in layout()["groups"]:
        children = [_node(p, _at(case, p), _required(p)) for p in group["fields"]]
        listed.update(group["fields"])
        if len(children) == 1 and isinstance(children[0], Rows) and children[0].title == group["title"]:
            children[0].title = ""  # the group says it already
        only = children[0] if len(children) == 1 and isinstance(children[0], Box) else None
        groups.append(Group(group["title"], only.children if only else children, only.pointer if only else "",
                            group.get("folded", False) and not any(_at(case, p) for p in group["fields"])))
    rest = [_node(p, _at(case, p), _required(p)) for p in _unlisted("", listed | _hidden())]
    if rest:
        groups.append(Group("其他", rest))
    return groups


@dataclass
class Attachment:
    """An attachment as the editor lists it: the scans come with the case; the editor can take one out."""

    pointer: str
    index: int
    item: str  # its checklist item, as the clerk knows it: 第1项 身份证复印件
    path: str
    title: str


def attachments(case: dict[str, Any]) -> list[Attachment]:
    kind = case.get("kind") if case.get("kind") in Kind._value2member_map_ else Kind.FILING
    items = {i.id: f"第{i.no}项 {i.title}" for i in kind_spec(str(kind)).items}
    listed = case.get("attachments")
    return [Attachment(f"/attachments/{n}", n, items.get(str(a.get("item")), str(a.get("item", ""))),
                       str(a.get("path", "")), str(a.get("title", "")))
            for n, a in enumerate(listed if isinstance(listed, list) else []) if isinstance(a, dict)]


def record_form(pointer: str) -> list[Node]:
    """The fields of one new item of a list (a home visit, an aid payment …), named as its first row."""
    return object_form(f"{pointer}/0", None)


def object_form(pointer: str, value: Any) -> list[Node]:
    """The fields of the object at `pointer` (a stage of the exit, a list's next item), filled with `value`."""
    node = _node(pointer, value, True)
    return node.children if isinstance(node, Box) else [node]


def _unlisted(pointer: str, listed: set[str]) -> list[str]:
    """Fields of the schema that no group names (nor any parent of them): new fields show up by themselves."""
    found = []
    for key in (schema_node(pointer) if pointer else case_schema()).get("properties", {}):
        child = f"{pointer}/{key}"
        if child in listed:
            continue
        if any(p.startswith(child + "/") for p in listed):
            found += _unlisted(child, listed)
        else:
            found.append(child)
    return found


def _required(pointer: str) -> bool:
    parent, _, key = pointer.rpartition("/")
    return key in (_schema(parent) if parent else case_schema()).get("required", [])


def _at(data: Any, pointer: str) -> Any:
    for part in [p for p in pointer.split("/") if p]:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def pointers(nodes: Iterable[Node | Group]) -> set[str]:
    """Every pointer the form has a place for (fields, objects, lists and their rows)."""
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, Group):
            found |= {node.pointer} - {""} | pointers(node.children)
        elif isinstance(node, Box):
            found |= {node.pointer} | pointers(node.children)
        elif isinstance(node, Rows):
            found |= {node.pointer} | pointers(node.rows)
        else:
            found.add(node.pointer)
    return found


def place(findings: Iterable[Finding], places: set[str]) -> dict[str, list[Finding]]:
    """Findings by the pointer of the form's nearest place for them; "" holds those for the case as a whole."""
    placed: dict[str, list[Finding]] = {}
    for finding in findings:
        pointer = finding.pointer
        while pointer and pointer not in places:
            pointer = pointer.rsplit("/", 1)[0]
        placed.setdefault(pointer, []).append(finding)
    return placed


def unknown_fields(data: Any, pointer: str = "") -> list[str]:
    """Where the case holds items the schema does not know (a hand-written file): the form cannot show them."""
    node = schema_node(pointer) if pointer else case_schema()
    found: list[str] = []
    if isinstance(data, dict) and "properties" in node:
        for key, value in data.items():
            child = f"{pointer}/{key}"
            found += unknown_fields(value, child) if key in node["properties"] else [child]
    elif isinstance(data, list) and "items" in node:
        for i, value in enumerate(data):
            found += unknown_fields(value, f"{pointer}/{i}")
    return found


# -- from a posted form back to a case ----------------------------------------------------------------

def parse_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The values of a posted form as case data: each field by its pointer and the schema's type, empty ones
    left out, lists in row order whatever the rows' numbers, keys in the schema's order. Names that are no
    field of the schema are ignored; a value of the wrong type is kept as typed, for the schema to name."""
    tree: dict[str, Any] = {}
    for name, raw in pairs:
        text = raw.strip()
        if not text or not name.startswith("/") or ROW in name:
            continue
        node = schema_node(name)
        parts = name.split("/")[1:]
        if not node or not all(parts):
            continue
        many = "array" in _types(node)
        _put(tree, parts, _value(node, text) if not many else _value(schema_node(f"{name}/0"), text), many)
    return _shaped(tree, "")


def case_from_form(pairs: Iterable[tuple[str, str]], base: dict[str, Any]) -> dict[str, Any]:
    """The case a posted editor form stands for; the fields the form does not edit (schema_version,
    attachments) come from `base`, the case the form was opened on, less the attachments ticked DROP."""
    pairs = list(pairs)
    data = parse_form(pairs)
    for pointer in sorted(_hidden()):
        key = pointer[1:]
        if key in base:
            data[key] = base[key]
    dropped = {text for name, text in pairs if name == DROP}
    if isinstance(data.get("attachments"), list):
        data["attachments"] = [a for i, a in enumerate(data["attachments"]) if str(i) not in dropped]
    data.setdefault("schema_version", case_schema()["properties"]["schema_version"]["const"])
    data.setdefault("attachments", [])
    _required_objects(data, "")
    return _ordered(data, "")


def _required_objects(data: dict[str, Any], pointer: str) -> None:
    """A required object left empty (入户调查) stays as {}, so that each of its missing fields is named by
    itself, beside its field, rather than the object as a whole."""
    node = _schema(pointer) if pointer else case_schema()
    for key in node.get("required", []):
        child = _schema(f"{pointer}/{key}")
        if "properties" in child and "array" not in _types(child):
            value = data.setdefault(key, {})
            if isinstance(value, dict):
                _required_objects(value, f"{pointer}/{key}")


def _value(node: dict[str, Any], text: str) -> Any:
    types = _types(node)
    if "boolean" in types:
        return True if text == "true" else text
    if types & {"number", "integer"}:
        try:
            number = float(text)
        except ValueError:
            return text
        if not math.isfinite(number):
            return text
        if "integer" in types or not any(c in text for c in ".eE"):
            return int(number) if number.is_integer() else text
        return number
    return text


def _put(tree: dict[str, Any], parts: list[str], value: Any, many: bool) -> None:
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return  # a forged name through a field: ignored
        node = child
    if many:
        node.setdefault(parts[-1], [])
        if isinstance(node[parts[-1]], list):
            node[parts[-1]].append(value)
    else:
        node[parts[-1]] = value


def _shaped(tree: Any, pointer: str) -> Any:
    """Rows collected by their numbers become lists in that order."""
    if not isinstance(tree, dict):
        return tree
    if "array" in _types(_schema(pointer)) and pointer:
        rows = sorted((int(k), v) for k, v in tree.items() if k.isdigit())
        return [_shaped(v, f"{pointer}/{ROW}") for _, v in rows]
    return {k: _shaped(v, f"{pointer}/{k}") for k, v in tree.items()}


def ordered(case: dict[str, Any]) -> dict[str, Any]:
    """The case's keys in the schema's order (the same case, the same bytes)."""
    return _ordered(case, "")


def _ordered(data: Any, pointer: str) -> Any:
    """Keys in the schema's order, so that a case saved from the form is the same bytes however it was posted."""
    node = _schema(pointer) if pointer else case_schema()
    if isinstance(data, dict):
        order = list(node.get("properties", {}))
        keys = sorted(data, key=lambda k: (order.index(k) if k in order else len(order), k))
        return {k: _ordered(data[k], f"{pointer}/{k}") for k in keys}
    if isinstance(data, list):
        return [_ordered(v, f"{pointer}/{ROW}") for v in data]
    return data
