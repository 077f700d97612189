"""Cases from Excel/WPS: a blank template workbook, and an importer that turns each row into a case file.

The layout is data (schemas/xlsx_layout.json): a main sheet with one family per row, and one sheet per
list (family members, visits, assistance …) keyed by the archive number. Every problem is reported by
sheet, row and column, in Chinese.
"""

from __future__ import annotations

import copy
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation
from tqdm import tqdm

from kunnan_docs.core.casefile import Case
from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.findings import Finding, Severity, changed_fields, schema_node
from kunnan_docs.core.identity import archive_key
from kunnan_docs.core.labels import Kind
from kunnan_docs.core.resources import load_json
from kunnan_docs.core.validate import case_findings
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.errors import CellError, UsageError
from kunnan_docs.package import identity
from kunnan_docs.package.layout import INPUT_DIR, safe_name
from kunnan_docs.package.outbox import Published, published
from kunnan_docs.privacy import mask_text
from kunnan_docs.staff.xlsx import new_workbook, put

KEY = "档案号"
HINT_ROW, FIRST_DATA_ROW = 2, 3
LAST_TEMPLATE_ROW = 1000  # drop-downs and text-formatted cells reach this row
ATTACHMENTS = "/attachments"  # the 附件 sheet's list: scans come with the case, never emptied by a re-import
IGNORED_AT_IMPORT = {"ATT-MISSING"}  # scans are put beside the case file after the import


def layout() -> dict[str, Any]:
    return load_json("schemas", "xlsx_layout.json")


OPTIONS_SHEET = "选项"  # hidden: the drop-down lists, one column each (a list typed into a validation stops at 255
# characters, and a comma inside a checklist title would split it)


def item_names() -> dict[str, str]:
    """What the 附件 sheet's 清单项 column offers: “第N项 名称” of every kind's checklist (schemas/checklists.json),
    mapped to the item's code, which stays what the case file holds."""
    names: dict[str, str] = {}
    for kind in Kind:
        for item in kind_spec(kind).items:
            names.setdefault(f"第{item.no}项 {item.title}", item.id)
    return names


def _enum_titles(pointer: str) -> dict[str, str]:
    """The schema's choices at a pointer, each with the words a clerk reads (x-enum-titles, the kinds' labels)."""
    node = schema_node(pointer)
    node = node.get("items", node) if node.get("type") == "array" else node
    if pointer == "/kind":
        return {k.value: k.label for k in Kind}
    titles = node.get("x-enum-titles", {})
    return {str(v): str(titles.get(v, v)) for v in node.get("enum", [])}


def columns(spec: dict[str, Any], base: str = "") -> list[dict[str, Any]]:
    """A sheet's columns as the template writes them and the import reads them: a choice accepts the schema's words
    first, then its older words in the layout, then the codes; 清单项 accepts the checklist's names or codes; every
    column whose schema has choices gets `options`, its drop-down."""
    found = []
    for col in spec["columns"]:
        col = dict(col)
        pointer = base + col["pointer"]
        if col["type"] == "item":
            col["choices"] = item_names()
        elif col["type"] == "choice":
            titles = _enum_titles(pointer)
            col["choices"] = {v: k for k, v in titles.items()} | col.get("choices", {})
        elif col["type"] in ("text", "list") and (titles := _enum_titles(pointer)):
            col["options"] = list(titles.values())
        if col["type"] in ("item", "choice"):
            col["options"] = [k for k in col["choices"] if col["type"] == "item" or k in _enum_titles(pointer).values()]
        found.append(col)
    return found


def sheets() -> list[tuple[str, list[dict[str, Any]]]]:
    """Each sheet of the template with its columns (the list sheets' first column is the archive number)."""
    main = layout()["main"]
    found = [(main["sheet"], columns(main))]
    key = {"header": KEY, "type": "text", "hint": "对应“案卷”表的档案号"}
    found += [(s["sheet"], [key, *columns(s, s["pointer"] + "/0")]) for s in layout()["lists"]]
    return found


