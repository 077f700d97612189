"""The desk's door over HTTP (Starlette's test client): security headers on every response, error pages in
Chinese, the login lockout and its backoff, one scrypt run whatever the user name (off the event loop), bounded
inputs, the audit log (owner-only, bounded, downloads and refusals), sessions only after login and purged,
no symbolic link followed in a download, damaged packages shown as 损坏, and the host names the desk answers to."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import shutil
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from kunnan_docs.errors import KunnanError
from kunnan_docs.package import nolinks
from kunnan_docs.package.nolinks import LinkFound
from kunnan_docs.staff.handover import make_zip
from kunnan_docs.web import app as desk_app
from kunnan_docs.web.app import COOKIE, FORM_COOKIE, MAX_BODY, Desk, create_app
from kunnan_docs.web.security import (
    AUDIT_FILE,
    FIRST_PAUSE,
    FREE_TRIES,
    MAX_SESSIONS,
    SESSION_IDLE,
    USERS_FILE,
    AllowedHosts,
    Sessions,
    Throttle,
    Users,
    host_of,
)

EXIT_NO = "CD510104-2018-0112"
FILING_NO = "CD510108-2019-0037"
PASSWORD = "correct horse"
NOTICES = "/notices?from=2019-01-01"  # a page with a form in the desk without passwords
CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_ERRORS = ("Not Found", "Method Not Allowed", "Internal Server Error", "Invalid host header",
                  "Content Too Large", "Bad Request")


class Clock:
    """Time that a test moves on: lockouts and session expiry without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def outbox(built_examples: Path, tmp_path: Path) -> Path:
    out = tmp_path / "outbox"
    shutil.copytree(built_examples, out, symlinks=True)
    return out


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> Users:
    users = Users(tmp_path_factory.mktemp("users") / USERS_FILE)
    users.set("张丽", PASSWORD)
    return Users(users.path)  # as the desk reads it at start


def desk(outbox: Path, users: Users | None = None, **kwargs: object) -> Desk:
    state = outbox / ".kunnan"
    return Desk(outbox, state, users or Users(state / "nobody"), local_user="测试员", **kwargs)  # type: ignore[arg-type]


def client_for(d: Desk, address: str = "192.168.1.31", **kwargs: object) -> TestClient:
    return TestClient(create_app(d), base_url="http://127.0.0.1", client=(address, 50000), **kwargs)  # type: ignore[arg-type]


def token(client: TestClient, path: str = "/login") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def login(client: TestClient, user: str = "张丽", password: str = PASSWORD, **extra: str):
    return client.post("/login", data={"user": user, "password": password, "csrf": token(client), **extra},
                       follow_redirects=False)


