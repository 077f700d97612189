"""No message quotes an ID number or a phone number in full: findings, schema errors, load errors, Excel import.

The payloads are typed the ways clerks type them (a JSON number, a trailing space, a note after a phone
number, spaces and dashes, full-width digits) into every field of a case, so that each schema path and each
rule that quotes a value gets its chance to leak.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from kunnan_docs.cli import main
from kunnan_docs.core.casefile import Case, read_case
from kunnan_docs.core.validate import case_findings, validate_file
from kunnan_docs.errors import AttachmentError, ExitCode
from kunnan_docs.privacy import mask_text, mask_value
from kunnan_docs.staff.xlsx_import import FIRST_DATA_ROW

from .conftest import EXIT_EXAMPLE, FILING_EXAMPLE, set_pointer

ID = "510104196811021242"  # the exit example's own ID number: valid, so only masking can hide it
MOBILE = "13812345678"
LANDLINE = "02886621234"
# one of each shape a schema path sees: a string with a space, a number, a note, separators (the other ways
# of writing the numbers are covered by test_mask_text)
PAYLOADS: list[Any] = [ID + " ", int(ID), MOBILE + "(宅)", "+86 138-1234-5678"]


def assert_masked(text: str) -> None:
    """Neither the digits of a payload (with or without its spaces and dashes) nor 11 digits in a row."""
    flat = re.sub(r"[\s\-+]", "", text).translate({0xFF10 + i: str(i) for i in range(10)})
    assert not re.search(r"\d{11,}", text), text
    for secret in (ID, ID[:-1] + "X", ID[6:14], MOBILE, MOBILE[3:7] + MOBILE[7:], LANDLINE[3:]):
        assert secret not in flat, text


def pointers(data: Any, base: str = "") -> list[str]:
    """Every value's pointer in a case, containers included."""
    children = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else []
    found = []
    for key, value in children:
        found += [f"{base}/{key}", *pointers(value, f"{base}/{key}")]
    return found