def write_template(path: Path) -> None:
    wb = new_workbook()
    wb.remove(wb.active)
    lists: dict[tuple[str, ...], str] = {}  # a drop-down's words → its range on the hidden sheet
    options = wb.create_sheet(OPTIONS_SHEET)
    options.sheet_state = "hidden"
    for name, specs in sheets():
        ws = wb.create_sheet(name, len(wb.sheetnames) - 1)
        for col, spec in enumerate(specs, start=1):
            put(ws, 1, col, spec["header"]).font = Font(bold=True)
            hint = spec.get("hint") or {"date": "如 2019-09-16", "list": "用“、”分隔", "bool": "是/否"}.get(spec["type"], "")
            if spec["type"] == "choice":
                hint = "/".join(spec["options"])
            if words := tuple(spec.get("options", ())):
                if words not in lists:
                    letter = get_column_letter(len(lists) + 1)
                    for r, word in enumerate(words, start=1):
                        put(options, r, len(lists) + 1, word)
                    lists[words] = f"{quote_sheetname(OPTIONS_SHEET)}!${letter}$1:${letter}${len(words)}"
                one = spec["type"] != "list"  # a list column takes several words joined by 、: the drop-down only helps
                dv = DataValidation(type="list", formula1=lists[words], allow_blank=True, showErrorMessage=one,
                                    errorTitle="不在可选范围内", error="请从下拉列表中选择。")
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
        "有下拉箭头的列请从下拉列表中选择;“附件”表的清单项选材料名称(如 第1项 身份证复印件)。",
        "日期写成 2019-09-16;身份证号、电话等请保持文本格式,以免 Excel 把后几位变成 0。",
        "填好后在工作台的“导入Excel”页上传,核对预览后确认导入。",
    ], start=1):
        put(info, i, 1, line)
    info.column_dimensions["A"].width = 90
    wb.active = 0
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
    if kind in ("choice", "item"):
        choices: dict[str, str] = spec["choices"]
        text = str(value).strip()
        if text in choices:
            return choices[text]
        if text in choices.values():
            return text
        if kind == "item":
            raise CellError(f"“{value}”不是清单中的材料。请从下拉列表中选择(如“第1项 身份证复印件”)")
        raise CellError(f"“{value}”只能填:{'、'.join(spec['options'])}")
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
CLI_TEMPLATE = "kunnan-docs template-xlsx 生成的模板"  # where a clerk gets the template, in messages
DESK_TEMPLATE = "工作台“导入Excel”页下载的模板"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an Excel 97-2003 .xls, or a workbook with an opening password


def open_book(path: Path, shown: str | None = None) -> Any:
    """The workbook (read-only, formulas as formulas), or a UsageError saying what the file is and what to do;
    `shown`: the name the message gives it (the desk's upload, whose path on the server is no clerk's business)."""
    name, template = (shown, DESK_TEMPLATE) if shown else (str(path), CLI_TEMPLATE)
    try:
        with path.open("rb") as file:
            head = file.read(len(OLE_MAGIC))
    except OSError as exc:
        raise UsageError(f"无法读取工作簿 {name}({exc.strerror})。请确认文件存在,且没有被其他程序占用。") from None
    if not head:
        raise UsageError(f"工作簿 {name} 是空文件(0 字节)。请在 Excel 或 WPS 中重新保存后再导入。")
    if head == OLE_MAGIC:
        raise UsageError(f"工作簿 {name} 是旧版 Excel 97-2003(.xls)文件,或设了打开密码,无法读取。请在 Excel 或 WPS "
                         "中打开它(有密码的先取消密码),“另存为”Excel 工作簿(*.xlsx)后再导入。")
    if not zipfile.is_zipfile(path):
        raise UsageError(f"{name} 不是 Excel 工作簿(.xlsx)。请用{template}填写;"
                         "WPS 表格请“另存为”Excel 工作簿(*.xlsx)。")
    try:
        return load_workbook(path, read_only=True, data_only=False)
    except _DAMAGED as exc:
        raise UsageError(_damaged(name, exc)) from None


def _damaged(name: str, exc: BaseException) -> str:
    return (f"工作簿 {name} 已损坏,无法读取({type(exc).__name__})。请在 Excel 或 WPS 中打开它并重新保存"
            "(打不开的请从备份恢复),再导入。")


def read_book(path: Path, shown: str | None = None) -> tuple[list[Imported], list[str]]:
    wb = open_book(path, shown)
    try:
        return _read(wb, DESK_TEMPLATE if shown else CLI_TEMPLATE)
    except _DAMAGED as exc:  # read-only workbooks read their sheets only now
        raise UsageError(_damaged(shown or str(path), exc)) from None
    finally:
        wb.close()


