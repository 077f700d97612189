"""The procedures the desk records on a published file, as data (schemas/desk_form.json `steps`): the exit stage by
stage in the notice's order (一(三): 脱困申请 → 集体研究 → 公示 → 区县审批 → 书面通知 → 回访) and 注销. A library without
a web framework: which steps a family's current case offers now, the case with a step recorded, where an exit
stands, and the forms a package prints, named as clerks name them.

A step fills one object of the case (or adds one item to a list: a return visit). The object's first segment is
the procedure (`exit`, `cancellation`: a kind's `procedure` in schemas/checklists.json), so the first step of a
procedure turns the file into that kind: 脱困申请 makes a filed family's file an exit in progress, 注销 a
cancellation. Only the next step is offered; the rules (core.rules) still check everything on the way in.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kunnan_docs.core.casefile import parse_date
from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.findings import schema_node
from kunnan_docs.core.identity import closed_on, is_active
from kunnan_docs.core.labels import Kind
from kunnan_docs.core.resources import load_json
from kunnan_docs.core.zh import zh_date
from kunnan_docs.package.layout import DOCUMENTS, Report
from kunnan_docs.web.form import Node, layout, object_form, ordered


@dataclass(frozen=True)
class Step:
    """One step of a procedure, as schemas/desk_form.json describes it."""

    id: str
    title: str  # 脱困申请, 公示, 注销 …
    pointer: str  # the object it fills (/exit/publicity), or the list it adds one item to (/exit/return_visits)
    action: str  # what the audit log calls it: 脱困办理, 注销
    hint: str
    form: str = ""  # the form printed from this step on (annex4 …), "" for none
    starts_from: tuple[str, ...] = ()  # the first step of a procedure: the kinds of file it may start from
    prefill: dict[str, str] = field(default_factory=dict)  # field (relative pointer) → the case value it starts with

    @property
    def procedure(self) -> str:
        return self.pointer.strip("/").split("/")[0]

    @property
    def many(self) -> bool:
        """A list (return visits): each record adds one item."""
        return schema_node(self.pointer).get("type") == "array"

    @property
    def kind(self) -> Kind:
        """The kind of file this step's procedure makes."""
        return next(k for k in Kind if kind_spec(k).procedure == self.procedure)


def steps() -> list[Step]:
    """Every step, each procedure's in its order."""
    return [Step(s["id"], s["title"], s["pointer"], s["action"], s["hint"], s.get("form", ""),
                 tuple(s.get("from", [])), s.get("prefill", {})) for s in layout()["steps"]]


def step_by_id(step_id: str) -> Step | None:
    return next((s for s in steps() if s.id == step_id), None)


def _procedures() -> dict[str, list[Step]]:
    found: dict[str, list[Step]] = {}
    for step in steps():
        found.setdefault(step.procedure, []).append(step)
    return found


def _at(case: dict[str, Any], pointer: str) -> Any:
    value: Any = case
    for part in pointer.strip("/").split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def offered(case: dict[str, Any]) -> list[Step]:
    """The steps the case can take now: within its own procedure the first not yet recorded (a list step once every
    step before it is: return visits after the notice); the first step of another procedure when the file is active
    (filed, or an exit before its notice) and its kind is one that procedure starts from."""
    kind = str(case.get("kind", ""))
    if kind not in Kind._value2member_map_:
        return []
    spec = kind_spec(kind)
    found = []
    for procedure, chain in _procedures().items():
        if spec.procedure == procedure:
            found += next(([s] for s in chain if s.many or not _at(case, s.pointer)), [])
        elif kind in chain[0].starts_from and is_active(kind, closed_on(kind, case)):
            found.append(chain[0])
    return found


def form_fields(step: Step, case: dict[str, Any], values: dict[str, Any] | None = None,
                prefilled: bool = True) -> list[Node]:
    """The step's small form, generated from the schema: a list step's fields are named as the list's next item,
    so that the rules' findings land beside them. It shows `values` (given by a link, or as posted: then without
    `prefilled`, so that a field the clerk emptied stays empty) over what the step starts with from the case."""
    index = len(_at(case, step.pointer) or []) if step.many else None
    pointer = f"{step.pointer}/{index}" if index is not None else step.pointer
    start: dict[str, Any] = {}
    for relative, source in step.prefill.items() if prefilled else ():
        if (value := _at(case, source)) is not None:
            _put(start, relative.split("/"), value)
    return object_form(pointer, _merged(start, values or {}))


