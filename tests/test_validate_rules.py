"""Each rule of the notice: one case that passes and one that fails with the expected code."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from kunnan_docs.core import idcard
from kunnan_docs.core.resources import case_schema
from kunnan_docs.core.validate import validate_file

from .conftest import CANCELLED_EXAMPLE, DELETE, EXIT_EXAMPLE, FILING_EXAMPLE, REFILED_EXAMPLE


def codes(case_file: Path) -> set[str]:
    return {f.code for f in validate_file(case_file).findings}


@pytest.mark.parametrize("example", [EXIT_EXAMPLE, FILING_EXAMPLE, REFILED_EXAMPLE, CANCELLED_EXAMPLE])
def test_examples_are_clean(example: Path) -> None:
    result = validate_file(example / "case.json")
    assert result.ok and result.findings == []


def valid_id(first17: str) -> str:
    return first17 + idcard.check_digit(first17)


FAILING = [
    # (code, pointer, edits): each edit breaks exactly the one rule it names, at the pointer it names
    ("ID-CHECK", "/worker/id_number", {"/worker/id_number": "510104196811021243"}),
    ("ID-BIRTH", "/worker/id_number", {"/worker/id_number": "510104196813021248"}),
    ("ID-SEX", "/worker/gender", {"/worker/gender": "男"}),
    ("ID-FUTURE", "/worker/id_number", {"/worker/id_number": valid_id("51010420210101002")}),
    ("S-FORMAT", "/worker/id_number", {"/worker/id_number": "51010419681102124"}),
    ("FAM-BIRTH", "/family_members/1/birth_date", {"/family_members/1/birth_date": "2021-01-01"}),
    ("CP-MISSING", "/contact_person", {"/contact_person": DELETE}),
    ("VIS-GAP", "/home_visits/2/date", {"/home_visits/2/date": "2019-04-30"}),
    ("VIS-OVERDUE", "/home_visits", {"/home_visits": [{"date": "2018-04-02", "visitor": "黄丽"}]}),
    ("CHK-GAP", "/archive_checks/1/date", {"/archive_checks/1/date": "2019-03-01"}),
    ("CHK-OVERDUE", "/archive_checks", {"/archive_checks": [{"date": "2018-08-21", "checker": "张涛"}]}),
    ("AID-BEFORE-FILING", "/assistance/0/date", {"/assistance/0/date": "2018-03-01"}),
    ("AID-CHANNEL", "/assistance/0/channel", {"/assistance/0/channel": "现金"}),
    ("AID-MEDICAL-LIMIT", "/assistance/1/amount", {"/assistance/1/amount": 2450.5}),
    ("AID-MEDICAL-MISSING", "/assistance/1/medical", {"/assistance/1/medical": DELETE}),
    ("AID-MEDICAL-SUM", "/assistance/1/medical", {"/assistance/1/medical/total_cost": 9900}),
    ("S-FORMAT", "/assistance/0/card_no_masked", {"/assistance/0/card_no_masked": "5101041968110212"}),
    ("EXIT-ORDER", "/exit/collective_review/date", {"/exit/collective_review/date": "2019-08-30"}),
    ("EXIT-ORDER", "/exit/district_approval/date", {"/exit/district_approval/date": "2019-09-20"}),
    ("EXIT-ORDER", "/exit/notice/date", {"/exit/notice/date": "2019-09-26"}),
    ("EXIT-STEP-MISSING", "/exit/return_visits", {"/exit/district_approval": DELETE}),
    ("EXIT-STEP-MISSING", "/exit/return_visits",
     {"/exit/notice": DELETE, "/exit/return_visits/1": DELETE, "/reference_date": "2019-12-20"}),
    ("EXIT-STEP-MISSING", "/exit/publicity",
     {"/exit/collective_review": DELETE, "/exit/district_approval": DELETE, "/exit/notice": DELETE,
      "/exit/return_visits": DELETE, "/reference_date": "2019-09-20"}),
    ("EXIT-UNSIGNED", "/exit/application/signed_by_worker", {"/exit/application/signed_by_worker": False}),
    ("EXIT-RECIPIENT", "/exit/notice/recipient_name", {"/exit/notice/recipient": "family"}),
    # 2019-09-13 (Fri) was the Mid-Autumn holiday: 09-12..09-18 holds only 4 working days
    ("EXIT-PUBLICITY-SHORT", "/exit/publicity/end",
     {"/exit/publicity/start": "2019-09-12", "/exit/publicity/end": "2019-09-18"}),
    # National Day week: 09-30..10-08 is 9 calendar days but 09-30, 10-08 only = 2 working days
    ("EXIT-PUBLICITY-SHORT", "/exit/publicity/end",
     {"/exit/publicity/start": "2019-09-30", "/exit/publicity/end": "2019-10-08",
      "/exit/district_approval/date": "2019-10-09", "/exit/notice/date": "2019-10-12"}),
    ("RV-BEFORE-EXIT", "/exit/return_visits/0/date", {"/exit/return_visits/0/date": "2019-10-01"}),
    ("RV-FOLLOW-UP", "/exit/return_visits", {"/exit/return_visits/1/date": "2020-04-01"}),
    ("ATT-ITEM", "/attachments/0/item", {"/attachments/0/item": "passport"}),
    ("ATT-PATH", "/attachments/0/path", {"/attachments/0/path": "../secret.jpg"}),
    ("ATT-PATH", "/attachments/0/path", {"/attachments/0/path": "/etc/passwd"}),
    ("ATT-MISSING", "/attachments/0/path", {"/attachments/0/path": "scans/missing.jpg"}),
    ("FIL-SURVEY", "/survey/date", {"/survey/date": "2018-04-20"}),
    ("FIL-PREVIOUS", "/previous_archive_no", {"/previous_archive_no": "CD510104-2018-0112"}),
    ("S-REQUIRED", "/exit", {"/exit": DELETE}),
    ("S-CHOICE", "/worker/hardship_categories/0", {"/worker/hardship_categories": ["因穷"]}),
    ("S-UNKNOWN", "/worker", {"/worker/nickname": "老王"}),
    ("S-TYPE", "/worker/monthly_income", {"/worker/monthly_income": "两千"}),
    ("S-FORMAT", "/filing_date", {"/filing_date": "2018-02-30"}),
    ("S-ONEOF", "/family_members/0", {"/family_members/0/age": 53}),
    ("S-RANGE", "/worker/housing_area", {"/worker/housing_area": 5000}),
    ("S-LENGTH", "/hardship_reason", {"/hardship_reason": "穷"}),
    ("S-DUPLICATE", "/worker/hardship_categories", {"/worker/hardship_categories": ["因病", "因病"]}),
]


@pytest.mark.parametrize(("code", "pointer", "edits"), FAILING, ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(FAILING)])
def test_each_edit_breaks_exactly_the_rule_it_names(case_copy, code: str, pointer: str, edits: dict) -> None:
    found = [(f.code, f.pointer) for f in validate_file(case_copy(EXIT_EXAMPLE, edits)).findings]
    assert found == [(code, pointer)]


def test_an_exit_in_progress_is_valid_and_a_skipped_stage_names_what_to_record_first(case_copy) -> None:
    later = {"/exit/district_approval": DELETE, "/exit/notice": DELETE, "/exit/return_visits": DELETE}
    applied = {"/exit/collective_review": DELETE, "/exit/publicity": DELETE, **later, "/reference_date": "2019-09-02"}
    assert validate_file(case_copy(EXIT_EXAMPLE, applied, name="applied")).findings == []  # application alone
    skipped = validate_file(case_copy(EXIT_EXAMPLE, {"/exit/collective_review": DELETE, "/exit/publicity": DELETE,
                                                     "/exit/return_visits": DELETE}, name="skipped"))
    [finding] = [f for f in skipped.findings if f.severity == "error"]
    assert (finding.code, finding.pointer) == ("EXIT-STEP-MISSING", "/exit/notice")
    assert "还没有登记【集体研究审批】、【脱困公示】。" in finding.message
    assert "请先登记【集体研究审批】、【脱困公示】(/exit/collective_review、/exit/publicity)" in finding.message


def test_return_visits_before_an_approval_recorded_later_still_follow_the_order(case_copy) -> None:
    """Dates are compared between the stages recorded: approval strictly after the publicity's end."""
    found = codes(case_copy(EXIT_EXAMPLE, {"/exit/notice": DELETE, "/exit/return_visits": DELETE,
                                           "/exit/district_approval/date": "2019-09-20", "/reference_date": "2019-09-20"}))
    assert found == {"EXIT-ORDER"}


