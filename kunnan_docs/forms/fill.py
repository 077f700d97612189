"""Stage 2a: from a validated case to the values of each form (templates/forms.json is the data).

Both renderers (PDF and Word) take these values, so the two formats always say the same thing. A case gets the
forms of its kind's checklist items whose stage has come (core.checklist.Item.reached).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from string import Formatter
from typing import Any

from kunnan_docs.core import idcard
from kunnan_docs.core.casefile import Case, parse_date
from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.resources import TEMPLATES_ENV, data_dir, load_json
from kunnan_docs.core.rules import DUPLICATE_REASON, exit_stage
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.core.zh import zh_date


def forms_data() -> dict[str, Any]:
    return load_json("templates", "forms.json")


@dataclass(frozen=True)
class FormSpec:
    id: str
    key: str  # annex3 … annex7, cancel: the QR codes' and the signed originals' name of the form
    annex: int | None  # the notice's annex number; None for a form of our own
    item: str
    title: str
    file: str
    raw: dict[str, Any]

    @property
    def label(self) -> str:
        """附件3 …, or the short name of a form of our own (注销审批表)."""
        return f"附件{self.annex}" if self.annex else self.raw["label"]  # as forms.qr.form_label names it

    @property
    def fields(self) -> tuple[str, ...]:
        """The values the form prints (its table's cells, or its letter's placeholders), in order."""
        letter = self.raw.get("letter")
        if letter:
            lines = (letter.get("salutation"), *letter["body"], letter["seal"], letter["date"])
            texts = [t["text"] if isinstance(t, dict) else t for t in lines if t]  # {"text", "if"}: a line that may be left out
            names = [name for text in texts for _, name, _, _ in Formatter().parse(text) if name]
        else:  # a cell is [label, variable, columns] with an optional signature block that may print a date
            names = [name for row in self.raw["rows"] for cell in row
                     for name in (cell[1], *([cell[3].get("date")] if len(cell) > 3 else [])) if name]
        return tuple(dict.fromkeys(names))

    @property
    def public(self) -> bool:
        """A notice posted for the public (Annex 5): no internal footer, and only a small QR code."""
        return bool(self.raw.get("public", False))


def template_path(spec: FormSpec) -> Path:
    """Shipped templates, or a clerk's own copies in the folder named by KUNNAN_TEMPLATES."""
    folder = Path(os.environ[TEMPLATES_ENV]) if os.environ.get(TEMPLATES_ENV) else data_dir("templates")
    return folder / f"{spec.key}_{spec.id}.docx"


@dataclass
class FilledForm:
    """One printed form: its spec, the date it bears, and every value as display text."""

    spec: FormSpec
    date: date
    values: dict[str, str]
    seq: int = 0  # 1, 2, … for forms printed once per return visit

    @property
    def stem(self) -> str:
        return self.spec.file + (f"-{self.seq}" if self.seq else "")

    @property
    def title(self) -> str:
        return self.spec.title + (f"（第{self.seq}次）" if self.seq else "")


def specs() -> list[FormSpec]:
    return [FormSpec(f["id"], f["key"], f["annex"], f["item"], f["title"], f["file"], f) for f in forms_data()["forms"]]


def _plain(value: Any, field: dict[str, Any]) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if field.get("format") == "zh_date" and (d := parse_date(value)):
        return zh_date(d)
    if field.get("format") == "month" and (d := parse_date(value)):
        return f"{d.year}年{d.month}月"
    text = str(value)
    return f"{text}{field['unit']}" if field.get("unit") and text else text


def _money(x: float) -> str:
    return f"{x:g}"


@dataclass
class _Ctx:
    case: Case
    when: date
    calendar: WorkCalendar
    visit: dict[str, Any] | None


def _family_lines(c: _Ctx) -> str:
    lines = []
    for m in c.case.data.get("family_members", []):
        born = parse_date(m.get("birth_date"))
        age = idcard.age_at(born, c.when) if born else m.get("age")
        income = f"，年收入{_money(m['income'])}元" if "income" in m else ""
        lines.append(f"{m['name']}（{m['relation']}，{age}岁）：{m['status']}{income}")
    return "\n".join(lines)


def _assistance_lines(c: _Ctx) -> str:
    records = [a for a in c.case.data.get("assistance", []) if (parse_date(a["date"]) or c.when) <= c.when]
    lines = [f"{zh_date(parse_date(a['date']) or c.when)}\u3000{a['category']}救助·{a['project']}\u3000"
             f"{_money(a['amount'])}元（经社会保障卡发放）" for a in records]  # full-width spaces, as in Chinese text
    if records:
        lines.append(f"合计{len(records)}次，{_money(sum(a['amount'] for a in records))}元。")
    return "\n".join(lines) or "无帮扶资金发放记录。"


