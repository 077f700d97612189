"""One archive number = one family, one person = one active file, through every door (validate, build, watch,
import-xlsx, the library function); corrections; an outbox that already holds duplicates; the identity index
(its key, its cache, a writer killed mid-write). Real packages built by the pipeline, real processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from kunnan_docs.cli import main
from kunnan_docs.core.casefile import Case
from kunnan_docs.core.identity import Correction, archive_key, family_key, is_active
from kunnan_docs.errors import ConfigError, ExitCode
from kunnan_docs.package import identity
from kunnan_docs.package.layout import IDENTITY_DB, IDENTITY_KEY, STATE_DIR, read_report
from kunnan_docs.pipeline import Outcome, process_case
from kunnan_docs.staff.due import due_list
from kunnan_docs.staff.duplicates import duplicates
from kunnan_docs.staff.progress import tally
from kunnan_docs.web.app import Desk, create_app
from kunnan_docs.web.security import Users

from .conftest import EXAMPLES, FILING_EXAMPLE
from .inbox_kit import copy_case, make_areas, packages, reason_files, watch_once
from .test_workflows import fill_workbook

EXIT_NO, FILING_NO, REFILED_NO = "CD510104-2018-0112", "CD510108-2019-0037", "CD510107-2024-0008"
CANCELLED_NO = "CD510106-2018-0045"
EXIT_ID, FILING_ID = "510104196811021242", "510108197205141236"
OTHER_MALE_ID = "510108197205141279"  # a valid number for a man born on 李建华's birthday: a corrected typo
SECOND_NO = "CD510108-2020-0101"  # 李建华 filed a second time by a colleague


@pytest.fixture
def outbox(built_examples: Path, tmp_path: Path) -> Path:
    """The three examples' packages, each test its own copy."""
    target = tmp_path / "outbox"
    shutil.copytree(built_examples, target, symlinks=True)
    return target


def case_with(example: Path, target: Path, **edits: Any) -> Path:
    """A copy of an example case folder with {pointer (a/b): value} edits; returns its case file."""
    return copy_case(example, target, {f"/{k.replace('__', '/')}": v for k, v in edits.items()}) / "case.json"


def as_case(**data: Any) -> Case:
    """A case as the identity check reads it (archive number, kind, worker, notice, previous archive number)."""
    return Case(data={"kind": "filing", **data}, path=Path("case.json"))


# -- the rules, through the library function ---------------------------------------------------------

def test_archive_numbers_compare_case_folded_and_trimmed() -> None:
    assert archive_key(" cd510108-2019-0037\t") == archive_key("CD510108-2019-0037")
    assert archive_key("CD510108-2019-0037") != archive_key("CD510108-2019-0038")


def test_family_key_is_keyed_and_holds_no_id_number() -> None:
    one, two = b"1" * 32, b"2" * 32
    assert family_key(FILING_ID, one) == family_key(f" {FILING_ID.lower()} ", one)
    assert family_key(FILING_ID, one) != family_key(FILING_ID, two)  # a plain hash would be the same everywhere
    assert FILING_ID not in family_key(FILING_ID, one)


def test_active_means_filed_or_exit_before_its_notice() -> None:
    assert is_active("filing", None) and is_active("exit", None)
    assert not is_active("exit", "2019-10-12") and not is_active("cancellation", "2020-01-01")


