"""The desk over HTTP without a browser: every page, downloads confined to the outbox, CSRF, login and
logout, the audit log, and the files the actions return read back (PDF pages, zip verified, workbook)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pypdfium2 as pdfium
import pytest
from openpyxl import load_workbook
from starlette.testclient import TestClient

from kunnan_docs.cli import main
from kunnan_docs.errors import ExitCode
from kunnan_docs.inbox.ledger import Ledger
from kunnan_docs.package.verify import verify_path
from kunnan_docs.web.app import COOKIE, Desk, create_app
from kunnan_docs.web.security import AUDIT_FILE, USERS_FILE, Users, hash_password, open_inside, password_matches

from .conftest import EXIT_EXAMPLE

EXIT_NO = "CD510104-2018-0112"
EXIT_ID = "510104196811021242"
DISTRICT = "成都市锦江区总工会"
ID_PATTERN = re.compile(r"\d{17}[\dXx]")


@pytest.fixture(scope="module")
def outbox(built_examples: Path, tmp_path_factory) -> Path:
    """The four examples (the session's build, copied); the exit case built twice, so that it has a version
    history."""
    root = tmp_path_factory.mktemp("web")
    out = root / "outbox"
    shutil.copytree(built_examples, out, symlinks=True)
    again = root / "again"
    shutil.copytree(EXIT_EXAMPLE, again)
    data = json.loads((again / "case.json").read_text(encoding="utf-8"))
    data["attachments"] = [a for a in data["attachments"] if a["item"] != "id_card_copy"]
    (again / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    main(["build", str(again / "case.json"), "-o", str(out)])  # 第1版 complete, current one incomplete
    main(["build", str(EXIT_EXAMPLE / "case.json"), "-o", str(out)])  # and complete again
    return out


def desk_for(outbox: Path, users: Users | None = None) -> Desk:
    state = outbox / ".kunnan"
    return Desk(outbox, state, users or Users(state / "nobody"), local_user="测试员")


@pytest.fixture
def client(outbox: Path) -> TestClient:
    return TestClient(create_app(desk_for(outbox)), base_url="http://127.0.0.1")


def csrf(client: TestClient, path: str = "/notices?from=2019-01-01") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def audit_lines(outbox: Path) -> list[dict]:
    return [json.loads(line) for line in (outbox / ".kunnan" / AUDIT_FILE).read_text(encoding="utf-8").splitlines()]


def pdf_texts(data: bytes) -> list[str]:
    doc = pdfium.PdfDocument(data)
    return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]


def test_every_page_answers_in_chinese_without_id_numbers(client: TestClient) -> None:
    pages = {"/inbox": "收件箱", "/inbox/live": "已发布", "/packages": EXIT_NO, "/due?as_of=2020-08-01": "帮扶联系人",
             "/notices?from=2019-09-01&to=2019-09-30": "生成打印用 PDF", f"/handover?district={DISTRICT}": "校验",
             "/progress": "脱困率"}
    for path, expected in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert expected in response.text, path
        assert not ID_PATTERN.search(response.text), path  # lists never show an ID number
    assert client.get("/").url.path == "/inbox"


def test_package_page_checklist_masked_id_downloads_and_history(client: TestClient, outbox: Path) -> None:
    page = client.get(f"/packages/{EXIT_NO}").text
    assert EXIT_ID not in page and "510104********1242" in page
    assert re.search(r"<td>已有</td>\s*<td>\d+(-\d+)?</td>", page)  # item by item with its page range
    assert "第1版" in page and "第2版" in page and "材料不全" in page  # version history
    pdf = client.get(f"/files/{EXIT_NO}/{EXIT_NO}.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.headers["content-disposition"].startswith("inline")
    assert EXIT_NO in pdf_texts(pdf.content)[0]
    for link in re.findall(r'href="(/files/[^"]+\.docx)"', page):
        assert client.get(link).content[:2] == b"PK"
    zipped = client.get(f"/packages/{EXIT_NO}/zip")
    names = zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
    assert f"{EXIT_NO}/report.json" in names and f"{EXIT_NO}/manifest-sha256.txt" in names


def test_inbox_shows_rejections_with_reasons_but_masks_any_id_number(client: TestClient, outbox: Path) -> None:
    ledger = Ledger(outbox / ".kunnan" / "ledger.sqlite")
    row = ledger.start("张三/case.json", "building")
    ledger.update(row, status="rejected", archive_no="CD-X-1", reason=f"【身份证号】“{EXIT_ID}”校验位不对\n第二条原因")
    ledger.close()
    rejected = client.get("/inbox/live").text.split('id="rejected"')[1]
    assert "张三/case.json" in rejected and "第二条原因" in rejected and "校验位不对" in rejected
    assert EXIT_ID not in rejected and "510104********1242" in rejected


def test_inbox_lists_rejected_first_and_each_published_family_once(client: TestClient, outbox: Path,
                                                                    monkeypatch) -> None:
    """A year of desk work on one family is a ledger row per version; 已发布 shows the family once, at its
    current version, and 已退回 comes before it."""
    ledger = Ledger(outbox / ".kunnan" / "ledger.sqlite")
    for _ in range(17):
        ledger.record("工作台", "complete", "测试员", archive_no=EXIT_NO)
    ledger.record("工作台", "incomplete", "测试员", archive_no="CD510108-2019-0037")
    ledger.record("李四/case.json", "rejected", "", reason="【性别】与身份证号不符", archive_no="CD-X-2")
    ledger.close()
    page = client.get("/inbox/live").text
    assert page.index('id="rejected"') < page.index('id="published"')
    published = page.split('id="published"')[1]
    assert published.count(f">{EXIT_NO}</a>") == 1 and published.count(">CD510108-2019-0037</a>") == 1
    row = re.search(rf">{EXIT_NO}</a>.*?</tr>", published, re.S).group(0)
    assert "第3版" in row and "已发布:" in row  # built three times: two earlier versions, this the third
    monkeypatch.setattr("kunnan_docs.web.app.RECENT", 1)
    published = client.get("/inbox/live").text.split('id="published"')[1]
    assert published.count('<a href="/packages/') == 1 and ">CD510108-2019-0037</a>" in published  # the newest


def test_long_lists_are_cut_with_a_hint_to_search(client: TestClient, monkeypatch) -> None:
    monkeypatch.setattr("kunnan_docs.web.app.LIST_LIMIT", 2)
    page = client.get("/packages").text
    assert page.count('<a href="/packages/') == 2 and "共 4 份,这里列出前 2 份" in page


def test_search_by_number_name_or_unit(client: TestClient) -> None:
    assert EXIT_NO in client.get("/packages", params={"q": "王淑芬"}).text
    found = client.get("/packages", params={"q": "CD510108"}).text
    assert "CD510108-2019-0037" in found and EXIT_NO not in found
    assert "没有找到" in client.get("/packages", params={"q": "不存在的单位"}).text


def test_package_pages_only_for_package_folders(client: TestClient) -> None:
    for folder in ["_历史版本", "_移交", ".kunnan", "CD510104-2018-0112%2F..", "nothing-here"]:
        assert client.get(f"/packages/{folder}").status_code == 404, folder


@pytest.mark.parametrize("path", ["/files/../../etc/passwd", "/files/..%2F..%2Fetc%2Fpasswd",
                                  "/files/%2e%2e/%2e%2e/etc/passwd", "/files//etc/passwd", "/files/%2Fetc%2Fpasswd",
                                  "/files/.kunnan/ledger.sqlite", "/files/.kunnan/desk-audit.log",
                                  "/files/C:%5CWindows%5Cwin.ini", "/files/link/passwd", "/files/linkfile"])
def test_downloads_stay_inside_the_outbox(client: TestClient, outbox: Path, path: str) -> None:
    (outbox / "link").unlink(missing_ok=True)
    (outbox / "link").symlink_to("/etc")
    (outbox / "linkfile").unlink(missing_ok=True)
    (outbox / "linkfile").symlink_to("/etc/passwd")
    response = client.get(path)
    assert response.status_code in (404, 400)
    assert "root:" not in response.text


def test_open_inside_refuses_every_way_out(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.pdf").write_bytes(b"%PDF")
    (tmp_path / "a" / "out").symlink_to(tmp_path.parent)
    (tmp_path / "a" / "passwd").symlink_to("/etc/passwd")
    (tmp_path / "linked").symlink_to(tmp_path / "a")  # a link to a folder inside is refused too
    os.mkfifo(tmp_path / "a" / "fifo")  # would block a reader forever
    with open_inside(tmp_path, "a/f.pdf") as f:
        assert f.read() == b"%PDF"
    for rel in ["../x", "a/../a/f.pdf", "/etc/passwd", "a\\f.pdf", "C:/x", "a/out/x", ".kunnan/x", "a", "",
                "a/passwd", "linked/f.pdf", "a/fifo", "a/f.pdf/x"]:
        assert open_inside(tmp_path, rel) is None, rel


def test_state_changes_need_the_csrf_token_and_are_audited(client: TestClient, outbox: Path) -> None:
    refused = client.post("/notices", data={"from": "2019-09-01", "to": "2019-09-30"})
    assert refused.status_code == 403 and "安全校验" in refused.text
    assert client.post("/notices", data={"from": "2019-09-01", "csrf": "forged"}).status_code == 403
    printed = client.post("/notices", data={"from": "2019-09-01", "to": "2019-09-30", "csrf": csrf(client)})
    assert printed.headers["content-type"] == "application/pdf"
    pages = pdf_texts(printed.content)
    assert len(pages) == 1 and "公示" in pages[0] and EXIT_NO in pages[0]
    last = json.loads((outbox / ".kunnan" / AUDIT_FILE).read_text(encoding="utf-8").splitlines()[-1])
    assert last["action"] == "打印公示" and last["user"] == "测试员" and last["cases"] == [EXIT_NO] and last["time"]


def test_handover_builds_a_zip_that_verifies(client: TestClient, outbox: Path) -> None:
    page = client.get("/handover", params={"district": DISTRICT}).text
    assert f'value="{EXIT_NO}"' in page and "通过" in page
    assert client.post("/handover", data={"district": DISTRICT, "cases": [EXIT_NO]}).status_code == 403
    done = client.post("/handover", data={"district": DISTRICT, "cases": [EXIT_NO], "csrf": csrf(client)})
    assert done.status_code == 200 and "已生成移交" in done.text
    links = dict(re.findall(r'href="(/files/[^"?]+)[^"]*" id="([^"]+)"', done.text))
    by_id = {v: k for k, v in links.items()}
    zipped = client.get(by_id["dl-handover-zip"])
    target = outbox.parent / "handover.zip"
    target.write_bytes(zipped.content)
    assert verify_path(target) == []
    assert "移交清单" in pdf_texts(client.get(by_id["dl-register-pdf"]).content)[0]
    assert load_workbook(io.BytesIO(client.get(by_id["dl-register-xlsx"]).content)).active["A1"].value
    last = [line for line in audit_lines(outbox) if line["action"] == "移交"][-1]
    assert last["district"] == DISTRICT and last["cases"] == [EXIT_NO]
    downloads = [line["file"] for line in audit_lines(outbox)[-3:]]
    assert downloads == [unquote(by_id[k][len("/files/"):]) for k in ("dl-handover-zip", "dl-register-pdf",
                                                                        "dl-register-xlsx")]
    assert EXIT_NO in client.get("/packages").text  # the handover folder in the outbox is not a package


def test_due_export_and_progress(client: TestClient) -> None:
    book = load_workbook(io.BytesIO(client.get("/due.xlsx", params={"as_of": "2020-08-01"}).content))
    values = [c.value for row in book.active.iter_rows() for c in row]
    assert "帮扶联系人" in values and "2020年8月1日" in str(values[0])
    progress = client.get("/progress").text
    chart = client.get(re.search(r'<img src="(/progress\.svg[^"]*)"', progress).group(1))
    assert chart.headers["content-type"] == "image/svg+xml" and "<svg" in chart.text and "2019年目标" in chart.text
    assert pdf_texts(client.get("/progress.pdf").content)[0].count("进度")
    dated = client.get("/progress", params={"as_of": "2019-12-31"}).text
    assert "统计截止日期:2019年12月31日" in dated
    assert "统计截止日期" in pdf_texts(client.get("/progress.pdf", params={"as_of": "2019-12-31"}).content)[0]


def test_foreign_host_header_is_refused(client: TestClient) -> None:
    assert client.get("/inbox", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding


def test_login_logout_and_cookie_flags(outbox: Path, tmp_path: Path) -> None:
    users = Users(tmp_path / USERS_FILE)
    users.set("张丽", "correct horse")
    client = TestClient(create_app(desk_for(outbox, users)), base_url="http://127.0.0.1")
    first = client.get("/packages", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].startswith("/login")
    assert client.get("/files/" + f"{EXIT_NO}/report.json", follow_redirects=False).status_code == 303
    token = csrf(client, "/login")
    bad = client.post("/login", data={"user": "张丽", "password": "wrong", "csrf": token, "next": "/packages"})
    assert bad.status_code == 401 and "用户名或密码不对" in bad.text
    assert client.post("/login", data={"user": "张丽", "password": "correct horse"}).status_code == 403  # no token
    good = client.post("/login", data={"user": "张丽", "password": "correct horse", "csrf": token, "next": "//evil"},
                       follow_redirects=False)
    assert good.headers["location"] == "/"  # only paths of this site
    cookie = good.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    old = good.cookies[COOKIE]
    assert "张丽" in client.get("/packages").text
    client.post("/logout", data={"csrf": csrf(client, "/packages")})
    stolen = TestClient(create_app(client.app.state.desk), base_url="http://127.0.0.1", cookies={COOKIE: old})
    assert stolen.get("/packages", follow_redirects=False).status_code == 303  # the session ended on the server
    audit = (outbox / ".kunnan" / AUDIT_FILE).read_text(encoding="utf-8")
    assert '"登录失败"' in audit and '"登录"' in audit and '"退出"' in audit


def test_password_hash_is_scrypt_and_salted() -> None:
    one, two = hash_password("secret-1"), hash_password("secret-1")
    assert one.startswith("scrypt$") and one != two and "secret" not in one
    assert password_matches("secret-1", one) and not password_matches("secret-2", one)
    assert not password_matches("secret-1", "garbage")


def test_serve_refuses_another_address_without_a_password(tmp_path: Path, capsys, monkeypatch) -> None:
    (tmp_path / "inbox").mkdir()
    args = [str(tmp_path / "inbox"), str(tmp_path / "outbox")]
    assert main(["serve", *args, "--host", "127.0.0.2", "--port", "0"]) == ExitCode.USAGE
    assert "--set-password" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("long enough\n"))
    assert main(["serve", *args, "--set-password", "--user", "王会计"]) == ExitCode.OK
    stored = (tmp_path / "outbox" / ".kunnan" / USERS_FILE).read_text(encoding="utf-8")
    assert stored.startswith("王会计:scrypt$") and "long enough" not in stored
    assert (tmp_path / "outbox" / ".kunnan" / USERS_FILE).stat().st_mode & 0o077 == 0
