"""Every string of a case is plain text, every date within 1900–2099 (issue 22): an archive number or a phone
number ending in a newline published to `X_`, and a date near 9999-12-31 crashed the rules (exit 10) in validate,
the watcher and import-xlsx."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kunnan_docs.cli import main
from kunnan_docs.core.casefile import Case, schema_findings
from kunnan_docs.core.text import CONTROL, one_line
from kunnan_docs.core.validate import case_findings
from kunnan_docs.errors import ExitCode
from kunnan_docs.staff.xlsx_import import write_template

from .conftest import EXAMPLES, EXIT_EXAMPLE, FILING_EXAMPLE, set_pointer
from .inbox_kit import make_areas, packages, reason_files, watch_once

CASES = sorted(EXAMPLES.glob("*/case.json"))


def strings(value: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """(pointer, text) of every string in a case."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{pointer}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{pointer}/{i}")
    elif isinstance(value, str):
        yield pointer, value


def _with(data: dict[str, Any], pointer: str, value: object, path: Path = Path("case.json")) -> Case:
    edited = copy.deepcopy(data)
    set_pointer(edited, pointer, value)
    return Case(edited, path)


@pytest.mark.parametrize("case_file", CASES, ids=[p.parent.name for p in CASES])
def test_every_string_refuses_control_characters_and_surrounding_space(case_file: Path) -> None:
    data = json.loads(case_file.read_text(encoding="utf-8"))
    for pointer, text in strings(data):
        for bad in (f"{text}\n", f" {text}", f"{text[:1]}\x1b{text[1:]}", f"{text}\u3000"):
            found = [f for f in schema_findings(_with(data, pointer, bad)) if f.pointer == pointer]
            assert [f.code for f in found if f.code == "S-TEXT"] == ["S-TEXT"], (pointer, bad, found)
            assert all(c not in f.message for f in found for c in "\n\x1b"), found  # quoted escaped


def test_the_schema_and_the_log_escape_know_the_same_control_characters() -> None:
    data = json.loads((FILING_EXAMPLE / "case.json").read_text(encoding="utf-8"))
    control = re.compile(f"[{CONTROL}]")
    for code in [*range(0x00, 0xA0), 0x2028, 0x2029]:
        c = chr(code)
        refused = any(f.code == "S-TEXT" for f in schema_findings(_with(data, "/union", f"锦华{c}纺织工会")))
        assert refused == bool(control.match(c)), hex(code)
        assert (one_line(c) != c) == refused, hex(code)
    for fine in ("成都锦华纺织有限公司工会", "（全角括号）与“引号”", "a b", "𠀀工会"):
        assert schema_findings(_with(data, "/union", fine)) == [], fine


@pytest.mark.parametrize("field", ["/archive_no", "/worker/phone"])
def test_a_value_ending_in_a_newline_publishes_nothing(case_copy, tmp_path: Path, capsys, field: str) -> None:
    data = json.loads((FILING_EXAMPLE / "case.json").read_text(encoding="utf-8"))
    case_file = case_copy(FILING_EXAMPLE, {field: data[field.strip("/")] + "\n" if field == "/archive_no"
                                           else data["worker"]["phone"] + "\n"})
    outbox = tmp_path / "out"
    assert main(["build", str(case_file), "-o", str(outbox)]) == ExitCode.INVALID
    out = capsys.readouterr().out
    assert "S-TEXT" in out and "开头或结尾有空格或换行" in out
    assert not outbox.exists() or packages(outbox) == []


def dates(case_file: Path) -> list[str]:
    data = json.loads(case_file.read_text(encoding="utf-8"))
    return [p for p, text in strings(data) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)]


@pytest.mark.parametrize("case_file", [EXIT_EXAMPLE / "case.json", FILING_EXAMPLE / "case.json"],
                         ids=["exit", "filing"])
def test_every_date_near_9999_is_a_finding_not_a_crash(case_file: Path) -> None:
    data = json.loads(case_file.read_text(encoding="utf-8"))
    for pointer in dates(case_file):
        for day in ("9999-12-31", "9999-06-30", "2100-01-01", "1899-12-31"):
            found = case_findings(_with(data, pointer, day, case_file))
            assert any(f.pointer == pointer and "1900 至 2099" in f.message for f in found), (pointer, day, found)


def test_a_date_near_9999_is_refused_by_validate_watch_and_import(tmp_path: Path) -> None:
    """The three doors the trial found crashing, as real processes."""
    areas = make_areas(tmp_path)
    case = json.loads((EXIT_EXAMPLE / "case.json").read_text(encoding="utf-8"))
    case["home_visits"][0]["date"] = "9999-12-31"
    folder = shutil.copytree(EXIT_EXAMPLE, tmp_path / "case")
    (folder / "case.json").write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    validate = subprocess.run([sys.executable, "-m", "kunnan_docs", "validate", str(folder / "case.json")],
                              capture_output=True, text=True, check=False)
    assert validate.returncode == ExitCode.INVALID and "1900 至 2099" in validate.stdout, validate.stderr
    shutil.copytree(folder, areas["inbox"] / "王淑芬")
    watched = watch_once(areas)
    assert watched.returncode == ExitCode.INVALID, watched.stderr
    assert "1900 至 2099" in reason_files(areas["rejected"])["王淑芬"]
    book = tmp_path / "导入.xlsx"
    _template_with_a_row(book, {"档案号": "CD510104-2018-0112", "案卷类别": "建档", "建档日期": "9999-12-31"})
    imported = subprocess.run([sys.executable, "-m", "kunnan_docs", "import-xlsx", str(book), "-o",
                               str(tmp_path / "导入")], capture_output=True, text=True, check=False)
    assert imported.returncode == ExitCode.INVALID and "1900 至 2099" in imported.stdout, imported.stderr


def _template_with_a_row(path: Path, values: dict[str, str]) -> None:
    from openpyxl import load_workbook

    write_template(path)
    wb = load_workbook(path)
    ws = wb["案卷"]
    headers = [c.value for c in ws[1]]
    for header, value in values.items():
        ws.cell(row=3, column=headers.index(header) + 1, value=value)
    wb.save(path)
