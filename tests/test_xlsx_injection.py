"""Formula injection (OWASP "CSV injection", issue 22): values from a case starting with = + - @ became live formulas
in due.xlsx and 移交清单.xlsx (=HYPERLINK, =DDE), and import-xlsx let formulas in from Excel.

Every workbook we write is opened back — its sheets' XML and through openpyxl — after writing hostile values from a
real built package: no cell holds a formula, and every hostile value is there as the text it was."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from kunnan_docs.cli import main
from kunnan_docs.errors import ExitCode
from kunnan_docs.staff.xlsx import new_workbook, put, write_table
from kunnan_docs.staff.xlsx_import import FIRST_DATA_ROW, write_template

from .conftest import FILING_EXAMPLE

HOSTILE = {
    "/worker/name": '=HYPERLINK("http://e.vil","点")',
    "/worker/address": '=DDE("cmd";"/C calc";"!A0")成都市',
    "/worker/phone": "-2+3-1234567",
    "/contact_person/name": "+cmd|'/C calc'!A0",
    "/union": "@SUM(1+1)锦华工会",
    "/district": '=HYPERLINK("http://e.vil")总工会',
}


def formulas(book: Path) -> Iterator[str]:
    """Every formula in a workbook, read from its XML (what Excel would run) and through openpyxl."""
    with zipfile.ZipFile(book) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/") and re.search(rb"<f[ >/]", zf.read(name)):
                yield f"{name}: <f>"  # a cell's formula element (a drop-down's list is <formula1>, no formula)
    wb = load_workbook(book)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            yield from (f"{ws.title}!{c.coordinate} {c.value}" for c in row if c.data_type == "f")


def texts(book: Path) -> set[str]:
    return {str(c.value) for ws in load_workbook(book).worksheets for row in ws.iter_rows() for c in row}


@pytest.fixture(scope="module")
def hostile_outbox(tmp_path_factory: pytest.TempPathFactory, test_environment: Path) -> Path:
    from .inbox_kit import copy_case

    root = tmp_path_factory.mktemp("hostile")
    case = copy_case(FILING_EXAMPLE, root / "cases" / "hostile", HOSTILE) / "case.json"
    outbox = root / "outbox"
    # the example's signed scan is of its own survey form, not of this one's: awaiting signature
    assert main(["build", str(case), "-o", str(outbox)]) == ExitCode.AWAITING_SIGNATURE
    return outbox


def test_due_xlsx_holds_hostile_values_as_text(hostile_outbox: Path, tmp_path: Path) -> None:
    book = tmp_path / "due.xlsx"
    assert main(["due", "--outbox", str(hostile_outbox), "--as-of", "2030-01-01", "-o", str(book)]) == ExitCode.OK
    assert list(formulas(book)) == []
    shown = texts(book)
    for pointer in ("/worker/name", "/worker/address", "/contact_person/name"):
        assert HOSTILE[pointer] in shown, pointer


def test_handover_register_holds_hostile_values_as_text(hostile_outbox: Path, tmp_path: Path) -> None:
    target = tmp_path / "移交"
    assert main(["handover", "--outbox", str(hostile_outbox), "--district", HOSTILE["/district"], "--date",
                 "2019-10-30", "--allow-unsigned", "-o", str(target)]) == ExitCode.OK
    book = target / "移交清单.xlsx"
    assert list(formulas(book)) == []
    assert {HOSTILE["/worker/name"], HOSTILE["/district"], HOSTILE["/union"]} <= texts(book)


def test_the_import_template_holds_no_formula(tmp_path: Path) -> None:
    book = tmp_path / "template.xlsx"
    write_template(book)
    assert list(formulas(book)) == []


@pytest.mark.parametrize("value", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1+1", "\r=1+1", "=A1\x00"])
def test_a_text_is_never_a_formula_whatever_it_starts_with(tmp_path: Path, value: str) -> None:
    book = tmp_path / "t.xlsx"
    wb = new_workbook()
    put(wb.active, 1, 1, value)
    write_table(wb.active, ["表头"], [[value], [7], [date(2019, 9, 16)]], start_row=3)
    wb.save(book)
    assert list(formulas(book)) == []
    ws = load_workbook(book).active
    assert ws["A1"].value == ws["A4"].value and ws["A4"].data_type == "s"
    assert ws["A4"].quotePrefix == ws["A4"].value.startswith(("=", "+", "-", "@"))  # stays text when edited
    assert ws["A5"].value == 7 and ws["A6"].value.date() == date(2019, 9, 16)  # numbers and dates stay so


def test_import_takes_no_formula_from_excel(tmp_path: Path, capsys) -> None:
    book = tmp_path / "book.xlsx"
    write_template(book)
    wb = load_workbook(book)
    ws = wb["案卷"]
    headers = [c.value for c in ws[1]]
    for header, value in {"档案号": "CD510108-2019-0037", "案卷类别": "建档",
                          "姓名": '=HYPERLINK("http://e.vil","李建华")'}.items():
        ws.cell(row=FIRST_DATA_ROW, column=headers.index(header) + 1, value=value)
    wb.save(book)
    assert main(["import-xlsx", str(book), "-o", str(tmp_path / "out")]) == ExitCode.INVALID
    out = capsys.readouterr().out
    assert f"表“案卷”第 {FIRST_DATA_ROW} 行【姓名】:是公式" in out and "选择性粘贴" in out
    assert not (tmp_path / "out").exists()


def test_formula_check_sees_a_formula(tmp_path: Path) -> None:
    """The check above can fail: a workbook with a formula is caught."""
    book = tmp_path / "f.xlsx"
    wb = Workbook()
    wb.active["A1"] = "=1+1"
    wb.save(book)
    assert len(list(formulas(book))) == 2
