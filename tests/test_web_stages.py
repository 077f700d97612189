"""A package's page over HTTP (Starlette's test client): the exit stage by stage from a filed family (only the next
stage offered, a too-short publicity refused beside its field, each stage's form to print), 注销 (from a filed family,
from an exit in progress, from the 重复建档 page), scans uploaded from the browser (several at once, each with its
checklist item, signed forms recognised by their codes, type by content, sizes bounded) and a hand-filled form filed
as the signed original of its form. Every POST refused without its CSRF token, every action in the audit log and
the ledger, every message plain Chinese; packages read back."""

from __future__ import annotations

import io
import json
import random
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from PIL import Image
from starlette.testclient import TestClient

from kunnan_docs.cli import main
from kunnan_docs.core.casefile import read_case
from kunnan_docs.errors import ExitCode
from kunnan_docs.forms.fill import forms_for
from kunnan_docs.forms.qr import form_key
from kunnan_docs.inbox.ledger import Ledger
from kunnan_docs.package.layout import HISTORY, INPUT_DIR, read_report
from kunnan_docs.package.verify import verify_path
from kunnan_docs.web import app as desk_app
from kunnan_docs.web import uploads
from kunnan_docs.web.app import Desk, create_app
from kunnan_docs.web.security import AUDIT_FILE, Users

from .conftest import EXIT_EXAMPLE, FILING_EXAMPLE
from .test_signed import make_signed
from .test_web_editor import ENGINEERS, findings_at, visible

NO = "CD510108-2019-0037"
UNION = "成华区猛追湾街道总工会"
KEPT = "CD510108-2019-0001"  # the earlier file of the same person, in the 重复建档 test
APPLICATION = {"/exit/application/date": "2020-06-01", "/exit/application/initiated_by": "worker",
               "/exit/application/signed_by_worker": "true",
               "/exit/application/contact_person_opinion": "本人已再就业,家庭收入稳定,建议脱困",
               "/exit/application/union_opinion": "同意报集体研究"}