def _read(wb: Any, template: str) -> tuple[list[Imported], list[str]]:
    spec = layout()
    main = spec["main"]
    if main["sheet"] not in wb.sheetnames:
        raise UsageError(f"工作簿中没有“{main['sheet']}”表。请用{template}填写。")
    cases: dict[str, Imported] = {}
    orphan: list[str] = []
    ws = wb[main["sheet"]]
    headers = _headers(ws)
    if KEY not in headers:
        raise UsageError(f"表“{main['sheet']}”第 1 行没有列名(应有“{KEY}”等)。请用{template}"
                         "填写,不要删除或改动前两行。")
    rows = _rows(ws)
    main_columns = columns(main)
    if not rows:
        orphan.append(f"表“{main['sheet']}”从第 {FIRST_DATA_ROW} 行起没有填写任何一户,没有导入。请每行填写一户后再导入。")
    for r, values in tqdm(rows, desc="读取案卷", unit="行", disable=None):
        item = Imported("", r, {"schema_version": "1.0", "attachments": []})
        item.fill(item.data, "", main_columns, headers, values, main["sheet"], r)
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
        sheet_columns = columns(sheet, sheet["pointer"] + "/0")
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
            item.fill(record, base, sheet_columns, headers, values, sheet["sheet"], r)
            records.append(record)
    return list(cases.values()), orphan


def locate(item: Imported, finding: Finding) -> str:
    pointer = finding.pointer
    while pointer and pointer not in item.origin:
        pointer = pointer.rsplit("/", 1)[0]
    sheet, row, header = item.origin.get(pointer, (layout()["main"]["sheet"], item.row, ""))
    return f"表“{sheet}”第 {row} 行" + (f"【{header}】" if header else "")


class RowState(StrEnum):
    """What a re-import would do with one family's row."""

    READY = "ready"  # a new family, nothing against it
    PROBLEM = "problem"  # not importable: what to fix is listed
    UNCHANGED = "unchanged"  # the published family's case is what the row makes: skipped
    CHANGED = "changed"  # a published family whose row differs: a new version, only when chosen

    @property
    def label(self) -> str:
        return {"ready": "可以导入", "problem": "有问题,不能导入", "unchanged": "与已成卷的相同,跳过",
                "changed": "已成卷,有改动"}[self]


@dataclass
class Family:
    """One family's row of a workbook, as a preview shows it."""

    archive_no: str
    name: str
    row: int  # on the main sheet
    state: RowState
    case: dict[str, Any]  # what would be submitted (for a published family: its case with the row's fields)
    imported: Imported
    problems: list[str] = field(default_factory=list)  # plain Chinese, by sheet, row and column, numbers masked
    changes: list[str] = field(default_factory=list)  # the Chinese titles of the fields a re-import changes
    folder: Path | None = None  # the published package's input folder (its scans), for a published family


@dataclass
class Preview:
    """Every family row of a workbook checked against an outbox, before anything is written."""

    families: list[Family]
    other: list[str]  # problems of no one family: a row without an archive number, a list row of no family

    def count(self, state: RowState | str) -> int:
        return sum(f.state == state for f in self.families)


def preview(path: Path, outbox: Path | None, calendar: WorkCalendar | None = None, shown: str | None = None,
            scans_later: bool = True) -> Preview:
    """What importing the workbook would do, family by family: checked like `validate` against the outbox's packages
    and the rows above. A published family is compared with its published case (input/case.json) after taking the
    row's fields into it: the scans it has keep, so a row that says nothing new is unchanged. `scans_later`: the
    attachments' files follow the import (the command line); the desk has none, so a 附件 row naming a file that is
    not already in the package is a problem. `shown`: the workbook's name in messages instead of its path."""
    items, other = read_book(path, shown)
    index = identity.load(outbox)
    packages = {archive_key(p.archive_no): p for p in published(outbox)} if outbox and outbox.is_dir() else {}
    families = [_family(item, index, packages.get(archive_key(item.archive_no)), calendar, scans_later)
                for item in items]
    return Preview(families, [mask_text(p) for p in other])


