"""The desk's editor over HTTP (Starlette's test client): new case, drafts, submit, 登记, 更正 and a rejected case
opened from 收件箱 — every POST refused without its CSRF token, every action in the audit log, every message in
plain Chinese (no rule codes, pointers or paths), and the packages read back."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from kunnan_docs.cli import main
from kunnan_docs.errors import ExitCode
from kunnan_docs.inbox.ledger import Ledger
from kunnan_docs.package.layout import HISTORY, INPUT_DIR, read_report
from kunnan_docs.web.app import Desk, create_app
from kunnan_docs.web.security import AUDIT_FILE, Users

from .conftest import FILING_EXAMPLE
from .desk_kit import form_pairs

FILING_NO = "CD510108-2019-0037"
FILING_ID = "510108197205141236"
NEW_ID = "51010819720514105X"
ENGINEERS = re.compile(r"\b[A-Z]{2,}-[A-Z-]+\b|/worker|/exit|/family|README|kunnan-docs|--[a-z]|/tmp/|\.kunnan")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("editor") / "outbox"
    assert main(["build", str(FILING_EXAMPLE / "case.json"), "-o", str(out)]) == ExitCode.OK
    return out


@pytest.fixture
def root(built: Path, tmp_path: Path) -> Path:
    shutil.copytree(built, tmp_path / "outbox")
    (tmp_path / "rejected").mkdir()
    return tmp_path


@pytest.fixture
def client(root: Path) -> TestClient:
    state = root / "outbox" / ".kunnan"
    desk = Desk(root / "outbox", state, Users(state / "nobody"), local_user="测试员", rejected=root / "rejected")
    return TestClient(create_app(desk), base_url="http://127.0.0.1")


def csrf(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/drafts/new").text).group(1)


def audit(root: Path) -> list[dict[str, Any]]:
    path = root / "outbox" / ".kunnan" / AUDIT_FILE
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def visible(html: str) -> str:
    """What the clerk reads: the page without tags, attributes, scripts and the values in inputs."""
    html = re.sub(r"<(script|template)\b.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def findings_at(html: str, pointer: str) -> list[str]:
    block = re.search(rf'<ul class="findings[^"]*" data-for="{re.escape(pointer)}">(.*?)</ul>', html, re.S)
    return re.findall(r"<li[^>]*>([^<]*)</li>", block.group(1)) if block else []


def post(client: TestClient, url: str, pairs: list[tuple[str, str]], **options: Any) -> Any:
    """A form as a browser posts it: repeated names (a list's rows, ticked choices) in page order."""
    return client.post(url, content=urlencode(pairs), headers={"Content-Type": "application/x-www-form-urlencoded"},
                       **options)


def filing(**worker: str) -> list[tuple[str, str]]:
    case = json.loads((FILING_EXAMPLE / "case.json").read_text(encoding="utf-8"))
    case["worker"] |= worker
    case["attachments"] = []
    return form_pairs(case)


POSTS = ["/drafts/new", "/check", "/drafts/0123456789ab", "/drafts/0123456789ab/delete",
         f"/packages/{FILING_NO}/record/visit", f"/packages/{FILING_NO}/correct", "/inbox/rejected/1/open"]


@pytest.mark.parametrize("path", POSTS)
def test_every_post_needs_the_csrf_token(client: TestClient, root: Path, path: str) -> None:
    before = sorted(p.name for p in (root / "outbox").iterdir())
    for token in ({}, {"csrf": "forged"}):
        response = client.post(path, data={**token, "/worker/name": "李四", "action": "submit",
                                           "/home_visits/0/date": "2020-03-20", "/home_visits/0/visitor": "周晓梅"})
        assert response.status_code == 403 and "安全校验未通过" in response.text
    after = sorted(p.name for p in (root / "outbox").iterdir())
    assert [n for n in after if n != ".kunnan"] == [n for n in before if n != ".kunnan"]
    assert {line["action"] for line in audit(root)} <= {"安全校验未通过"}  # only the refusals are recorded
    assert not (root / "outbox" / ".kunnan" / "drafts").exists()


def test_the_new_case_form_is_the_schema_in_chinese_without_inline_script(client: TestClient) -> None:
    page = client.get("/drafts/new").text
    assert 'name="/worker/id_number"' in page and 'type="date" name="/filing_date"' in page
    assert '<option value="filing" selected>建档</option>' in page  # a new case is a filing
    assert re.search(r'<select name="/level" id="/level">\s*<option value="">请选择</option>\s*'
                     r'<option value="全国级" >全国级</option>', page)
    assert 'name="/worker/hardship_categories" value="因病"' in page
    assert '<template>' in page and "添加一条家庭成员" in page
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == [] and not re.search(r"\son[a-z]+=", page)
    assert '<script src="/static/editor.js"></script>' in page
    assert client.get("/static/editor.js").status_code == 200


def test_the_live_check_answers_by_pointer_in_plain_chinese(client: TestClient) -> None:
    answer = client.post("/check", data={"csrf": csrf(client), "/kind": "filing",
                                         "/worker/id_number": "510108197205141237"}).json()
    by_pointer = {f["pointer"]: f for f in answer["findings"]}
    wrong = by_pointer["/worker/id_number"]
    assert wrong["severity"] == "error" and "校验位" in wrong["message"]
    assert set(wrong) == {"pointer", "severity", "message"}  # no rule code for the page
    assert not ENGINEERS.search(" ".join(f["message"] for f in answer["findings"]))


def test_save_a_draft_then_finish_and_submit_it(client: TestClient, root: Path) -> None:
    token = csrf(client)
    half = [(n, v) for n, v in filing() if not n.startswith(("/worker/", "/survey"))]
    saved = post(client, "/drafts/new", [("csrf", token), ("action", "save"), *half], follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("?saved=1")
    draft_url = saved.headers["location"].split("?")[0]
    page = client.get(saved.headers["location"]).text
    assert "草稿已保存" in page and 'value="CD510108-2019-0037"' in page
    listing = client.get("/drafts").text
    assert FILING_NO in listing and "新建档案" in listing
    done = post(client, draft_url, [("csrf", token), ("action", "submit"), *filing()], follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/packages/{FILING_NO}?saved=1"
    package = client.get(done.headers["location"]).text
    assert "已保存并成卷" in package and "入户走访" in package and "更正" in package
    assert client.get(draft_url).status_code == 404 and FILING_NO not in client.get("/drafts").text
    assert (root / "outbox" / HISTORY / FILING_NO / "第1版").is_dir()  # the CLI's version kept
    assert read_report(root / "outbox" / FILING_NO).status == "incomplete"  # no scans given in the form
    assert [a["action"] for a in audit(root)] == ["新建草稿", "保存草稿", "提交成卷"]
    assert {a["user"] for a in audit(root)} == {"测试员"}


def test_a_refused_submission_shows_each_finding_beside_its_field(client: TestClient, root: Path) -> None:
    token = csrf(client)
    response = post(client, "/drafts/new", [("csrf", token), ("action", "submit"), *filing(gender="女")],
                    follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].endswith("?refused=1")
    page = client.get(response.headers["location"]).text
    [beside] = findings_at(page, "/worker/gender")
    assert "身份证号第17位表明是“男”" in beside
    assert "没有成卷" in page and not ENGINEERS.search(visible(page))
    assert read_report(root / "outbox" / FILING_NO).status == "complete"  # the package as it was
    assert audit(root)[-1]["action"] == "提交成卷" and audit(root)[-1]["outcome"] == "已退回"
    inbox = client.get("/inbox/live").text.split('id="rejected"')[1]
    assert "工作台" in inbox and "在工作台中改正" in inbox and not ENGINEERS.search(visible(inbox))


def test_record_a_home_visit(client: TestClient, root: Path) -> None:
    form = client.get(f"/packages/{FILING_NO}/record/visit").text
    assert 'name="/home_visits/0/date"' in form and "走访人" in form
    done = client.post(f"/packages/{FILING_NO}/record/visit", follow_redirects=False,
                       data={"csrf": csrf(client), "/home_visits/0/date": "2020-03-20",
                             "/home_visits/0/visitor": "周晓梅", "/home_visits/0/notes": "了解复查结果"})
    assert done.status_code == 303 and done.headers["location"] == f"/packages/{FILING_NO}?saved=1"
    case = json.loads((root / "outbox" / FILING_NO / INPUT_DIR / "case.json").read_text(encoding="utf-8"))
    assert case["home_visits"][-1] == {"date": "2020-03-20", "visitor": "周晓梅", "notes": "了解复查结果"}
    assert "第1版" in client.get(f"/packages/{FILING_NO}").text
    assert audit(root)[-1] | {"time": "", "draft": ""} == {"time": "", "draft": "", "user": "测试员", "action": "登记",
                                                           "record": "入户走访", "archive_no": FILING_NO,
                                                           "outcome": "材料齐全"}
    empty = client.post(f"/packages/{FILING_NO}/record/visit", data={"csrf": csrf(client)})
    assert empty.status_code == 400 and "一项也没有填写" in empty.text
    assert client.get(f"/packages/{FILING_NO}/record/return-visit").status_code == 404  # a filing has no 回访


def test_correct_the_id_number_with_a_reason(client: TestClient, root: Path) -> None:
    page = client.get(f"/packages/{FILING_NO}/correct").text
    assert 'name="reason"' in page and f'value="{FILING_ID}"' in page and "更正原因" in page
    pairs = [("csrf", csrf(client)), ("action", "submit"), ("package", FILING_NO), *filing(id_number=NEW_ID)]
    pairs = [(n, v) for n, v in pairs if n != "/attachments"]
    refused = post(client, f"/packages/{FILING_NO}/correct", [*pairs, ("reason", " ")])
    assert refused.status_code == 400 and "更正必须写明原因" in refused.text
    [kept] = re.findall(r'action="/drafts/([0-9a-f]{12})"', refused.text)  # the correction kept as a draft
    done = post(client, f"/drafts/{kept}", [*pairs, ("reason", "身份证号录入错误,已对照身份证原件核实")],
                follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/packages/{FILING_NO}?saved=1"
    case = json.loads((root / "outbox" / FILING_NO / INPUT_DIR / "case.json").read_text(encoding="utf-8"))
    assert case["worker"]["id_number"] == NEW_ID
    old = json.loads((root / "outbox" / HISTORY / FILING_NO / "第1版" / INPUT_DIR / "case.json").read_text("utf-8"))
    assert old["worker"]["id_number"] == FILING_ID
    line = audit(root)[-1]
    assert line["action"] == "更正" and line["reason"] == "身份证号录入错误,已对照身份证原件核实"
    assert "职工本人/身份证号" in line["fields"]
    text = (root / "outbox" / ".kunnan" / AUDIT_FILE).read_text(encoding="utf-8")
    assert NEW_ID not in text and FILING_ID not in text


def test_a_rejected_case_opens_in_the_editor_and_is_resubmitted(client: TestClient, root: Path) -> None:
    where = root / "rejected" / "20261201-101010-李建华"
    shutil.copytree(FILING_EXAMPLE, where / "李建华")
    data = json.loads((where / "李建华" / "case.json").read_text(encoding="utf-8"))
    data["worker"]["gender"] = "女"
    (where / "李建华" / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    ledger = Ledger(root / "outbox" / ".kunnan" / "ledger.sqlite")
    row = ledger.start("李建华/case.json", "building")
    ledger.update(row, status="rejected", archive_no=FILING_NO, outputs=[str(where)],
                  reason="【职工本人/性别】填的是“女”,但身份证号第17位表明是“男”。请核对性别或身份证号。")
    ledger.close()
    inbox = client.get("/inbox").text
    assert f'action="/inbox/rejected/{row}/open"' in inbox and str(root) not in visible(inbox)
    opened = client.post(f"/inbox/rejected/{row}/open", data={"csrf": csrf(client)}, follow_redirects=False)
    assert opened.status_code == 303
    editor = client.get(opened.headers["location"]).text
    assert "退回的案卷" in editor and '<option value="女" selected>' in editor
    assert "身份证号第17位表明是“男”" in findings_at(editor, "/worker/gender")[0]
    assert "第1项 身份证复印件" in editor  # its scans came along
    pairs = [(n, "男" if n == "/worker/gender" else v) for n, v in form_pairs(data)]
    done = post(client, opened.headers["location"], [("csrf", csrf(client)), ("action", "submit"), *pairs],
                follow_redirects=False)
    assert done.headers["location"] == f"/packages/{FILING_NO}?saved=1"
    assert read_report(root / "outbox" / FILING_NO).status == "complete"
    assert (where / "李建华" / "case.json").is_file()  # rejected/ keeps the input
    assert [a["action"] for a in audit(root)] == ["打开退回案卷", "保存草稿", "退回案卷重新提交"]


def test_delete_a_draft(client: TestClient, root: Path) -> None:
    token = csrf(client)
    saved = client.post("/drafts/new", data={"csrf": token, "action": "save", "/worker/name": "李四"},
                        follow_redirects=False)
    url = saved.headers["location"].split("?")[0]
    assert client.post(f"{url}/delete", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert client.get(url).status_code == 404 and audit(root)[-1]["action"] == "删除草稿"


def test_each_place_for_findings_is_on_the_page_once(client: TestClient) -> None:
    """The page's script puts a finding in the first list for its pointer: there must be one."""
    page = client.get(f"/packages/{FILING_NO}/correct").text  # three family members, two surveyors
    outside = re.sub(r"<template>.*?</template>", "", page, flags=re.S)  # the blank rows are not on the page
    places = re.findall(r'<ul class="findings[^"]*"[^>]* data-for="([^"]*)"', outside)
    assert len(places) == len(set(places))
    assert {"/survey/surveyors/1", "/family_members/2", "/family_members/2/age", "/attachments/0", ""} <= set(places)
