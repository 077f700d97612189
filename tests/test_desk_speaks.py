"""The desk speaks to clerks (issue 19 items 4 and 8): every page of a room's outbox in its everyday mess — cases
rejected by the inbox (a rule, broken JSON, a link, a correction dropped in), 待签章, a damaged package, an exit in
progress, duplicates, a refused handover, a package corrected after its handover — is read as the clerk reads it,
and none says a rule code, a JSON pointer, a command, an option, a server path, README or an English sentence.
A correction is named as such wherever a package's standing towards the district shows."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from kunnan_docs.cli import main
from kunnan_docs.errors import ExitCode
from kunnan_docs.package.layout import INPUT_DIR
from kunnan_docs.web.app import Desk, create_app
from kunnan_docs.web.security import Users

from .conftest import CANCELLED_EXAMPLE, EXIT_EXAMPLE, FILING_EXAMPLE, REFILED_EXAMPLE
from .desk_kit import form_pairs
from .inbox_kit import copy_case, make_areas, reason_files, watch_once

FILING_NO = "CD510108-2019-0037"  # 李建华: handed over, then an exit applied for (changed, not corrected)
REFILED_NO = "CD510107-2024-0008"  # 赵德明: handed over, then corrected
CANCELLED_NO = "CD510106-2018-0045"  # 陈桂华: a file tampered with, its handover refused
KEPT = "CD510108-2019-0001"  # 李建华's earlier file: duplicates
NEW_ID = "51010819720514105X"  # another ID number for 李建华's archive number: a correction dropped in the inbox
CHANGED = "移交后有变动，需重新移交"
CORRECTED = "移交后已更正，需重新移交"

# What only an engineer should read: rule codes, JSON pointers, commands, options, paths, README.
FORBIDDEN = re.compile(r"\[错误|\[提醒|\b[A-Z]{2,}-[A-Z][A-Z-]*\b|(?<![\w/])/(worker|exit|family|attachments|kind|"
                       r"cancellation|home_visits|archive_no)\b|kunnan-docs |\s--[a-z]|/tmp/|\.kunnan|README|"
                       r"input/|schemas/")
ENGLISH = re.compile(r"\b[A-Za-z]{2,}(?:[ ,']+[A-Za-z]{2,}){2,}")  # three English words in a row: a sentence


def visible(html: str) -> str:
    """What the clerk reads: text between tags (no scripts, templates, attributes or values in inputs)."""
    html = re.sub(r"<(script|template|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&amp;", "&").replace("&#34;", '"')


def engineer_words(text: str, *extra: str) -> list[str]:
    """Whatever of `text` a clerk should not have to read."""
    spans = [m.span() for m in (*FORBIDDEN.finditer(text), *ENGLISH.finditer(text))]
    spans += [(i, i + len(word)) for word in extra if word and (i := text.find(word)) >= 0]
    return [f"{text[max(0, a - 30):a]}⟦{text[a:b]}⟧{text[b:b + 30]}" for a, b in spans]


def _edited(example: Path, target: Path, **top: Any) -> Path:
    shutil.copytree(example, target)
    case = json.loads((target / "case.json").read_text(encoding="utf-8"))
    for key, value in top.items():
        node, *path = key.split("__")
        holder = case
        for part in [node, *path][:-1]:
            holder = holder[part]
        holder[[node, *path][-1]] = value
    (target / "case.json").write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    return target / "case.json"


def csrf(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/drafts/new").text).group(1)


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A room's folders after a busy month: the examples built, the inbox run once over bad drops."""
    tmp = tmp_path_factory.mktemp("room")
    areas = make_areas(tmp)
    outbox = areas["outbox"]
    cases = [str(e / "case.json") for e in (FILING_EXAMPLE, EXIT_EXAMPLE, CANCELLED_EXAMPLE, REFILED_EXAMPLE)]
    assert main(["build", *cases, "-o", str(outbox)]) == ExitCode.OK
    earlier = _edited(FILING_EXAMPLE, tmp / "earlier", archive_no=KEPT, filing_date="2019-03-01")
    other = tmp / "other"  # written before the identity check: the same person's two active files
    assert main(["build", str(earlier), "-o", str(other)]) == ExitCode.AWAITING_SIGNATURE
    shutil.copytree(other / KEPT, outbox / KEPT)
    inbox = areas["inbox"]
    copy_case(FILING_EXAMPLE, inbox / "改性别", {"/worker/gender": "女"})
    copy_case(FILING_EXAMPLE, inbox / "更正身份证号", {"/worker/id_number": NEW_ID})
    (inbox / "坏文件").mkdir()
    (inbox / "坏文件" / "case.json").write_text('{"archive_no": "CD510108-2019-0099",', encoding="utf-8")
    os.symlink("/etc", inbox / "链接")
    done = watch_once(areas)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    damaged = outbox / "CD510199-2020-0001"
    damaged.mkdir()
    (damaged / "report.json").write_text("{", encoding="utf-8")
    os.symlink("/etc/hostname", outbox / KEPT / "链接.txt")  # its zip is refused
    return areas


