"""Every POST of the desk carries its form token, and every write is in the audit log (issue 19: "every new POST with
CSRF, and the audit lines checked"). The POST routes are read from the app's router, so that a route added later is
covered without naming it here."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from PIL import Image
from starlette.routing import Route
from starlette.testclient import TestClient

from kunnan_docs.cli import main
from kunnan_docs.errors import ExitCode
from kunnan_docs.package.layout import INPUT_DIR
from kunnan_docs.web.app import Desk, create_app
from kunnan_docs.web.security import AUDIT_FILE, Users

from .conftest import FILING_EXAMPLE, REFILED_EXAMPLE
from .desk_kit import form_pairs

NO = "CD510108-2019-0037"
FILING_ID = "510108197205141236"
NEW_ID = "51010819720514105X"
DISTRICT = "成都市成华区总工会"
USER, PASSWORD = "张丽", "柜子钥匙在抽屉里"
# A value for each kind of path parameter, so that a POST route reaches its handler with a package that exists.
PARAMETERS = {"folder": NO, "draft": "0123456789ab", "record": "visit", "step": "application", "row": "1"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("posts") / "outbox"
    assert main(["build", str(FILING_EXAMPLE / "case.json"), "-o", str(out)]) == ExitCode.OK
    return out


@pytest.fixture
def outbox(built: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "outbox"))


def desk(outbox: Path, users: Users | None = None) -> TestClient:
    state = outbox / ".kunnan"
    return TestClient(create_app(Desk(outbox, state, users or Users(state / "nobody"), local_user="测试员")),
                      base_url="http://127.0.0.1")


def audit(outbox: Path) -> list[dict[str, Any]]:
    path = outbox / ".kunnan" / AUDIT_FILE
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def post_routes() -> list[str]:
    """Every POST route of the app, its parameters filled in (an unknown one gets a plain value)."""
    app = create_app(Desk(Path("/nonexistent"), Path("/nonexistent/.kunnan"), Users(Path("/nonexistent/users"))))
    found = []
    for route in app.routes:
        if isinstance(route, Route) and "POST" in (route.methods or ()):
            found.append(re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PARAMETERS.get(m.group(1), "1"), route.path))
    return found


def test_the_router_has_the_write_routes_known_today() -> None:
    routes = post_routes()
    assert {"/login", "/logout", "/notices", "/handover", "/drafts/new", "/check", f"/packages/{NO}/correct",
            f"/packages/{NO}/upload", f"/packages/{NO}/hand-filled", f"/packages/{NO}/steps/application"} <= set(routes)


def snapshot(outbox: Path) -> dict[str, bytes]:
    """Every file of the outbox but the audit log, by path: what a refused POST must leave as it was."""
    return {p.relative_to(outbox).as_posix(): p.read_bytes() for p in sorted(outbox.rglob("*"))
            if p.is_file() and p.name != AUDIT_FILE}


@pytest.mark.parametrize("token", [None, "forged"])
def test_every_post_route_refuses_a_request_without_its_form_token(outbox: Path, token: str | None) -> None:
    before = snapshot(outbox)
    for path in post_routes():
        client = desk(outbox)  # a new desk each time: its throttle would otherwise quieten repeated refusals
        data = {"/worker/name": "李四", "action": "submit", "district": DISTRICT, "cases": [NO], "user": USER,
                "password": PASSWORD, "item-all": "id_card_copy", "form": "annex3", "reason": "核对",
                "/home_visits/0/date": "2020-03-20", "/exit/application/date": "2020-06-01"}
        if token:
            data["csrf"] = token
        response = client.post(path, data=data, files=[("files", ("a.jpg", jpeg(), "image/jpeg"))],
                               follow_redirects=False)
        assert response.status_code == 403, path
        assert "安全校验未通过" in response.text and "请刷新页面后重新操作" in response.text, path
        assert audit(outbox)[-1] | {"time": ""} == {"time": "", "user": "测试员", "action": "安全校验未通过",
                                                    "path": path, "address": "testclient"}, path
    assert snapshot(outbox) == before


def jpeg(colour: str = "white") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1240, 1754), colour).save(buf, "JPEG", dpi=(150, 150))
    return buf.getvalue()


def csrf(client: TestClient, path: str = f"/packages/{NO}") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def form(client: TestClient, path: str, pairs: list[tuple[str, str]]) -> Any:
    """A form as a browser posts it (repeated names in page order), with the page's token."""
    body = urlencode([("csrf", csrf(client)), *pairs])
    return client.post(path, content=body, follow_redirects=False,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})


