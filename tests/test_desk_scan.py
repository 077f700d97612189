"""扫描入卷, 待核对 and 已核对 at the desk, over HTTP (Starlette's test client) and as a library: real scanner-like files
(our printed Annex 3 signed and scanned, its code covered, a smudged sheet, a file that is no scan), filed by the very
scan-in of the command line; a review page assigned by hand to its form becomes the package's signed original (材料齐全),
the review folder emptied into 已处理; blank and discarded pages kept; a 请核对 note confirmed with who and when, no
longer open in `status`, the package's state untouched. Every POST refused without its CSRF token, every action in the
audit log."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from starlette.testclient import TestClient

from kunnan_docs.cli import main
from kunnan_docs.core.casefile import read_case
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.errors import ExitCode, UsageError
from kunnan_docs.forms.fill import forms_for
from kunnan_docs.forms.qr import form_key
from kunnan_docs.inbox.ledger import Ledger
from kunnan_docs.package.checked import JOURNAL, confirmations
from kunnan_docs.package.layout import INPUT_DIR, LEDGER, STATE_DIR, read_report
from kunnan_docs.package.signed import originals_for
from kunnan_docs.package.verify import verify_path
from kunnan_docs.scan.filing import PROCESSED, REVIEW, scan_in
from kunnan_docs.scan.review import RECORD, assign, discard, processed_area, set_blank, waiting_pages
from kunnan_docs.web.app import Desk, create_app
from kunnan_docs.web.security import AUDIT_FILE, Users

from .conftest import FILING_EXAMPLE
from .scanner_sim import flate_bomb_pdf
from .test_signed import make_signed

NO = "CD510108-2019-0037"
UNION = "成华区猛追湾街道总工会"
DPI = 200


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The filing example just printed: Annex 3 awaits its signed original."""
    root = tmp_path_factory.mktemp("scandesk")
    case = root / "case"
    shutil.copytree(FILING_EXAMPLE, case)
    data = json.loads((case / "case.json").read_text(encoding="utf-8"))
    data["attachments"] = [a for a in data["attachments"] if not a.get("signed")]
    (case / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert main(["build", str(case / "case.json"), "-o", str(root / "outbox")]) == ExitCode.AWAITING_SIGNATURE
    return root / "outbox"


@pytest.fixture
def outbox(printed: Path, tmp_path: Path) -> Path:
    shutil.copytree(printed, tmp_path / "outbox")
    return tmp_path / "outbox"


def annex3(outbox: Path, unsigned: frozenset[str] = frozenset(), covered: bool = False, no: str = NO
           ) -> list[Image.Image]:
    """Annex 3 as the package prints it, signed and sealed by hand (but `unsigned` areas) and scanned; `covered`:
    its QR code blotted out (a sticker, a tear), so that scan-in cannot tell where it belongs."""
    ms = make_signed()
    case = read_case(outbox / no / INPUT_DIR / "case.json")
    [form] = [f for f in forms_for(case) if form_key(f) == "annex3"]
    pages = ms.signed_scan(form, no, ms.sealing_union(form, str(case.data.get("union") or UNION)), unsigned)
    if covered:
        for page in pages:  # the code: 20 mm square, 20 mm from the right edge, 10 mm from the bottom
            mm = DPI / 25.4
            ImageDraw.Draw(page).rectangle((page.width - 48 * mm, page.height - 38 * mm, page.width - 12 * mm,
                                            page.height - 4 * mm), fill=200)
    return pages


def smudge() -> Image.Image:
    """A sheet with no code and some ink: not a blank back, so it goes to review."""
    page = Image.new("L", (int(8.27 * DPI), int(11.69 * DPI)), 235)
    page.paste(90, (300, 400, 900, 700))
    return page


def pdf(pages: list[Image.Image]) -> bytes:
    return make_signed().scanner_pdf(pages)


def signature_areas(outbox: Path) -> list[str]:
    ms = make_signed()
    [form] = [f for f in forms_for(read_case(outbox / NO / INPUT_DIR / "case.json")) if form_key(f) == "annex3"]
    return [b.name for b in ms.render_with_boxes(form, NO)[1] if b.name != ms.SEAL]


# -- the library --------------------------------------------------------------------------------------------------

def rebuild_with(outbox: Path, seen: list[Any]) -> Any:
    from kunnan_docs.pipeline import process_case

    def rebuild(case_files: list[Path]) -> list[str]:
        results = [process_case(f, outbox, WorkCalendar()) for f in case_files]
        seen.extend(results)
        return [f"已重新成卷 {r.archive_no}" for r in results]

    return rebuild


def test_a_review_page_assigned_by_hand_becomes_the_signed_original(outbox: Path, tmp_path: Path) -> None:
    scanner = tmp_path / "扫描件"
    scanner.mkdir()
    (scanner / "scan0001.pdf").write_bytes(pdf([*annex3(outbox, covered=True), smudge()]))
    seen: list[Any] = []
    report = scan_in([scanner / "scan0001.pdf"], outbox, WorkCalendar(), rebuild_with(outbox, seen))
    assert report.filed == [] and len(report.review) == 1 and seen == []
    pages = waiting_pages(scanner)
    assert [(p.folder, p.index, p.source, p.number) for p in pages] == [("scan0001", 1, "scan0001.pdf", 1),
                                                                       ("scan0001", 2, "scan0001.pdf", 2)]
    assert all("未能识别二维码" in p.reasons[0] for p in pages)

    with pytest.raises(UsageError, match="没有第2页"):  # Annex 3 of this family is one page
        assign(scanner, "scan0001", 1, outbox, WorkCalendar(), NO, "annex3", 2, "张三", rebuild_with(outbox, seen))
    with pytest.raises(UsageError, match="没有附件4"):
        assign(scanner, "scan0001", 1, outbox, WorkCalendar(), NO, "annex4", 1, "张三", rebuild_with(outbox, seen))
    with pytest.raises(UsageError, match="没有档案号 CD510108-2019-9999"):
        assign(scanner, "scan0001", 1, outbox, WorkCalendar(), "CD510108-2019-9999", "annex3", 1, "张三",
               rebuild_with(outbox, seen))
    assert seen == [] and originals_for(outbox, NO) == {}

    done = assign(scanner, "scan0001", 1, outbox, WorkCalendar(), NO, "annex3", 1, "张三", rebuild_with(outbox, seen))
    assert done.rebuilt == [NO] and not done.moved and [r.archive_no for r in seen] == [NO]
    original = originals_for(outbox, NO)["annex3"]
    assert original.source == "scan0001.pdf" and original.pages == [1]
    report_ = read_report(outbox / NO)
    assert report_.status == "complete" and report_.awaiting_signature == ()
    assert verify_path(outbox / NO) == []
    assert [p.index for p in waiting_pages(scanner)] == [2]

    with pytest.raises(UsageError, match="必须写明原因"):
        discard(scanner, "scan0001", 2, "  ", "张三")
    with pytest.raises(UsageError, match="已经处理过"):
        set_blank(scanner, "scan0001", 1, "张三")
    done = discard(scanner, "scan0001", 2, "不是本户材料", "张三")
    assert done.moved and waiting_pages(scanner) == []
    kept = processed_area(scanner) / "scan0001"
    assert not (scanner / REVIEW / "scan0001").exists() and (kept / "待核对页.pdf").is_file()  # never deleted
    record = json.loads((kept / RECORD).read_text(encoding="utf-8"))
    assert record["1"]["action"] == "assigned" and record["1"]["form_key"] == "annex3" and record["1"]["by"] == "张三"
    assert record["2"] == {**record["2"], "action": "discarded", "reason": "不是本户材料", "page": 2}
    assert (scanner / PROCESSED / "scan0001.pdf").is_file()


def test_a_file_that_is_no_scan_can_only_be_discarded(outbox: Path, tmp_path: Path) -> None:
    scanner = tmp_path / "扫描件"
    scanner.mkdir()
    (scanner / "scan0002.pdf").write_bytes(b"%PDF-1.4\n" + b"\x00" * 500)  # a truncated file
    scan_in([scanner / "scan0002.pdf"], outbox, WorkCalendar(), rebuild_with(outbox, []))
    [page] = waiting_pages(scanner)
    assert page.index == 0 and page.reasons[0]
    with pytest.raises(UsageError, match="不能标为空白页"):
        set_blank(scanner, page.folder, 0, "张三")
    with pytest.raises(UsageError, match="不能指定到案卷"):
        assign(scanner, page.folder, 0, outbox, WorkCalendar(), NO, "annex3", 1, "张三", rebuild_with(outbox, []))
    assert discard(scanner, page.folder, 0, "文件已损坏,已重新扫描", "张三").moved
    assert (processed_area(scanner) / page.folder / "scan0002.pdf").is_file()


# -- the desk -----------------------------------------------------------------------------------------------------

@pytest.fixture
def client(outbox: Path) -> TestClient:
    state = outbox / STATE_DIR
    return TestClient(create_app(Desk(outbox, state, Users(state / "nobody"), local_user="测试员")),
                      base_url="http://127.0.0.1")


def csrf(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/scan").text).group(1)


def audit(outbox: Path) -> list[dict[str, Any]]:
    path = outbox / STATE_DIR / AUDIT_FILE
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def post_scans(client: TestClient, files: list[tuple[str, bytes]]) -> Any:
    return client.post("/scan", data={"csrf": csrf(client)},
                       files=[("files", (name, data, "application/octet-stream")) for name, data in files])


def visible(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_a_stack_is_filed_and_what_it_could_not_file_waits_in_review(client: TestClient, outbox: Path) -> None:
    unsigned = signature_areas(outbox)[:1]
    response = post_scans(client, [("扫描 第1批.pdf", pdf([*annex3(outbox, frozenset(unsigned)), smudge()])),
                                   ("说明.txt", b"not a scan")])
    assert response.status_code == 400 and "说明.txt" in response.text and "不是 PDF、JPEG、PNG 或 TIFF" in response.text
    assert read_report(outbox / NO).status == "awaiting_signature"  # a refused upload files nothing

    response = post_scans(client, [("扫描 第1批.pdf", pdf([*annex3(outbox, frozenset(unsigned)), smudge()]))])
    assert response.status_code == 200
    filed = re.search(r'<table id="filed">.*?</table>', response.text, re.S).group(0)
    assert NO in filed and "附件3" in filed and "扫描 第1批.pdf 第1页" in filed
    assert "材料齐全" in re.search(r'<ul class="reasons" id="rebuilt">.*?</ul>', response.text, re.S).group(0)
    review = visible(re.search(r'<ul class="reasons" id="to-review">.*?</ul>', response.text, re.S).group(0))
    assert "扫描 第1批.pdf" in review and "第2页" in review and "未能识别二维码" in review
    assert "上传-" not in visible(response.text) and "/" not in review  # our names and no paths
    report = read_report(outbox / NO)
    assert report.status == "complete" and report.notes  # the unsigned area is a 请核对 note
    entry = [a for a in audit(outbox) if a["action"] == "扫描入卷"][-1]
    assert entry["user"] == "测试员" and entry["filed"] == [f"{NO} 附件3"] and entry["review"] == 1
    assert entry["rebuilt"] == [f"{NO} 材料齐全"]
    ledger = Ledger(outbox / STATE_DIR / LEDGER, read_only=True)
    try:
        assert [r.archive_no for r in ledger.newest(5, "complete")] == [NO]
    finally:
        ledger.close()

    page = client.get("/review")
    assert "扫描 第1批.pdf 第2页" in visible(page.text) and "上传-" not in visible(page.text)
    [src] = re.findall(r'<img src="(/review/[^"]+\.png)"', page.text)
    image = client.get(src)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    shown = Image.open(io.BytesIO(image.content))
    assert max(shown.size) <= 1000 and shown.height > shown.width
    assert client.get(src.replace("/1.png", "/9.png")).status_code == 404
    assert client.get("/review/..%2F..%2Fetc/1.png").status_code == 404

    folder = src.split("/")[2]
    response = client.post(f"/review/{folder}/1/blank", data={"csrf": csrf(client)})
    assert response.status_code == 200 and "已标为空白页" in response.text and "没有等待核对的页" in response.text
    assert [a["action"] for a in audit(outbox)][-1] == "待核对空白页"


def test_a_review_page_assigned_at_the_desk(client: TestClient, outbox: Path) -> None:
    post_scans(client, [("scan0001.pdf", pdf(annex3(outbox, covered=True)))])
    page = client.get("/review").text
    [action] = re.findall(r'action="(/review/[^"]+/assign)"', page)
    response = client.post(action, data={"csrf": csrf(client), "archive_no": NO, "form": "annex4", "form_page": "1"})
    assert response.status_code == 400 and "没有附件4" in response.text
    response = client.post(action, data={"csrf": csrf(client), "archive_no": NO, "form": "annex3", "form_page": "1"})
    assert response.status_code == 200 and f"已指定为 {NO} 附件3第1页" in response.text
    assert read_report(outbox / NO).status == "complete" and "没有等待核对的页" in response.text
    entry = [a for a in audit(outbox) if a["action"] == "待核对指定案卷"][-1]
    assert entry["rebuilt"] == [f"{NO} 材料齐全"] and entry["form"] == "annex3" and entry["user"] == "测试员"


def test_a_note_confirmed_at_the_desk(client: TestClient, outbox: Path) -> None:
    post_scans(client, [("scan0001.pdf", pdf(annex3(outbox, frozenset(signature_areas(outbox)[:1]))))])
    report = read_report(outbox / NO)
    assert report.status == "complete" and len(report.notes) == 1
    package = client.get(f"/packages/{NO}").text
    assert 'id="confirm-1"' in package
    response = client.post(f"/packages/{NO}/notes/1/confirm", data={"csrf": csrf(client)}, follow_redirects=False)
    assert response.status_code == 303
    package = client.get(f"/packages/{NO}").text
    assert 'id="confirm-1"' not in package and re.search(r"已核对:测试员 \d{4}-\d{2}-\d{2}", package)
    assert read_report(outbox / NO).status == "complete" and len(read_report(outbox / NO).notes) == 1  # unchanged
    [(key, checked)] = confirmations(outbox).items()
    assert key[0] == NO.casefold() and checked.by == "测试员"
    assert report.notes[0] not in (outbox / STATE_DIR / JOURNAL).read_text(encoding="utf-8")  # only its hash
    assert [a for a in audit(outbox) if a["action"] == "已核对"][-1]["archive_no"] == NO
    assert client.post(f"/packages/{NO}/notes/2/confirm", data={"csrf": csrf(client)}).status_code == 400


def test_status_counts_a_confirmed_note_apart(outbox: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kunnan_docs.package.checked import confirm

    scanner = tmp_path / "扫描件"
    scanner.mkdir()
    (scanner / "a.pdf").write_bytes(pdf(annex3(outbox, frozenset(signature_areas(outbox)[:1]))))
    scan_in([scanner / "a.pdf"], outbox, WorkCalendar(), rebuild_with(outbox, []))
    [note] = read_report(outbox / NO).notes
    capsys.readouterr()
    main(["status", "--outbox", str(outbox)])
    assert "请核对:1 处\n" in capsys.readouterr().out
    confirm(outbox, NO.lower(), note, "张三")  # archive numbers compared as the outbox compares them
    main(["status", "--outbox", str(outbox)])
    out = capsys.readouterr().out
    assert "请核对:0 处(另有 1 处已核对)" in out and note not in out


POSTS = ["/scan", "/review/scan0001/1/assign", "/review/scan0001/1/blank", "/review/scan0001/1/discard",
         f"/packages/{NO}/notes/1/confirm"]


@pytest.fixture(scope="module")
def signed(printed: Path) -> bytes:
    return pdf(annex3(printed))


@pytest.mark.parametrize("path", POSTS)
def test_every_new_post_needs_the_csrf_token(client: TestClient, outbox: Path, path: str, signed: bytes) -> None:
    before = (outbox / NO / "manifest-sha256.txt").read_bytes()
    for token in ({}, {"csrf": "forged"}):
        response = client.post(path, data={**token, "archive_no": NO, "form": "annex3", "form_page": "1",
                                           "reason": "重复"},
                               files=[("files", ("scan.pdf", signed, "application/pdf"))])
        assert response.status_code == 403 and "安全校验未通过" in response.text
    assert (outbox / NO / "manifest-sha256.txt").read_bytes() == before and originals_for(outbox, NO) == {}
    assert {a["action"] for a in audit(outbox)} == {"安全校验未通过"}
    assert not (outbox / STATE_DIR / JOURNAL).exists() and not (outbox / STATE_DIR / "扫描件").exists()


def test_a_bomb_in_review_is_shown_as_a_reason_never_decoded(client: TestClient, outbox: Path, tmp_path: Path) -> None:
    """A page past the scan limits goes to review; its image is refused from its dictionary, in Chinese."""
    bomb = flate_bomb_pdf(tmp_path / "bomb.pdf", 30000)
    response = post_scans(client, [("bomb.pdf", bomb.read_bytes())])
    assert "超出处理上限" in response.text
    [src] = re.findall(r'<img src="(/review/[^"]+\.png)"', client.get("/review").text)
    response = client.get(src)
    assert response.status_code == 404 and "无法显示" in response.text and "超出处理上限" in response.text


def test_a_file_a_stopped_desk_staged_is_filed_by_the_next_upload(client: TestClient, outbox: Path,
                                                                  signed: bytes) -> None:
    staged = outbox / STATE_DIR / "扫描件" / ".工作台"
    staged.mkdir(parents=True)
    (staged / "上传-000000000000.pdf").write_bytes(signed)  # uploaded, then the desk stopped before scan-in
    response = post_scans(client, [("other.pdf", pdf([smudge()]))])
    assert NO in re.search(r'<table id="filed">.*?</table>', response.text, re.S).group(0)
    assert read_report(outbox / NO).status == "complete" and not any(staged.iterdir())
    assert (outbox / STATE_DIR / "扫描件" / PROCESSED / "上传-000000000000.pdf").is_file()
