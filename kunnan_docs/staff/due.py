"""Follow-up due lists: half-yearly home visits and archive checks (一(二), 二(三)) for families still
in the archive, the next step of every exit in progress with the day from which it can be done, the six-month
return visit after exit (一(三)), and the forms printed but not yet back signed and sealed (待签章), per contact
person, oldest first. A cancelled family (注销) has nothing due but its forms to sign.

Everything is judged as of one day: records dated after it are not yet known then, so they count for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO, NamedTuple

from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.workcal import add_months
from kunnan_docs.core.zh import pinyin_key, zh_date
from kunnan_docs.package import identity
from kunnan_docs.package.outbox import Published, published
from kunnan_docs.staff.duplicates import people
from kunnan_docs.staff.xlsx import new_workbook, write_table

SOON_DAYS = 30  # "due" = falls within the next month; earlier = overdue
HEADERS = ["帮扶联系人", "档案号", "姓名", "事项", "上次日期", "应于", "状态"]
XLSX_HEADERS = ["帮扶联系人", "档案号", "姓名", "联系电话", "家庭地址", "事项", "上次日期", "应于", "距到期天数",
                "状态"]


@dataclass(frozen=True)
class Due:
    contact: str
    archive_no: str
    name: str
    what: str
    last: date
    due: date
    as_of: date
    phone: str = ""
    address: str = ""
    awaiting: bool = False  # a printed form whose signed original has not come back: due on the day it bears
    step: bool = False  # the next step of an exit in progress: `due` is the day from which it can be done

    @property
    def overdue(self) -> bool:
        return self.due < self.as_of and not self.step

    @property
    def days_left(self) -> int:
        return (self.due - self.as_of).days

    @property
    def status(self) -> str:
        if self.awaiting:
            return f"待签章,已 {-self.days_left} 天未签回"
        if self.step:
            return "可办理" if self.days_left <= 0 else f"{self.days_left} 天后可办理"
        days = abs(self.days_left)
        return f"逾期 {days} 天" if self.overdue else ("今天到期" if days == 0 else f"{days} 天后到期")

    def row(self) -> list[object]:
        """What the terminal shows (no phone or address on a screen others may see)."""
        return [self.contact, self.archive_no, self.name, self.what, zh_date(self.last), zh_date(self.due),
                self.status]

    def xlsx_row(self) -> list[object]:
        """Real dates and numbers, so that a clerk can sort and filter in Excel."""
        return [self.contact, self.archive_no, self.name, self.phone, self.address, self.what, self.last, self.due,
                self.days_left, self.status]


def _known(dates: list[str], as_of: date) -> list[date]:
    return [d for d in map(date.fromisoformat, dates) if d <= as_of]


def _reach(pkg: Published) -> tuple[str, str]:
    """The family's phone and address, from the case file the package was built from (not in report.json)."""
    worker = (identity.input_case(pkg.folder) or {}).get("worker", {})
    return str(worker.get("phone") or ""), str(worker.get("address") or "")


class Dues(NamedTuple):
    items: list[Due]
    folded: int  # people with more than one active file (重复建档): only the earliest file's items are listed


def _exited(pkg: Published, as_of: date) -> bool:
    notice = pkg.case.get("notice_date")
    return kind_spec(pkg.kind).has_exit and bool(notice) and date.fromisoformat(notice) <= as_of


def _cancelled(pkg: Published, as_of: date) -> bool:
    cancellation = pkg.case.get("cancellation") if kind_spec(pkg.kind).has_cancellation else None
    return bool(cancellation) and date.fromisoformat(cancellation["date"]) <= as_of


def _people_files(outbox: Path, as_of: date) -> tuple[list[Published], int]:
    """The packages filed by `as_of` whose follow-up is due, a person's duplicate files folded: of several files
    still active then, the earliest filed only."""
    kept, folded = [], 0
    for group in people(published(outbox), identity.load(outbox).families()):
        filed = [p for p in group if date.fromisoformat(p.case["filing_date"]) <= as_of]
        active = [p for p in filed if not (_exited(p, as_of) or _cancelled(p, as_of))]
        folded += len(active) > 1
        folded_away = {p.folder for p in active[1:]}
        kept += [p for p in filed if p.folder not in folded_away]
    return kept, folded


