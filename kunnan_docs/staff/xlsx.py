"""Excel workbooks for clerks (openpyxl): bold Chinese headers, sensible widths, frozen header row."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import lru_cache

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from kunnan_docs.core.text import one_line

FIXED_TIME = datetime(2019, 7, 30)  # the notice's date: workbook properties never carry the clock
ZH_DATE_FORMAT = 'yyyy"年"m"月"d"日"'  # a real date cell (sortable), shown the way our sheets write dates
DATE_WIDTH = 14


@lru_cache(maxsize=1 << 14)
def display_width(text: str) -> int:
    """Columns a text takes in a terminal or a spreadsheet: CJK characters count double. Cached: a list of
    10,000 rows repeats its contact persons, items and states."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def new_workbook() -> Workbook:
    wb = Workbook()
    wb.properties.creator = "kunnan-docs"
    wb.properties.created = wb.properties.modified = FIXED_TIME
    return wb


# What a spreadsheet takes for the start of a formula (OWASP "CSV injection"): a text beginning so is kept text.
FORMULA_START = ("=", "+", "-", "@")


def put(ws: Worksheet, row: int, column: int, value: object) -> Cell:
    """The one way a value goes into a cell of a workbook we write. A text is always text, never a formula: one
    starting with = + - @ is stored as a string marked as typed with a leading apostrophe (quotePrefix), so that
    neither opening the cell nor editing it in Excel or WPS runs it; its control characters are escaped (one_line),
    which also keeps any that openpyxl refuses out of the cell (a tab or a carriage return at the start is how a
    formula hides from a naive check)."""
    cell = ws.cell(row=row, column=column)
    if not isinstance(value, str):
        cell.value = value
        return cell
    text = one_line(value)
    cell.value = text
    if text.startswith(FORMULA_START):
        cell.data_type = "s"  # openpyxl made it a formula
        cell.quotePrefix = True
    return cell


def write_table(ws: Worksheet, headers: Sequence[str], rows: Iterable[Sequence[object]], start_row: int = 1) -> int:
    """Header row in bold, then the rows (dates as real date cells, texts never formulas: `put`); returns the next
    free row."""
    for col, header in enumerate(headers, start=1):
        cell = put(ws, start_row, col, header)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    r = start_row
    widths = [display_width(h) for h in headers]
    for r, row in enumerate(rows, start=start_row + 1):
        for col, value in enumerate(row, start=1):
            cell = put(ws, r, col, value)
            if isinstance(value, date):
                cell.number_format = ZH_DATE_FORMAT
            shown = DATE_WIDTH if isinstance(value, date) else display_width(str(value if value is not None else ""))
            widths[col - 1] = max(widths[col - 1], shown)
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = min(60, width + 2)
    ws.freeze_panes = ws.cell(row=start_row + 1, column=1)
    return r + 1


def terminal_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    texts = [[str(v if v is not None else "") for v in row] for row in rows]
    widths = [max([display_width(h)] + [display_width(r[i]) for r in texts]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c + " " * (w - display_width(c)) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in texts)])
