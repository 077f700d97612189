"""Cases from Excel/WPS: a blank template workbook, and an importer that turns each row into a case file.

The layout is data (schemas/xlsx_layout.json): a main sheet with one family per row, and one sheet per
list (family members, visits, assistance …) keyed by the archive number. Every problem is reported by
sheet, row and column, in Chinese.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.styles import Font
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
from kunnan_docs.staff.xlsx import new_workbook

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
            ws.cell(row=1, column=col, value=spec["header"]).font = Font(bold=True)
            hint = spec.get("hint") or {"date": "如 2019-09-16", "list": "用“、”分隔", "bool": "是/否"}.get(spec["type"], "")
            if spec["type"] == "choice":
                hint = "/".join(spec["choices"])
                dv = DataValidation(type="list", formula1='"' + ",".join(spec["choices"]) + '"', allow_blank=True)
                ws.add_data_validation(dv)
                dv.add(f"{ws.cell(row=FIRST_DATA_ROW, column=col).coordinate}:"
                       f"{ws.cell(row=LAST_TEMPLATE_ROW, column=col).coordinate}")
            ws.cell(row=HINT_ROW, column=col, value=hint).font = Font(italic=True, color="808080")
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
        info.cell(row=i, column=1, value=line)
    info.column_dimensions["A"].width = 90
    wb.save(path)


_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")


def convert(value: object, spec: dict[str, Any]) -> object:
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
            value = values[headers.index(col["header"])]
            if value in (None, ""):
                continue
            try:
                node, key = _parent(target, col["pointer"])
                node[key] = convert(value, col)
            except CellError as exc:
                self.problems.append(f"表“{sheet}”第 {row} 行【{col['header']}】:{exc}。")


def _rows(ws: Any) -> list[tuple[int, tuple[object, ...]]]:
    rows = []
    for r, values in enumerate(ws.iter_rows(min_row=FIRST_DATA_ROW, values_only=True), start=FIRST_DATA_ROW):
        if any(v not in (None, "") for v in values):
            rows.append((r, values))
    return rows


def read_book(path: Path) -> tuple[list[Imported], list[str]]:
    try:
        wb = load_workbook(path, data_only=True, read_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"无法打开工作簿 {path}({exc})。请确认是 .xlsx 文件(WPS 请另存为 Excel 格式)。") from None
    spec = layout()
    main = spec["main"]
    if main["sheet"] not in wb.sheetnames:
        raise UsageError(f"工作簿中没有“{main['sheet']}”表。请用 kunnan-docs template-xlsx 生成的模板填写。")
    cases: dict[str, Imported] = {}
    orphan: list[str] = []
    ws = wb[main["sheet"]]
    headers = [c.value for c in next(ws.iter_rows(max_row=1))]
    for r, values in tqdm(_rows(ws), desc="读取案卷", unit="行", disable=None):
        item = Imported("", r, {"schema_version": "1.0", "attachments": []})
        item.fill(item.data, "", main["columns"], headers, values, main["sheet"], r)
        item.archive_no = str(item.data.get("archive_no", ""))
        if not item.archive_no:
            orphan.append(f"表“{main['sheet']}”第 {r} 行:没有填档案号,整行未导入。")
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
        headers = [c.value for c in next(ws.iter_rows(max_row=1))]
        for r, values in _rows(ws):
            key = str(values[0] or "").strip()
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
    wb.close()
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
