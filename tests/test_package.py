"""The archive package as the district receives it: read back page by page, then verified and tampered with."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
import zxingcpp

from kunnan_docs.cli import main
from kunnan_docs.errors import ExitCode
from kunnan_docs.forms import qr
from kunnan_docs.package import layout
from kunnan_docs.package.layout import (
    HISTORY,
    MANIFEST,
    MANIFEST_SM3,
    STAGING,
    manifests,
    notice_pdf,
    read_report,
    safe_name,
    write_manifests,
)
from kunnan_docs.package.publish import recover
from kunnan_docs.package.verify import VerifiedBefore, verify_folder, verify_folders

from .conftest import DELETE, EXIT_EXAMPLE, FILING_EXAMPLE, REFILED_EXAMPLE

EXIT_NO = "CD510104-2018-0112"


@pytest.fixture(scope="module")
def exit_package(tmp_path_factory) -> Path:
    outbox = tmp_path_factory.mktemp("outbox")
    assert main(["build", str(EXIT_EXAMPLE / "case.json"), "-o", str(outbox)]) == ExitCode.OK
    return outbox / EXIT_NO


def texts(pdf: Path) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    return [doc[i].get_textpage().get_text_range().replace("\r", "").replace("\n", "") for i in range(len(doc))]


def top_right_text(pdf: Path, index: int, zone_mm: float = 14) -> str:
    """Characters printed in the top-right corner of a page, where the archive page number belongs."""
    doc = pdfium.PdfDocument(pdf)
    page = doc[index]
    width, height = page.get_size()
    tp = page.get_textpage()
    zone = zone_mm * 72 / 25.4
    chars = [tp.get_text_range(i, 1) for i in range(tp.count_chars())
             if (box := tp.get_charbox(i))[3] > height - zone and box[0] > width - 3 * zone]
    return "".join(chars).strip()


def test_folder_holds_package_documents_report_summary_manifest(exit_package) -> None:
    names = sorted(p.relative_to(exit_package).as_posix() for p in exit_package.rglob("*") if p.is_file())
    assert f"{EXIT_NO}.pdf" in names and "report.json" in names and "报告.txt" in names and MANIFEST in names
    assert sum(n.startswith("documents/") and n.endswith(".docx") for n in names) == 6
    assert sum(n.startswith("documents/") and n.endswith(".pdf") for n in names) == 6
    manifest = (exit_package / MANIFEST).read_text(encoding="utf-8")
    assert "  input/case.json\n" in manifest and "  input/scans/01-身份证复印件.jpg\n" in manifest
    assert f"  {EXIT_NO}.pdf" in manifest


def test_archival_order_cover_contents_items_remarks(exit_package) -> None:
    pages = texts(exit_package / f"{EXIT_NO}.pdf")
    report = json.loads((exit_package / "report.json").read_text(encoding="utf-8"))
    assert "脱困困难职工档案" in pages[0] and "【材料齐全】" in pages[0] and "定期30年" in pages[0]
    assert "卷内文件目录" in pages[1] and "顺序号" in pages[1]
    assert "卷内备考表" in pages[-1] and "立卷人" in pages[-1] and "缺 0 项" in pages[-1]
    assert report["status"] == "complete" and report["pages"]["total"] == len(pages)
    assert [e["no"] for e in report["checklist"]] == list(range(1, 16))
    start = report["pages"]["content_start_index"]
    # item 7 follows items 1-6 (one page each): the signed survey form, a scan, known by its QR code
    image = pdfium.PdfDocument(exit_package / f"{EXIT_NO}.pdf")[start + 6].render(scale=150 / 72).to_pil()
    codes = [qr.parse(r.text) for r in zxingcpp.read_barcodes(image)]
    assert [(c.archive_no, c.form_key) for c in codes if c] == [(EXIT_NO, "annex3")]


def test_page_numbers_on_content_pages_only(exit_package) -> None:
    pdf = exit_package / f"{EXIT_NO}.pdf"
    report = json.loads((exit_package / "report.json").read_text(encoding="utf-8"))
    start, content = report["pages"]["content_start_index"], report["pages"]["content"]
    for n in range(1, content + 1):
        assert top_right_text(pdf, start + n - 1) == str(n)
    for unnumbered in (0, 1, report["pages"]["total"] - 1):
        assert not any(c.isdigit() for c in top_right_text(pdf, unnumbered))


def test_every_page_is_a4_and_a_scan_is_scaled_into_it_below_its_number(exit_package) -> None:
    start = json.loads((exit_package / "report.json").read_text(encoding="utf-8"))["pages"]["content_start_index"]
    with pikepdf.open(exit_package / f"{EXIT_NO}.pdf") as pdf:
        for page in pdf.pages:  # prints 1:1 on A4 paper
            assert [round(float(v), 1) for v in page.mediabox] == [0, 0, 595.3, 841.9]
            assert int(page.obj.get("/Rotate", 0)) == 0 and list(page.cropbox) == list(page.mediabox)
        scan_page = pdf.pages[start]  # item 1, the ID card copy: a 595×842 pt JPEG page
        assert len(scan_page.get_images()) == 1
        operators = pikepdf.parse_content_stream(scan_page)
        assert [str(op) for _, op in operators[:3]] == ["q", "q", "cm"]  # scaled by the drawing matrix alone
        a, b, c, d, _, f = (float(v) for v in operators[2][0])
        assert 0.9 < a == d < 1 and b == c == 0
        assert f + 842 * d <= 841.9 - 17 * 72 / 25.4  # the scan's top stays below the number's strip
    doc = pdfium.PdfDocument(exit_package / f"{EXIT_NO}.pdf")
    edge = 10 * 72 / 25.4
    for index in range(start, len(doc) - 1):  # page numbers stay 10 mm inside the paper edges
        tp = doc[index].get_textpage()
        width, height = doc[index].get_size()
        for i in range(tp.count_chars()):
            left, bottom, right, top = tp.get_charbox(i)
            assert left >= edge and bottom >= edge and right <= width - edge and top <= height - edge


def test_bookmarks_labels_and_metadata(exit_package) -> None:
    with pikepdf.open(exit_package / f"{EXIT_NO}.pdf") as pdf:
        with pdf.open_outline() as outline:
            titles = [item.title for item in outline.root]
        assert titles[0] == "案卷封面" and titles[1] == "卷内文件目录" and titles[-1] == "卷内备考表"
        assert titles[2].startswith("1. 身份证复印件") and any(t.startswith("15. 解困脱困回访记录单") for t in titles)
        labels = pdf.Root.PageLabels.Nums
        assert str(labels[1].P) == "封面" and str(labels[-1].P) == "备考表"
        info = pdf.docinfo
        assert str(info.Keywords) == EXIT_NO and str(info.Author) == "锦江区书院街街道总工会"
        assert "附件2" in str(info.Subject)
        assert "/Encrypt" not in pdf.trailer


def test_cover_qr_names_the_archive_number_and_the_cover(exit_package) -> None:
    doc = pdfium.PdfDocument(exit_package / f"{EXIT_NO}.pdf")
    [text] = [r.text for r in zxingcpp.read_barcodes(doc[0].render(scale=2).to_pil())]
    code = qr.parse(text)
    assert code and (code.archive_no, code.form_key, code.page, code.pages) == (EXIT_NO, "cover", 1, 1)


def test_scans_are_not_reencoded(exit_package) -> None:
    scan = (EXIT_EXAMPLE / "scans" / "01-身份证复印件.jpg").read_bytes()
    assert scan in (exit_package / f"{EXIT_NO}.pdf").read_bytes()


def test_same_inputs_give_byte_identical_folders(tmp_path) -> None:
    for out in ("a", "b"):
        assert main(["build", str(REFILED_EXAMPLE / "case.json"), "-o", str(tmp_path / out)]) == ExitCode.OK
    a, b = tmp_path / "a" / "CD510107-2024-0008", tmp_path / "b" / "CD510107-2024-0008"
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_missing_item_is_packaged_but_incomplete(case_copy, tmp_path, capsys) -> None:
    case_file = case_copy(FILING_EXAMPLE, {"/attachments/7": DELETE})  # the contact card (item 9)
    assert main(["build", str(case_file), "-o", str(tmp_path / "out")]) == ExitCode.INCOMPLETE
    folder = tmp_path / "out" / "CD510108-2019-0037"
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "incomplete"
    assert [e["no"] for e in report["checklist"] if e["status"] == "missing"] == [9]
    pages = texts(folder / "CD510108-2019-0037.pdf")
    assert "材料不全（缺第9项）" in pages[0].replace("(", "（").replace(")", "）")
    assert "缺：第9项 解困脱困联系卡" in pages[-1].replace(":", "：")
    assert "缺少" in (folder / "报告.txt").read_text(encoding="utf-8-sig")


def test_item_10_not_applicable_without_medical_or_school_hardship(case_copy, tmp_path) -> None:
    edits = {"/worker/hardship_categories": ["因低收入"], "/assistance": [],
             "/attachments/9": DELETE, "/attachments/8": DELETE}
    case_file = case_copy(FILING_EXAMPLE, edits)
    # the survey form now says other things: its signed scan is an outdated print, hence 待签章
    assert main(["build", str(case_file), "-o", str(tmp_path / "out")]) == ExitCode.AWAITING_SIGNATURE
    report = json.loads((tmp_path / "out" / "CD510108-2019-0037" / "report.json").read_text(encoding="utf-8"))
    assert report["checklist"][9]["status"] == "not_applicable"


def test_exit_in_follow_up(case_copy, tmp_path) -> None:
    case_file = case_copy(EXIT_EXAMPLE, {"/exit/return_visits/1": DELETE})
    assert main(["build", str(case_file), "-o", str(tmp_path / "out")]) == ExitCode.INCOMPLETE
    folder = tmp_path / "out" / EXIT_NO
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["status"] == "follow_up" and report["follow_up_complete"] is False
    assert "回访期中" in texts(folder / f"{EXIT_NO}.pdf")[0]


def test_broken_attachment_rejects_and_publishes_nothing(case_copy, tmp_path, capsys) -> None:
    case_file = case_copy(EXIT_EXAMPLE)
    scan = case_file.parent / "scans" / "05-建档公示.jpg"
    scan.write_bytes(scan.read_bytes()[:2000])
    assert main(["build", str(case_file), "-o", str(tmp_path / "out")]) == ExitCode.INVALID
    out = capsys.readouterr().out
    assert "scans/05-建档公示.jpg" in out and "不完整" in out and "Traceback" not in out
    assert not (tmp_path / "out" / EXIT_NO).exists()


def test_rebuild_keeps_the_previous_version(tmp_path) -> None:
    outbox = tmp_path / "out"
    for _ in range(2):  # the same inputs again: --force, else the build is skipped as up to date
        assert main(["build", str(FILING_EXAMPLE / "case.json"), "-o", str(outbox), "--force"]) == ExitCode.OK
    assert (outbox / "CD510108-2019-0037" / MANIFEST).exists()
    assert (outbox / HISTORY / "CD510108-2019-0037" / "第1版" / MANIFEST).exists()
    assert not any((outbox / STAGING).iterdir())


def test_recover_after_a_crash(tmp_path) -> None:
    """What dead writers left in their staging folders: a finished package is published, a half one dropped."""
    outbox = tmp_path / "out"
    assert main(["build", str(FILING_EXAMPLE / "case.json"), "-o", str(outbox)]) == ExitCode.OK
    finished = outbox / STAGING / "999-dead" / "CD510108-2019-0037"
    finished.parent.mkdir()
    shutil.move(outbox / "CD510108-2019-0037", finished)  # crashed after writing, before the rename
    half = outbox / STAGING / "998-dead" / "X-1"
    half.mkdir(parents=True)
    (half / "X-1.pdf").write_bytes(b"%PDF-half")  # crashed while writing: no manifest yet
    notes = recover(outbox)
    assert (outbox / "CD510108-2019-0037" / MANIFEST).exists() and not half.exists() and len(notes) == 3
    assert list((outbox / STAGING).iterdir()) == []


def test_verify_passes_then_catches_tampering(exit_package, tmp_path, capsys) -> None:
    copy = tmp_path / EXIT_NO
    shutil.copytree(exit_package, copy)
    assert main(["verify", str(copy)]) == ExitCode.OK
    pdf = copy / f"{EXIT_NO}.pdf"
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 0x01
    pdf.write_bytes(bytes(data))
    (copy / "documents" / "附件5-脱困公示.docx").unlink()
    (copy / "extra.txt").write_text("?", encoding="utf-8")
    assert main(["verify", str(copy)]) == ExitCode.VERIFY_FAILED
    out = capsys.readouterr().out
    assert f"文件已被改动(SHA-256 不符):{EXIT_NO}.pdf" in out
    assert "缺少文件:documents/附件5-脱困公示.docx" in out and "多出清单中没有的文件:extra.txt" in out


def test_verify_catches_a_consistent_but_wrong_package(exit_package, tmp_path, capsys) -> None:
    """Someone replaces the PDF and rewrites the manifest: the structure and QR checks still catch it."""
    copy = tmp_path / EXIT_NO
    shutil.copytree(exit_package, copy)
    pdf_path = copy / f"{EXIT_NO}.pdf"
    with pikepdf.open(pdf_path, allow_overwriting_input=True) as pdf:
        del pdf.pages[5]
        pdf.save(pdf_path)
    reseal(copy)
    assert main(["verify", str(copy), "--json"]) == ExitCode.VERIFY_FAILED
    [result] = json.loads(capsys.readouterr().out)
    kinds = {p["kind"] for p in result["problems"]}
    assert "page_count" in kinds and "bookmarks" in kinds and not kinds & {"changed", "missing", "extra"}
    assert any("报告记载" in p["message"] for p in result["problems"])


def reseal(folder: Path) -> None:
    """Rewrite the manifests to match the folder, as someone who knows the format would after an edit."""
    write_manifests(folder)


@pytest.mark.parametrize(("content", "message"), [
    ("{}", "report.json 中缺少字段 archive_no"),
    ("[]", "report.json 中顶层应是一个对象"),
    ("{", "report.json 无法读取"),
])
def test_verify_fails_a_package_whose_report_is_broken(exit_package, tmp_path, capsys, content, message) -> None:
    copy = tmp_path / EXIT_NO
    shutil.copytree(exit_package, copy)
    (copy / "report.json").write_text(content, encoding="utf-8")
    reseal(copy)
    assert main(["verify", str(copy)]) == ExitCode.VERIFY_FAILED
    out = capsys.readouterr().out
    assert message in out and "请要求移交方重新成卷" in out


def test_verify_fails_a_report_with_a_wrong_field_and_names_it(exit_package, tmp_path, capsys) -> None:
    copy = tmp_path / EXIT_NO
    shutil.copytree(exit_package, copy)
    report = json.loads((copy / "report.json").read_text(encoding="utf-8"))
    report["checklist"][2]["documents"][0]["pages"] = "3"
    (copy / "report.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    reseal(copy)
    assert main(["verify", str(copy), "--json"]) == ExitCode.VERIFY_FAILED
    [result] = json.loads(capsys.readouterr().out)
    assert [p["kind"] for p in result["problems"]] == ["bad_report"]
    assert "checklist/2/documents/0/pages" in result["problems"][0]["message"]


def test_verify_json_lists_each_problem_with_its_kind_and_file(exit_package, tmp_path, capsys) -> None:
    copy = tmp_path / EXIT_NO
    shutil.copytree(exit_package, copy)
    assert main(["verify", str(copy), "--json"]) == ExitCode.OK
    report = tmp_path / f"{EXIT_NO}-四性检测报告.pdf"  # written beside the package, never into it
    assert json.loads(capsys.readouterr().out) == [{"path": str(copy), "ok": True, "problems": [], "inspection": {
        "passed": True, "conclusion": "四性检测通过", "report": str(report)}}]
    (copy / "报告.txt").write_text("改过", encoding="utf-8")
    (copy / "documents" / "附件6-退档通知书.docx").unlink()
    (copy / "extra.txt").write_text("?", encoding="utf-8")
    assert main(["verify", str(copy), "--json"]) == ExitCode.VERIFY_FAILED
    [result] = json.loads(capsys.readouterr().out)
    assert not result["ok"]
    assert {(p["kind"], p["file"]) for p in result["problems"]} == {
        ("changed", "报告.txt"), ("missing", "documents/附件6-退档通知书.docx"), ("extra", "extra.txt")}


def test_report_reads_back_as_written(exit_package) -> None:
    report = read_report(exit_package)
    assert report.to_json() == (exit_package / "report.json").read_text(encoding="utf-8")
    assert report.archive_no == EXIT_NO and report.complete and len(report.checklist) == 15
    assert all((exit_package / d).is_file() for d in report.documents)
    assert notice_pdf(exit_package).is_file()


def test_rotated_landscape_pdf_scan_gets_its_number_on_the_visible_top(case_copy, tmp_path) -> None:
    case_file = case_copy(FILING_EXAMPLE)
    scan = case_file.parent / "scans" / "04-承诺书和收入证明.pdf"
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(842, 595))
    pdf.pages[0].obj.Rotate = 90
    pdf.pages[0].contents_add(b"0 0 842 595 re f")  # black all over, to see where the scan lands
    pdf.save(scan)
    assert main(["build", str(case_file), "-o", str(tmp_path / "out")]) == ExitCode.OK
    package = tmp_path / "out" / "CD510108-2019-0037" / "CD510108-2019-0037.pdf"
    doc = pdfium.PdfDocument(package)
    report = json.loads((package.parent / "report.json").read_text(encoding="utf-8"))
    page = doc[report["pages"]["content_start_index"] + 3]  # content page 4
    assert [round(v, 1) for v in page.get_size()] == [595.3, 841.9]  # upright A4, as the viewer showed it
    assert page.get_textpage().get_text_range().strip() == "4"
    image = page.render(scale=1).to_pil().convert("L")
    assert image.getpixel((image.width // 2, image.height // 2)) < 50  # the scan, scaled into the page
    assert image.crop((0, 0, image.width // 2, 45)).getextrema() == (255, 255)  # a free strip above it
    assert image.crop((image.width // 2, 0, image.width, 45)).getextrema()[0] < 128  # holding the number


def test_safe_folder_names() -> None:
    assert safe_name('A/B:C*?"<>|') == "A_B_C______"
    assert safe_name("CON") == "_CON" and safe_name("  x. ") == "x"



def test_fixity_by_sha256_and_sm3(exit_package, tmp_path, capsys) -> None:
    """Both manifests list the same files; SM3 (GB/T 32905) catches an edit resealed by SHA-256 alone."""
    sha256 = (exit_package / MANIFEST).read_text(encoding="utf-8").splitlines()
    sm3 = (exit_package / MANIFEST_SM3).read_text(encoding="utf-8").splitlines()
    assert [line.split("  ")[1] for line in sha256] == [line.split("  ")[1] for line in sm3]
    summary = next(line for line in sm3 if line.endswith("  报告.txt")).split("  ")[0]
    assert summary == hashlib.new("sm3", (exit_package / "报告.txt").read_bytes()).hexdigest()
    copy = tmp_path / EXIT_NO
    shutil.copytree(exit_package, copy)
    (copy / "报告.txt").write_text("改过的报告", encoding="utf-8")
    new_sha256 = manifests(copy)[MANIFEST]
    (copy / MANIFEST).write_text(new_sha256, encoding="utf-8")
    assert main(["verify", str(copy)]) == ExitCode.VERIFY_FAILED
    assert "文件已被改动(SM3 不符):报告.txt" in capsys.readouterr().out


def test_pure_python_sm3_agrees_with_openssl() -> None:
    pure = layout._PureSm3()
    pure.update(b"abc")
    assert pure.hexdigest() == hashlib.new("sm3", b"abc").hexdigest() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")  # GB/T 32905 example A.1


def test_verifying_several_packages_on_several_processes_finds_the_same(exit_package, tmp_path) -> None:
    """A handover verifies its packages on every core; each answer is the one verify_folder gives, in order."""
    good, bad = tmp_path / "good" / EXIT_NO, tmp_path / "bad" / EXIT_NO
    shutil.copytree(exit_package, good)
    shutil.copytree(exit_package, bad)
    (bad / "extra.txt").write_text("?", encoding="utf-8")
    folders = [good, bad, good]
    here = [verify_folder(f) for f in folders]
    assert here[1] and not here[0] and not here[2]
    assert verify_folders(folders, workers=2) == here
    assert verify_folders(folders) == here  # three packages: too few to start processes for, verified right here


def test_a_verdict_is_remembered_only_while_the_files_are_untouched(exit_package, tmp_path) -> None:
    """The desk's 移交 page shows verdicts again and again: an untouched package is not verified twice, while a
    file rewritten to the same size with its modification time set back is (its change time moved)."""
    good, other = tmp_path / "a" / EXIT_NO, tmp_path / "b" / EXIT_NO
    shutil.copytree(exit_package, good)
    shutil.copytree(exit_package, other)
    memo = VerifiedBefore()
    assert memo.check([good, other]) == [[], []] and memo.verified == 2
    assert memo.check([good, other]) == [[], []] and memo.verified == 0
    summary = good / layout.SUMMARY
    st = summary.stat()
    data = summary.read_bytes()
    summary.write_bytes(data[:-1] + (b"?" if data[-1:] != b"?" else b"!"))
    os.utime(summary, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert summary.stat().st_size == st.st_size and summary.stat().st_mtime_ns == st.st_mtime_ns
    problems, untouched = memo.check([good, other])
    assert memo.verified == 1 and untouched == []
    assert problems == verify_folder(good) and problems, "the rewritten summary no longer matches the manifest"
