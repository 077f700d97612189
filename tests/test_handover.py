"""Handovers with a memory, a register an archivist accepts, and verify that a damaged package or a hostile
zip cannot crash: the handover log, the desk's 移交 page, the register read back with positions, truncated PDFs,
zip bombs and traversal zips refused before anything is extracted."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import re
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from openpyxl import load_workbook
from starlette.testclient import TestClient

from kunnan_docs.cli import main
from kunnan_docs.errors import ExitCode
from kunnan_docs.package import verify
from kunnan_docs.package.layout import MANIFEST
from kunnan_docs.package.outbox import published
from kunnan_docs.package.verify import ProblemKind, verify_path
from kunnan_docs.staff.handover import hand_over, register_pdf
from kunnan_docs.staff.handover_log import Handed, HandoverRecord, Standing, log_path, past, record, standings
from kunnan_docs.web.app import create_app

from .conftest import EXIT_EXAMPLE, FILING_EXAMPLE
from .test_web import csrf, desk_for

JINJIANG = "成都市锦江区总工会"
EXIT_NO = "CD510104-2018-0112"
SECOND_NO = "CD510104-2019-0300"  # a second family of the district, its form printed but not yet signed
FORM = "documents/附件4-脱困申请表.pdf"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The exit example and a 待签章 filing of the same district (another family), and one of another district."""
    root = tmp_path_factory.mktemp("handover")
    second = root / "second"
    shutil.copytree(FILING_EXAMPLE, second)
    data = json.loads((second / "case.json").read_text(encoding="utf-8"))
    data.update(archive_no=SECOND_NO, district=JINJIANG)
    data["worker"]["id_number"] = "510104197001010036"
    data["attachments"] = [a for a in data["attachments"] if not a.get("signed")]
    (second / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = root / "outbox"
    cases = [str(EXIT_EXAMPLE / "case.json"), str(FILING_EXAMPLE / "case.json"), str(second / "case.json")]
    assert main(["build", *cases, "-o", str(out)]) == ExitCode.AWAITING_SIGNATURE
    return out


@pytest.fixture
def outbox(built: Path, tmp_path: Path) -> Path:
    """A copy of its own for each test: handovers and corrections change the outbox."""
    return Path(shutil.copytree(built, tmp_path / "outbox"))


def handover(outbox: Path, target: Path, *extra: str) -> int:
    return main(["handover", "--outbox", str(outbox), "--district", JINJIANG, "--date", "2019-11-01",
                 "--allow-unsigned", "--by", "张丽", *extra, "-o", str(target)])


def correct(outbox: Path, tmp_path: Path) -> None:
    """A change after the handover (not a 更正): an archive check recorded late, the package rebuilt (第2版)."""
    folder = Path(shutil.copytree(EXIT_EXAMPLE, tmp_path / "corrected"))
    data = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    data["archive_checks"].append({"date": "2020-02-14", "checker": "张涛"})
    (folder / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert main(["build", str(folder / "case.json"), "-o", str(outbox)]) == ExitCode.OK


def pdf_texts(data: bytes | Path) -> list[str]:
    doc = pdfium.PdfDocument(data)
    return [doc[i].get_textpage().get_text_range().replace("\r", "").replace("\n", "") for i in range(len(doc))]


# -- the handover log ------------------------------------------------------------------------------------

def test_handover_twice_in_a_row_offers_nothing_new_the_second_time(outbox, tmp_path, capsys) -> None:
    assert handover(outbox, tmp_path / "h1") == ExitCode.OK
    assert sorted(p.name for p in (tmp_path / "h1" / "案卷").iterdir()) == [EXIT_NO, SECOND_NO]
    [first] = past(outbox)
    assert (first.date, first.district, first.receiver, first.by) == (date(2019, 11, 1), JINJIANG, JINJIANG, "张丽")
    assert first.folder == str((tmp_path / "h1").resolve()) and first.zip.endswith("h1.zip")
    digest = hashlib.sha256((outbox / EXIT_NO / MANIFEST).read_bytes()).hexdigest()
    assert first.holds(EXIT_NO) == Handed(EXIT_NO, 1, digest)
    assert first.holds(EXIT_NO.lower() + " ") == first.holds(EXIT_NO)  # archive numbers compared trimmed, case-folded
    capsys.readouterr()

    assert handover(outbox, tmp_path / "h2") == ExitCode.OK
    assert "2 卷都已移交,之后也没有更正,这次没有要移交的" in capsys.readouterr().out
    assert not (tmp_path / "h2").exists() and not (tmp_path / "h2.zip").exists() and len(past(outbox)) == 1

    assert handover(outbox, tmp_path / "h3", "--all") == ExitCode.OK  # everything, on request
    assert sorted(p.name for p in (tmp_path / "h3" / "案卷").iterdir()) == [EXIT_NO, SECOND_NO]
    assert len(past(outbox)) == 2


def test_register_counts_content_pages_as_the_cover_does_and_names_unsigned_forms_by_annex(outbox, tmp_path) -> None:
    assert handover(outbox, tmp_path / "h") == ExitCode.OK
    report = json.loads((outbox / EXIT_NO / "report.json").read_text(encoding="utf-8"))
    cover = pdf_texts(outbox / EXIT_NO / f"{EXIT_NO}.pdf")[0]
    content = report["pages"]["content"]
    assert content < report["pages"]["total"] and re.search(r"共\s*\d+\s*件\s*(\d+)\s*页", cover).group(1) == str(content)
    rows = {r[1]: r for r in ([c.value for c in row] for row in load_workbook(tmp_path / "h" / "移交清单.xlsx").active.iter_rows())}
    assert rows[EXIT_NO][4] == content and rows[EXIT_NO][5:] == ["是", None]
    assert rows[SECOND_NO][5:] == ["否（待签章）", "待签章：附件3"]  # the form by its annex, not its whole title
    register = "".join(pdf_texts(tmp_path / "h" / "移交清单.pdf"))
    assert "待签章：附件3" in register and "入户调查表" not in register


def test_a_package_corrected_after_its_handover_is_offered_again_and_flagged(outbox, tmp_path, capsys) -> None:
    assert handover(outbox, tmp_path / "h1") == ExitCode.OK
    correct(outbox, tmp_path)
    found = {o.package.archive_no: o for o in standings(published(outbox), past(outbox))}
    changed = found[EXIT_NO]
    assert changed.standing is Standing.CHANGED and found[SECOND_NO].standing is Standing.HANDED_OVER
    assert changed.text == "移交后有变动，需重新移交（前次2019年11月1日移交第1版）"
    capsys.readouterr()
    assert main(["status", "--outbox", str(outbox)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "移交后有变动，需重新移交:1 卷" in out and f"    {EXIT_NO}  {JINJIANG}  移交后有变动" in out

    assert handover(outbox, tmp_path / "h2") == ExitCode.OK
    out = capsys.readouterr().out
    assert f"移交  {EXIT_NO}" in out and "移交后有变动，需重新移交（前次2019年11月1日移交第1版）" in out
    assert "另有 1 卷已移交且之后没有更正" in out and SECOND_NO not in out.split("另有")[0]
    assert [p.name for p in (tmp_path / "h2" / "案卷").iterdir()] == [EXIT_NO]
    [row] = [r for r in load_workbook(tmp_path / "h2" / "移交清单.xlsx").active.iter_rows(values_only=True)
             if r[1] == EXIT_NO]
    assert row[6] == "变动后重新移交，前次2019年11月1日移交第1版"
    assert past(outbox)[-1].holds(EXIT_NO).version == 2
    assert main(["status", "--outbox", str(outbox)]) == ExitCode.OK
    assert "移交后有变动，需重新移交:0 卷" in capsys.readouterr().out


def _append(path: str, n: int) -> None:
    for i in range(n):
        record(Path(path), HandoverRecord(date(2019, 11, 1), JINJIANG, JINJIANG, f"p{i}", "x", "x.zip",
                                          (Handed(EXIT_NO, 1, "0" * 64),)))


def test_the_log_skips_a_torn_line_and_concurrent_writers_keep_every_line_whole(tmp_path) -> None:
    _append(str(tmp_path), 1)
    log = log_path(tmp_path)
    whole = log.read_text(encoding="utf-8")
    log.write_text(whole + whole[:40], encoding="utf-8")  # a crash in the middle of the next write
    assert len(past(tmp_path)) == 1
    workers = [multiprocessing.get_context("spawn").Process(target=_append, args=(str(tmp_path), 30)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    assert len(past(tmp_path)) == 61 and len(log.read_text(encoding="utf-8").splitlines()) == 62


def test_a_handover_that_cannot_be_recorded_is_not_made(outbox, tmp_path) -> None:
    log_path(outbox).mkdir(parents=True)  # the record cannot be written
    offers = standings([p for p in published(outbox) if p.archive_no == EXIT_NO], [])
    with pytest.raises(OSError):
        hand_over(outbox, offers, JINJIANG, tmp_path / "h", date(2019, 11, 1))
    assert not (tmp_path / "h").exists() and not (tmp_path / "h.zip").exists()
    log_path(outbox).rmdir()
    assert past(outbox) == [] and all(o.offered for o in standings(published(outbox), past(outbox)))


# -- the desk's 移交 page --------------------------------------------------------------------------------

def _row(page: str, archive_no: str) -> str:
    return re.search(rf'<tr[^>]*data-archive-no="{archive_no}">.*?</tr>', page, re.S).group(0)


def test_desk_offers_new_packages_unticks_unsigned_ones_and_lists_past_handovers(outbox, tmp_path) -> None:
    client = TestClient(create_app(desk_for(outbox)), base_url="http://127.0.0.1")
    page = client.get("/handover", params={"district": JINJIANG}).text
    assert "checked" in _row(page, EXIT_NO).split("</td>")[0] and "未移交" in _row(page, EXIT_NO)
    assert "checked" not in _row(page, SECOND_NO).split("</td>")[0]  # 待签章: unticked by default
    assert "kunnan-docs" not in page and "--" not in page.split("<main>")[1]  # no command or flag for a clerk

    # the clerk ticks the 待签章 one too: it goes, marked in the register
    done = client.post("/handover", data={"district": JINJIANG, "cases": [EXIT_NO, SECOND_NO], "csrf": csrf(client)})
    assert done.status_code == 200 and "已生成移交:2 卷" in done.text and "kunnan-docs" not in done.text
    xlsx = re.search(r'href="(/files/[^"]+)" id="dl-register-xlsx"', done.text).group(1)
    rows = {r[1]: r for r in load_workbook(io.BytesIO(client.get(xlsx).content)).active.iter_rows(values_only=True)}
    assert rows[SECOND_NO][5] == "否（待签章）"
    assert past(outbox)[0].by == "测试员" and past(outbox)[0].folder.startswith("_移交/")

    page = client.get("/handover", params={"district": JINJIANG}).text  # nothing new: nothing offered
    assert 'id="nothing-new"' in page and "handover-list" not in page
    listed = client.get("/handover", params={"district": JINJIANG, "all": "1"}).text
    for archive_no in (EXIT_NO, SECOND_NO):
        assert "已移交（" in _row(listed, archive_no) and "checked" not in _row(listed, archive_no).split("</td>")[0]

    # the past handover, downloaded again
    history = page.split('id="past-handovers"')[1]
    assert "测试员" in history and f"{EXIT_NO}(第1版)" in history
    zipped = client.get(re.search(r'href="(/files/[^"]+)" class="past-zip"', history).group(1))
    (tmp_path / "again.zip").write_bytes(zipped.content)
    assert verify_path(tmp_path / "again.zip") == []
    pdf = client.get(re.search(r'href="(/files/[^"?]+)[^"]*" class="past-pdf"', history).group(1))
    assert "困难职工档案移交清单" in pdf_texts(pdf.content)[0]

    correct(outbox, tmp_path)  # corrected since: offered again, flagged
    page = client.get("/handover", params={"district": JINJIANG}).text
    assert "移交后有变动，需重新移交" in _row(page, EXIT_NO) and SECOND_NO not in page.split('id="past-handovers"')[0]


def test_a_truncated_pdf_is_one_marked_row_and_verify_reports_it(outbox, tmp_path, capsys) -> None:
    form = outbox / EXIT_NO / FORM
    form.write_bytes(form.read_bytes()[: form.stat().st_size // 2])
    client = TestClient(create_app(desk_for(outbox)), base_url="http://127.0.0.1")
    response = client.get("/handover", params={"district": JINJIANG})
    assert response.status_code == 200
    row = _row(response.text, EXIT_NO)
    assert "disabled" in row and "未通过" in row and "已损坏或不完整" in row
    assert "请重新成卷后再移交" in row and "请要求移交方" not in row  # the sender's advice, not the receiver's
    assert "通过" in _row(response.text, SECOND_NO)  # the rest of the district is still there
    capsys.readouterr()
    assert main(["verify", str(outbox / EXIT_NO), "--json"]) == ExitCode.VERIFY_FAILED
    [result] = json.loads(capsys.readouterr().out)
    assert {"kind": "bad_pdf", "file": FORM} in [{k: p[k] for k in ("kind", "file")} for p in result["problems"]]

    pdf = outbox / EXIT_NO / f"{EXIT_NO}.pdf"  # the package PDF itself, cut short in transit
    pdf.write_bytes(pdf.read_bytes()[:-2000])
    assert main(["verify", str(outbox / EXIT_NO)]) == ExitCode.VERIFY_FAILED
    assert f"PDF 文件 {EXIT_NO}.pdf 已损坏或不完整" in capsys.readouterr().out


# -- zips refused before extraction ----------------------------------------------------------------------

def _zip(path: Path, entries: list[tuple[str, bytes, int, int, int, int]], offsets: list[int] | None = None) -> None:
    """A zip written byte by byte, as a hostile sender would: (name, data as stored, crc, size, method, unix
    mode) per entry; `offsets` makes central entries point at another entry's local header."""
    body, central, starts = b"", b"", []
    for name, data, crc, size, method, _ in entries:
        starts.append(len(body))
        encoded = name.encode("utf-8")
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x800, method, 0, 0x21, crc, len(data), size,
                            len(encoded), 0) + encoded + data
    for i, (name, data, crc, size, method, mode) in enumerate(entries):
        encoded = name.encode("utf-8")
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x314, 20, 0x800, method, 0, 0x21, crc, len(data),
                               size, len(encoded), 0, 0, 0, 0, mode << 16, (offsets or starts)[i]) + encoded
    path.write_bytes(body + central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                                                  len(central), len(body), 0))


def _stored(name: str, data: bytes = b"x", mode: int = stat.S_IFREG | 0o644) -> tuple[str, bytes, int, int, int, int]:
    return name, data, zlib.crc32(data), len(data), zipfile.ZIP_STORED, mode


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """Where verify would extract: it must stay empty for a zip that is refused."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_2_gb_entry_in_a_2_mb_zip_is_refused_before_extraction(tmp_path, scratch, capsys) -> None:
    chunk = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)  # the same bytes for every further MiB
    data = block * 2048 + deflate.flush()
    crc = 0
    for _ in range(2048):
        crc = zlib.crc32(chunk, crc)
    bomb = tmp_path / "移交.zip"
    _zip(bomb, [_stored("移交/handover.json", b"{}"),
                ("移交/案卷/X/X.pdf", data, crc, 2048 << 20, zipfile.ZIP_DEFLATED, stat.S_IFREG | 0o644)])
    assert bomb.stat().st_size < 3 << 20
    assert [(p.kind, "2.0 GB" in p.message) for p in verify_path(bomb)] == [(ProblemKind.ZIP_BOMB, True)]
    assert list(scratch.iterdir()) == []
    assert main(["verify", str(bomb), "--json"]) == ExitCode.VERIFY_FAILED
    assert json.loads(capsys.readouterr().out)[0]["problems"][0]["kind"] == "zip_bomb"


def test_overlapping_entries_and_too_many_entries_are_refused_before_extraction(tmp_path, scratch, monkeypatch) -> None:
    shared = tmp_path / "shared.zip"  # many names, one stretch of bytes: the overlapping zip bomb
    entries = [_stored("h/handover.json", b"{}"), *(_stored(f"h/{i}.pdf", bytes(4096)) for i in range(10))]
    _zip(shared, entries, offsets=[0] * len(entries))
    assert [p.kind for p in verify_path(shared)] == [ProblemKind.ZIP_BOMB]
    many = tmp_path / "many.zip"
    _zip(many, [_stored(f"h/{i}.txt") for i in range(6)])
    monkeypatch.setattr(verify, "MAX_ENTRIES", 5)
    assert [p.kind for p in verify_path(many)] == [ProblemKind.ZIP_BOMB]
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize(("names", "kind"), [
    (["h/../../evil.txt"], ProblemKind.ZIP_NAME),
    (["/etc/evil"], ProblemKind.ZIP_NAME),
    (["h\\..\\..\\evil"], ProblemKind.ZIP_NAME),
    (["C:/evil"], ProblemKind.ZIP_NAME),
    (["h/a\x1b[2J\nforged"], ProblemKind.ZIP_NAME),
    (["h/Report.txt", "h/report.txt"], ProblemKind.ZIP_NAME),  # one file on Windows
    (["h/a", "h/a/b"], ProblemKind.ZIP_NAME),  # a file and a folder of one name
])
def test_names_reaching_out_or_colliding_are_refused_before_extraction(tmp_path, scratch, names, kind) -> None:
    target = tmp_path / "bad.zip"
    _zip(target, [_stored("h/handover.json", b"{}"), *(_stored(n) for n in names)])
    problems = verify_path(target)
    assert [p.kind for p in problems] == [kind] and "拒绝解压" in problems[0].message
    assert not any(c in problems[0].message for c in "\x1b\n")  # the name is shown, never its control characters
    assert list(scratch.iterdir()) == [] and not (tmp_path / "evil.txt").exists()


def test_a_link_in_a_zip_is_refused_before_extraction(tmp_path, scratch) -> None:
    target = tmp_path / "link.zip"
    _zip(target, [_stored("h/handover.json", b"{}"), _stored("h/passwd", b"/etc/passwd", stat.S_IFLNK | 0o777)])
    assert [p.kind for p in verify_path(target)] == [ProblemKind.ZIP_LINK]
    assert list(scratch.iterdir()) == []


def test_a_zip_holding_a_truncated_pdf_fails_with_a_problem(outbox, tmp_path, capsys) -> None:
    assert handover(outbox, tmp_path / "h") == ExitCode.OK
    cut = tmp_path / "cut.zip"
    with zipfile.ZipFile(tmp_path / "h.zip") as src, zipfile.ZipFile(cut, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data[: len(data) // 2] if info.filename.endswith(f"{EXIT_NO}.pdf") else data)
    capsys.readouterr()
    assert main(["verify", str(cut)]) == ExitCode.VERIFY_FAILED
    assert f"PDF 文件 {EXIT_NO}.pdf 已损坏或不完整" in capsys.readouterr().out


# -- the register read back with positions ---------------------------------------------------------------

def _boxes(page: pdfium.PdfPage, text: str) -> list[tuple[float, float]]:
    """Where `text` starts on the page (left, top), each time it occurs."""
    textpage = page.get_textpage()
    search = textpage.search(text)
    found = []
    while (hit := search.get_next()) is not None:
        left, _, _, top = textpage.get_charbox(hit[0], loose=True)
        found.append((left, top))
    return found


@pytest.mark.parametrize("count", [1, 20, 22, 24, 26, 45])
def test_register_keeps_the_end_together_and_repeats_the_header_on_every_page(count) -> None:
    rows = [[i, f"CD510104-2018-{i:04d}", "王淑芬", "脱困", 18, "否（待签章）" if i % 7 == 0 else "是",
             "待签章：附件3、附件4；更正后重新移交，前次2019年11月1日移交第1版" if i % 7 == 0 else ""]
            for i in range(1, count + 1)]
    doc = pdfium.PdfDocument(register_pdf(rows, "锦江区书院街街道总工会", JINJIANG, date(2019, 11, 1), 18 * count))
    pages = [doc[i] for i in range(len(doc))]
    for n, page in enumerate(pages, start=1):
        [(_, header)] = _boxes(page, "档案号")
        numbers = [top for _, top in _boxes(page, "CD510104-2018-")]
        assert numbers and all(top < header for top in numbers)  # the header row above every row of the page
        assert len(_boxes(page, f"第{n}页")) == len(_boxes(page, f"共{len(pages)}页")) == 1
    last = [i for i, page in enumerate(pages) if _boxes(page, f"CD510104-2018-{count:04d}")]
    ends = [i for i, page in enumerate(pages) if _boxes(page, "接收日期")]
    assert last == ends == [len(pages) - 1]  # 接收日期 is on the page of the table's last row
    end = pages[-1]
    [(giver_x, giver_y)] = _boxes(end, "移交单位（盖章）")
    [(taker_x, taker_y)] = _boxes(end, "接收单位（盖章）")
    [(signer_x, signer_y)] = _boxes(end, "移交人（签字）")
    [(receiver_x, receiver_y)] = _boxes(end, "接收人（签字）")
    [(given_x, given_y)] = _boxes(end, "移交日期：2019年11月1日")
    [(taken_x, taken_y)] = _boxes(end, "接收日期")
    assert giver_y == taker_y and signer_y == receiver_y and given_y == taken_y  # the two sides side by side
    assert giver_x == signer_x == given_x < taker_x == receiver_x == taken_x
    assert giver_y > signer_y > given_y  # seal, then signature, then the date beside it