def test_filing_case_may_not_carry_exit_block(case_copy) -> None:
    import json

    exit_block = json.loads((EXIT_EXAMPLE / "case.json").read_text(encoding="utf-8"))["exit"]
    assert "S-EXIT-BLOCK" in codes(case_copy(FILING_EXAMPLE, {"/exit": exit_block}))


def test_publicity_of_exactly_five_working_days_passes(case_copy) -> None:
    # 2019-09-16 (Mon) .. 2019-09-20 (Fri): exactly five, the notice's minimum
    found = codes(case_copy(EXIT_EXAMPLE, {"/exit/publicity/start": "2019-09-16", "/exit/publicity/end": "2019-09-20"}))
    assert "EXIT-PUBLICITY-SHORT" not in found


def test_adjusted_working_day_counts(case_copy) -> None:
    # 2019-09-29 (Sun) was a 调休 working day: 09-25..09-29 = Wed, Thu, Fri, Sun = 4 -> too short,
    # but 09-24..09-29 = 5 thanks to that Sunday
    short = codes(case_copy(EXIT_EXAMPLE, {"/exit/publicity/start": "2019-09-25", "/exit/publicity/end": "2019-09-29",
                                           "/exit/district_approval/date": "2019-10-09"}, name="a"))
    ok = codes(case_copy(EXIT_EXAMPLE, {"/exit/publicity/start": "2019-09-24", "/exit/publicity/end": "2019-09-29",
                                        "/exit/district_approval/date": "2019-10-09"}, name="b"))
    assert "EXIT-PUBLICITY-SHORT" in short and "EXIT-PUBLICITY-SHORT" not in ok


