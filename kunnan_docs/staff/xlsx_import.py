"""Cases from Excel/WPS: a blank template workbook, and an importer that turns each row into a case file.

The layout is data (schemas/xlsx_layout.json): a main sheet with one family per row, and one sheet per
list (family members, visits, assistance …) keyed by the archive number. Every problem is reported by
sheet, row and column, in Chinese.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation
from tqdm import tqdm

from kunnan_docs.core.casefile import Case
from kunnan_docs.core.findings import Finding, Severity
from kunnan_docs.core.identity import archive_key
from kunnan_docs.core.resources import load_json
from kunnan_docs.core.validate import case_findings
from kunnan_docs.errors import CellError, UsageError
from kunnan_docs.package import identity
from kunnan_docs.package.layout import safe_name
from kunnan_docs.privacy import mask_text
from kunnan_docs.staff.xlsx import new_workbook, put

KEY = "档案号"
HINT_ROW, FIRST_DATA_ROW = 2, 3
LAST_TEMPLATE_ROW = 1000  # drop-downs and text-formatted cells reach this row
IGNORED_AT_IMPORT = {"ATT-MISSING"}  # scans are put beside the case file after the import


def layout() -> dict[str, Any]:
    return load_json("schemas", "xlsx_layout.json")


def write_template(path: Path) -> None:
    wb = new_workbook()
    sheets = [(layout()["main"]["sheet"], layout()["main"]["columns"])]
    sheets += [(s["sheet"], [{"header": KEY, "type": "text", "hint": "对应“案卷”表的档案号"}, *s["columns"]])
               for s in layout()["lists"]]
    wb.remove(wb.active)
    for name, columns in sheets:
        ws = wb.create_sheet(name)
        for col, spec in enumerate(columns, start=1):
            put(ws, 1, col, spec["header"]).font = Font(bold=True)
            hint = spec.get("hint") or {"date": "如 2019-09-16", "list": "用“、”分隔", "bool": "是/否"}.get(spec["type"], "")
            if spec["type"] == "choice":
                hint = "/".join(spec["choices"])
                dv = DataValidation(type="list", formula1='"' + ",".join(spec["choices"]) + '"', allow_blank=True)
                ws.add_data_validation(dv)
                dv.add(f"{ws.cell(row=FIRST_DATA_ROW, column=col).coordinate}:"
                       f"{ws.cell(row=LAST_TEMPLATE_ROW, column=col).coordinate}")
            put(ws, HINT_ROW, col, hint).font = Font(italic=True, color="808080")
            ws.column_dimensions[ws.cell(row=1, column=col).column_letter].width = max(12, len(spec["header"]) * 2 + 2)
            if spec["type"] == "text":
                for row in range(FIRST_DATA_ROW, LAST_TEMPLATE_ROW + 1):
                    ws.cell(row=row, column=col).number_format = "@"  # ID and phone numbers stay text
        ws.freeze_panes = ws.cell(row=FIRST_DATA_ROW, column=1)
    info = wb.create_sheet("说明", 0)
    for i, line in enumerate([
        "困难职工案卷导入模板(成工办〔2019〕43号)",
        "“案卷”表每行一户;其他表每行一条记录,第一列填该户的档案号。",
        "第1行是列名,第2行是填写说明(灰色),请从第3行开始填写,不要改动列名。",
        "日期写成 2019-09-16;身份证号、电话等请保持文本格式,以免 Excel 把后几位变成 0。",
        "填好后运行:kunnan-docs import-xlsx 本文件.xlsx -o 案卷文件夹/",
    ], start=1):
        put(info, i, 1, line)
    info.column_dimensions["A"].width = 90
    wb.save(path)


_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")


_FORMULA_PROBLEM = "是公式,不是填写的内容,未导入。请把公式换成要填的文字(复制后“选择性粘贴 → 数值”)再导入"


def convert(value: object, spec: dict[str, Any]) -> object:
    if isinstance(value, Formula):
        raise CellError(f"{_FORMULA_PROBLEM}(现在是 {value.text[:40]})")
    kind = spec["type"]
    if kind == "text":
        if isinstance(value, float) and value >= 1e15:
            raise CellError("被 Excel 当成了数字,后几位已经丢失。请把该列设为“文本”格式后重新录入")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip()
    if kind == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        match = _DATE.match(str(value))
        if not match:
            raise CellError(f"“{value}”不是日期,请写成 2019-09-16")
        try:
            return date(*(int(g) for g in match.groups())).isoformat()
        except ValueError:
            raise CellError(f"“{value}”不是有效日期") from None
    if kind in ("number", "integer"):
        try:
            number = float(str(value).replace(",", "").strip())
        except ValueError:
            raise CellError(f"“{value}”不是数字") from None
        if kind == "integer":
            if not number.is_integer():
                raise CellError(f"“{value}”应为整数")
            return int(number)
        return int(number) if number.is_integer() else number
    if kind == "list":
        return [part.strip() for part in re.split(r"[、,,;;]", str(value)) if part.strip()]
    if kind == "bool":
        text = str(value).strip().lower()
        if text in ("是", "true", "1", "yes", "y"):
            return True
        if text in ("否", "false", "0", "no", "n"):
            return False
        raise CellError(f"“{value}”应填 是 或 否")
    if kind == "choice":
        choices: dict[str, str] = spec["choices"]
        text = str(value).strip()
        if text in choices:
            return choices[text]
        if text in choices.values():
            return text
        raise CellError(f"“{value}”只能填:{'、'.join(choices)}")
    raise AssertionError(kind)


def _parent(data: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
    """The object holding a pointer's last key (created on the way), and that key."""
    parts = [p for p in pointer.split("/") if p]
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    return node, parts[-1]


