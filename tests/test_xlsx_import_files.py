"""import-xlsx on what clerks really hand in (issue 22: each was exit 10, 程序内部错误): an old .xls renamed, a
workbook with an opening password, a file that is no zip or is empty, a damaged zip, an empty 案卷 sheet, an empty
template, rows shorter than the header row. Each is a Chinese message saying what to do, exit 2 (the file) or 1
(the rows), never 10.

tests/xlsx_samples/ holds real files made by other programs: 旧版格式.xls by xlwt (Excel 97-2003, BIFF8) and
设了密码.xlsx, a small workbook encrypted by msoffcrypto-tool with the password "kunnan" (ECMA-376 agile
encryption, as Excel does)."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from kunnan_docs.cli import main
from kunnan_docs.errors import ExitCode
from kunnan_docs.staff.xlsx_import import write_template

from .conftest import FILING_EXAMPLE
from .test_workflows import fill_workbook

SAMPLES = Path(__file__).parent / "xlsx_samples"


def _filled(tmp_path: Path) -> Path:
    template, book = tmp_path / "template.xlsx", tmp_path / "filled.xlsx"
    write_template(template)
    fill_workbook(template, [json.loads((FILING_EXAMPLE / "case.json").read_text(encoding="utf-8"))], book)
    return book


def _rewritten(source: Path, target: Path, edit: dict[str, bytes] | None = None, damage: str = "") -> Path:
    """A copy of a workbook with some parts' bytes replaced, or one part's compressed bytes damaged."""
    raw = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as zin:
        if damage:
            info = zin.getinfo(damage)
            start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
            for i in range(start + info.compress_size // 3, start + info.compress_size // 3 + 8):
                raw[i] ^= 0xFF
            target.write_bytes(bytes(raw))
            return target
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():
                zout.writestr(item, (edit or {}).get(item.filename, zin.read(item)))
    return target


def _old_xls(tmp_path: Path) -> Path:
    return Path(shutil.copy(SAMPLES / "旧版格式.xls", tmp_path / "案卷.xlsx"))  # renamed, as clerks do


def _encrypted(tmp_path: Path) -> Path:
    return Path(shutil.copy(SAMPLES / "设了密码.xlsx", tmp_path / "案卷.xlsx"))


def _empty(tmp_path: Path) -> Path:
    (tmp_path / "案卷.xlsx").write_bytes(b"")
    return tmp_path / "案卷.xlsx"


def _text(tmp_path: Path) -> Path:
    (tmp_path / "案卷.xlsx").write_text("档案号,姓名\nCD510108-2019-0037,李建华\n", encoding="utf-8")
    return tmp_path / "案卷.xlsx"


def _truncated(tmp_path: Path) -> Path:
    book = _filled(tmp_path)
    (tmp_path / "案卷.xlsx").write_bytes(book.read_bytes()[: book.stat().st_size // 2])
    return tmp_path / "案卷.xlsx"


def _damaged(tmp_path: Path) -> Path:
    return _rewritten(_filled(tmp_path), tmp_path / "案卷.xlsx", damage="xl/worksheets/sheet2.xml")


def _no_main_rows(tmp_path: Path) -> Path:
    book = tmp_path / "案卷.xlsx"
    wb = Workbook()
    wb.active.title = "案卷"  # the sheet is there, with nothing in it
    wb.save(book)
    return book


FILES = {  # how the file is made, what the message must say
    "old .xls renamed": (_old_xls, "旧版 Excel 97-2003(.xls)"),
    "opening password": (_encrypted, "设了打开密码"),
    "empty file": (_empty, "空文件"),
    "text, not a zip": (_text, "不是 Excel 工作簿"),
    "truncated": (_truncated, "不是 Excel 工作簿"),
    "damaged part": (_damaged, "已损坏"),
    "empty 案卷 sheet": (_no_main_rows, "第 1 行没有列名"),
}


@pytest.mark.parametrize("name", list(FILES))
def test_a_file_import_cannot_read_is_said_in_words(tmp_path: Path, capsys, name: str) -> None:
    make, words = FILES[name]
    book = make(tmp_path)
    assert main(["import-xlsx", str(book), "-o", str(tmp_path / "out")]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert words in err and "内部错误" not in err, err
    assert not (tmp_path / "out").exists()


def test_an_empty_template_imports_nothing_and_says_so(tmp_path: Path, capsys) -> None:
    book = tmp_path / "案卷.xlsx"
    write_template(book)
    assert main(["import-xlsx", str(book), "-o", str(tmp_path / "out")]) == ExitCode.INVALID
    assert "没有填写任何一户" in capsys.readouterr().out


def test_rows_shorter_than_the_header_row_are_read(tmp_path: Path) -> None:
    """A workbook whose sheets do not declare their size (as some programs write them): openpyxl then gives each row
    only the cells it has, fewer than the header row's."""
    filled = _filled(tmp_path)
    with zipfile.ZipFile(filled) as zf:
        sheets = {n: re.sub(rb'<dimension ref="[^"]*"/>', b"", zf.read(n)) for n in zf.namelist()
                  if n.startswith("xl/worksheets/")}
    book = _rewritten(filled, tmp_path / "案卷.xlsx", sheets)
    assert main(["import-xlsx", str(book), "-o", str(tmp_path / "out")]) == ExitCode.OK
    imported = json.loads((tmp_path / "out" / "CD510108-2019-0037" / "case.json").read_text(encoding="utf-8"))
    assert imported["worker"]["name"] == "李建华"