def _put(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        tree = tree.setdefault(part, {})
    tree[parts[-1]] = value


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def with_step(case: dict[str, Any], step: Step, item: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The case with the step recorded, and the attachments its new kind has no checklist item for (taken out: the
    version before keeps them in the history). A first step turns the file into its procedure's kind and drops the
    other procedures' objects (a cancelled exit keeps no exit record in the new version)."""
    case = copy.deepcopy(case)
    dropped: list[dict[str, Any]] = []
    target = step.kind
    if case.get("kind") != target:
        case["kind"] = target.value
        for kind in Kind:
            if (other := kind_spec(kind).procedure) and other != step.procedure:
                case.pop(other, None)
        allowed = kind_spec(target).item_ids
        kept = [a for a in case.get("attachments", []) if a.get("item") in allowed]
        dropped = [a for a in case.get("attachments", []) if a.get("item") not in allowed]
        case["attachments"] = kept
    parts = step.pointer.strip("/").split("/")
    node = case
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    if step.many:
        node.setdefault(parts[-1], []).append(item)
    else:
        node[parts[-1]] = item
    return ordered(as_of(case, item)), dropped


def as_of(case: dict[str, Any], item: Any) -> dict[str, Any]:
    """A case that names its reference date ("as of", for overdue checks and the exit's stage) moves it to the
    latest date of what was just recorded, when that is later: the package then says where the file stands on the
    day of its latest record, not on an older day. A case without one takes its latest date anyway."""
    given = parse_date(case.get("reference_date"))
    latest = max(_dates(item), default=None)
    if given and latest and latest > given:
        case["reference_date"] = latest.isoformat()
    return case


def _dates(value: Any) -> list[date]:
    if isinstance(value, dict):
        return [d for v in value.values() for d in _dates(v)]
    if isinstance(value, list):
        return [d for v in value for d in _dates(v)]
    return [d] if (d := parse_date(value)) else []


@dataclass(frozen=True)
class StepState:
    """A step of the file's own procedure as the package page shows it: done (with its dates), next, or later."""

    step: Step
    state: str  # done, next, later
    when: str  # its dates in Chinese: 2019年9月16日至2019年9月20日; return visits: each visit's date


def track(case: dict[str, Any]) -> list[StepState]:
    """The steps of the procedure the file is in (none for a filing), in order, with what has been recorded."""
    kind = str(case.get("kind", ""))
    chain = _procedures().get(kind_spec(kind).procedure or "", []) if kind in Kind._value2member_map_ else []
    ahead = {s.id for s in offered(case)}
    rows = []
    for step in chain:
        value = _at(case, step.pointer)
        days = sorted(set(_dates(value)))
        if step.many:
            when = "、".join(zh_date(d) for d in days)
        else:
            when = "至".join(zh_date(d) for d in (days[0], days[-1]) if days) if len(days) > 1 else \
                "".join(zh_date(d) for d in days)
        state = "next" if step.id in ahead else "done" if value else "later"
        rows.append(StepState(step, state, when))
    return rows


@dataclass(frozen=True)
class PrintedForm:
    """One generated form of a package, as its page offers it to print: its name as clerks say it, its files
    (relative to the package folder), and whether its signed original is in."""

    key: str  # annex4, annex7-2, cancel
    name: str  # 附件4 脱困申请表, 附件7 回访记录单（第2次回访）, 注销审批表
    pdf: str
    docx: str
    state: str  # awaiting (待签章), signed (签章原件已入卷), hand_filled (手填原件已入卷), "" (no signature asked)
    item_no: int


def printed_forms(report: Report) -> list[PrintedForm]:
    """The package's generated forms in forms.json order, with the state of their signed originals."""
    awaiting = {a.form_key for a in report.awaiting_signature}
    signed = {str(d.signed_original.get("form_key")): ("hand_filled" if d.signed_original.get("hand_filled")
                                                        else "signed")
              for e in report.checklist for d in e.documents if d.signed_original}
    items = {e.id: e.no for e in report.checklist}
    stems = {doc.removeprefix(f"{DOCUMENTS}/").removesuffix(".pdf") for doc in report.documents if doc.endswith(".pdf")}
    found = []
    for spec in load_json("templates", "forms.json")["forms"]:
        matches = sorted((int(seq) if seq else 0, stem) for stem in stems
                         if (seq := _seq(stem, spec["file"])) is not None)
        for seq, stem in matches:
            key = spec["key"] + (f"-{seq}" if seq else "")
            name = stem.removesuffix(f"-{seq}").replace("-", " ", 1) if seq else stem.replace("-", " ", 1)
            name += spec.get("subtitle", "（第{seq}份）").format(seq=seq) if seq else ""
            state = "awaiting" if key in awaiting else signed.get(key, "")
            found.append(PrintedForm(key, name, f"{DOCUMENTS}/{stem}.pdf", f"{DOCUMENTS}/{stem}.docx", state,
                                     items.get(spec["item"], 0)))
    return found


def _seq(stem: str, file: str) -> str | None:
    """"" for the form's own stem, the visit's number for a per-visit one, None for another form's."""
    if stem == file:
        return ""
    rest = stem.removeprefix(f"{file}-")
    return rest if rest != stem and rest.isdigit() else None
