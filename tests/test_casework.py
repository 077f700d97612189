"""The desk's write path as a library (web/casework.py), on real folders: a draft is saved, submitted through the
one pipeline and ends in one outcome, recorded in the ledger and the audit log; records and corrections make new
versions; a rejected case opens from rejected/ without being moved. Packages are read back."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest

from kunnan_docs.core.findings import changed_fields
from kunnan_docs.errors import UsageError
from kunnan_docs.inbox.ledger import Ledger
from kunnan_docs.package.layout import HISTORY, INPUT_DIR, read_report
from kunnan_docs.package.verify import verify_path
from kunnan_docs.pipeline import Outcome
from kunnan_docs.web.casework import DESK_SOURCE, Casework, Origin
from kunnan_docs.web.security import AUDIT_FILE

from .conftest import EXIT_EXAMPLE, FILING_EXAMPLE

FILING_NO = "CD510108-2019-0037"
FILING_ID = "510108197205141236"
NEW_ID = "51010819720514105X"  # another valid number (check digit X), same sex


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def audit_lines(state: Path) -> list[dict[str, Any]]:
    path = state / AUDIT_FILE
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def ledger_rows(state: Path) -> list[Any]:
    ledger = Ledger(state / "ledger.sqlite")
    try:
        return ledger.by_status(*(o.value for o in Outcome))
    finally:
        ledger.close()


@pytest.fixture
def desk(tmp_path: Path) -> Casework:
    outbox = tmp_path / "outbox"
    return Casework(outbox, outbox / ".kunnan", rejected=tmp_path / "rejected")


@pytest.fixture
def published(desk: Casework) -> Casework:
    """The filing example, submitted from a draft as a clerk types it in."""
    draft = desk.create(load(FILING_EXAMPLE / "case.json"), "张丽", files=FILING_EXAMPLE)
    assert desk.submit(draft, "张丽").outcome is Outcome.COMPLETE
    return desk


def test_a_draft_is_private_and_survives_a_restart(desk: Casework) -> None:
    draft = desk.create({"kind": "filing", "worker": {"name": "李四"}}, "张丽")
    for path in [draft.folder, *draft.folder.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))  # owner only: a case holds personal data
    again = Casework(desk.outbox, desk.state)
    [found] = again.drafts()
    assert found.case == {"kind": "filing", "worker": {"name": "李四"}} and found.user == "张丽"
    desk.save(found, {"kind": "filing", "worker": {"name": "李四", "phone": "13908001234"}}, "王芳")
    assert again.draft(found.id).case["worker"]["phone"] == "13908001234"
    assert again.draft("../../etc") is None and again.draft("0" * 12) is None


def test_submitting_publishes_records_and_removes_the_draft(published: Casework) -> None:
    desk = published
    assert desk.drafts() == []
    folder = desk.outbox / FILING_NO
    assert read_report(folder).status == "complete" and verify_path(folder) == []
    [row] = ledger_rows(desk.state)
    assert (row.source, row.user, row.status, row.archive_no) == (DESK_SOURCE, "张丽", "complete", FILING_NO)
    assert row.content_hash and row.outputs == [str(folder)]
    actions = [(a["user"], a["action"], a.get("outcome")) for a in audit_lines(desk.state)]
    assert actions == [("张丽", "新建草稿", None), ("张丽", "提交成卷", "材料齐全")]


def test_a_refused_submission_keeps_the_draft_with_its_findings(desk: Casework) -> None:
    case = load(FILING_EXAMPLE / "case.json")
    case["worker"]["id_number"] = "510108197205141237"
    draft = desk.create(case, "张丽", files=FILING_EXAMPLE)
    done = desk.submit(draft, "张丽")
    assert done.outcome is Outcome.REJECTED and done.folder is None and not (desk.outbox / FILING_NO).exists()
    kept = desk.draft(draft.id)
    assert kept is not None and [(f.code, f.pointer) for f in kept.findings] == [("ID-CHECK", "/worker/id_number")]
    assert done.messages == [kept.findings[0].message] and "校验位" in done.messages[0]
    [row] = ledger_rows(desk.state)
    assert row.status == "rejected" and row.source == DESK_SOURCE and "校验位" in row.reason
    assert "ID-CHECK" not in row.reason and "/worker" not in row.reason  # the ledger's reason is for clerks
    assert row.outputs == [str(draft.folder)]
    assert audit_lines(desk.state)[-1]["outcome"] == "已退回"


def test_a_record_appends_to_the_current_case_and_makes_a_new_version(published: Casework) -> None:
    desk = published
    visit = {"date": "2020-03-20", "visitor": "周晓梅", "notes": "了解复查结果"}
    done = desk.record(FILING_NO, "visit", visit, "王芳")
    assert done.outcome is Outcome.COMPLETE and desk.drafts() == []
    folder = desk.outbox / FILING_NO
    case = load(folder / INPUT_DIR / "case.json")
    assert case["home_visits"][-1] == visit and len(case["home_visits"]) == 4
    assert sorted(p.name for p in (folder / INPUT_DIR / "scans").iterdir()) == \
        sorted(p.name for p in (FILING_EXAMPLE / "scans").iterdir())  # the scans carried over
    assert (desk.outbox / HISTORY / FILING_NO / "第1版").is_dir() and verify_path(folder) == []
    assert audit_lines(desk.state)[-1] | {"time": ""} == {"time": "", "user": "王芳", "action": "登记", "record": "入户走访",
                                                          "archive_no": FILING_NO, "outcome": "材料齐全",
                                                          "draft": done_draft_id(desk)}
    with pytest.raises(UsageError, match="没有这种登记"):  # a return visit is a step of the exit (办理)
        desk.record(FILING_NO, "return-visit", {"date": "2020-03-20"}, "王芳")
    with pytest.raises(UsageError, match="按通知规定的次序"):
        desk.step(FILING_NO, "return_visits", {"date": "2020-03-20"}, "王芳")
    with pytest.raises(UsageError, match="一项也没有填写"):
        desk.record(FILING_NO, "visit", {}, "王芳")


def done_draft_id(desk: Casework) -> str:
    return audit_lines(desk.state)[-1]["draft"]


def test_a_refused_record_leaves_the_package_as_it_was(published: Casework) -> None:
    desk = published
    before = (desk.outbox / FILING_NO / "manifest-sha256.txt").read_bytes()
    done = desk.record(FILING_NO, "aid", {"date": "2018-01-01", "category": "生活", "project": "生活救助",
                                          "amount": 500, "channel": "现金", "card_no_masked": "5101********1236"}, "王芳")
    assert done.outcome is Outcome.REJECTED and done.draft is not None
    assert {f.code for f in done.draft.findings} == {"AID-BEFORE-FILING", "AID-CHANNEL"}
    assert (desk.outbox / FILING_NO / "manifest-sha256.txt").read_bytes() == before
    assert done.draft.origin is Origin.RECORD and done.draft.record == "帮扶救助"


def test_a_correction_needs_a_reason_and_the_audit_names_the_fields_not_the_values(published: Casework) -> None:
    desk = published
    draft = desk.from_package(FILING_NO, "张丽", Origin.CORRECTION)
    draft.case["worker"]["id_number"] = NEW_ID
    draft.case["worker"]["name"] = "李建华"
    draft.case["worker"]["phone"] = "13908005678"
    desk.save(draft, draft.case, "张丽", reason="")
    with pytest.raises(UsageError, match="更正必须写明原因"):
        desk.submit(draft, "张丽")
    assert desk.draft(draft.id) is not None  # nothing lost
    desk.save(draft, draft.case, "张丽", reason=f"身份证号录入错误(原为 {FILING_ID}),已对照原件核实")
    done = desk.submit(draft, "张丽")
    assert done.outcome is Outcome.AWAITING_SIGNATURE  # the signed survey form bears the old number: print anew
    assert any("旧版打印件" in m for m in done.messages)
    assert load(desk.outbox / FILING_NO / INPUT_DIR / "case.json")["worker"]["id_number"] == NEW_ID
    old = desk.outbox / HISTORY / FILING_NO / "第1版"
    assert load(old / INPUT_DIR / "case.json")["worker"]["id_number"] == FILING_ID  # the old version kept
    line = audit_lines(desk.state)[-1]
    assert line["action"] == "更正" and line["fields"] == ["职工本人/身份证号", "职工本人/联系电话"]
    assert line["reason"].startswith("身份证号录入错误") and "510108********1236" in line["reason"]
    text = (desk.state / AUDIT_FILE).read_text(encoding="utf-8")
    assert FILING_ID not in text and NEW_ID not in text and "13908005678" not in text
    [corrected] = read_report(desk.outbox / FILING_NO).corrections  # the pipeline recorded who, when, why
    assert (corrected.by, corrected.fields) == ("张丽", ("职工本人/身份证号", "职工本人/联系电话"))


def test_a_correction_keeps_the_archive_number(published: Casework) -> None:
    desk = published
    draft = desk.from_package(FILING_NO, "张丽", Origin.CORRECTION)
    draft.case["archive_no"] = "CD510108-2019-0099"
    desk.save(draft, draft.case, "张丽", reason="档案号编错")
    with pytest.raises(UsageError, match="更正不能修改档案号"):
        desk.submit(draft, "张丽")
    assert not (desk.outbox / "CD510108-2019-0099").exists() and desk.draft(draft.id) is not None


def test_changed_fields_are_titles() -> None:
    old = load(EXIT_EXAMPLE / "case.json")
    new = json.loads(json.dumps(old))
    new["family_members"].append({"name": "王小", "relation": "孙子", "age": 3, "status": "幼儿"})
    new["exit"]["publicity"]["end"] = "2019-09-23"
    del new["worker"]["children_schools"]
    assert changed_fields(old, new) == ["职工本人/子女就读学校", "家庭主要成员情况/第3条",
                                        "脱困退档/脱困公示/公示结束日期"]
    assert changed_fields(old, old) == []


def rejected_case(desk: Casework, name: str, edit: dict[str, Any]) -> int:
    """A case the watcher rejected: its folder moved to rejected/<time>-<name>/<name>/, a ledger row pointing there."""
    where = desk.rejected / f"20261201-101010-{name}"
    shutil.copytree(FILING_EXAMPLE, where / name)
    (where / "退回原因.txt").write_text("案卷被退回", encoding="utf-8")
    data = load(where / name / "case.json")
    data["worker"] |= edit
    (where / name / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    ledger = Ledger(desk.state / "ledger.sqlite")
    try:
        row = ledger.start(f"{name}/case.json", "building")
        ledger.update(row, status="rejected", archive_no=FILING_NO, reason="性别不对", outputs=[str(where)])
    finally:
        ledger.close()
    return row


def test_a_rejected_case_opens_from_rejected_which_keeps_it(desk: Casework) -> None:
    row = rejected_case(desk, "李建华", {"gender": "女"})
    before = sorted(p.relative_to(desk.rejected) for p in desk.rejected.rglob("*"))
    draft = desk.from_rejected(row, "张丽")
    assert draft.origin is Origin.REJECTED and draft.case["worker"]["gender"] == "女"
    assert [(f.code, f.pointer) for f in draft.findings] == [("ID-SEX", "/worker/gender")]  # shown at once
    assert len(list((draft.case_folder / "scans").iterdir())) == len(list((FILING_EXAMPLE / "scans").iterdir()))
    draft.case["worker"]["gender"] = "男"
    desk.save(draft, draft.case, "张丽")
    assert desk.submit(draft, "张丽").outcome is Outcome.COMPLETE
    assert sorted(p.relative_to(desk.rejected) for p in desk.rejected.rglob("*")) == before  # nothing moved
    assert [a["action"] for a in audit_lines(desk.state)] == ["打开退回案卷", "保存草稿", "退回案卷重新提交"]
    assert audit_lines(desk.state)[0]["ledger"] == row
    assert [r.status for r in ledger_rows(desk.state)] == ["rejected", "complete"]


def test_only_rejected_rows_inside_the_rejected_area_open(desk: Casework, tmp_path: Path) -> None:
    row = rejected_case(desk, "李建华", {"gender": "女"})
    ledger = Ledger(desk.state / "ledger.sqlite")
    elsewhere = ledger.start("x/case.json", "building")
    ledger.update(elsewhere, status="rejected", outputs=[str(tmp_path)])
    done = ledger.start("y/case.json", "building")
    ledger.update(done, status="complete", outputs=[str(desk.rejected)])
    ledger.close()
    for bad in (elsewhere, done, 999):
        with pytest.raises(UsageError):
            desk.from_rejected(bad, "张丽")
    unbound = Casework(desk.outbox, desk.state)  # a desk that does not know the rejected area
    with pytest.raises(UsageError, match="退回区"):
        unbound.from_rejected(row, "张丽")


def test_a_refusal_at_the_desk_opens_its_kept_draft(desk: Casework) -> None:
    case = load(FILING_EXAMPLE / "case.json")
    case["worker"]["gender"] = "女"
    draft = desk.create(case, "张丽", files=FILING_EXAMPLE)
    desk.submit(draft, "张丽")
    [row] = ledger_rows(desk.state)
    assert desk.from_rejected(row.id, "王芳").id == draft.id
    desk.discard(desk.draft(draft.id), "王芳")
    with pytest.raises(UsageError, match="重新提交或删除"):
        desk.from_rejected(row.id, "王芳")


def test_an_unreadable_rejected_file_says_what_to_do(desk: Casework) -> None:
    row = rejected_case(desk, "坏文件", {})
    (desk.rejected / "20261201-101010-坏文件" / "坏文件" / "case.json").write_text("{ not json", encoding="utf-8")
    with pytest.raises(UsageError, match="新建档案"):
        desk.from_rejected(row, "张丽")