PUBLICITY = {"/exit/publicity/start": "2020-06-15", "/exit/publicity/end": "2020-06-19",
             "/exit/publicity/place_type": "community", "/exit/publicity/place": "猛追湾街道锦华社区公示栏",
             "/exit/publicity/contact": "电话 028-83321456"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stages") / "outbox"
    assert main(["build", str(FILING_EXAMPLE / "case.json"), "-o", str(out)]) == ExitCode.OK
    return out


@pytest.fixture
def outbox(built: Path, tmp_path: Path) -> Path:
    shutil.copytree(built, tmp_path / "outbox")
    return tmp_path / "outbox"


@pytest.fixture
def client(outbox: Path) -> TestClient:
    state = outbox / ".kunnan"
    return TestClient(create_app(Desk(outbox, state, Users(state / "nobody"), local_user="测试员")),
                      base_url="http://127.0.0.1")


def csrf(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(f"/packages/{NO}").text).group(1)


def audit(outbox: Path) -> list[dict[str, Any]]:
    path = outbox / ".kunnan" / AUDIT_FILE
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def step(client: TestClient, name: str, data: dict[str, str]) -> Any:
    return client.post(f"/packages/{NO}/steps/{name}", data={"csrf": csrf(client), **data}, follow_redirects=False)


def done(response: Any) -> None:
    assert response.status_code == 303, visible(response.text)
    assert response.headers["location"] == f"/packages/{NO}?saved=1"


def offered(client: TestClient) -> list[str]:
    return re.findall(r'id="step-([a-z_]+)"', client.get(f"/packages/{NO}").text)


def case_of(outbox: Path) -> dict[str, Any]:
    return json.loads((outbox / NO / INPUT_DIR / "case.json").read_text(encoding="utf-8"))


def signed_scan(outbox: Path, key: str) -> bytes:
    """The form as the package prints it now, signed and sealed by hand and scanned (examples/make_signed.py)."""
    ms = make_signed()
    [form] = [f for f in forms_for(read_case(outbox / NO / INPUT_DIR / "case.json")) if form_key(f) == key]
    return ms.scanner_pdf(ms.signed_scan(form, NO, ms.sealing_union(form, UNION)))


def upload(client: TestClient, files: list[tuple[str, str, bytes]], route: str = "upload", **fields: Any) -> Any:
    """(item, browser's file name, bytes) per file, posted as the page's script posts them."""
    data = {"csrf": csrf(client), "item": [item for item, _, _ in files], **fields}
    return client.post(f"/packages/{NO}/{route}", data=data, follow_redirects=False,
                       files=[("files", (name, content, "application/octet-stream")) for _, name, content in files])


def jpeg(colour: str = "white", size: tuple[int, int] = (1240, 1754)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", dpi=(150, 150))
    return buf.getvalue()


POSTS = [f"/packages/{NO}/steps/application", f"/packages/{NO}/steps/cancellation", f"/packages/{NO}/upload",
         f"/packages/{NO}/hand-filled"]


@pytest.mark.parametrize("path", POSTS)
def test_every_new_post_needs_the_csrf_token(client: TestClient, outbox: Path, path: str) -> None:
    before = (outbox / NO / "manifest-sha256.txt").read_bytes()
    for token in ({}, {"csrf": "forged"}):
        response = client.post(path, data={**token, **APPLICATION, "form": "annex3", "item": "id_card_copy"},
                               files=[("files", ("a.jpg", jpeg(), "image/jpeg"))])
        assert response.status_code == 403 and "安全校验未通过" in response.text
    assert (outbox / NO / "manifest-sha256.txt").read_bytes() == before
    assert {line["action"] for line in audit(outbox)} == {"安全校验未通过"}
    assert not (outbox / ".kunnan" / "drafts").exists() or not any((outbox / ".kunnan" / "drafts").iterdir())


def test_an_exit_stage_by_stage_from_a_filed_family(client: TestClient, outbox: Path) -> None:
    page = client.get(f"/packages/{NO}").text
    assert offered(client) == ["application", "cancellation"] and 'id="track"' not in page  # a filing
    later = client.get(f"/packages/{NO}/steps/publicity")
    assert later.status_code == 404 and "按通知规定的次序" in later.text and "案卷页" in later.text
    assert not ENGINEERS.search(visible(later.text))

    # 脱困申请: the generated form, then refused beside its field, then recorded; the file is now an exit
    form = client.get(f"/packages/{NO}/steps/application").text
    assert 'name="/exit/application/date"' in form and "本人书面申请" in form and "<select" in form
    unsigned = step(client, "application", {**APPLICATION, "/exit/application/signed_by_worker": ""})
    assert unsigned.status_code == 400 and "本人签字" in findings_at(unsigned.text, "/exit/application/signed_by_worker")[0]
    assert not ENGINEERS.search(visible(unsigned.text)) and audit(outbox) == []  # nothing happened
    done(step(client, "application", APPLICATION))
    report = read_report(outbox / NO)
    assert (report.kind, report.exit_stage) == ("exit", "applied") and report.status == "incomplete"
    assert report.status_label == "材料不全(缺第12项);脱困办理中：已申请(待集体研究);待签章(第11项)"
    page = client.get(f"/packages/{NO}").text
    assert "下一步:可提交所在单位或乡镇(街道)工会集体研究审批(自2020年6月1日起)。" in page
    assert offered(client) == ["collective_review", "cancellation"]
    link = re.search(r'href="([^"]+)" id="print-annex4"', page).group(1)
    assert unquote(link).endswith("documents/附件4-脱困申请表.pdf") and "第11项 附件4 脱困申请表" in page
    assert client.get(link).content.startswith(b"%PDF")  # printed from the page
    assert case_of(outbox)["reference_date"] == "2020-06-01"  # as of the latest record

    # 集体研究, its body prefilled with the union; 公示 too short, refused beside the end date, then fixed
    assert f'value="{UNION}"' in client.get(f"/packages/{NO}/steps/collective_review").text
    done(step(client, "collective_review", {"/exit/collective_review/date": "2020-06-10",
                                            "/exit/collective_review/body": UNION}))
    manifest = (outbox / NO / "manifest-sha256.txt").read_bytes()
    short = step(client, "publicity", {**PUBLICITY, "/exit/publicity/end": "2020-06-18"})
    assert short.status_code == 400
    [beside] = findings_at(short.text, "/exit/publicity/end")
    assert "只有 4 个工作日" in beside and "2020-06-19" in beside
    assert 'value="2020-06-18"' in short.text and 'value="猛追湾街道锦华社区公示栏"' in short.text  # kept as typed
    assert (outbox / NO / "manifest-sha256.txt").read_bytes() == manifest  # nothing built
    done(step(client, "publicity", PUBLICITY))
    page = client.get(f"/packages/{NO}").text
    assert "脱困办理中：公示中" in page and "下一步:公示期满(2020年6月19日)后可报区县审批(自2020年6月20日起)。" in page
    assert 'id="print-annex5"' in page and offered(client) == ["district_approval", "cancellation"]
    assert "2020年6月15日至2020年6月19日" in re.search(r'id="track-publicity">(.*?)</li>', page, re.S).group(1)

    # 区县审批 (strictly after the publicity), 书面通知, then return visits only
    early = step(client, "district_approval", {"/exit/district_approval/date": "2020-06-19",
                                               "/exit/district_approval/body": "成都市成华区总工会"})
    assert early.status_code == 400 and findings_at(early.text, "/exit/district_approval/date")
    done(step(client, "district_approval", {"/exit/district_approval/date": "2020-06-22",
                                            "/exit/district_approval/body": "成都市成华区总工会"}))
    assert client.get(f"/packages/{NO}/steps/return_visits").status_code == 404  # not before the notice
    done(step(client, "notice", {"/exit/notice/date": "2020-06-24", "/exit/notice/recipient": "worker"}))
    assert offered(client) == ["return_visits"]  # exited: no 注销, no stage again
    form = client.get(f"/packages/{NO}/steps/return_visits").text
    assert 'name="/exit/return_visits/0/date"' in form
    done(step(client, "return_visits", {"/exit/return_visits/0/date": "2020-12-28",
                                        "/exit/return_visits/0/visitor": "周晓梅",
                                        "/exit/return_visits/0/situation": "本人在岗,收入稳定"}))
    assert 'name="/exit/return_visits/1/date"' in client.get(f"/packages/{NO}/steps/return_visits").text
    report = read_report(outbox / NO)
    assert report.exit_stage == "notified" and report.follow_up_complete
    assert report.status_label == "材料不全(缺第12项);待签章(第11项、第13项、第14项、第15项)"
    page = client.get(f"/packages/{NO}").text
    assert [k for k in re.findall(r'id="print-([a-z0-9-]+)"', page)] == \
        ["annex3", "annex4", "annex5", "annex6", "annex7-1"]
    assert "附件7 回访记录单（第1次回访）" in page

    # the signed forms and the exit survey, uploaded at once: 材料齐全
    scans = [("exit_application", "附件4.pdf", signed_scan(outbox, "annex4")),
             ("exit_survey", "IMG_0012.JPG", (EXIT_EXAMPLE / "scans" / "12-脱困调查表.jpg").read_bytes()),
             ("exit_publicity", "附件5.pdf", signed_scan(outbox, "annex5")),
             ("exit_notice", "附件6.pdf", signed_scan(outbox, "annex6")),
             ("exit_notice", "回访.pdf", signed_scan(outbox, "annex7-1"))]  # wrong item: its code says which form
    done(upload(client, scans))
    report = read_report(outbox / NO)
    assert (report.status, report.status_label) == ("complete", "材料齐全")
    assert verify_path(outbox / NO) == []
    listed = case_of(outbox)["attachments"][-5:]
    assert [(a["item"], a.get("signed", False)) for a in listed] == [
        ("exit_application", True), ("exit_survey", False), ("exit_publicity", True), ("exit_notice", True),
        ("return_visit_record", True)]
    assert all(re.fullmatch(r"scans/上传-[0-9a-f]{12}\.(pdf|jpg)", a["path"]) for a in listed)

    lines = [a for a in audit(outbox) if a["action"] != "查看"]  # the print of Annex 4 was viewed
    assert [(a["action"], a.get("record")) for a in lines] == [
        ("脱困办理", "脱困申请"), ("脱困办理", "集体研究"), ("脱困办理", "公示"), ("脱困办理", "区县审批"),
        ("脱困办理", "书面通知"), ("脱困办理", "回访"), ("上传扫描件", None)]
    assert lines[-1]["outcome"] == "材料齐全" and lines[-1]["files"][1].startswith("IMG_0012.JPG → scans/上传-")
    ledger = Ledger(outbox / ".kunnan" / "ledger.sqlite")
    try:
        rows = ledger.by_status("complete", "incomplete", "exit_in_progress", "follow_up", "rejected")
    finally:
        ledger.close()
    assert len(rows) == 7 and {(r.source, r.user) for r in rows} == {("工作台", "测试员")}
    assert len(list((outbox / HISTORY / NO).iterdir())) == 7  # every step a new version, the old ones kept


def test_uploads_are_typed_by_content_named_by_us_and_bounded(client: TestClient, outbox: Path, monkeypatch) -> None:
    png = io.BytesIO()
    Image.new("L", (800, 1100), 255).save(png, "PNG")
    before = (outbox / NO / "manifest-sha256.txt").read_bytes()
    refusals = {
        "不是 PDF、JPEG、PNG 或 TIFF": [("id_card_copy", "身份证.jpg", b"GIF89a not a scan")],
        "是空的": [("id_card_copy", "空.jpg", b"")],
        "没有选对应的材料": [("", "a.jpg", jpeg())],
        "完全相同": [("id_card_copy", "a.jpg", jpeg()), ("hukou_copy", "b.jpg", jpeg())],
        "已损坏": [("id_card_copy", "坏.jpg", jpeg()[:3000])],
        "不是本户的": [("survey_form", "别人.pdf", (EXIT_EXAMPLE / "scans" / "签章-附件3-入户调查表.pdf").read_bytes())],
    }
    for said, files in refusals.items():
        response = upload(client, files)
        assert response.status_code == 400 and said in response.text, said
        assert 'id="back"' in response.text and not ENGINEERS.search(visible(response.text))
    assert (outbox / NO / "manifest-sha256.txt").read_bytes() == before and audit(outbox) == []
    assert not any((outbox / ".kunnan" / "drafts").iterdir())  # a refused upload leaves no draft

    monkeypatch.setattr(uploads, "MAX_FILE", 100_000)
    big = upload(client, [("id_card_copy", "大.jpg", jpeg("white", (3000, 4000)) + b"\0" * 100_000)])
    assert big.status_code == 400 and "大.jpg" in big.text and "重新扫描" in big.text
    monkeypatch.undo()

    # a PNG named .pdf, a browser's Windows path: stored by content under our own name, the names only audited
    done(upload(client, [("supporting_proof", "C:\\Users\\张丽\\..\\证明.pdf", png.getvalue())]))
    [added] = case_of(outbox)["attachments"][-1:]
    assert re.fullmatch(r"scans/上传-[0-9a-f]{12}\.png", added["path"]) and added["item"] == "supporting_proof"
    assert (outbox / NO / INPUT_DIR / added["path"]).read_bytes() == png.getvalue()
    assert audit(outbox)[-1]["files"] == [f"证明.pdf → {added['path']}"]
    assert not any(".." in p.name or "\\" in p.name for p in (outbox / NO / INPUT_DIR).rglob("*"))

    # without the page's script: one item for every file
    response = client.post(f"/packages/{NO}/upload", follow_redirects=False,
                           data={"csrf": csrf(client), "item-all": "contact_card"},
                           files=[("files", ("1.jpg", jpeg("#eeeeee"), "image/jpeg")),
                                  ("files", ("2.jpg", jpeg("#dddddd"), "image/jpeg"))])
    done(response)
    assert [a["item"] for a in case_of(outbox)["attachments"][-2:]] == ["contact_card", "contact_card"]


def test_upload_bodies_have_their_own_limit(client: TestClient, outbox: Path, monkeypatch) -> None:
    noise = io.BytesIO()
    Image.frombytes("L", (1400, 1000), random.Random(1).randbytes(1_400_000)).save(noise, "PNG")
    assert len(noise.getvalue()) > desk_app.MAX_BODY  # more than any other request may carry
    done(upload(client, [("supporting_proof", "大.png", noise.getvalue())]))
    refused = client.post("/check", data={"csrf": csrf(client), "/worker/name": "x" * (2 << 20)})
    assert refused.status_code == 413  # the other routes keep theirs
    monkeypatch.setattr(desk_app, "UPLOAD_BODY", 500_000)
    before = (outbox / NO / "manifest-sha256.txt").read_bytes()
    over = upload(client, [("supporting_proof", "大.png", noise.getvalue() + b"\1")])
    assert over.status_code == 413 and "分几次上传" in over.text

    token = csrf(client).encode()

    def chunks() -> Any:  # no Content-Length: counted as it streams
        yield b"--x\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + token + b"\r\n"
        for _ in range(12):
            yield b"--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\n\r\n" + b"\0" * 60_000
    streamed = client.post(f"/packages/{NO}/upload", content=chunks(),
                           headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert streamed.status_code == 413 and "分几次上传" in streamed.text
    assert (outbox / NO / "manifest-sha256.txt").read_bytes() == before


def test_a_hand_filled_survey_is_the_signed_original_of_annex3(client: TestClient, outbox: Path) -> None:
    # the family's survey on paper, two pages, no code of ours: filed as Annex 3's signed original
    page = client.get(f"/packages/{NO}").text
    options = re.search(r'<select name="form" id="hand-form">(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'<option value="([^"]+)">([^<]+)</option>', options) == [("annex3", "附件3 入户调查表")]
    ours = upload(client, [("", "附件3.pdf", (FILING_EXAMPLE / "scans" / "签章-附件3-入户调查表.pdf").read_bytes())],
                  route="hand-filled", form="annex3")
    assert ours.status_code == 400 and "请用“上传扫描件”上传" in ours.text  # a print of ours is filed by its code
    nowhere = upload(client, [("", "a.jpg", jpeg())], route="hand-filled", form="annex5")
    assert nowhere.status_code == 400 and "本户案卷现在没有这张表" in nowhere.text
    done(upload(client, [("", "第1页.jpg", jpeg("#f8f8f8")), ("", "第2页.jpg", jpeg("#f0f0f0"))],
                route="hand-filled", form="annex3"))
    case = case_of(outbox)
    [hand] = [a for a in case["attachments"] if a.get("hand_filled")]
    assert hand["form"] == "annex3" and hand["item"] == "survey_form" and hand["path"].endswith(".pdf")
    assert any(a.get("signed") for a in case["attachments"])  # the signed print stays: the hand-filled one wins
    report = read_report(outbox / NO)
    [document] = report.checklist[6].documents
    assert document.signed_original == {"form_key": "annex3", "hand_filled": True, "source": hand["path"],
                                        "source_pages": [1, 2]}
    assert report.status == "complete" and document.pages[1] - document.pages[0] == 1
    summary = (outbox / NO / "报告.txt").read_text(encoding="utf-8-sig")
    assert "手工填写并签字的纸质原件已入卷" in summary and "未经二维码识别和签字盖章位置核对" in summary
    page = client.get(f"/packages/{NO}").text
    assert "手填原件已入卷" in page
    assert audit(outbox)[-1] | {"time": "", "draft": "", "files": []} == {
        "time": "", "draft": "", "files": [], "user": "测试员", "action": "手填原件入卷", "record": "附件3",
        "form": "annex3", "archive_no": NO, "outcome": "材料齐全"}

    # a second one replaces it
    done(upload(client, [("", "重扫.jpg", jpeg("#fafafa"))], route="hand-filled", form="annex3"))
    assert len([a for a in case_of(outbox)["attachments"] if a.get("hand_filled")]) == 1


def test_cancel_a_filed_family(client: TestClient, outbox: Path) -> None:
    form = client.get(f"/packages/{NO}/steps/cancellation").text
    assert re.search(r'<select name="/cancellation/reason"[^>]*>\s*<option value="">请选择</option>\s*'
                     r'<option value="死亡"', form)
    assert f'name="/cancellation/decision/body" id="/cancellation/decision/body" value="{UNION}"' in form
    assert 'id="taken-out"' not in form  # a filing loses nothing
    data = {"/cancellation/reason": "其他", "/cancellation/date": "2020-07-20",
            "/cancellation/decision/date": "2020-07-01", "/cancellation/decision/body": UNION,
            "/cancellation/district_approval/date": "2020-07-15",
            "/cancellation/district_approval/body": "成都市成华区总工会"}
    other = step(client, "cancellation", data)
    assert other.status_code == 400 and "写明具体原因" in findings_at(other.text, "/cancellation/note")[0]
    done(step(client, "cancellation", {**data, "/cancellation/reason": "迁出本市"}))
    report = read_report(outbox / NO)
    assert report.kind == "cancellation" and report.status_label == "材料不全(缺第11项);待签章(第12项)"
    page = client.get(f"/packages/{NO}").text
    assert offered(client) == [] and 'id="print-cancel"' in page and "第12项 注销审批表" in page
    assert '<option value="cancel">注销审批表</option>' in page  # its signed original may come hand-filled too
    assert audit(outbox)[-1]["action"] == "注销" and audit(outbox)[-1]["outcome"] == "材料不全"


def test_cancel_an_exit_in_progress_says_what_leaves_the_file(client: TestClient, outbox: Path) -> None:
    done(step(client, "application", APPLICATION))
    assert 'id="taken-out"' not in client.get(f"/packages/{NO}/steps/cancellation").text  # Annex 4 is no scan
    done(upload(client, [("exit_survey", "调查表.jpg", (EXIT_EXAMPLE / "scans" / "12-脱困调查表.jpg").read_bytes())]))
    taken = re.search(r'id="taken-out">(.*?)</p>', client.get(f"/packages/{NO}/steps/cancellation").text, re.S)
    assert "第12项 困难职工解困脱困调查表" in taken.group(1)
    done(step(client, "cancellation", {"/cancellation/reason": "死亡", "/cancellation/date": "2020-07-20",
                                       "/cancellation/decision/date": "2020-07-01",
                                       "/cancellation/decision/body": UNION,
                                       "/cancellation/district_approval/date": "2020-07-15",
                                       "/cancellation/district_approval/body": "成都市成华区总工会"}))
    case = case_of(outbox)
    assert case["kind"] == "cancellation" and "exit" not in case
    assert "exit_survey" not in {a["item"] for a in case["attachments"]}
    assert audit(outbox)[-1]["taken_out"] == [12]
    old = max((outbox / HISTORY / NO).iterdir())
    assert "exit" in json.loads((old / INPUT_DIR / "case.json").read_text(encoding="utf-8"))  # kept in the history


def test_the_duplicates_page_offers_to_cancel_the_later_file(client: TestClient, outbox: Path, tmp_path: Path) -> None:
    earlier = tmp_path / "earlier"
    shutil.copytree(FILING_EXAMPLE, earlier)
    data = json.loads((earlier / "case.json").read_text(encoding="utf-8"))
    data.update(archive_no=KEPT, filing_date="2019-03-01")
    (earlier / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    other = tmp_path / "other"  # an outbox written before the identity check: the same person's two active files
    assert main(["build", str(earlier / "case.json"), "-o", str(other)]) == ExitCode.AWAITING_SIGNATURE
    shutil.copytree(other / KEPT, outbox / KEPT)
    page = client.get("/duplicates").text
    link = re.search(rf'id="cancel-{NO}" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert f'id="cancel-{KEPT}"' not in page  # the earliest is kept
    form = client.get(link).text
    assert '<option value="重复建档" selected>' in form
    assert f'name="/cancellation/duplicate_of" id="/cancellation/duplicate_of" value="{KEPT}"' in form