def audit_lines(outbox: Path) -> list[dict]:
    path = outbox / ".kunnan" / AUDIT_FILE
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, bool]]]:
    """Every scrypt run of the desk: its cost n, and whether it ran outside any event loop."""
    calls: list[tuple[int, bool]] = []
    real = hashlib.scrypt

    def counted(password: bytes, **kwargs: int) -> bytes:
        try:
            asyncio.get_running_loop()
            off_loop = False
        except RuntimeError:
            off_loop = True
        calls.append((kwargs["n"], off_loop))
        return real(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    yield calls


# -- headers and error pages ---------------------------------------------------------------------------

def test_security_headers_on_every_response_errors_and_static_included(outbox: Path, monkeypatch) -> None:
    client = client_for(desk(outbox), raise_server_exceptions=False)
    csrf = token(client, NOTICES)
    pages = ["/", "/login", "/inbox", "/inbox/live", "/packages", f"/packages/{EXIT_NO}", "/due?as_of=2020-08-01",
             "/notices", "/handover", "/progress"]
    downloads = [f"/packages/{EXIT_NO}/zip", "/due.xlsx", "/progress.svg", "/progress.pdf"]
    files = [f"/files/{EXIT_NO}/{EXIT_NO}.pdf", f"/files/{EXIT_NO}/report.json"]
    static = ["/static/desk.css", "/static/live.js"]
    responses = {path: client.get(path, follow_redirects=False) for path in pages + downloads + files + static}
    responses["404"] = client.get("/no/such/page")
    responses["404 file"] = client.get("/files/..%2F..%2Fetc%2Fpasswd")  # the desk's own page: its stylesheet
    responses["404 static"] = client.get("/static/nothing.js")
    responses["405"] = client.post("/inbox", data={"csrf": csrf})
    responses["403 csrf"] = client.post("/notices", data={"from": "2019-09-01", "csrf": "forged"})
    responses["400 host"] = client.get("/inbox", headers={"host": "evil.example"})
    responses["413"] = client.post("/notices", content=b"x" * (MAX_BODY + 1),
                                   headers={"content-type": "application/x-www-form-urlencoded"})
    monkeypatch.setattr(desk_app, "due_list", lambda *a, **k: 1 / 0)  # a bug anywhere in a page
    responses["500"] = client.get("/due")
    expected = {"404": 404, "404 file": 404, "404 static": 404, "405": 405, "403 csrf": 403, "400 host": 400, "413": 413, "500": 500}
    for name, response in responses.items():
        assert response.status_code == expected.get(name, 303 if name == "/" else 200), name
        h = response.headers
        assert h["x-content-type-options"] == "nosniff" and h["referrer-policy"] == "no-referrer", name
        csp = h["content-security-policy"]
        assert "default-src 'none'" in csp and "unsafe" not in csp, name
        if name.startswith("/files/"):
            assert "frame-ancestors 'self'" in csp and h["x-frame-options"] == "SAMEORIGIN", name
        else:
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp, name
            assert h["x-frame-options"] == "DENY", name
        assert h["cache-control"] == ("no-cache" if name in static else "no-store"), name
        if name in expected:  # every error page in Chinese, saying what to do, in the desk's own page
            assert CJK.search(response.text) and "请" in response.text and 'id="problem"' in response.text, name
            assert not any(english in response.text for english in ENGLISH_ERRORS), name
            assert "ZeroDivisionError" not in response.text, name


def test_pages_carry_no_inline_script_or_style() -> None:
    """The policy allows only /static/live.js and /static/desk.css: no template may need more."""
    for template in sorted((Path(desk_app.HERE) / "templates").glob("*.html")):
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert re.fullmatch(r'<script src="/static/[\w.]+\.js">', tag), (template.name, tag)
        assert not re.search(r"<style\b|\sstyle=|\son\w+=|javascript:", text), template.name


def test_chunked_body_over_the_limit_is_refused_in_chinese(outbox: Path) -> None:
    client = client_for(desk(outbox))
    csrf = token(client, NOTICES)

    def chunks() -> Iterator[bytes]:
        yield f"csrf={csrf}&from=".encode()
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"9" * 65536

    response = client.post("/notices", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413 and "太大" in response.text
    assert response.headers["content-security-policy"]


# -- login ---------------------------------------------------------------------------------------------

def test_lockout_per_user_with_backoff(outbox: Path, users: Users) -> None:
    clock = Clock()
    d = desk(outbox, users, throttle=Throttle(clock))
    for i in range(FREE_TRIES):  # typing errors are free
        assert login(client_for(d, f"10.0.0.{i}"), password="wrong").status_code == 401
    locked = login(client_for(d, "10.0.0.99"))  # another computer, the right password: still paused
    assert locked.status_code == 429 and "分钟后再试" in locked.text and locked.headers["retry-after"] == "30"
    clock.now += FIRST_PAUSE + 1
    assert login(client_for(d, "10.0.0.98"), password="wrong").status_code == 401
    assert login(client_for(d, "10.0.0.97")).headers["retry-after"] == str(int(2 * FIRST_PAUSE))  # doubled
    clock.now += 2 * FIRST_PAUSE + 1
    assert login(client_for(d, "10.0.0.96")).status_code == 303  # the right one, after the pause
    assert login(client_for(d, "10.0.0.95"), password="wrong").status_code == 401  # counting starts again
    lines = [line for line in audit_lines(outbox) if line["action"] == "登录被锁定"]
    assert len(lines) == 2 and lines[0]["user"] == "张丽" and lines[0]["seconds"] == 30  # once per pause


def test_lockout_per_address(outbox: Path, users: Users) -> None:
    d = desk(outbox, users, throttle=Throttle(Clock()))
    guesser = client_for(d, "192.168.1.66")
    for i in range(FREE_TRIES):
        assert login(guesser, user=f"用户{i}", password="wrong").status_code == 401
    assert login(guesser).status_code == 429  # a real user and password from this address wait too
    assert login(client_for(d, "192.168.1.31")).status_code == 303  # the clerk at another computer does not


def test_parallel_guesses_are_counted_before_any_is_checked(outbox: Path, users: Users, scrypt_calls) -> None:
    d = desk(outbox, users, throttle=Throttle(Clock()))
    with client_for(d) as client:  # one event loop for all requests, as in the server
        csrf = token(client)
        with ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(lambda i: client.post("/login", data={"user": "张丽", "password": f"guess {i}",
                                                                        "csrf": csrf}).status_code, range(16)))
    assert sorted(codes) == [401] * FREE_TRIES + [429] * (16 - FREE_TRIES)
    assert len(scrypt_calls) == FREE_TRIES


def test_unknown_user_costs_one_scrypt_run_off_the_event_loop(outbox: Path, users: Users, scrypt_calls) -> None:
    client = client_for(desk(outbox, users))
    assert login(client, user="张丽", password="wrong").status_code == 401
    assert login(client, user="没有这个人", password="wrong").status_code == 401
    assert login(client, user="没有这个人", password=PASSWORD).status_code == 401
    known_n = int(users.hashes["张丽"].split("$")[1])
    assert scrypt_calls == [(known_n, True)] * 3  # the same work whether or not the name exists, in a thread


def test_bounded_inputs_and_audit_fields(outbox: Path, users: Users, scrypt_calls) -> None:
    client = client_for(desk(outbox, users))
    assert login(client, user="王" * 900_000).status_code == 413  # bigger than any form: refused unread
    assert login(client, user="王" * 100_000).status_code == 401  # a long name: no hashing, a bounded audit line
    assert login(client, password="x" * 10_000).status_code == 401
    assert login(client, user="510104196811021242\n{\"forged\": 1}\x1b[2J").status_code == 401
    assert scrypt_calls == [(2**14, True)]  # only the last one was worth checking
    log = (outbox / ".kunnan" / AUDIT_FILE).read_text(encoding="utf-8")
    assert len(log) < 2000 and "510104196811021242" not in log and "\x1b" not in log
    lines = audit_lines(outbox)
    assert [line["action"] for line in lines] == ["登录失败"] * 3
    assert lines[0]["user"].startswith("王" * 200) and "共 100000 字" in lines[0]["user"]
    assert lines[2]["user"].startswith("510104********1242") and lines[2]["address"] == "192.168.1.31"


def test_audit_log_is_owner_only_and_records_downloads_and_refusals(outbox: Path) -> None:
    state = outbox / ".kunnan"
    state.mkdir(exist_ok=True)
    (state / AUDIT_FILE).write_text("", encoding="utf-8")
    (state / AUDIT_FILE).chmod(0o644)  # as an older version left it
    client = client_for(desk(outbox))
    client.get(f"/files/{EXIT_NO}/{EXIT_NO}.pdf")
    client.get(f"/files/{EXIT_NO}/{EXIT_NO}.pdf?download")
    client.get(f"/packages/{EXIT_NO}/zip")
    client.get("/due.xlsx?as_of=2020-08-01")
    client.get("/files/.kunnan/desk-users")
    client.post("/notices", data={"from": "2019-09-01", "csrf": "forged"})
    client.post("/handover", data={"district": "成都市锦江区总工会", "cases": ["CD-NOT-HERE"],
                                   "csrf": token(client, NOTICES)})
    assert (state / AUDIT_FILE).stat().st_mode & 0o777 == 0o600
    got = [(line["action"], line.get("file") or line.get("folder") or line.get("path") or line.get("district"))
           for line in audit_lines(outbox)]
    assert got == [("查看", f"{EXIT_NO}/{EXIT_NO}.pdf"), ("下载", f"{EXIT_NO}/{EXIT_NO}.pdf"), ("下载", f"{EXIT_NO}.zip"),
                   ("下载", "到期提醒-2020-08-01.xlsx"), ("下载被拒", ".kunnan/desk-users"),
                   ("安全校验未通过", "/notices"), ("移交被拒", "成都市锦江区总工会")]
    assert "CD-NOT-HERE" in audit_lines(outbox)[-1]["reason"]


def test_new_audit_log_is_owner_only(outbox: Path, users: Users) -> None:
    login(client_for(desk(outbox, users)), password="wrong")
    assert (outbox / ".kunnan" / AUDIT_FILE).stat().st_mode & 0o777 == 0o600


# -- sessions and CSRF ---------------------------------------------------------------------------------

def test_sessions_only_after_login(outbox: Path, users: Users) -> None:
    d = desk(outbox, users)
    for path in ["/login", "/inbox", "/packages", "/static/desk.css", "/nothing"] * 4:
        client_for(d).get(path)  # a new cookie-less visitor each time
    assert d.sessions.by_token == {}
    client = client_for(d)
    assert login(client).status_code == 303 and len(d.sessions.by_token) == 1
    assert "张丽" in client.get("/packages").text
    assert login(client).status_code == 303 and len(d.sessions.by_token) == 1  # again: the earlier one ended


def test_no_sessions_without_passwords(outbox: Path) -> None:
    d = desk(outbox)
    client = client_for(d)
    csrf = token(client, NOTICES)
    printed = client.post("/notices", data={"from": "2019-09-01", "to": "2019-09-30", "csrf": csrf})
    assert printed.headers["content-type"] == "application/pdf" and d.sessions.by_token == {}


def test_login_form_token_is_a_signed_double_submit(outbox: Path, users: Users) -> None:
    d = desk(outbox, users)
    client = client_for(d)
    csrf = token(client)
    assert client.cookies[FORM_COOKIE] == csrf
    assert client.post("/login", data={"user": "张丽", "password": PASSWORD, "csrf": "a.b"}).status_code == 403
    nonce = csrf.split(".")[0]
    forged = client_for(d, cookies={FORM_COOKIE: f"{nonce}.forged"})  # a cookie planted without the key
    assert forged.post("/login", data={"user": "张丽", "password": PASSWORD, "csrf": f"{nonce}.forged"},
                       follow_redirects=False).status_code == 403
    other = client_for(desk(outbox, users))  # another start of the desk signs with another key
    other.cookies[FORM_COOKIE] = csrf
    assert other.post("/login", data={"user": "张丽", "password": PASSWORD, "csrf": csrf}).status_code == 403
    good = client.post("/login", data={"user": "张丽", "password": PASSWORD, "csrf": csrf}, follow_redirects=False)
    assert good.status_code == 303 and COOKIE in good.cookies


def test_secure_cookies_under_tls(outbox: Path, users: Users) -> None:
    client = TestClient(create_app(desk(outbox, users, tls=True)), base_url="https://127.0.0.1")
    assert "secure" in client.get("/login").headers["set-cookie"].lower()
    good = login(client)
    assert good.status_code == 303 and "secure" in good.headers["set-cookie"].lower()


def test_expired_sessions_are_purged() -> None:
    clock = Clock()
    sessions = Sessions(clock)
    old, _ = sessions.new("张丽")
    clock.now += SESSION_IDLE / 2
    kept, _ = sessions.new("王会计")
    clock.now += SESSION_IDLE / 2 + 61
    assert sessions.get(kept) is not None and old not in sessions.by_token  # purged, not only refused
    clock.now += SESSION_IDLE + 1
    sessions.new("李会计")
    assert kept not in sessions.by_token and len(sessions.by_token) == 1


def test_sessions_are_bounded() -> None:
    clock = Clock()
    sessions = Sessions(clock)
    first, _ = sessions.new("a")
    for i in range(MAX_SESSIONS):
        clock.now += 1
        sessions.new(f"u{i}")
    assert len(sessions.by_token) == MAX_SESSIONS and first not in sessions.by_token  # the longest idle ended


# -- links, damaged packages ---------------------------------------------------------------------------

@pytest.mark.parametrize("step_by_step", [True, False], ids=["openat", "checked (Windows)"])
def test_open_below_follows_no_link(tmp_path: Path, monkeypatch, step_by_step: bool) -> None:
    monkeypatch.setattr(nolinks, "_AT", step_by_step)
    (tmp_path / "pkg" / "documents").mkdir(parents=True)
    (tmp_path / "pkg" / "documents" / "a.pdf").write_bytes(b"%PDF-1.7")
    (tmp_path / "pkg" / "documents" / "passwd").symlink_to("/etc/passwd")
    (tmp_path / "pkg" / "etc").symlink_to("/etc")
    (tmp_path / "root-link").symlink_to(tmp_path / "pkg")  # the outbox itself may be a link
    with nolinks.open_below(tmp_path / "root-link", ("documents", "a.pdf")) as f:
        assert f.read() == b"%PDF-1.7"
    for parts in [("documents", "passwd"), ("etc", "passwd"), ("documents",)]:
        with pytest.raises(LinkFound):
            nolinks.open_below(tmp_path / "pkg", parts)
    with pytest.raises(FileNotFoundError):
        nolinks.open_below(tmp_path / "pkg", ("documents", "none.pdf"))


def test_zip_refuses_a_link_inside_a_package(outbox: Path) -> None:
    client = client_for(desk(outbox))
    (outbox / EXIT_NO / "documents" / "passwd").symlink_to("/etc/passwd")
    response = client.get(f"/packages/{EXIT_NO}/zip")
    assert response.status_code == 409 and "链接" in response.text and "root:" not in response.text
    assert audit_lines(outbox)[-1]["action"] == "下载被拒"
    (outbox / EXIT_NO / "documents" / "passwd").unlink()
    os.mkfifo(outbox / EXIT_NO / "documents" / "fifo")  # would hang a reader
    assert client.get(f"/packages/{EXIT_NO}/zip").status_code == 409
    (outbox / EXIT_NO / "documents" / "fifo").unlink()
    names = zipfile.ZipFile(io.BytesIO(client.get(f"/packages/{EXIT_NO}/zip").content)).namelist()
    assert f"{EXIT_NO}/report.json" in names and not any("passwd" in n or "fifo" in n for n in names)


def test_make_zip_leaves_nothing_on_a_link(tmp_path: Path, outbox: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret", encoding="utf-8")
    (outbox / EXIT_NO / "input" / "more").symlink_to(outside)
    with pytest.raises(LinkFound, match="input/more"):
        make_zip(outbox / EXIT_NO, tmp_path / "a.zip")
    linked = tmp_path / "linked"
    linked.symlink_to(outbox / FILING_NO)
    with pytest.raises(KunnanError):
        make_zip(linked, tmp_path / "b.zip")
    assert not list(tmp_path.glob("*.zip*"))


def test_a_linked_package_folder_is_damaged_not_served(outbox: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(outbox / FILING_NO, elsewhere / "CD-LINKED")
    (outbox / "CD-LINKED").symlink_to(elsewhere / "CD-LINKED")
    client = client_for(desk(outbox))
    listing = client.get("/packages").text
    damaged = listing.split('id="damaged"')[1].split("</table>")[0]
    assert "CD-LINKED" in damaged and "链接" in damaged
    assert "链接" in client.get("/packages/CD-LINKED").text
    assert client.get("/packages/CD-LINKED/zip").status_code == 404
    assert client.get(f"/files/CD-LINKED/{FILING_NO}.pdf").status_code == 404


def test_damaged_packages_are_shown_with_their_reason(outbox: Path) -> None:
    shutil.copytree(outbox / FILING_NO, outbox / "CD-BAD-REPORT")
    report = outbox / "CD-BAD-REPORT" / "report.json"
    report.write_bytes(report.read_bytes()[:200])
    pdf = outbox / EXIT_NO / f"{EXIT_NO}.pdf"
    pdf.write_bytes(pdf.read_bytes()[: pdf.stat().st_size // 2])
    client = client_for(desk(outbox))
    listing = client.get("/packages").text
    damaged = listing.split('id="damaged"')[1].split("</table>")[0]
    assert damaged.count("损坏") == 2 and "CD-BAD-REPORT" in damaged and "report.json" in damaged
    assert EXIT_NO in damaged and "截断" in damaged and "重新成卷" in damaged
    packages = listing.split('id="package-list"')[1]
    assert FILING_NO in packages and EXIT_NO not in packages
    for folder, reason in [("CD-BAD-REPORT", "report.json"), (EXIT_NO, "截断")]:
        page = client.get(f"/packages/{folder}")
        assert page.status_code == 200 and "损坏" in page.text and reason in page.text
    assert "损坏" in client.get("/packages", params={"q": "没有这个人"}).text  # never hidden by a search


# -- host names ----------------------------------------------------------------------------------------

def test_host_header_parsing() -> None:
    assert host_of("[::1]:8765") == "::1" and host_of("[::1]") == "::1"
    assert host_of("Desk.Example.:8765") == "desk.example" and host_of("192.168.1.20") == "192.168.1.20"
    for bad in ["", "[::1", "[::1]x", "a:b:c", "a:port", ":80"]:
        assert host_of(bad) is None, bad


def test_allowed_hosts_derived_from_the_bind_address() -> None:
    machine = {"archive-pc", "archive-pc.office.lan", "192.168.1.20", "127.0.1.1"}
    local = AllowedHosts.for_bind("::1", machine)
    assert local.allows("[::1]:8765", "::1") and local.allows("localhost:8765", "::1")
    assert not local.allows("archive-pc:8765", "::1") and not local.allows("evil.example", "::1")
    everywhere = AllowedHosts.for_bind("0.0.0.0", machine, ["档案室.example"])
    for host, arrived in [("127.0.0.1:1", "127.0.0.1"), ("archive-pc:1", "192.168.1.20"),
                          ("ARCHIVE-PC.office.lan", "192.168.1.20"), ("192.168.1.20:1", "192.168.1.20"),
                          ("10.8.0.5:1", "10.8.0.5"), ("[fe80::1]:1", "fe80::1"), ("10.8.0.5", "::ffff:10.8.0.5"),
                          ("档案室.example:1", "192.168.1.20")]:
        assert everywhere.allows(host, arrived), host
    for host, arrived in [("evil.example", "192.168.1.20"), ("10.8.0.6", "10.8.0.5"), ("", "10.8.0.5")]:
        assert not everywhere.allows(host, arrived), host  # a name not ours, an address it did not arrive on
    lan = AllowedHosts.for_bind("192.168.1.20", machine)
    assert lan.allows("archive-pc", "192.168.1.20") and not lan.allows("localhost", "192.168.1.20")


def test_ipv6_host_header_reaches_the_desk(outbox: Path) -> None:
    d = desk(outbox, hosts=AllowedHosts.for_bind("::1", set()))
    client = TestClient(create_app(d), base_url="http://[::1]:8765")
    assert client.get("/packages").status_code == 200
    refused = client.get("/packages", headers={"host": "evil.example:8765"})
    assert refused.status_code == 400 and "允许的名称" in refused.text

