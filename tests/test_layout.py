"""The package layout as a contract: a report.json of the wrong shape is refused with a message naming the field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from kunnan_docs.core.labels import ExitStage, ItemState, Kind, Outcome
from kunnan_docs.errors import BadPackage
from kunnan_docs.package.layout import REPORT, Listing, Report, read_listing, read_report

from .conftest import DELETE, set_pointer

GOOD: dict[str, Any] = {
    "archive_no": "CD510104-2018-0112", "generator": "kunnan-docs 0.1.0", "kind": "exit", "status": "incomplete",
    "status_label": "材料不全(缺第2项)",
    "follow_up_complete": True, "pages": {"total": 5, "content": 2, "content_start_index": 2},
    "checklist": [
        {"no": 1, "id": "survey_form", "title": "入户调查表", "status": "present", "pages": "1-2",
         "documents": [{"title": "入户调查表", "pages": [1, 2], "generated": False, "signed_original": {
             "form_key": "annex3", "fingerprint": "0a1b2c3d", "source": "scan0001.pdf", "source_pages": [4, 5],
             "ink": [{"page": 2, "area": "职工本人签字", "kind": "signature", "ink": True}]}}]},
        {"no": 2, "id": "id_card", "title": "身份证", "status": "missing", "pages": None, "documents": []},
        {"no": 3, "id": "exit_notice", "title": "退档通知书", "status": "awaiting_signature", "pages": "3",
         "documents": [{"title": "退档通知书", "pages": [3, 3], "generated": True, "signed_original": None}]},
    ],
    "findings": [], "documents": ["documents/附件3-入户调查表.pdf"],
    "pdfa": {"declared": False, "problems": ["不符合:font not embedded"]}, "case": {"worker_name": "王淑芬"},
    "awaiting_signature": [{"no": 3, "form_key": "annex6", "title": "退档通知书", "date": "2019-10-08"}],
    "notes": ["第1项 入户调查表:第2页'入户调查人员签字'栏似为空白,请核对"],
    "exit_stage": "publicity",
    "next_step": {"text": "公示期满(2019年9月20日)后可报区县审批", "date": "2019-09-21", "since": "2019-09-16"},
    "corrections": [{"date": "2019-11-02", "by": "张丽", "reason": "身份证号抄错一位", "fields": ["职工本人/身份证号"]}],
}


def test_a_good_report_reads_typed_and_writes_back_unchanged() -> None:
    report = Report.from_dict(copy.deepcopy(GOOD))
    assert report.checklist[0].status is ItemState.PRESENT and report.checklist[0].documents[0].pages == (1, 2)
    assert report.kind is Kind.EXIT and report.status is Outcome.INCOMPLETE and report.exit_stage is ExitStage.PUBLICITY
    assert report.checklist[1].pages is None and not report.complete and report.next_step.date == "2019-09-21"
    assert json.loads(report.to_json()) == GOOD


def test_a_report_written_before_exits_were_staged_still_reads() -> None:
    """Old packages have no exit_stage or next_step: they list as before, with neither."""
    old = {k: v for k, v in copy.deepcopy(GOOD).items() if k not in ("exit_stage", "next_step")}
    listing = Listing.from_dict(old)
    assert listing.exit_stage is None and listing.next_step is None and listing.status is Outcome.INCOMPLETE


@pytest.mark.parametrize(("pointer", "value", "named"), [
    ("/archive_no", DELETE, "缺少字段 archive_no"),
    ("/archive_no", "", "字段 archive_no"),
    ("/kind", "tuokun", "字段 kind(应为filing、exit、cancellation 之一)"),
    ("/status", "lost", "字段 status"),
    ("/exit_stage", "halfway", "字段 exit_stage"),
    ("/next_step/date", "", "字段 next_step/date"),
    ("/follow_up_complete", "yes", "字段 follow_up_complete"),
    ("/pages/total", True, "字段 pages/total"),
    ("/pages/content", -1, "字段 pages/content"),
    ("/pages", [5, 2, 2], "字段 pages"),
    ("/pdfa/declared", "yes", "字段 pdfa/declared"),
    ("/corrections/0/fields", "职工本人/身份证号", "字段 corrections/0/fields"),
    ("/checklist/1/status", "lost", "字段 checklist/1/status"),
    ("/checklist/0/documents/0/pages", [2, 1], "字段 checklist/0/documents/0/pages"),
    ("/checklist/0/documents/0", "入户调查表", "checklist/0/documents/0/应是一个对象"),
    ("/documents", [1], "字段 documents"),
    ("/case", None, "字段 case"),
])
def test_a_wrong_field_is_named(pointer: str, value: Any, named: str) -> None:
    data = copy.deepcopy(GOOD)
    set_pointer(data, pointer, value)
    with pytest.raises(BadPackage, match="请要求移交方重新成卷") as caught:
        Report.from_dict(data)
    assert named in str(caught.value)


def test_read_report_turns_a_missing_or_unparsable_file_into_a_message(tmp_path: Path) -> None:
    with pytest.raises(BadPackage, match=f"缺少 {REPORT}"):
        read_report(tmp_path)
    (tmp_path / REPORT).write_bytes(b"\xff\xfe")
    with pytest.raises(BadPackage, match=f"{REPORT} 无法读取"):
        read_report(tmp_path)


def test_a_listing_is_the_report_without_its_checklist_and_checked_the_same_way(tmp_path: Path) -> None:
    """Lists read 10,000 packages: they check what they show, and a spoilt checklist still fails the whole read."""
    assert Listing.from_dict(copy.deepcopy(GOOD)) == Report.from_dict(copy.deepcopy(GOOD)).listing
    data = copy.deepcopy(GOOD)
    set_pointer(data, "/checklist/1/status", "lost")
    (tmp_path / REPORT).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert read_listing(tmp_path).status_label == "材料不全(缺第2项)"
    with pytest.raises(BadPackage, match="checklist/1/status"):
        read_report(tmp_path)
    set_pointer(data, "/awaiting_signature/0/no", "3")
    with pytest.raises(BadPackage, match="awaiting_signature/0/no"):
        Listing.from_dict(data)