@dataclass
class Imported:
    archive_no: str
    row: int
    data: dict[str, Any]
    origin: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # pointer → sheet, row, column
    problems: list[str] = field(default_factory=list)

    def fill(self, target: dict[str, Any], base: str, columns: list[dict[str, Any]], headers: list[object],
             values: tuple[object, ...], sheet: str, row: int) -> None:
        """Convert one sheet row into `target` (which sits at pointer `base` in the case), noting where
        each field came from so that a finding can be reported by sheet, row and column."""
        for col in columns:
            if col["header"] not in headers:
                continue
            self.origin[base + col["pointer"]] = (sheet, row, col["header"])
            value = _at(values, headers.index(col["header"]))
            if value in (None, ""):
                continue
            try:
                node, key = _parent(target, col["pointer"])
                node[key] = convert(value, col)
            except CellError as exc:
                self.problems.append(f"表“{sheet}”第 {row} 行【{col['header']}】:{exc}。")


@dataclass(frozen=True)
class Formula:
    """A cell holding a formula: never imported (its text would be a live formula again in every workbook we
    write from the case; its result is not what the clerk typed)."""

    text: str


def _at(values: tuple[object, ...], index: int) -> object:
    """A row's cell by column; a row shorter than the header row (Excel stores no trailing empty cells) is empty
    there."""
    return values[index] if index < len(values) else None


def _rows(ws: Any) -> list[tuple[int, tuple[object, ...]]]:
    rows = []
    for r, cells in enumerate(ws.iter_rows(min_row=FIRST_DATA_ROW), start=FIRST_DATA_ROW):
        values = tuple(Formula(str(c.value)) if c.data_type == "f" else c.value for c in cells)
        if any(v not in (None, "") for v in values):
            rows.append((r, values))
    return rows


def _headers(ws: Any) -> list[object]:
    return [c.value for c in next(ws.iter_rows(max_row=1), ())]


# What a damaged workbook makes openpyxl (zipfile, zlib, the XML parsers) raise while it is opened or read.
_DAMAGED = (zipfile.BadZipFile, zlib.error, InvalidFileException, KeyError, ValueError, TypeError, IndexError,
            EOFError, OSError, SyntaxError)
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an Excel 97-2003 .xls, or a workbook with an opening password


def open_book(path: Path) -> Any:
    """The workbook (read-only, formulas as formulas), or a UsageError saying what the file is and what to do."""
    try:
        with path.open("rb") as file:
            head = file.read(len(OLE_MAGIC))
    except OSError as exc:
        raise UsageError(f"无法读取工作簿 {path}({exc.strerror})。请确认文件存在,且没有被其他程序占用。") from None
    if not head:
        raise UsageError(f"工作簿 {path} 是空文件(0 字节)。请在 Excel 或 WPS 中重新保存后再导入。")
    if head == OLE_MAGIC:
        raise UsageError(f"工作簿 {path} 是旧版 Excel 97-2003(.xls)文件,或设了打开密码,无法读取。请在 Excel 或 WPS "
                         "中打开它(有密码的先取消密码),“另存为”Excel 工作簿(*.xlsx)后再导入。")
    if not zipfile.is_zipfile(path):
        raise UsageError(f"{path} 不是 Excel 工作簿(.xlsx)。请用 kunnan-docs template-xlsx 生成的模板填写;"
                         "WPS 表格请“另存为”Excel 工作簿(*.xlsx)。")
    try:
        return load_workbook(path, read_only=True, data_only=False)
    except _DAMAGED as exc:
        raise UsageError(_damaged(path, exc)) from None


