"""导入Excel: the template's drop-downs read back with openpyxl (the checklist by its Chinese names, every schema
choice), and the desk's import over HTTP (Starlette's test client, real workbooks, real builds): a preview by sheet,
row and column, confirm → published through the pipeline, a re-import that offers only what changed, a changed ID
number refused as the inbox refuses it, CSRF, the audit log and the ledger."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from starlette.testclient import TestClient

from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.idcard import check_digit
from kunnan_docs.inbox.ledger import Ledger
from kunnan_docs.package.layout import HISTORY, INPUT_DIR, LEDGER
from kunnan_docs.staff.xlsx_import import (
    FIRST_DATA_ROW,
    LAST_TEMPLATE_ROW,
    OPTIONS_SHEET,
    RowState,
    item_names,
    preview,
    write_template,
)
from kunnan_docs.web import workbooks
from kunnan_docs.web.app import Desk, create_app
from kunnan_docs.web.security import AUDIT_FILE, Users

from .conftest import FILING_EXAMPLE
from .test_workflows import fill_workbook

NAMES = ["张明", "王芳", "刘伟", "陈静", "杨洋", "赵磊", "黄敏", "周杰", "吴霞", "徐强", "孙丽", "马超", "朱琳", "胡军", "郭燕", "何斌", "高峰", "林娜", "罗勇", "梁红"]


def families(n: int) -> list[dict[str, Any]]:
    """`n` families like the filing example, each its own person and archive number, without scans."""
    base = json.loads((FILING_EXAMPLE / "case.json").read_text(encoding="utf-8"))
    base["attachments"] = []
    found = []
    for i in range(1, n + 1):
        case = copy.deepcopy(base)
        first17 = f"51010819720514{2 * i + 1:03d}"  # an odd sequence number: a man, as the example's gender says
        case["archive_no"] = f"CD510108-2026-{i:04d}"
        case["worker"] |= {"name": NAMES[i - 1], "id_number": first17 + check_digit(first17)}
        found.append(case)
    return found


def book(tmp: Path, cases: list[dict[str, Any]], name: str = "book.xlsx") -> Path:
    """The template typed in as a clerk types it (tests/test_workflows.fill_workbook)."""
    template = tmp / "template.xlsx"
    write_template(template)
    target = tmp / name
    fill_workbook(template, cases, target)
    return target


def headers(ws: Any) -> dict[str, str]:
    return {c.value: c.column_letter for c in ws[1]}


def drop_down(ws: Any, letter: str) -> list[str]:
    """The words a column's drop-down offers, read from the range its validation names."""
    [dv] = [dv for dv in ws.data_validations.dataValidation if f"{letter}{FIRST_DATA_ROW}" in dv.sqref]
    assert str(dv.sqref) == f"{letter}{FIRST_DATA_ROW}:{letter}{LAST_TEMPLATE_ROW}"
    sheet, cells = dv.formula1.split("!")
    options = ws.parent[sheet.strip("'")]
    return [c.value for row in options[cells.replace("$", "")] for c in row]


