"""Stage 2a: from a validated case to the values of each annex form (templates/forms.json is the data).

Both renderers (PDF and Word) take these values, so the two formats always say the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from kunnan_docs.core import idcard
from kunnan_docs.core.casefile import Case, parse_date
from kunnan_docs.core.resources import load_json
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.core.zh import zh_date


def forms_data() -> dict[str, Any]:
    return load_json("templates", "forms.json")


@dataclass(frozen=True)
class FormSpec:
    id: str
    annex: int
    item: str
    title: str
    file: str
    raw: dict[str, Any]

    @property
    def public(self) -> bool:
        """A notice posted for the public (Annex 5): no internal footer, and only a small QR code."""
        return bool(self.raw.get("public", False))


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
    return [FormSpec(f["id"], f["annex"], f["item"], f["title"], f["file"], f) for f in forms_data()["forms"]]


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
    """Every annex form this case should carry, in annex order (one Annex 7 per return visit)."""
    calendar = calendar or WorkCalendar()
    result: list[FilledForm] = []
    for spec in specs():
        if case.kind not in spec.raw["kinds"]:
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