def test_library_function_applies_every_rule(outbox: Path) -> None:
    li = {"worker": {"id_number": FILING_ID, "name": "李建华"}}
    assert identity.refusal(outbox, as_case(archive_no=FILING_NO, **li)) is None  # its own file again
    other_family = identity.refusal(outbox, as_case(archive_no=EXIT_NO.lower(), **li))
    assert other_family is not None and other_family.code == "ID-ARCHIVE-FAMILY"
    assert other_family.message == (f"档案号 {EXIT_NO}(与 {EXIT_NO.lower()} 只差大小写)已是另一户"
                                    "(身份证号 510104********1242)的档案。若是另一户,请换一个档案号;"
                                    "若是更正本户的身份证号或姓名,请在工作台该案卷页点“更正”。")
    second = identity.refusal(outbox, as_case(archive_no=SECOND_NO, **li))
    assert second is not None and second.code == "ID-PERSON-ACTIVE" and FILING_NO in second.message
    renamed = identity.refusal(outbox, as_case(archive_no=FILING_NO, worker={"id_number": FILING_ID, "name": "李建明"}))
    assert renamed is not None and renamed.code == "ID-NAME-CHANGED" and "“更正”" in renamed.message
    # 王淑芬's exit has its notice: she may be filed again, naming her old file; not over 李建华's active one
    wang = {"worker": {"id_number": EXIT_ID, "name": "王淑芬"}}
    assert identity.refusal(outbox, as_case(archive_no="CD510104-2021-0001", previous_archive_no=EXIT_NO, **wang)) \
        is None
    over_active = identity.refusal(outbox, as_case(archive_no="CD510104-2021-0001", previous_archive_no=FILING_NO,
                                                   **wang))
    assert over_active is not None and over_active.code == "ID-PREVIOUS-ACTIVE" and FILING_NO in over_active.message
    # an exit before its notice is active too: it may not open a second file of 李建华
    exiting = identity.refusal(outbox, as_case(kind="exit", archive_no=SECOND_NO, exit={"application": {}}, **li))
    assert exiting is not None and exiting.code == "ID-PERSON-ACTIVE"
    nothing = identity.refusal(outbox, as_case(archive_no="NEW-0001", **li), Correction("改号", "张丽", date(2024, 1, 2)))
    assert nothing is not None and nothing.code == "ID-CORRECTION-NONE"
    for finding in (other_family, second, renamed, over_active, nothing):
        assert FILING_ID not in finding.message and EXIT_ID not in finding.message


# -- the doors: validate, build, watch, import-xlsx ------------------------------------------------------