def example(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "case.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
@pytest.mark.parametrize("folder", [EXIT_EXAMPLE, FILING_EXAMPLE], ids=lambda f: f.name)
def test_every_field_quoting_a_personal_number_masks_it(folder: Path, payload: Any) -> None:
    original = example(folder)
    quoted = 0
    for pointer in pointers(original):
        data = copy.deepcopy(original)
        set_pointer(data, pointer, payload)
        for finding in case_findings(Case(data, folder / "case.json")):
            assert_masked(finding.message)
            quoted += any(c == "*" for c in finding.message)
    assert quoted > 20  # the payload was quoted (masked) in many messages, not merely never shown


@pytest.mark.parametrize("payload", [MOBILE + "(宅)", ID])
def test_rules_that_quote_values_mask_them(payload: str) -> None:
    data = example(EXIT_EXAMPLE)
    set_pointer(data, "/archive_no", payload)
    set_pointer(data, "/previous_archive_no", payload)
    set_pointer(data, "/assistance/0/channel", f"现金,电话{payload}")
    set_pointer(data, "/attachments/0/path", f"scans/{payload}.jpg")
    set_pointer(data, "/worker/" + MOBILE, "unknown key")
    findings = case_findings(Case(data, EXIT_EXAMPLE / "case.json"))
    assert {"S-UNKNOWN"} == {f.code for f in findings}  # the schema comes first …
    del data["worker"][MOBILE]
    findings = case_findings(Case(data, EXIT_EXAMPLE / "case.json"))
    assert {"FIL-PREVIOUS", "AID-CHANNEL", "ATT-MISSING"} <= {f.code for f in findings}  # … then the rules
    for finding in findings:
        assert_masked(finding.message)


def test_unknown_key_is_masked() -> None:
    data = example(EXIT_EXAMPLE)
    data["worker"][ID] = 1
    [finding] = case_findings(Case(data, EXIT_EXAMPLE / "case.json"))
    assert finding.code == "S-UNKNOWN" and "510104********1242" in finding.message
    assert_masked(finding.message)


def test_short_phone_in_its_own_field_is_masked() -> None:
    """A landline without area code is short, but in a phone field it is still a phone number."""
    data = example(EXIT_EXAMPLE)
    data["worker"]["phone"] = "86621234(宅)"
    [finding] = case_findings(Case(data, EXIT_EXAMPLE / "case.json"))
    assert finding.pointer == "/worker/phone" and "****1234(宅)" in finding.message
    assert "【职工本人/联系电话】" in finding.message and "/worker" not in finding.message  # the title says where


def test_id_typed_as_number_or_with_a_space_says_what_to_do() -> None:
    data = example(EXIT_EXAMPLE)
    data["worker"]["id_number"] = int(ID)
    [typed] = case_findings(Case(data, EXIT_EXAMPLE / "case.json"))
    data["worker"]["id_number"] = ID + " "
    [spaced] = case_findings(Case(data, EXIT_EXAMPLE / "case.json"))
    assert "510104********1242" in typed.message and "双引号" in typed.message
    assert '"510104********1242 "' in spaced.message and "空格" in spaced.message


@pytest.mark.parametrize("content", [b"", b"{", b"[1]", b"\xff\xfe", b"{\"a\": NaN}", b"[" * 99])
def test_load_errors_mask_the_file_name(tmp_path: Path, content: bytes) -> None:
    case_file = tmp_path / f"{ID}-{MOBILE}.json"
    case_file.write_bytes(content)
    [finding] = validate_file(case_file).findings
    assert finding.code == "JSON" and "510104********1242-138****5678.json" in finding.message
    assert_masked(finding.message)


def test_missing_file_and_attachment_errors_are_masked(tmp_path: Path) -> None:
    with pytest.raises(Exception) as missing:
        read_case(tmp_path / MOBILE / f"{ID}.json")
    assert_masked(str(missing.value))
    assert_masked(str(AttachmentError(f"scans/{ID}.jpg", "是空文件")))


def test_excel_import_messages_are_masked(tmp_path: Path, capsys) -> None:
    template = tmp_path / "t.xlsx"
    assert main(["template-xlsx", "-o", str(template)]) == ExitCode.OK
    wb = load_workbook(template)
    ws = wb["案卷"]
    headers = [c.value for c in ws[1]]
    row = FIRST_DATA_ROW
    ws.cell(row=row, column=headers.index("档案号") + 1, value="CD-1")
    ws.cell(row=row, column=headers.index("建档日期") + 1, value=MOBILE + "(宅)")
    ws.cell(row=row, column=headers.index("身份证号") + 1, value=ID + " ")
    ws.cell(row=row + 1, column=headers.index("档案号") + 1, value=ID)
    ws.cell(row=row + 1, column=headers.index("联系电话") + 1, value="138 1234 5678 宅")
    wb["家庭成员"].cell(row=FIRST_DATA_ROW, column=1, value=MOBILE)
    wb.save(template)
    assert main(["import-xlsx", str(template), "-o", str(tmp_path / "out")]) == ExitCode.INVALID
    out = capsys.readouterr().out
    assert "138****5678(宅)" in out and "510104********1242" in out and "“138****5678”在“案卷”表中没有" in out
    for line in out.splitlines():
        assert_masked(line)


@pytest.mark.parametrize(("text", "masked"), [
    (ID, "510104********1242"),
    (ID[:-1] + "X", "510104********124X"),
    ("身份证号 510104 19681102 1242 有误", "身份证号 510104 ******** 1242 有误"),
    (MOBILE + "(宅)", "138****5678(宅)"),
    ("138-1234-5678", "138-****-5678"),
    ("028-86621234", "028-****1234"),
    ("１３８１２３４５６７８", "１３８****５６７８"),
    # what must stay readable: archive numbers, dates, amounts, masked card numbers
    ("CD510104-2018-0112", "CD510104-2018-0112"),
    ("公示期 2019-09-12 至 2019-09-18", "公示期 2019-09-12 至 2019-09-18"),
    ("救助金额 2450.5 元", "救助金额 2450.5 元"),
    ("6217********1234", "6217********1234"),
])
def test_mask_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


def test_mask_value_of_a_sensitive_field_hides_all_but_the_last_digits() -> None:
    assert mask_value("/contact_person/phone", '"86621234"') == '"****1234"'
    assert mask_value("/worker/id_number", '"5101"') == '"5101"'
    assert mask_value("/worker/name", '"王淑芬"') == '"王淑芬"'