def _publicity_workdays(c: _Ctx) -> str:
    start, end = c.case.date_at("/exit/publicity/start"), c.case.date_at("/exit/publicity/end")
    return str(c.calendar.count(start, end).days) if start and end else ""


def _seal_label(c: _Ctx) -> str:
    """The union that posts the notice seals it: the unit's, or the village/community's (Annex 5)."""
    place = c.case.exit.get("publicity", {}).get("place", "")
    return f"（{place}{'' if place.endswith('工会') else '工会'}盖章）"


def _objection_to(c: _Ctx) -> str:
    """Where the public raises objections: the posting union (how to reach it is a line of its own, after the
    annex's sentence)."""
    return "所在单位工会" if c.case.exit.get("publicity", {}).get("place_type") == "unit" else "所在村（社区）工会"


def _notice_addressee(c: _Ctx) -> str:
    notice = c.case.exit.get("notice", {})
    name = c.case.worker.get("name", "")
    if notice.get("recipient") == "family":
        return f"{name}同志（家属{notice.get('recipient_name', '')}代收）"
    return f"{name}同志"


def _cancellation_reason(c: _Ctx) -> str:
    """The reason, its note, and for a duplicate filing the file it duplicates (kept)."""
    data = c.case.data.get("cancellation") or {}
    if not data:
        return ""
    note = f"（{data['note']}）" if data.get("note") else ""
    kept = f"：与档案号 {data['duplicate_of']} 重复，保留该档案" if data["reason"] == DUPLICATE_REASON else ""
    return f"{data['reason']}{kept}{note}"


def _agreed(record: dict[str, Any] | None, verb: str) -> str:
    if not record:
        return ""
    day = parse_date(record.get("date"))
    return f"经{record['body']}于{zh_date(day) if day else ''}{verb}，同意注销。"


def _visit_situation(c: _Ctx) -> str:
    v = c.visit or {}
    day = parse_date(v.get("date"))
    return f"回访日期：{zh_date(day) if day else ''}\n{v.get('situation', '')}"


DERIVED: dict[str, Callable[[_Ctx], str]] = {
    "family_lines": _family_lines,
    "assistance_lines": _assistance_lines,
    "age_at_form_date": lambda c: str(idcard.age_at(idcard.birth_date(c.case.worker["id_number"]) or c.when, c.when)),
    "publicity_workdays": _publicity_workdays,
    "seal_label": _seal_label,
    "objection_to": _objection_to,
    "notice_seal_label": lambda c: f"（{c.case.data.get('union', '')}盖章）",
    "notice_addressee": _notice_addressee,
    "visit_situation": _visit_situation,
    "visit_union_opinion": lambda c: (c.visit or {}).get("union_opinion", ""),
    "cancellation_reason": _cancellation_reason,
    "cancellation_decision": lambda c: _agreed(c.case.at("/cancellation/decision"), "研究"),
    "cancellation_approval": lambda c: _agreed(c.case.at("/cancellation/district_approval"), "审批"),
    "form_date": lambda c: zh_date(c.when),
    "blank": lambda c: "",
}


def fill(spec: FormSpec, case: Case, when: date, calendar: WorkCalendar,
         visit: dict[str, Any] | None = None, seq: int = 0) -> FilledForm:
    ctx = _Ctx(case, when, calendar, visit)
    values: dict[str, str] = {}
    for name, field in forms_data()["fields"].items():
        derived = field.get("derived")
        values[name] = DERIVED[derived](ctx) if derived else _plain(case.at(field["source"]), field)
    return FilledForm(spec, when, values, seq)


def forms_for(case: Case, calendar: WorkCalendar | None = None) -> list[FilledForm]:
    """Every form this case should carry now, in forms.json order (one Annex 7 per return visit): those of its
    kind's checklist items whose exit stage has come (Annex 4 from the application, 5 from the publicity …)."""
    calendar = calendar or WorkCalendar()
    items = {item.id: item for item in kind_spec(case.kind).items}
    stage = exit_stage(case)
    result: list[FilledForm] = []
    for spec in specs():
        item = items.get(spec.item)
        if item is None or not item.reached(stage, follow_up_done=True):
            continue
        if spec.raw.get("per") == "return_visit":
            for n, visit in enumerate(case.exit.get("return_visits", [])):
                when = parse_date(visit["date"]) or case.reference_date
                result.append(fill(spec, case, when, calendar, visit, seq=n + 1))
            continue
        when = case.date_at(spec.raw["date"]) or case.reference_date
        result.append(fill(spec, case, when, calendar))
    return result


def letter_text(template: str, values: dict[str, str]) -> str:
    return template.format(**values)