def due_list(outbox: Path, as_of: date, reach: bool = False) -> Dues:
    """reach: with the family's phone and address, for the Excel list (read from each family's case file; the
    screen never shows them). People are counted, not packages (`Dues.folded`)."""
    items = []
    files, folded = _people_files(outbox, as_of)
    for pkg in files:
        c = pkg.case
        filed = date.fromisoformat(c["filing_date"])
        spec = kind_spec(pkg.kind)
        notice = date.fromisoformat(c["notice_date"]) if spec.has_exit and c.get("notice_date") else None
        exited = _exited(pkg, as_of)
        cancelled = _cancelled(pkg, as_of)
        contact, name = c.get("contact_person") or "（未指派）", c.get("worker_name", "")
        found: list[tuple[str, date, date]] = []
        if notice and exited:
            visits = _known(c.get("return_visits", []), as_of)
            need = add_months(notice, 6)
            if not any(v >= need for v in visits):  # no visit yet covers the six months after exit
                found.append(("脱困满六个月回访", max([notice, *visits]), need))
        elif not cancelled:
            for what, dates in (("半年入户走访", c.get("home_visits", [])), ("半年档案核查", c.get("archive_checks", []))):
                last = max([filed, *_known(dates, as_of)])
                found.append((what, last, add_months(last, 6)))
        soon = [(what, last, day) for what, last, day in found if (day - as_of).days <= SOON_DAYS]
        step = pkg.listing.next_step
        steps = [(f"脱困:{step.text}", date.fromisoformat(step.since), date.fromisoformat(step.date))] \
            if step and not exited and date.fromisoformat(step.since) <= as_of else []
        unsigned = [(f"待签章:{a.title}", day, day) for a in pkg.listing.awaiting_signature
                    if (day := date.fromisoformat(a.date) if a.date else filed) <= as_of]
        if soon or steps or unsigned:
            phone, address = _reach(pkg) if reach else ("", "")
            items += [Due(contact, pkg.archive_no, name, what, last, day, as_of, phone, address)
                      for what, last, day in soon]
            items += [Due(contact, pkg.archive_no, name, what, last, day, as_of, phone, address, step=True)
                      for what, last, day in steps]
            items += [Due(contact, pkg.archive_no, name, what, last, day, as_of, phone, address, awaiting=True)
                      for what, last, day in unsigned]
    return Dues(sorted(items, key=lambda d: (pinyin_key(d.contact), d.due, pinyin_key(d.name), d.archive_no, d.what)),
                folded)


def _print_setup(ws: Worksheet, header_row: int) -> None:
    """Printed as a clerk takes it to a visit: A4 landscape, every column on the page's width (as many pages
    down as it needs), the header row repeated on every page, 第 n 页 共 m 页 in the footer."""
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.oddFooter.center.text = "第 &P 页 共 &N 页"


def write_xlsx(items: list[Due], as_of: date, path: Path | BinaryIO) -> None:
    wb = new_workbook()
    ws = wb.active
    ws.title = "到期提醒"
    ws["A1"] = f"困难职工帮扶到期提醒（截至{zh_date(as_of)}，含{SOON_DAYS}天内到期和待签回的表单）"
    nxt = write_table(ws, XLSX_HEADERS, [d.xlsx_row() for d in items], start_row=3)
    if not items:
        ws.cell(row=nxt, column=1, value="（无到期事项）")
    for letter, width in zip("ABCDEFGHIJ", [12, 20, 10, 15, 30, 18, 14, 14, 12, 14], strict=True):
        ws.column_dimensions[letter].width = max(ws.column_dimensions[letter].width or 0, width)
    ws.auto_filter.ref = f"A3:J{max(4, len(items) + 3)}"
    _print_setup(ws, header_row=3)
    wb.save(path)