@pytest.fixture(scope="module")
def client(room: dict[str, Path]) -> Iterator[TestClient]:
    state = room["outbox"] / ".kunnan"
    desk = Desk(room["outbox"], state, Users(state / "nobody"), local_user="测试员", rejected=room["rejected"])
    with TestClient(create_app(desk), base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture(scope="module")
def worked(room: dict[str, Path], client: TestClient) -> dict[str, Path]:
    """Handovers, then what happens after them: an exit applied for on one file, a correction of another, a
    tampered package refused."""
    token = csrf(client)
    for district, number in (("成都市成华区总工会", FILING_NO), ("成都市武侯区总工会", REFILED_NO)):
        made = client.post("/handover", data={"csrf": token, "district": district, "cases": [number]})
        assert made.status_code == 200 and "移交清单" in made.text, visible(made.text)
    applied = client.post(f"/packages/{FILING_NO}/steps/application", follow_redirects=False, data={
        "csrf": token, "/exit/application/date": "2020-06-01", "/exit/application/initiated_by": "worker",
        "/exit/application/signed_by_worker": "true", "/exit/application/contact_person_opinion": "已再就业,建议脱困",
        "/exit/application/union_opinion": "同意报集体研究"})
    assert applied.status_code == 303, visible(applied.text)
    case = json.loads((room["outbox"] / REFILED_NO / INPUT_DIR / "case.json").read_text(encoding="utf-8"))
    case["worker"]["phone"] = "13900001111"
    pairs = [(n, v) for n, v in form_pairs(case) if n != "/attachments"]
    body = urlencode([("csrf", token), ("action", "submit"), ("reason", "电话号码换了"), *pairs])
    corrected = client.post(f"/packages/{REFILED_NO}/correct", follow_redirects=False, content=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert corrected.status_code == 303, visible(corrected.text)
    docx = sorted((room["outbox"] / CANCELLED_NO / "documents").glob("*.docx"))[0]
    docx.write_bytes(docx.read_bytes() + b"tampered")
    return room


def pages(client: TestClient) -> Iterator[tuple[str, str]]:
    """Every page a clerk can reach by links from the navigation, plus the refusals a click can meet."""
    token = csrf(client)
    seen: set[str] = set()
    todo = ["/inbox", "/inbox/live", "/packages", "/drafts", "/drafts/new", "/due?as_of=2021-06-30",
            "/notices?from=2019-01-01&to=2021-12-31", "/progress?as_of=2021-06-30", "/duplicates", "/handover",
            "/nowhere", "/packages/CD000000-0000-0000"]
    todo += [f"/handover?district={d}&all=1" for d in ("成都市成华区总工会", "成都市武侯区总工会", "成都市金牛区总工会")]
    while todo:
        url = todo.pop(0)
        if url in seen:
            continue
        seen.add(url)
        html = client.get(url).text
        yield url, html
        for link in re.findall(r'href="(/(?:packages|drafts|duplicates)[^"#]*)"', html):
            link = link.replace("&amp;", "&")
            if not link.endswith(("/zip",)) and link not in seen:
                todo.append(link)
    refusals = {
        "/handover 篡改": ("/handover", {"district": "成都市金牛区总工会", "cases": [CANCELLED_NO]}),
        "/handover 未选": ("/handover", {"district": "成都市金牛区总工会"}),
        "403": ("/notices", {"from": "2019-01-01"}),
        "上传空": (f"/packages/{KEPT}/upload", {"item-all": "id_card_copy", "files": ""}),
        "办理不能": (f"/packages/{CANCELLED_NO}/steps/publicity", {}),
    }
    for name, (url, data) in refusals.items():
        data = {"csrf": token, **data} if name != "403" else data
        yield name, client.post(url, data=data).text
    yield "上传坏文件", client.post(f"/packages/{KEPT}/upload", data={"csrf": token, "item-all": "id_card_copy"},
                                 files=[("files", ("scan.pdf", b"%PDF-1.4 broken", "application/pdf"))]).text
    yield "405", client.post("/inbox", data={"csrf": token}).text
    yield "zip 链接", client.get(f"/packages/{KEPT}/zip").text
    for row in re.findall(r'action="/inbox/rejected/(\d+)/open"', client.get("/inbox").text):  # 在工作台中改正
        yield f"打开退回 {row}", client.post(f"/inbox/rejected/{row}/open", data={"csrf": token}).text


def test_no_page_speaks_to_engineers(worked: dict[str, Path], client: TestClient) -> None:
    paths = [str(worked["outbox"]), str(worked["rejected"]), str(worked["inbox"]), str(worked["outbox"].parent)]
    shown = dict(pages(client))
    assert len(shown) > 25 and any("/drafts/" in url for url in shown)
    bad = {url: words for url, html in shown.items() if (words := engineer_words(visible(html), *paths))}
    assert bad == {}
    assert "请不勾选它们,先移交其他案卷" in shown["/handover 篡改"]  # the desk's form of the refusal, not the command's
    assert "请管理员把它从发件夹中移走" in shown["zip 链接"]


def test_the_rejected_reasons_name_what_to_do_at_the_desk(worked: dict[str, Path], client: TestClient) -> None:
    inbox = visible(client.get("/inbox").text)
    assert "身份证号第17位" in inbox  # a rule's message, in its people form
    assert "已是另一户" in inbox and "工作台" in inbox and "更正" in inbox  # a correction dropped in: say what to do
    assert "链接" in inbox  # the link dropped in, refused with its reason


def test_a_correction_is_named_wherever_the_standing_shows(worked: dict[str, Path], client: TestClient) -> None:
    listed = visible(client.get("/packages").text)
    assert re.search(rf"{REFILED_NO} .*?{CORRECTED}", listed) and re.search(rf"{FILING_NO} .*?{CHANGED}", listed)
    assert CORRECTED in visible(client.get(f"/packages/{REFILED_NO}").text)
    filing = visible(client.get(f"/packages/{FILING_NO}").text)
    assert CHANGED in filing and CORRECTED not in filing
    assert CORRECTED in visible(client.get("/handover?district=成都市武侯区总工会").text)
    assert CHANGED in visible(client.get("/handover?district=成都市成华区总工会").text)
    status = subprocess.run([sys.executable, "-m", "kunnan_docs", "status", "--outbox", str(worked["outbox"])],
                            capture_output=True, text=True, check=True).stdout
    assert re.search(rf"{REFILED_NO} .*{CORRECTED}", status) and re.search(rf"{FILING_NO} .*{CHANGED}", status)


def test_a_correction_dropped_in_is_refused_by_inbox_and_build_and_done_at_the_desk(
        worked: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    [reason] = [text for name, text in reason_files(worked["rejected"]).items() if name == "更正身份证号"]
    assert "已是另一户" in reason and "请换一个档案号" in reason and "工作台该案卷页点“更正”" in reason
    outbox = Path(shutil.copytree(worked["outbox"], tmp_path / "outbox", symlinks=True))
    before = (outbox / FILING_NO / "manifest-sha256.txt").read_bytes()
    drop = copy_case(FILING_EXAMPLE, tmp_path / "drops" / "更正身份证号", {"/worker/id_number": NEW_ID})
    capsys.readouterr()
    assert main(["build", str(drop / "case.json"), "-o", str(outbox)]) == ExitCode.INVALID
    said = capsys.readouterr()
    assert "已是另一户" in said.out + said.err and (outbox / FILING_NO / "manifest-sha256.txt").read_bytes() == before
    state = outbox / ".kunnan"
    with TestClient(create_app(Desk(outbox, state, Users(state / "nobody"), local_user="测试员")),
                    base_url="http://127.0.0.1") as desk:
        case = json.loads((outbox / FILING_NO / INPUT_DIR / "case.json").read_text(encoding="utf-8"))
        case["worker"]["id_number"] = NEW_ID
        pairs = [(n, v) for n, v in form_pairs(case) if n != "/attachments"]
        body = urlencode([("csrf", csrf(desk)), ("action", "submit"), ("reason", "身份证号录错,已核对原件"), *pairs])
        done = desk.post(f"/packages/{FILING_NO}/correct", content=body, follow_redirects=False,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert done.status_code == 303, visible(done.text)
        assert CORRECTED in visible(desk.get(f"/packages/{FILING_NO}").text)
    report = json.loads((outbox / FILING_NO / "report.json").read_text(encoding="utf-8"))
    assert "职工本人/身份证号" in report["corrections"][-1]["fields"]
    assert json.loads((outbox / FILING_NO / INPUT_DIR / "case.json").read_text("utf-8"))["worker"]["id_number"] == NEW_ID
