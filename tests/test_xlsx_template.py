"""The Excel template a clerk types into: every row that offers a drop-down also keeps numbers as text."""

from __future__ import annotations

from openpyxl import load_workbook

from kunnan_docs.cli import main
from kunnan_docs.errors import ExitCode
from kunnan_docs.staff.xlsx_import import FIRST_DATA_ROW, LAST_TEMPLATE_ROW


def test_id_cells_are_text_on_every_row_the_drop_downs_reach(tmp_path) -> None:
    target = tmp_path / "t.xlsx"
    assert main(["template-xlsx", "-o", str(target)]) == ExitCode.OK
    ws = load_workbook(target)["案卷"]
    id_col = next(c.column for c in ws[1] if c.value == "身份证号")
    last_drop_down_row = max(r.max_row for dv in ws.data_validations.dataValidation for r in dv.sqref.ranges)
    assert last_drop_down_row == LAST_TEMPLATE_ROW
    for row in (FIRST_DATA_ROW, 199, 200, LAST_TEMPLATE_ROW):
        assert ws.cell(row=row, column=id_col).number_format == "@", row  # rows 200-1000 were "General"