def moved(response: Any) -> str:
    assert response.status_code == 303, re.sub(r"<[^>]+>", " ", response.text)
    return response.headers["location"]


@pytest.fixture
def logged_in(outbox: Path) -> Iterator[TestClient]:
    users = Users(outbox / ".kunnan" / "desk-users")
    users.set(USER, PASSWORD)
    with desk(outbox, users) as client:
        token = csrf(client, "/login")
        wrong = client.post("/login", data={"csrf": token, "user": USER, "password": "不对的密码"})
        assert wrong.status_code == 401 and "用户名或密码不对" in wrong.text
        assert moved(client.post("/login", data={"csrf": token, "user": USER, "password": PASSWORD, "next": "/"},
                                 follow_redirects=False))
        yield client


def test_every_write_is_in_the_audit_log_with_who_when_and_which_file(outbox: Path, logged_in: TestClient) -> None:
    client = logged_in
    other = json.loads((REFILED_EXAMPLE / "case.json").read_text(encoding="utf-8")) | {"attachments": []}
    pairs = [(n, v) for n, v in form_pairs(other) if n != "/attachments"]
    draft = moved(form(client, "/drafts/new", [("action", "save"), *pairs[:5]])).split("?")[0]
    moved(form(client, draft, [("action", "save"), *pairs]))
    moved(form(client, draft, [("action", "submit"), *pairs]))
    moved(form(client, f"/packages/{NO}/record/visit", [("/home_visits/0/date", "2020-03-20"),
                                                        ("/home_visits/0/visitor", "周晓梅")]))
    moved(form(client, f"/packages/{NO}/steps/application", [
        ("/exit/application/date", "2020-06-01"), ("/exit/application/initiated_by", "worker"),
        ("/exit/application/signed_by_worker", "true"), ("/exit/application/contact_person_opinion", "建议脱困"),
        ("/exit/application/union_opinion", "同意")]))
    for route, extra in (("upload", {"item": ["id_card_copy"]}), ("hand-filled", {"form": "annex3"})):
        moved(client.post(f"/packages/{NO}/{route}", follow_redirects=False, data={"csrf": csrf(client), **extra},
                          files=[("files", (f"{FILING_ID}.jpg", jpeg("#f8f8f8"), "image/jpeg"))]))
    case = json.loads((outbox / NO / INPUT_DIR / "case.json").read_text(encoding="utf-8"))
    case["worker"]["id_number"] = NEW_ID
    correction = [(n, v) for n, v in form_pairs(case) if n != "/attachments"]
    moved(form(client, f"/packages/{NO}/correct", [("action", "submit"), ("reason", f"原号{FILING_ID}录错"),
                                                   *correction]))
    handed = client.post("/handover", data={"csrf": csrf(client), "district": DISTRICT, "cases": [NO]})
    assert handed.status_code == 200 and "移交清单" in handed.text

    lines = audit(outbox)
    by_action = {line["action"]: line for line in lines}
    expected = {"登录失败": None, "登录": None, "新建草稿": None, "保存草稿": None, "提交成卷": "CD510107-2024-0008",
                "登记": NO, "脱困办理": NO, "上传扫描件": NO, "手填原件入卷": NO, "更正": NO}
    assert set(expected) | {"移交"} <= set(by_action), [line["action"] for line in lines]
    for action, archive_no in expected.items():
        line = by_action[action]
        assert line["user"] == USER and datetime.fromisoformat(line["time"]), line
        assert archive_no is None or line["archive_no"] == archive_no, line
    assert by_action["登录失败"]["address"] == "testclient" and by_action["登记"]["record"] == "入户走访"
    assert by_action["脱困办理"]["record"] == "脱困申请" and FILING_ID[:6] in by_action["上传扫描件"]["files"][0]
    assert "职工本人/身份证号" in by_action["更正"]["fields"] and by_action["更正"]["reason"].startswith("原号510108")
    assert by_action["移交"]["cases"] == [NO] and by_action["移交"]["district"] == DISTRICT
    text = (outbox / ".kunnan" / AUDIT_FILE).read_text(encoding="utf-8")
    assert FILING_ID not in text and NEW_ID not in text and PASSWORD not in text  # masked, never quoted
