"""Follow-up due lists: half-yearly home visits and archive checks (一(二), 二(三)) for families still
in the archive, and the six-month return visit after exit (一(三)), per contact person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from kunnan_docs.core.workcal import add_months
from kunnan_docs.package.outbox import published
from kunnan_docs.staff.xlsx import new_workbook, write_table

SOON_DAYS = 30  # "due" = falls within the next month; earlier = overdue
HEADERS = ["帮扶联系人", "档案号", "姓名", "事项", "上次日期", "应于", "状态"]


@dataclass(frozen=True)
class Due:
    contact: str
    archive_no: str
    name: str
    what: str
    last: date
    due: date
    as_of: date

    @property
    def overdue(self) -> bool:
        return self.due < self.as_of

    @property
    def status(self) -> str:
        days = abs((self.due - self.as_of).days)
        return f"逾期 {days} 天" if self.overdue else ("今天到期" if days == 0 else f"{days} 天后到期")

    def row(self) -> list[object]:
        return [self.contact, self.archive_no, self.name, self.what, self.last.isoformat(), self.due.isoformat(),
                self.status]


def _last(dates: list[str], fallback: str) -> date:
    return date.fromisoformat(max([*dates, fallback]))


def due_list(outbox: Path, as_of: date) -> list[Due]:
    items = []
    for pkg in published(outbox):
        c = pkg.case
        contact, name = c.get("contact_person") or "(未指派)", c.get("worker_name", "")
        checks: list[tuple[str, date]] = []
        if pkg.kind == "filing":
            checks.append(("半年入户走访", _last(c.get("home_visits", []), c["filing_date"])))
            checks.append(("半年档案核查", _last(c.get("archive_checks", []), c["filing_date"])))
        elif c.get("notice_date") and not pkg.report.follow_up_complete:
            notice = date.fromisoformat(c["notice_date"])
            visits = [date.fromisoformat(d) for d in c.get("return_visits", [])]
            items.append(Due(contact, pkg.archive_no, name, "脱困满六个月回访", max([notice, *visits]),
                             add_months(notice, 6), as_of))
        for what, last in checks:
            items.append(Due(contact, pkg.archive_no, name, what, last, add_months(last, 6), as_of))
    soon = [d for d in items if (d.due - as_of).days <= SOON_DAYS]
    return sorted(soon, key=lambda d: (d.contact, d.due, d.archive_no, d.what))


def write_xlsx(items: list[Due], as_of: date, path: Path | BinaryIO) -> None:
    wb = new_workbook()
    ws = wb.active
    ws.title = "到期提醒"
    ws["A1"] = f"困难职工帮扶到期提醒(截至 {as_of.isoformat()},含 {SOON_DAYS} 天内到期)"
    write_table(ws, HEADERS, [d.row() for d in items], start_row=3)
    ws.auto_filter.ref = f"A3:G{max(3, len(items) + 3)}"
    wb.save(path)