def test_the_template_offers_chinese_drop_downs_from_the_schema_and_the_checklists(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    write_template(target)
    wb = load_workbook(target)
    assert wb[OPTIONS_SHEET].sheet_state == "hidden"
    main = wb["案卷"]
    columns = headers(main)
    assert drop_down(main, columns["档案层级"]) == ["全国级", "省级", "市级", "区县级", "基层级"]
    assert drop_down(main, columns["性别"]) == ["男", "女"]
    assert drop_down(main, columns["案卷类别"]) == ["建档", "脱困", "注销"]
    assert "因子女就学" in drop_down(main, columns["困难类别"])
    assert drop_down(main, columns["申请方式"]) == ["本人书面申请", "帮扶联系人提出退档建议"]
    items = wb["附件"]
    offered = drop_down(items, headers(items)["清单项"])
    assert offered[0] == "第1项 身份证复印件" and "第11项 困难职工解困脱困申请表" in offered
    assert sum(len(w) + 1 for w in offered) > 255  # Excel's limit for a list typed into the validation
    every = {i.id for kind in ("filing", "exit", "cancellation") for i in kind_spec(kind).items}
    assert set(item_names().values()) == every and all(item_names()[w] in every for w in offered)
    texts = [str(c.value) for ws in wb for row in ws.iter_rows() for c in row if c.value is not None]
    assert not any("schemas/" in t or "id_card_copy" in t for t in texts)  # nothing a clerk does not have


def test_chinese_item_names_import_as_codes_and_the_codes_still_do(tmp_path: Path) -> None:
    cases = families(2)
    cases[0]["attachments"] = [{"item": "id_card_copy", "path": "scans/01.jpg"}]
    cases[1]["attachments"] = [{"item": "hukou_copy", "path": "scans/02.jpg"}]
    target = book(tmp_path, cases)
    wb = load_workbook(target)
    wb["附件"].cell(row=FIRST_DATA_ROW, column=2).value = "第1项 身份证复印件"
    wb.save(target)
    found = preview(target, None)
    assert [f.case["attachments"][0]["item"] for f in found.families] == ["id_card_copy", "hukou_copy"]
    wb["附件"].cell(row=FIRST_DATA_ROW, column=2).value = "身份证"
    wb.save(target)
    [bad, _] = preview(target, None).families
    assert bad.problems == ["表“附件”第 3 行【清单项】:“身份证”不是清单中的材料。请从下拉列表中选择(如“第1项 身份证复印件”)。"]


# -- the desk ------------------------------------------------------------------------------------------------------

@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    outbox = tmp_path / "outbox"
    state = outbox / ".kunnan"
    return TestClient(create_app(Desk(outbox, state, Users(state / "nobody"), local_user="测试员")),
                      base_url="http://127.0.0.1")


def csrf(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/workbooks").text).group(1)


def upload(client: TestClient, path: Path, name: str = "各户.xlsx", token: str | None = None) -> Any:
    return client.post("/workbooks", data={"csrf": csrf(client) if token is None else token}, follow_redirects=False,
                       files=[("book", (name, path.read_bytes(), "application/octet-stream"))])


def rows(html: str) -> dict[str, str]:
    """archive number → its preview row's state."""
    return {no: state for state, no in re.findall(r'<tr class="(\w+)" data-archive-no="([^"]+)"', html)}


def audit(client: TestClient) -> list[dict[str, Any]]:
    path = client.app.state.desk.state / AUDIT_FILE
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_upload_preview_confirm_reimport_and_a_change(client: TestClient, tmp_path: Path) -> None:
    outbox = client.app.state.desk.outbox
    cases = families(3)
    cases[2]["filing_date"] = "2019年13月1日"
    first = book(tmp_path, cases)
    answer = upload(client, first)
    assert answer.status_code == 303
    page = client.get(answer.headers["location"]).text
    assert rows(page) == {"CD510108-2026-0001": "ready", "CD510108-2026-0002": "ready", "CD510108-2026-0003": "problem"}
    assert "表“案卷”第 5 行【建档日期】:“2019年13月1日”不是有效日期" in page
    assert "共 3 户" in page and "2 户可以导入" in page and "1 户有问题" in page
    assert "/tmp" not in page and str(tmp_path) not in page and "kunnan-docs" not in page
    [pending] = list((client.app.state.desk.state / "workbooks").iterdir())
    assert (pending / "book.xlsx").read_bytes() == first.read_bytes()  # kept until confirmed or cancelled

    confirm = answer.headers["location"] + "/confirm"
    done = client.post(confirm, data={"csrf": csrf(client), "cases": ["CD510108-2026-0001", "CD510108-2026-0002",
                                                                      "CD510108-2026-0003"]})
    assert done.status_code == 200 and "导入 2 户" in done.text
    assert (outbox / "CD510108-2026-0001" / INPUT_DIR / "case.json").exists()
    assert not (outbox / "CD510108-2026-0003").exists() and not pending.exists()
    ledger = Ledger(client.app.state.desk.state / LEDGER, read_only=True)
    try:
        recorded = [ledger.row(i) for i in (1, 2, 3)]
        assert [(r.source, r.archive_no) for r in recorded if r] == [("工作台", "CD510108-2026-0001"),
                                                                  ("工作台", "CD510108-2026-0002")]
    finally:
        ledger.close()
    lines = audit(client)
    assert [line["action"] for line in lines] == ["上传Excel工作簿", "导入Excel", "导入Excel", "确认导入Excel"]
    assert lines[0]["file"] == "各户.xlsx" and lines[0]["families"] == 3 and lines[0]["user"] == "测试员"
    assert lines[-1]["published"] == 2 and lines[-1]["archive_nos"] == ["CD510108-2026-0001", "CD510108-2026-0002"]

    # the same workbook again: nothing to do; then one phone changed: only that family, as a change, unticked
    again = client.get(upload(client, first).headers["location"]).text
    assert rows(again)["CD510108-2026-0001"] == rows(again)["CD510108-2026-0002"] == "unchanged"
    assert 'name="cases"' not in again
    cases[1]["worker"]["phone"] = "13908005678"
    other_id = "51010819720514101" + check_digit("51010819720514101")
    cases[0]["worker"]["id_number"] = other_id
    second = book(tmp_path, cases, "second.xlsx")
    location = upload(client, second).headers["location"]
    page = client.get(location).text
    assert rows(page)["CD510108-2026-0002"] == "changed" and "联系电话" in page and "将生成新版本" in page
    assert re.search(r'value="CD510108-2026-0002" >', page)  # a change is not ticked for the clerk
    assert rows(page)["CD510108-2026-0001"] == "problem" and "工作台该案卷页点“更正”" in page  # as the inbox says
    assert other_id not in page  # the new ID number is masked in the message
    done = client.post(location + "/confirm", data={"csrf": csrf(client), "cases": ["CD510108-2026-0002"]})
    assert "导入 1 户" in done.text
    assert json.loads((outbox / "CD510108-2026-0002" / INPUT_DIR / "case.json").read_text())["worker"]["phone"] == \
        "13908005678"
    assert any((outbox / HISTORY).glob("CD510108-2026-0002*"))
    assert audit(client)[-2]["action"] == "导入Excel" and "联系电话" in "".join(audit(client)[-2]["fields"])


def test_cancel_removes_the_workbook_and_nothing_is_imported(client: TestClient, tmp_path: Path) -> None:
    location = upload(client, book(tmp_path, families(1))).headers["location"]
    assert client.post(location + "/cancel", data={"csrf": csrf(client)}, follow_redirects=False).status_code == 303
    assert client.get(location).status_code == 404
    assert not list((client.app.state.desk.state / "workbooks").iterdir())
    assert not (client.app.state.desk.outbox / "CD510108-2026-0001").exists()
    assert audit(client)[-1]["action"] == "取消导入Excel"


@pytest.mark.parametrize("content, said", [(b"", "空文件"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "97-2003"),
                                           (b"%PDF-1.7 not a workbook", "不是 Excel 工作簿")])
def test_a_file_that_is_no_workbook_is_refused_in_words(client: TestClient, tmp_path: Path, content: bytes,
                                                       said: str) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(content)
    answer = upload(client, path, "各户.xlsx")
    assert answer.status_code == 400 and said in answer.text and "各户.xlsx" in answer.text
    assert str(tmp_path) not in answer.text and "template-xlsx" not in answer.text
    assert not list((client.app.state.desk.state / "workbooks").iterdir())


def test_every_post_needs_the_csrf_token(client: TestClient, tmp_path: Path) -> None:
    path = book(tmp_path, families(1))
    location = upload(client, path).headers["location"]
    before = audit(client)
    for token in ("", "forged"):
        assert upload(client, path, token=token).status_code == 403
        for action in ("confirm", "cancel"):
            answer = client.post(f"{location}/{action}", data={"csrf": token, "cases": "CD510108-2026-0001"})
            assert answer.status_code == 403 and "安全校验未通过" in answer.text
    assert not (client.app.state.desk.outbox / "CD510108-2026-0001").exists()
    assert len(list((client.app.state.desk.state / "workbooks").iterdir())) == 1
    assert {line["action"] for line in audit(client)[len(before):]} == {"安全校验未通过"}


def test_a_published_familys_scans_stay_and_only_a_changed_row_is_a_change(tmp_path: Path) -> None:
    """The filing example published with its scans; its row typed without them (scans come to the desk by upload)."""
    from kunnan_docs.cli import main
    outbox = tmp_path / "outbox"
    assert main(["build", str(FILING_EXAMPLE / "case.json"), "-o", str(outbox)]) == 0
    published = json.loads((FILING_EXAMPLE / "case.json").read_text(encoding="utf-8"))
    row = copy.deepcopy(published) | {"attachments": []}
    [same] = preview(book(tmp_path, [row]), outbox, scans_later=False).families
    assert same.state is RowState.UNCHANGED, same.problems
    row["worker"]["phone"] = "13908005678"
    [changed] = preview(book(tmp_path, [row], "second.xlsx"), outbox, scans_later=False).families
    assert changed.state is RowState.CHANGED and changed.changes == ["职工本人/联系电话"]
    assert changed.case["attachments"] == published["attachments"]  # kept, and submitted with the package's scans
    assert changed.folder == outbox / "CD510108-2019-0037" / INPUT_DIR


def test_a_workbook_left_a_day_expires_and_one_too_big_is_not_kept(client: TestClient, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = book(tmp_path, families(1))
    location = upload(client, path).headers["location"]
    meta = client.app.state.desk.state / "workbooks" / location.rsplit("/", 1)[1] / "upload.json"
    data = json.loads(meta.read_text(encoding="utf-8"))
    meta.write_text(json.dumps(data | {"uploaded": "2026-01-01T08:00:00"}), encoding="utf-8")
    assert "没有等待确认的工作簿" in client.get("/workbooks").text
    assert client.get(location).status_code == 404 and audit(client)[-1]["action"] == "Excel导入预览过期"
    monkeypatch.setattr(workbooks, "MAX_BOOK", path.stat().st_size - 1)
    answer = upload(client, path)
    assert answer.status_code == 400 and "超过" in answer.text
    assert not list((client.app.state.desk.state / "workbooks").iterdir())


def test_import_xlsx_on_the_command_line_skips_what_is_published_unchanged(tmp_path: Path, capsys) -> None:
    from kunnan_docs.cli import main
    outbox = tmp_path / "outbox"
    assert main(["build", str(FILING_EXAMPLE / "case.json"), "-o", str(outbox)]) == 0
    row = json.loads((FILING_EXAMPLE / "case.json").read_text(encoding="utf-8")) | {"attachments": []}
    new = families(1)
    capsys.readouterr()
    assert main(["import-xlsx", str(book(tmp_path, [row, *new])), "-o", str(tmp_path / "out"),
                 "--outbox", str(outbox)]) == 0
    said = capsys.readouterr().out
    assert "与已成卷的相同,未生成 1 户:CD510108-2019-0037" in said and "导入 1 份案卷" in said
    assert not (tmp_path / "out" / "CD510108-2019-0037").exists() and (tmp_path / "out" / new[0]["archive_no"]).exists()