def test_validate_checks_against_the_outbox_given_or_found(outbox: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    other = case_with(FILING_EXAMPLE, tmp_path / "cases" / "另一户", archive_no=EXIT_NO.lower())
    again = case_with(FILING_EXAMPLE, tmp_path / "cases" / "再建", archive_no=SECOND_NO)
    monkeypatch.chdir(tmp_path / "cases")
    assert main(["validate", str(again)]) == ExitCode.OK  # no outbox: nothing to compare with
    capsys.readouterr()
    assert main(["validate", str(other), str(again), "--outbox", str(outbox)]) == ExitCode.INVALID
    out = capsys.readouterr().out
    assert f"[错误 ID-ARCHIVE-FAMILY /archive_no] 档案号 {EXIT_NO}(与 {EXIT_NO.lower()} 只差大小写)已是另一户" in out
    assert f"[错误 ID-PERSON-ACTIVE /worker/id_number] 身份证号 510108********1236 的职工已有在档的档案 {FILING_NO}(李建华)" in out
    assert FILING_ID not in out and EXIT_ID not in out
    monkeypatch.chdir(outbox.parent)  # ./outbox is there: taken without --outbox
    assert main(["validate", str(again), "--json"]) == ExitCode.INVALID
    [result] = json.loads(capsys.readouterr().out)
    assert [f["code"] for f in result["findings"]] == ["ID-PERSON-ACTIVE"]
    assert main(["validate", str(again), "--outbox", str(tmp_path / "nowhere")]) == ExitCode.USAGE


def test_validate_checks_the_cases_of_one_run_against_each_other(tmp_path: Path, capsys) -> None:
    first = case_with(FILING_EXAMPLE, tmp_path / "a" / "one")
    second = case_with(FILING_EXAMPLE, tmp_path / "a" / "two", archive_no=SECOND_NO)
    empty = tmp_path / "outbox"
    empty.mkdir()
    assert main(["validate", str(first), str(second), "--outbox", str(empty)]) == ExitCode.INVALID
    out = capsys.readouterr().out
    assert f"已有在档的档案 {FILING_NO}(李建华,见{first})" in out
    assert not (empty / STATE_DIR).exists()  # an empty outbox: no key made, nothing written


def test_build_refuses_with_exit_1_and_publishes_nothing(outbox: Path, tmp_path: Path, capsys) -> None:
    before = sorted(p.name for p in outbox.iterdir())
    other = case_with(FILING_EXAMPLE, tmp_path / "c" / "另一户", archive_no=EXIT_NO)
    again = case_with(FILING_EXAMPLE, tmp_path / "c" / "再建", archive_no=SECOND_NO)
    assert main(["build", str(other), str(again), "-o", str(outbox)]) == ExitCode.INVALID
    out = capsys.readouterr().out
    assert f"档案号 {EXIT_NO} 已是另一户(身份证号 510104********1242)的档案。" in out
    assert f"已有在档的档案 {FILING_NO}(李建华)" in out and "不合格" in out
    assert sorted(p.name for p in outbox.iterdir()) == before  # no package, no history, nothing staged left
    assert not any((outbox / ".staging").iterdir())


def test_an_archive_number_spelled_in_another_case_is_the_same_package(outbox: Path, tmp_path: Path, capsys) -> None:
    variant = case_with(FILING_EXAMPLE, tmp_path / "c" / "小写", archive_no=FILING_NO.lower())
    assert main(["build", str(variant), "-o", str(outbox)]) == ExitCode.OK
    assert f"按 {FILING_NO} 成卷" in capsys.readouterr().out
    assert [p.name for p in outbox.iterdir() if p.name.lower() == FILING_NO.lower()] == [FILING_NO]
    assert (outbox / "_历史版本" / FILING_NO / "第1版").is_dir()
    assert read_report(outbox / FILING_NO).archive_no == FILING_NO


def test_watch_refuses_with_the_reason_in_the_reason_file(outbox: Path, tmp_path: Path) -> None:
    (tmp_path / "room").mkdir()
    areas = make_areas(tmp_path / "room")
    shutil.move(outbox, areas["outbox"])
    copy_case(FILING_EXAMPLE, areas["inbox"] / "另一户", {"/archive_no": EXIT_NO.lower()})
    copy_case(FILING_EXAMPLE, areas["inbox"] / "再建", {"/archive_no": SECOND_NO})
    assert watch_once(areas).returncode == ExitCode.INVALID
    reasons = reason_files(areas["rejected"])
    assert f"档案号 {EXIT_NO}(与 {EXIT_NO.lower()} 只差大小写)已是另一户(身份证号 510104********1242)" \
        in reasons["另一户"]
    assert f"已有在档的档案 {FILING_NO}(李建华)" in reasons["再建"]
    assert packages(areas["outbox"]) == sorted([EXIT_NO, FILING_NO, REFILED_NO, CANCELLED_NO])
    assert not (areas["outbox"] / "_历史版本").exists()


def test_import_refuses_the_row_by_sheet_and_row(outbox: Path, tmp_path: Path, capsys) -> None:
    template = tmp_path / "t.xlsx"
    main(["template-xlsx", "-o", str(template)])
    li = json.loads((FILING_EXAMPLE / "case.json").read_text(encoding="utf-8"))
    other = json.loads(json.dumps(li)) | {"archive_no": EXIT_NO}  # row 3: 王淑芬's archive number
    fresh = json.loads(json.dumps(li)) | {"archive_no": "CD510108-2020-0200"}
    fresh["worker"]["id_number"] = OTHER_MALE_ID  # row 4: a new family, accepted
    twice = json.loads(json.dumps(fresh)) | {"archive_no": "CD510108-2020-0201"}  # row 5: that family again
    folded = json.loads(json.dumps(fresh)) | {"archive_no": "cd510108-2020-0200"}  # row 6: row 4's number
    book = tmp_path / "book.xlsx"
    fill_workbook(template, [other, fresh, twice, folded], book)
    assert main(["import-xlsx", str(book), "-o", str(tmp_path / "out"), "--outbox", str(outbox)]) == ExitCode.INVALID
    out = capsys.readouterr().out
    assert f"表“案卷”第 3 行【档案号】(档案号 {EXIT_NO}):档案号 {EXIT_NO} 已是另一户" in out
    assert "表“案卷”第 5 行【身份证号】(档案号 CD510108-2020-0201):身份证号 510108********1279 的职工已有在档的档案 " \
           "CD510108-2020-0200(李建华,见表“案卷”第 4 行)" in out
    assert "表“案卷”第 6 行:档案号 cd510108-2020-0200 与第 4 行重复(档案号不区分大小写)" in out
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["CD510108-2020-0200"]


# -- corrections --------------------------------------------------------------------------------------------

def test_a_correction_changes_the_id_number_and_name_and_is_recorded(outbox: Path, tmp_path: Path) -> None:
    corrected = case_with(FILING_EXAMPLE, tmp_path / "c" / "更正", worker__id_number=OTHER_MALE_ID,
                          worker__name="李剑华")
    refused = process_case(corrected, outbox)
    assert refused.outcome is Outcome.REJECTED and refused.findings[0].code == "ID-ARCHIVE-FAMILY"
    assert not (outbox / "_历史版本").exists()
    fix = Correction("身份证号抄错一位,姓名用字有误(见户口本)", "张丽", date(2024, 3, 5))
    result = process_case(corrected, outbox, correction=fix)
    assert result.outcome.published and result.folder == outbox / FILING_NO
    [record] = read_report(result.folder).corrections
    assert (record.date, record.by, record.fields) == ("2024-03-05", "张丽", ("职工本人/姓名", "职工本人/身份证号"))
    report_text = (result.folder / "report.json").read_text(encoding="utf-8")
    assert OTHER_MALE_ID not in report_text and FILING_ID not in report_text and "李建华" not in report_text
    assert "更正:2024年3月5日,张丽更正职工本人/姓名、职工本人/身份证号,原因:身份证号抄错一位" in \
        (result.folder / "报告.txt").read_text(encoding="utf-8-sig")
    assert (outbox / "_历史版本" / FILING_NO / "第1版" / "input" / "case.json").is_file()  # the old version kept
    # the index follows: the old identity is another family now; the corrected one goes on without a correction
    old = process_case(FILING_EXAMPLE / "case.json", outbox)
    assert old.outcome is Outcome.REJECTED and "510108********1279" in old.messages[0]
    again = process_case(corrected, outbox)
    assert again.outcome.published and len(read_report(again.folder).corrections) == 1  # carried forward


# -- an outbox that already holds duplicates ------------------------------------------------------------------

@pytest.fixture(scope="module")
def duplicated(built_examples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The examples' outbox with a second file of 李建华 filed in May 2019 in another room's outbox before the check
    existed, then moved in: the kind of outbox that holds duplicates."""
    root = tmp_path_factory.mktemp("duplicated")
    target = root / "outbox"
    shutil.copytree(built_examples, target, symlinks=True)
    second = case_with(FILING_EXAMPLE, root / "cases" / "再建", archive_no=SECOND_NO, filing_date="2019-05-06",
                       union="成都市成华区另一街道工会")
    room = root / "other-room"
    assert process_case(second, room).outcome.published
    os.rename(room / SECOND_NO, target / SECOND_NO)
    return target


def test_duplicates_lists_the_person_and_what_to_do(duplicated: Path, capsys) -> None:
    [found] = duplicates(duplicated)
    assert [p.archive_no for p in found.files] == [FILING_NO, SECOND_NO] and found.id_masked == "510108********1236"
    assert main(["duplicates", "--outbox", str(duplicated)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "重复建档:1 人" in out and "身份证号 510108********1236  李建华" in out
    assert f"{SECOND_NO}  李建华  成都市成华区另一街道工会" in out and "建档日期 2019-05-06" in out
    assert f"请保留最早建档的 {FILING_NO},把 {SECOND_NO} 注销(注销原因选“重复建档”,重复的档案号填 {FILING_NO})" in out
    assert main(["duplicates", "--outbox", str(duplicated), "--json"]) == ExitCode.OK
    [listed] = json.loads(capsys.readouterr().out)
    assert [f["archive_no"] for f in listed["files"]] == [FILING_NO, SECOND_NO] and FILING_ID not in json.dumps(listed)


def test_no_duplicates_says_so(outbox: Path, capsys) -> None:
    assert duplicates(outbox) == []
    assert main(["duplicates", "--outbox", str(outbox)]) == ExitCode.OK
    assert "没有重复建档" in capsys.readouterr().out


def test_progress_and_due_count_people_and_say_so(duplicated: Path, built_examples: Path, capsys) -> None:
    as_of = date(2020, 8, 1)
    assert tally(duplicated, as_of).lines == tally(built_examples, as_of).lines  # 李建华 counted once
    assert tally(duplicated, as_of).folded == 1 and tally(duplicated, date(2019, 4, 1)).folded == 0  # not yet filed
    items, folded = due_list(duplicated, as_of)
    assert folded == 1 and SECOND_NO not in {d.archive_no for d in items} and FILING_NO in {d.archive_no for d in items}
    assert items == due_list(built_examples, as_of).items
    assert main(["progress", "--outbox", str(duplicated), "--as-of", "2020-08-01"]) == ExitCode.OK
    assert "已合并重复建档 1 户" in capsys.readouterr().out
    assert main(["due", "--outbox", str(duplicated), "--as-of", "2020-08-01"]) == ExitCode.OK
    assert "已合并重复建档 1 户" in capsys.readouterr().out


def test_a_refiled_person_counts_once_and_not_as_exited(built_examples: Path, tmp_path: Path) -> None:
    """王淑芬 exited in 2019 and was filed again in 2020: one family in difficulty, not one exited and one filed."""
    outbox = tmp_path / "outbox"
    for archive_no, template, filed in ((EXIT_NO, EXIT_NO, "2018-04-10"), ("CD510104-2020-0001", FILING_NO, "2020-06-01")):
        (outbox / archive_no / "input").mkdir(parents=True)
        report = json.loads((built_examples / template / "report.json").read_text(encoding="utf-8"))
        report["archive_no"] = archive_no
        report["case"] |= {"district": "成都市锦江区总工会", "level": "全国级", "filing_date": filed}
        (outbox / archive_no / "report.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
        (outbox / archive_no / "input" / "case.json").write_text(json.dumps({"worker": {"id_number": EXIT_ID}}))
    before = tally(outbox, date(2019, 12, 31))  # before the refiling: exited
    assert [(x.district, x.filed, x.exited) for x in before.lines] == [("成都市锦江区总工会", 1, 1), ("合计", 1, 1)]
    later = tally(outbox, date(2025, 1, 1))
    assert [(x.district, x.filed, x.exited) for x in later.lines] == [("成都市锦江区总工会", 1, 0), ("合计", 1, 0)]
    assert later.folded == 0  # a refiling is no duplicate
    assert duplicates(outbox) == []


def test_the_desk_lists_duplicates(duplicated: Path) -> None:
    state = duplicated / STATE_DIR
    client = TestClient(create_app(Desk(duplicated, state, Users(state / "nobody"), local_user="测试员")),
                        base_url="http://127.0.0.1")
    page = client.get("/duplicates")
    assert page.status_code == 200
    assert FILING_NO in page.text and SECOND_NO in page.text and "510108********1236" in page.text
    assert FILING_ID not in page.text
    assert "已合并重复建档 1 户" in client.get("/progress?as_of=2020-08-01").text
    assert "查看重复建档" in client.get("/due?as_of=2020-08-01").text


def test_a_duplicate_goes_on_but_no_third_file_is_opened(duplicated: Path) -> None:
    li = {"worker": {"id_number": FILING_ID, "name": "李建华"}}
    assert identity.refusal(duplicated, as_case(archive_no=SECOND_NO, **li)) is None  # already active: no new file
    third = identity.refusal(duplicated, as_case(archive_no="CD510108-2021-0001", **li))
    assert third is not None and f"{FILING_NO}(李建华)、{SECOND_NO}(李建华)" in third.message


# -- the index: key, cache, crashes ----------------------------------------------------------------------------

def fake_packages(outbox: Path, count: int, template: Path) -> None:
    """Package folders as the index reads them (the listing of a real report.json, the ID in input/), each with its
    own archive number and ID number."""
    report = json.loads((template / "report.json").read_text(encoding="utf-8"))
    for i in range(count):
        folder = outbox / f"FAKE-{i:05d}"
        (folder / "input").mkdir(parents=True)
        report["archive_no"] = folder.name
        (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
        (folder / "input" / "case.json").write_text(json.dumps({"worker": {"id_number": f"{i:018d}"}}),
                                                    encoding="utf-8")


def test_key_is_owner_only_and_made_once(outbox: Path) -> None:
    first = identity.load(outbox).families()
    key = outbox / STATE_DIR / IDENTITY_KEY
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((outbox / STATE_DIR / IDENTITY_DB).stat().st_mode) == 0o600
    assert identity.load(outbox).families() == first
    key.unlink()  # lost: a new key, the index rebuilt from the packages, the same files and the same checks
    again = identity.load(outbox).families()
    assert set(again) == set(first) and set(again.values()).isdisjoint(first.values())
    assert identity.refusal(outbox, as_case(archive_no=SECOND_NO, worker={"id_number": FILING_ID, "name": "李建华"}))
    key.write_text("spoilt\n", encoding="ascii")
    with pytest.raises(ConfigError, match="身份密钥文件"):
        identity.load(outbox)


def entries(outbox: Path) -> dict[str, identity.Entry]:
    return {e.archive_no: e for e in identity.load(outbox).entries}


def settled(outbox: Path) -> None:
    """The outbox folder last changed well before now, as between two publishes of a quiet day."""
    past = time.time() - 60
    os.utime(outbox, (past, past))


def republish(folder: Path, report: dict[str, Any]) -> None:
    """What publish does to the outbox: a new report.json in a folder renamed into place."""
    (folder / "report.json").unlink()
    (folder / "report.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    folder.rename(folder.with_name(".moving"))
    folder.with_name(".moving").rename(folder)


def test_index_reads_a_package_again_only_when_it_changed(outbox: Path, built_examples: Path) -> None:
    fake_packages(outbox, 3, built_examples / FILING_NO)
    first = entries(outbox)
    assert {"FAKE-00000", "FAKE-00001", "FAKE-00002", FILING_NO} <= set(first)
    # its input/ changed, its report.json did not: not read again, though the outbox changed
    (outbox / "FAKE-00000" / "input" / "case.json").write_text(json.dumps({"worker": {"id_number": "1"}}))
    republish(outbox / "FAKE-00002", json.loads((outbox / "FAKE-00002" / "report.json").read_text(encoding="utf-8")))
    assert entries(outbox) == first
    report = json.loads((outbox / "FAKE-00001" / "report.json").read_text(encoding="utf-8"))
    report["kind"], report["case"]["notice_date"] = "exit", "2020-01-01"  # republished as an exit with its notice
    republish(outbox / "FAKE-00001", report)
    shutil.rmtree(outbox / "FAKE-00002")
    now = entries(outbox)
    assert not now["FAKE-00001"].active and "FAKE-00002" not in now and now["FAKE-00000"] == first["FAKE-00000"]
    # an outbox folder unchanged since the last look: not even the packages' stats are looked at
    settled(outbox)
    assert entries(outbox) == now
    (outbox / "FAKE-00001" / "report.json").write_text(json.dumps(report | {"archive_no": "HAND-EDITED"}))
    assert entries(outbox) == now
    republish(outbox / "FAKE-00000", report | {"archive_no": "FAKE-00000"})
    later = entries(outbox)
    assert "HAND-EDITED" in later and later["FAKE-00000"].family != first["FAKE-00000"].family  # input/ read again


def test_a_damaged_index_is_rebuilt(outbox: Path) -> None:
    first = entries(outbox)
    (outbox / STATE_DIR / IDENTITY_DB).write_bytes(b"not a database" * 100)
    assert entries(outbox) == first


def test_an_outbox_where_the_index_cannot_be_kept_is_checked_all_the_same(outbox: Path) -> None:
    li = as_case(archive_no=SECOND_NO, worker={"id_number": FILING_ID, "name": "李建华"})
    database = outbox / STATE_DIR / IDENTITY_DB
    database.unlink()
    database.mkdir()  # cannot be opened as a database, nor replaced
    assert identity.refusal(outbox, li) is not None
    shutil.rmtree(outbox / STATE_DIR)
    (outbox / STATE_DIR).write_text("")  # no key can be made: one for this process only, nothing written
    assert identity.refusal(outbox, li) is not None and (outbox / STATE_DIR).read_text() == ""


_WRITER = """
import sqlite3
import sys
from pathlib import Path
from kunnan_docs.package import identity
outbox = Path(sys.argv[1])
db = sqlite3.connect(outbox / ".kunnan" / "identity.sqlite", isolation_level=None)
print("ready", flush=True)
while True:
    db.execute("UPDATE meta SET value = 'made with another key'")
    identity.load(outbox)  # the whole index made again, in one transaction
"""


def test_the_index_survives_a_writer_killed_mid_write(outbox: Path, built_examples: Path) -> None:
    """A real process rebuilds the index of 2,000 packages over and over and is killed at moments spread over a
    rebuild: the database always holds one whole index, and the next check reads it."""
    fake_packages(outbox, 2000, built_examples / FILING_NO)
    expected = entries(outbox)
    database = outbox / STATE_DIR / IDENTITY_DB
    for delay in (0.05, 0.2, 0.35, 0.5, 0.7, 0.9, 1.2):
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(outbox)], stdout=subprocess.PIPE, text=True)
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        with closing(sqlite3.connect(database)) as db:  # rolls back what the killed writer left half done
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert db.execute("SELECT count(*) FROM packages").fetchone() == (len(expected),)
    assert entries(outbox) == expected


def test_examples_are_one_family_each(built_examples: Path) -> None:
    index = identity.load(built_examples)
    assert len(set(index.families().values())) == len(list(EXAMPLES.glob("*/case.json")))
    assert {e.archive_no: e.active for e in index.entries} == {EXIT_NO: False, FILING_NO: True, REFILED_NO: True, CANCELLED_NO: False}