def test_follow_up_is_a_warning_not_an_error(case_copy) -> None:
    result = validate_file(case_copy(EXIT_EXAMPLE, {"/exit/return_visits": []}))
    assert result.ok and [f.code for f in result.findings] == ["RV-FOLLOW-UP"]


def test_unknown_calendar_year_warns_and_counts_weekdays(case_copy) -> None:
    edits = {"/filing_date": "2027-01-04", "/survey/date": "2027-01-04", "/exit/application/date": "2027-03-01",
             "/exit/collective_review/date": "2027-03-02", "/exit/publicity/start": "2027-03-03",
             "/exit/publicity/end": "2027-03-09", "/exit/district_approval/date": "2027-03-10",
             "/exit/notice/date": "2027-03-11", "/exit/return_visits": [], "/assistance": [],
             "/home_visits": [], "/archive_checks": [], "/reference_date": "2027-03-11"}
    result = validate_file(case_copy(EXIT_EXAMPLE, edits))
    found = {f.code for f in result.findings}
    # Wed 03-03 .. Tue 03-09 = five weekdays: enough, but provisional until 2027's holidays are known
    assert result.ok and "CAL-UNKNOWN-YEAR" in found and "EXIT-PUBLICITY-SHORT" not in found
    msg = next(f.message for f in result.findings if f.code == "CAL-UNKNOWN-YEAR")
    assert "2027" in msg and "计为 5 个工作日" in msg


def test_messages_name_field_pointer_and_fix(case_copy) -> None:
    result = validate_file(case_copy(EXIT_EXAMPLE, {"/assistance/0/channel": "现金"}))
    finding = next(f for f in result.findings if f.code == "AID-CHANNEL")
    assert finding.pointer == "/assistance/0/channel"
    assert "【帮扶救助记录/第1条/发放渠道】" in finding.message and "现金" in finding.message
    assert "请改为“社会保障卡”" in finding.message


def test_symlink_leaving_the_folder_is_refused(case_copy, tmp_path: Path) -> None:
    case_file = case_copy(EXIT_EXAMPLE)
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"x")
    link = case_file.parent / "scans" / "01-身份证复印件.jpg"
    link.unlink()
    os.symlink(outside, link)
    assert "ATT-PATH" in codes(case_file)


def test_every_schema_field_has_a_chinese_title() -> None:
    from kunnan_docs.core.findings import schema_node
    from kunnan_docs.core.resources import case_schema

    untitled = []

    def walk(pointer: str) -> None:
        node = schema_node(pointer)
        if not any("\u4e00" <= c <= "\u9fff" for c in node.get("title", "")) and pointer:
            untitled.append(pointer)
        for name in node.get("properties", {}):
            walk(f"{pointer}/{name}")
        if "items" in node:
            walk(f"{pointer}/0")

    walk("")
    assert case_schema()["title"] and untitled == []


def test_checklist_data_holds_only_what_the_code_reads() -> None:
    """A key in schemas/checklists.json that no KindSpec or Item field takes is never read (the old max_no)."""
    from dataclasses import fields

    from kunnan_docs.core.checklist import Item, KindSpec
    from kunnan_docs.core.labels import Kind
    from kunnan_docs.core.resources import checklist_data

    kinds = checklist_data()["kinds"]
    assert set(kinds) == set(Kind)  # a kind is data and one line of the Kind enum
    read, read_kind = {f.name for f in fields(Item)}, {f.name for f in fields(KindSpec)}
    assert [sorted(set(k) - read_kind) for k in kinds.values() if set(k) - read_kind] == []
    assert [sorted(set(i) - read) for k in kinds.values() for i in k["items"] if set(i) - read] == []


def test_shipped_case_schema_is_valid_json_schema_2020_12() -> None:
    """Checked here once instead of in every process that validates a case."""
    Draft202012Validator.check_schema(case_schema())