def _family(item: Imported, index: identity.Index, pkg: Published | None, calendar: WorkCalendar | None,
            scans_later: bool) -> Family:
    name = str(item.data.get("worker", {}).get("name") or "")
    family = Family(item.archive_no, name, item.row, RowState.PROBLEM, item.data, item)
    if item.problems:
        family.problems = [mask_text(p) for p in item.problems]
        return family
    own = [f for f in index.check(Case(data=item.data, path=Path(safe_name(item.archive_no)) / "case.json"))
           if f.severity is Severity.ERROR] if pkg is not None else []
    if own:  # the archive number is another family's: nothing of that family's package is merged into the row
        family.problems = [mask_text(f"{locate(item, f)}(档案号 {item.archive_no}):{f.message}") for f in own]
        return family
    old: dict[str, Any] | None = None
    if pkg is not None and len(found := sorted((pkg.folder / INPUT_DIR).glob("*.json"))) == 1:
        old = json.loads(found[0].read_text(encoding="utf-8"))
        family.case, family.folder = _merged(old, item.data), found[0].parent
    if not scans_later:
        kept = {(a.get("item"), a.get("path")) for a in (old or {}).get("attachments", [])}
        family.problems = [f"{locate(item, Finding('', Severity.ERROR, f'/attachments/{i}', ''))}【文件】:工作台导入时"
                           "不能带扫描件。请删去这一行,导入后在案卷页用“上传扫描件”上传。"
                           for i, a in enumerate(item.data.get("attachments", []))
                           if (a.get("item"), a.get("path")) not in kept]
    case = Case(data=family.case, path=(family.folder or Path(safe_name(item.archive_no))) / "case.json")
    ignored = IGNORED_AT_IMPORT if scans_later else set()
    errors = [f for f in case_findings(case, calendar) if f.severity is Severity.ERROR and f.code not in ignored]
    errors = errors or [f for f in index.check(case) if f.severity is Severity.ERROR]
    family.problems += [mask_text(f"{locate(item, f)}(档案号 {item.archive_no}):{f.message}") for f in errors]
    if family.problems:
        return family
    index.admit(case, f"表“{layout()['main']['sheet']}”第 {item.row} 行")
    if old is None:
        family.state = RowState.READY
    elif old == family.case:
        family.state = RowState.UNCHANGED
    else:
        family.state, family.changes = RowState.CHANGED, changed_fields(old, family.case, whole={ATTACHMENTS})
    return family


def _merged(old: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """The published case with every field the workbook has a column or a sheet for taken from the row (an empty
    cell empties the field, a sheet without rows for the family empties its list); attachments are the published
    ones and the row's new ones, since scans come to the desk by upload, not in a workbook."""
    case = copy.deepcopy(old)
    for col in layout()["main"]["columns"]:
        _put(case, col["pointer"], _get(row, col["pointer"]))
    for sheet in layout()["lists"]:
        if sheet["pointer"] != ATTACHMENTS:
            _put(case, sheet["pointer"], _get(row, sheet["pointer"]) or None)
    attachments = list(old.get("attachments", []))
    if added := [a for a in row.get("attachments", []) if a not in attachments]:
        case["attachments"] = attachments + added
    return case


def _get(data: Any, pointer: str) -> Any:
    for part in [p for p in pointer.split("/") if p]:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _put(case: dict[str, Any], pointer: str, value: Any) -> None:
    """Set the value at a pointer, or (None) take it out with the objects it leaves empty."""
    parts = [p for p in pointer.split("/") if p]
    if value is not None:
        node, key = _parent(case, pointer)
        node[key] = value
        return
    trail = [case]
    for part in parts[:-1]:
        if not isinstance(trail[-1].get(part), dict):
            return
        trail.append(trail[-1][part])
    if trail[-1].get(parts[-1]) is None:  # absent, or a null the case file wrote (an empty cell says the same)
        return
    trail[-1].pop(parts[-1])
    for node, part in zip(reversed(trail[:-1]), reversed(parts[:-1]), strict=True):
        if node[part]:
            break
        del node[part]


def import_book(path: Path, out_dir: Path, outbox: Path | None = None) -> tuple[list[Path], list[str], Preview]:
    """Write a case folder per family to import (new, or published and changed) and return the files written, every
    problem found (cells are quoted with their ID and phone numbers masked) and the preview they came from (which
    also tells the families skipped as unchanged). Each family is checked against the packages of `outbox` and the
    rows before it: an archive number is one family's, a person has one active file."""
    found = preview(path, outbox)
    written = []
    for family in found.families:
        if family.state not in (RowState.READY, RowState.CHANGED):
            continue
        target = out_dir / safe_name(family.archive_no) / "case.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(family.imported.data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(target)
    return written, found.other + [p for f in found.families for p in f.problems], found
