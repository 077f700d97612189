"""注销, added as a kind the way any kind is: data (its checklist), its rules and its form. End to end for each
reason, with real files: the filing example's family filed, then its file cancelled — built, the 注销审批表
printed, signed as examples/make_signed.py signs, scanned back with `scan-in`, 材料齐全 — and `progress` and
`due` before and after."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw

from kunnan_docs.cli import main
from kunnan_docs.core.casefile import read_case
from kunnan_docs.core.validate import validate_file
from kunnan_docs.errors import ExitCode
from kunnan_docs.forms.fill import forms_for
from kunnan_docs.package.verify import verify_folder
from kunnan_docs.staff.due import due_list
from kunnan_docs.staff.progress import tally

from .conftest import FILING_EXAMPLE
from .test_signed import make_signed

FILING_NO = "CD510108-2019-0037"
KEPT = "CD510108-2019-0099"  # the file a duplicate filing duplicates
UNION = "成华区猛追湾街道总工会"
REASONS = ["死亡", "迁出本市", "不再符合建档条件", "重复建档", "其他"]
OWN_FORM = "本表为 kunnan-docs 工具制式表单，非成工办〔2019〕43号附件。"


def cancellation(reason: str) -> dict[str, Any]:
    data: dict[str, Any] = {"reason": reason, "date": "2020-05-20",
                            "decision": {"date": "2020-05-10", "body": "猛追湾街道总工会委员会"},
                            "district_approval": {"date": "2020-05-20", "body": "成都市成华区总工会"}}
    if reason == "重复建档":
        data["duplicate_of"] = KEPT
    if reason == "其他":
        data["note"] = "本人书面申请退出帮扶"
    return data


def cancelled_copy(folder: Path, reason: str) -> Path:
    """The filing example's folder as the clerk has it once the file is cancelled: kind, the cancellation, and a
    scan of the proof (a death certificate, a hukou transfer, a check record …)."""
    shutil.copytree(FILING_EXAMPLE, folder)
    proof = Image.new("L", (595, 842), 246)
    ImageDraw.Draw(proof).rectangle([40, 40, 555, 802], outline=90)
    proof.save(folder / "scans" / "11-注销证明.jpg", "JPEG", quality=40, dpi=(72, 72))
    data = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    data.update(kind="cancellation", cancellation=cancellation(reason), reference_date="2020-05-20")
    data["attachments"].append({"item": "cancellation_proof", "path": "scans/11-注销证明.jpg", "date": "2020-05-08"})
    (folder / "case.json").write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return folder / "case.json"


def texts(pdf: Path) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    return [doc[i].get_textpage().get_text_range().replace("\r", "").replace("\n", "") for i in range(len(doc))]


def full_width(text: str) -> str:
    return text.translate(str.maketrans("(),:", "（），："))


def report(out: Path) -> dict[str, Any]:
    return json.loads((out / FILING_NO / "report.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("reason", REASONS)
def test_a_cancellation_from_build_to_signed_and_complete(tmp_path: Path, reason: str, capsys) -> None:
    out = tmp_path / "outbox"
    assert main(["build", str(FILING_EXAMPLE / "case.json"), "-o", str(out)]) == ExitCode.OK
    before = tally(out, date(2020, 7, 10))
    assert [(x.filed, x.exited) for x in before.lines] == [(1, 0), (1, 0)] and before.cancelled == {}
    assert "半年入户走访" in [d.what for d in due_list(out, date(2020, 7, 10)).items]

    case_file = cancelled_copy(tmp_path / "case", reason)
    assert main(["build", str(case_file), "-o", str(out)]) == ExitCode.AWAITING_SIGNATURE
    rep = report(out)
    assert (rep["kind"], rep["status"], rep["exit_stage"], rep["next_step"]) == ("cancellation", "awaiting_signature",
                                                                                 None, None)
    assert [(e["no"], e["status"]) for e in rep["checklist"][10:]] == [(11, "present"), (12, "awaiting_signature")]
    assert [(a["no"], a["form_key"]) for a in rep["awaiting_signature"]] == [(12, "cancel")]
    printed = out / FILING_NO / "documents" / "注销审批表.pdf"
    [form_page] = texts(printed)
    assert OWN_FORM in form_page and "困难职工档案注销审批表" in form_page and reason in form_page
    assert "附件" not in form_page.replace(OWN_FORM, "")  # not an annex of the notice, not even in the footer
    assert "经猛追湾街道总工会委员会于2020年5月10日研究，同意注销。" in form_page
    assert (out / FILING_NO / "documents" / "注销审批表.docx").is_file()
    pages = texts(out / FILING_NO / f"{FILING_NO}.pdf")
    assert "注销困难职工档案" in pages[0] and "待签章" in pages[0]
    assert full_width(f"原因:{reason}") in full_width(pages[-1])
    if reason == "重复建档":  # the file it duplicates, on the form and in the remarks
        assert f"与档案号 {KEPT} 重复，保留该档案" in form_page and KEPT in pages[-1]
    [unsigned] = [d for d in due_list(out, date(2020, 7, 10)).items if d.archive_no == FILING_NO]
    assert unsigned.awaiting and unsigned.what == "待签章:困难职工档案注销审批表"  # nothing else is due now

    [form] = [f for f in forms_for(read_case(case_file)) if f.spec.key == "cancel"]
    ms = make_signed()
    scan = tmp_path / "扫描件" / "scan0001.pdf"
    scan.parent.mkdir()
    scan.write_bytes(ms.scanner_pdf(ms.signed_scan(form, FILING_NO, UNION)))
    capsys.readouterr()
    assert main(["scan-in", str(scan), "-o", str(out)]) == ExitCode.OK
    assert f"已归档  {FILING_NO} 注销审批表:scan0001.pdf 第1页" in capsys.readouterr().out
    rep = report(out)
    assert (rep["status"], rep["status_label"]) == ("complete", "材料齐全")
    assert rep["checklist"][11]["documents"][0]["signed_original"]["form_key"] == "cancel"
    assert verify_folder(out / FILING_NO) == []

    after = tally(out, date(2020, 7, 10))
    assert (after.lines, after.others, after.cancelled) == ([], [], {reason: 1})
    assert after.cancelled_line == f"已注销 1 户({reason} 1 户),不计入建档户数和脱困率。"
    assert tally(out, date(2020, 5, 19)).cancelled == {}  # cancelled on the 20th: still filed the day before
    assert [d for d in due_list(out, date(2020, 7, 10)).items if d.archive_no == FILING_NO] == []


def test_progress_shows_the_cancelled_apart_in_the_terminal_the_pdf_and_the_desk(tmp_path: Path, capsys) -> None:
    out = tmp_path / "outbox"
    cases = [cancelled_copy(tmp_path / "a", "死亡")]
    second = cancelled_copy(tmp_path / "b", "重复建档")
    data = json.loads(second.read_text(encoding="utf-8"))
    data.update(archive_no="CD510108-2019-0038")
    data["worker"]["name"] = "李建国"
    second.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    filed = tmp_path / "c"
    shutil.copytree(FILING_EXAMPLE, filed)
    data = json.loads((filed / "case.json").read_text(encoding="utf-8"))
    data.update(archive_no=KEPT)
    (filed / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    main(["build", *map(str, [*cases, second, filed / "case.json"]), "-o", str(out)])
    capsys.readouterr()
    target = tmp_path / "进度.pdf"
    assert main(["progress", "--outbox", str(out), "--as-of", "2020-07-10", "-o", str(target)]) == ExitCode.OK
    line = "已注销 2 户(死亡 1 户、重复建档 1 户),不计入建档户数和脱困率。"
    said = capsys.readouterr().out
    assert line in said
    assert full_width(line) in full_width(texts(target)[0])  # the sheet sets Chinese punctuation full-width
    from starlette.testclient import TestClient

    from kunnan_docs.web.app import Desk, create_app
    from kunnan_docs.web.security import Users

    desk = Desk(out, out / ".kunnan", Users(out / ".kunnan" / "nobody"), local_user="测试员")
    page = TestClient(create_app(desk), base_url="http://127.0.0.1").get("/progress?as_of=2020-07-10").text
    assert line in page
    [total] = [x for x in tally(out, date(2020, 7, 10)).lines if x.district == "合计"]
    assert (total.filed, total.exited) == (1, 0)  # only the file kept counts


@pytest.mark.parametrize(("edits", "code", "pointer"), [
    ({"reason": "其他"}, "CANCEL-NOTE", "/cancellation/note"),
    ({"reason": "重复建档"}, "CANCEL-DUPLICATE-OF", "/cancellation/duplicate_of"),
    ({"reason": "重复建档", "duplicate_of": "cd510108-2019-0037"}, "CANCEL-DUPLICATE-SELF", "/cancellation/duplicate_of"),
    ({"decision": {"date": "2020-05-21", "body": "猛追湾街道总工会委员会"}}, "CANCEL-ORDER",
     "/cancellation/district_approval/date"),
    ({"date": "2019-03-01", "decision": {"date": "2019-02-01", "body": "某工会"},
      "district_approval": {"date": "2019-02-02", "body": "某区总工会"}}, "CANCEL-ORDER", "/cancellation/decision/date"),
])
def test_each_cancellation_rule(tmp_path: Path, edits: dict[str, Any], code: str, pointer: str) -> None:
    case_file = cancelled_copy(tmp_path / "case", "死亡")
    data = json.loads(case_file.read_text(encoding="utf-8"))
    data["cancellation"].update(edits)
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    found = validate_file(case_file).findings
    assert [(f.code, f.pointer) for f in found] == [(code, pointer)]
    assert all(f.message.endswith("。") and "请" in f.message for f in found)


def test_the_kinds_keep_their_procedures_apart(tmp_path: Path) -> None:
    case_file = cancelled_copy(tmp_path / "case", "死亡")
    assert validate_file(case_file).findings == []
    data = json.loads(case_file.read_text(encoding="utf-8"))
    data["kind"] = "filing"
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    [finding] = validate_file(case_file).findings
    assert (finding.code, finding.pointer) == ("S-CANCELLATION-BLOCK", "/cancellation")
    assert "建档案卷不应包含【注销】。若本户已注销,请把【案卷类别】改为注销" in finding.message
    del data["cancellation"]
    data["kind"] = "cancellation"
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert [f.code for f in validate_file(case_file).findings] == ["S-REQUIRED"]
    data["kind"] = "filing"
    data["attachments"][-1]["item"] = "cancellation_proof"
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert [f.code for f in validate_file(case_file).findings] == ["ATT-ITEM"]  # not an item of Annex 1
