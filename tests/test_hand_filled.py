"""Paper first in the case file: an attachment marked `hand_filled` is the signed original of the form it names — it
counts as signed (no 待签章, no reprint), goes into the package in the form's place, and report.json, the remarks
sheet and 报告.txt say it is a hand-filled original that was neither read for a code nor checked for ink; the
generated form stays in documents/. The rules name a hand-filled original that stands for no form, or for an unclear
or second one. Real builds, read back."""

from __future__ import annotations

import json
from pathlib import Path

import pypdfium2 as pdfium

from kunnan_docs.cli import main
from kunnan_docs.errors import ExitCode
from kunnan_docs.package.layout import read_report
from kunnan_docs.package.verify import verify_path

from .conftest import EXIT_EXAMPLE, FILING_EXAMPLE

FILING_NO = "CD510108-2019-0037"
HAND = {"item": "survey_form", "path": "scans/08-档案审批表.jpg", "hand_filled": True}  # a scan without our code


def texts(pdf: Path) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    return [doc[i].get_textpage().get_text_range().replace("\r", "").replace("\n", "") for i in range(len(doc))]


def unsigned(case_copy, example: Path = FILING_EXAMPLE) -> tuple[Path, list]:
    """The example as its forms were printed (no signed scan) and its other attachments."""
    data = json.loads((example / "case.json").read_text(encoding="utf-8"))
    kept = [a for a in data["attachments"] if not a.get("signed")]
    return case_copy(example, {"/attachments": kept}), kept


def test_a_hand_filled_survey_counts_as_signed(case_copy, tmp_path: Path, capsys) -> None:
    case, kept = unsigned(case_copy)
    out = tmp_path / "outbox"
    assert main(["build", str(case), "-o", str(out)]) == ExitCode.AWAITING_SIGNATURE  # the print, not signed
    data = json.loads(case.read_text(encoding="utf-8"))
    data["attachments"] = [*kept, HAND]
    case.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert main(["build", str(case), "-o", str(out)]) == ExitCode.OK
    report = read_report(out / FILING_NO)
    assert report.status == "complete" and report.awaiting_signature == ()
    [document] = report.checklist[6].documents
    assert document.signed_original == {"form_key": "annex3", "hand_filled": True, "source": HAND["path"],
                                        "source_pages": [1]}
    assert not document.generated and "documents/附件3-入户调查表.pdf" in report.documents  # still there to print
    remarks = texts(out / FILING_NO / f"{FILING_NO}.pdf")[-1]
    assert "手工填写并签字的纸质原件已入卷" in remarks and "未经二维码识别和签字盖章位置核对" in remarks
    assert verify_path(out / FILING_NO) == []


def test_which_form_a_hand_filled_original_stands_for(case_copy, capsys) -> None:
    case, kept = unsigned(case_copy, EXIT_EXAMPLE)
    bad = [
        {"item": "id_card_copy", "path": "scans/01-身份证复印件.jpg", "hand_filled": True},  # no form of ours
        {"item": "return_visit_record", "path": "scans/12-脱困调查表.jpg", "hand_filled": True},  # which visit?
        {"item": "return_visit_record", "path": "scans/12-脱困调查表.jpg", "hand_filled": True, "form": "annex7-3"},
        {"item": "survey_form", "path": "scans/12-脱困调查表.jpg", "form": "annex3"},  # form without hand_filled
        {"item": "survey_form", "path": "scans/12-脱困调查表.jpg", "hand_filled": True, "signed": True},
        {"item": "exit_notice", "path": "scans/12-脱困调查表.jpg", "hand_filled": True},
        {"item": "exit_notice", "path": "scans/01-身份证复印件.jpg", "hand_filled": True},  # a second one
    ]
    data = json.loads(case.read_text(encoding="utf-8"))
    data["attachments"] = [*kept, *bad]
    case.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    capsys.readouterr()
    assert main(["validate", "--json", str(case)]) == ExitCode.INVALID
    found = [f for f in json.loads(capsys.readouterr().out)[0]["findings"] if f["code"] == "ATT-HAND-FILLED"]
    first = len(kept)  # the fifth (bad[5]) is the first hand-filled Annex 6: fine
    assert [f["pointer"] for f in found] == [f"/attachments/{first + i}/{key}" for i, key in (
        (0, "hand_filled"), (1, "hand_filled"), (2, "form"), (3, "form"), (4, "hand_filled"), (6, "hand_filled"))]
    messages = [f["message"] for f in found]
    assert "不是本工具打印的表单" in messages[0]
    assert "有多张表(附件7（第1次回访）、附件7（第2次回访）)" in messages[1]
    assert "“annex7-3”不是本户第15项" in messages[2] and "只用于手填原件" in messages[3]
    assert "请只选一种" in messages[4] and "附件6已有一份手填原件" in messages[5]
    assert all("/attachments" not in m for m in messages)  # pointers are the findings' own field