def _damaged(path: Path, exc: BaseException) -> str:
    return (f"工作簿 {path} 已损坏,无法读取({type(exc).__name__})。请在 Excel 或 WPS 中打开它并重新保存"
            "(打不开的请从备份恢复),再导入。")


def read_book(path: Path) -> tuple[list[Imported], list[str]]:
    wb = open_book(path)
    try:
        return _read(wb)
    except _DAMAGED as exc:  # read-only workbooks read their sheets only now
        raise UsageError(_damaged(path, exc)) from None
    finally:
        wb.close()


def _read(wb: Any) -> tuple[list[Imported], list[str]]:
    spec = layout()
    main = spec["main"]
    if main["sheet"] not in wb.sheetnames:
        raise UsageError(f"工作簿中没有“{main['sheet']}”表。请用 kunnan-docs template-xlsx 生成的模板填写。")
    cases: dict[str, Imported] = {}
    orphan: list[str] = []
    ws = wb[main["sheet"]]
    headers = _headers(ws)
    if KEY not in headers:
        raise UsageError(f"表“{main['sheet']}”第 1 行没有列名(应有“{KEY}”等)。请用 kunnan-docs template-xlsx 生成的模板"
                         "填写,不要删除或改动前两行。")
    rows = _rows(ws)
    if not rows:
        orphan.append(f"表“{main['sheet']}”从第 {FIRST_DATA_ROW} 行起没有填写任何一户,没有导入。请每行填写一户后再导入。")
    for r, values in tqdm(rows, desc="读取案卷", unit="行", disable=None):
        item = Imported("", r, {"schema_version": "1.0", "attachments": []})
        item.fill(item.data, "", main["columns"], headers, values, main["sheet"], r)
        item.archive_no = str(item.data.get("archive_no", ""))
        if not item.archive_no:
            orphan += item.problems or [f"表“{main['sheet']}”第 {r} 行:没有填档案号,整行未导入。"]
            continue
        if (key := archive_key(item.archive_no)) in cases:
            orphan.append(f"表“{main['sheet']}”第 {r} 行:档案号 {item.archive_no} 与第 {cases[key].row} 行重复"
                          "(档案号不区分大小写)。")
            continue
        cases[key] = item
    for sheet in spec["lists"]:
        if sheet["sheet"] not in wb.sheetnames:
            continue
        ws = wb[sheet["sheet"]]
        headers = _headers(ws)
        for r, values in _rows(ws):
            key = _at(values, 0)
            if isinstance(key, Formula):
                orphan.append(f"表“{sheet['sheet']}”第 {r} 行【{KEY}】:{_FORMULA_PROBLEM}。")
                continue
            key = str(key or "").strip()
            if archive_key(key) not in cases:
                orphan.append(f"表“{sheet['sheet']}”第 {r} 行:档案号“{key}”在“案卷”表中没有,该行未导入。")
                continue
            item = cases[archive_key(key)]
            node, name = _parent(item.data, sheet["pointer"])
            records = node.setdefault(name, [])
            base = f"{sheet['pointer']}/{len(records)}"
            record: dict[str, Any] = {}
            item.origin[base] = (sheet["sheet"], r, "")
            item.fill(record, base, sheet["columns"], headers, values, sheet["sheet"], r)
            records.append(record)
    return list(cases.values()), orphan


def locate(item: Imported, finding: Finding) -> str:
    pointer = finding.pointer
    while pointer and pointer not in item.origin:
        pointer = pointer.rsplit("/", 1)[0]
    sheet, row, header = item.origin.get(pointer, (layout()["main"]["sheet"], item.row, ""))
    return f"表“{sheet}”第 {row} 行" + (f"【{header}】" if header else "")


def import_book(path: Path, out_dir: Path, outbox: Path | None = None) -> tuple[list[Path], list[str]]:
    """Write a case folder per valid row; return the files written and every problem found (cells are
    quoted with their ID and phone numbers masked). Each family is checked against the packages of `outbox`
    and the rows before it: an archive number is one family's, a person has one active file."""
    items, problems = read_book(path)
    index = identity.load(outbox)
    written = []
    for item in items:
        if item.problems:
            problems += item.problems
            continue
        target = out_dir / safe_name(item.archive_no) / "case.json"
        case = Case(data=item.data, path=target)
        errors = [f for f in case_findings(case) if f.severity is Severity.ERROR and f.code not in IGNORED_AT_IMPORT]
        errors = errors or [f for f in index.check(case) if f.severity is Severity.ERROR]
        if errors:
            problems += [f"{locate(item, f)}(档案号 {item.archive_no}):{f.message}" for f in errors]
            continue
        index.admit(case, f"表“{layout()['main']['sheet']}”第 {item.row} 行")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(item.data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(target)
    return written, [mask_text(p) for p in problems]
