"""Completeness that tells the truth: signed originals take the generated forms' place, a form without one
leaves the package 待签章 (exit 5) everywhere a clerk looks, an outdated print is not used, and an empty
signature cell or seal area is flagged. Real renders, real scans (examples/make_signed.py), real packages."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
from datetime import datetime
from pathlib import Path
from types import ModuleType

import img2pdf
import pikepdf
import pypdfium2 as pdfium
import pytest
from openpyxl import load_workbook
from PIL import Image

from kunnan_docs.cli import main
from kunnan_docs.core.casefile import read_case
from kunnan_docs.errors import ExitCode
from kunnan_docs.forms.fill import forms_for
from kunnan_docs.forms.pdf import render_with_boxes
from kunnan_docs.forms.qr import form_fingerprint, form_key
from kunnan_docs.package.ink import find_codes, form_flags
from kunnan_docs.package.pageimage import single_image
from kunnan_docs.package.signed import read_signed_attachment, store_original

from .conftest import EXAMPLES, EXIT_EXAMPLE, FILING_EXAMPLE

FILING_NO = "CD510108-2019-0037"
EXIT_NO = "CD510104-2018-0112"
SIGNED_ITEMS = {7, 11, 13, 14, 15}


def make_signed() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_signed", EXAMPLES / "make_signed.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def texts(pdf: Path) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    return [doc[i].get_textpage().get_text_range().replace("\r", "").replace("\n", "") for i in range(len(doc))]


def report(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text(encoding="utf-8"))


def unsigned_copy(case_copy, example: Path = FILING_EXAMPLE, name: str = "case", **edits) -> Path:
    """The example without its signed scans: what a clerk has right after printing the forms."""
    data = json.loads((example / "case.json").read_text(encoding="utf-8"))
    kept = [a for a in data["attachments"] if not a.get("signed")]
    return case_copy(example, {"/attachments": kept, **edits}, name=name)


@pytest.fixture(scope="module")
def examples_outbox(built_examples: Path, tmp_path_factory) -> Path:
    """A copy of the session's build of the examples (verify writes its reports beside a package); that build
    asserts they are 材料齐全 (exit 0)."""
    out = tmp_path_factory.mktemp("signed-examples") / "outbox"
    shutil.copytree(built_examples, out, symlinks=True)
    return out


def test_examples_file_their_signed_scans_and_are_complete(examples_outbox) -> None:
    folder = examples_outbox / EXIT_NO
    rep = report(folder)
    assert rep["status"] == "complete" and rep["awaiting_signature"] == [] and rep["notes"] == []
    for entry in rep["checklist"]:
        forms = [d for d in entry["documents"] if d["signed_original"] or d["generated"]]
        if entry["no"] in SIGNED_ITEMS:
            assert forms and all(not d["generated"] and all(a["ink"] for a in d["signed_original"]["ink"])
                                 for d in forms)
        assert entry["status"] == "present"
    areas = [a["area"] for e in rep["checklist"] for d in e["documents"] if d["signed_original"]
             for a in d["signed_original"]["ink"]]
    assert {"职工本人签字", "入户调查人员签字", "盖章", "回访工作人员签字"} <= set(areas)
    visits = [d["signed_original"]["form_key"] for d in rep["checklist"][14]["documents"]]
    assert visits == ["annex7-1", "annex7-2"]
    # the scanned JPEG went in byte for byte; the generated form stays in documents/
    scan = pikepdf.open(EXIT_EXAMPLE / "scans" / "签章-附件3-入户调查表.pdf")
    xobjects = scan.pages[0].Resources.XObject
    jpeg = xobjects[next(iter(xobjects.keys()))].read_raw_bytes()
    assert jpeg in (folder / f"{EXIT_NO}.pdf").read_bytes()
    assert (folder / "documents" / "附件3-入户调查表.pdf").exists()
    assert main(["verify", str(folder)]) == ExitCode.OK
    assert "材料齐全" in texts(folder / f"{EXIT_NO}.pdf")[0]


def test_without_signed_originals_the_package_awaits_signature(case_copy, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["build", str(unsigned_copy(case_copy)), "-o", str(out)]) == ExitCode.AWAITING_SIGNATURE == 5
    folder = out / FILING_NO
    rep = report(folder)
    assert rep["status"] == "awaiting_signature"
    assert [(a["no"], a["form_key"]) for a in rep["awaiting_signature"]] == [(7, "annex3")]
    assert rep["checklist"][6]["status"] == "awaiting_signature"
    assert rep["checklist"][6]["documents"][0]["generated"] is True  # the print stands in for now
    pages = texts(folder / f"{FILING_NO}.pdf")
    assert "待签章" in pages[0] and "材料齐全" not in pages[0]  # the cover
    assert "待签章" in pages[1]  # the contents list marks the item
    assert "待签章：第7项" in pages[-1].replace(":", "：")  # the remarks sheet
    assert "已有打印稿,待签章" in (folder / "报告.txt").read_text(encoding="utf-8-sig")
    assert "待签章" in capsys.readouterr().out
    assert main(["status", "--outbox", str(out)]) == ExitCode.OK
    assert f"待签章:1 卷\n    {FILING_NO}  成都市总工会建档困难职工入户调查表（附件3）" in capsys.readouterr().out


def test_an_outdated_print_is_not_used(case_copy, tmp_path) -> None:
    case_file = case_copy(FILING_EXAMPLE, {"/hardship_reason": "本人患病,长期服药;子女在读大学,家庭收入低于当地低保标准。"})
    assert main(["build", str(case_file), "-o", str(tmp_path / "out")]) == ExitCode.AWAITING_SIGNATURE
    rep = report(tmp_path / "out" / FILING_NO)
    assert rep["checklist"][6]["documents"][0]["generated"] is True
    assert any("旧版打印件" in n and "签章-附件3-入户调查表.pdf" in n for n in rep["notes"])


def test_a_stored_original_is_filed_and_an_empty_signature_cell_flagged(case_copy, tmp_path, capsys) -> None:
    case_file = unsigned_copy(case_copy)
    form = forms_for(read_case(case_file))[0]
    ms = make_signed()
    pages = ms.signed_scan(form, FILING_NO, "猛追湾街道总工会", unsigned=frozenset({"职工本人签字"}))
    out = tmp_path / "out"
    store_original(out, FILING_NO, form_key(form), ms.scanner_pdf(pages),
                   {"fingerprint": form_fingerprint(form), "source": "扫描仪-0001.pdf", "pages": [3],
                    "filed": "2020-03-20T10:15:00"})
    assert main(["build", str(case_file), "-o", str(out)]) == ExitCode.OK  # filed: signed by the surveyor
    rep = report(out / FILING_NO)
    original = rep["checklist"][6]["documents"][0]["signed_original"]
    assert (original["source"], original["source_pages"]) == ("扫描仪-0001.pdf", [3])
    assert [(a["area"], a["ink"]) for a in original["ink"]] == [("职工本人签字", False), ("入户调查人员签字", True)]
    assert rep["notes"] == ["第7项 成都市总工会建档困难职工入户调查表（附件3）:第1页'职工本人签字'栏似为空白,请核对"]
    assert "第1页'职工本人签字'栏似为空白,请核对" in capsys.readouterr().out
    assert main(["status", "--outbox", str(out)]) == ExitCode.OK
    status = capsys.readouterr().out
    assert "待签章:0 卷" in status and f"请核对:1 处\n    {FILING_NO}  第7项" in status and "似为空白" in status
    assert "似为空白" in (out / FILING_NO / "报告.txt").read_text(encoding="utf-8-sig")  # the clerk checks it
    remarks = texts(out / FILING_NO / f"{FILING_NO}.pdf")[-1]  # the record states the fact, with the scan's date
    assert "似为空白" not in remarks and "扫描仪-0001.pdf" not in remarks
    assert "成都市总工会建档困难职工入户调查表（附件3）：签章原件已入卷（第8页，2020年3月20日扫描）" in remarks


def test_scan_in_checks_ink_as_it_reads_and_the_rebuild_uses_that_check(case_copy, tmp_path) -> None:
    """A scanner page is decoded and its code found once, when scan-in reads it: the ink check is made right there
    against the print kept when the package was built, and kept beside the filed original, where the rebuild finds
    it (the record is not written again) — the same flags as a check made from the stored pages."""
    from kunnan_docs.core.workcal import WorkCalendar
    from kunnan_docs.package.signed import ink_record, originals_for, stored_offer
    from kunnan_docs.scan.filing import PoolRebuild, ScanReport, file_scans, rebuild_pending

    case_file = unsigned_copy(case_copy)
    out = tmp_path / "out"
    assert main(["build", str(case_file), "-o", str(out)]) == ExitCode.AWAITING_SIGNATURE
    form = forms_for(read_case(case_file))[0]
    ms = make_signed()
    scanner = tmp_path / "扫描件"
    scanner.mkdir()
    (scanner / "scan0001.pdf").write_bytes(ms.scanner_pdf(ms.signed_scan(
        form, FILING_NO, "猛追湾街道总工会", unsigned=frozenset({"职工本人签字"}))))
    calendar, report_ = WorkCalendar(), ScanReport()
    file_scans([scanner / "scan0001.pdf"], out, calendar, report_)
    original = originals_for(out, FILING_NO)[form_key(form)]
    record = ink_record(original.pdf)
    kept = json.loads(record.read_text(encoding="utf-8"))
    assert [(f["area"], f["ink"]) for f in kept["flags"]] == [("职工本人签字", False), ("入户调查人员签字", True)]
    blank, boxes = render_with_boxes(form, FILING_NO)
    fresh = form_flags([image.copy() for image in stored_offer(original).images()], blank, boxes)
    assert kept["flags"] == [f.to_dict() for f in fresh]
    before = record.stat()
    rebuild_pending(out, calendar, PoolRebuild(out, None, None), report_)
    assert record.stat().st_ino == before.st_ino and record.stat().st_mtime_ns == before.st_mtime_ns
    rep = report(out / FILING_NO)
    signed = rep["checklist"][6]["documents"][0]["signed_original"]
    assert [(a["area"], a["ink"]) for a in signed["ink"]] == [("职工本人签字", False), ("入户调查人员签字", True)]


def _variants(pages: list[Image.Image]) -> dict[str, list[Image.Image]]:
    """make_signed scans at 200 dpi, grey; the other ways an office scanner gives the same sheet back."""
    def scaled(p: Image.Image, k: float) -> Image.Image:
        return p.resize((round(p.width * k), round(p.height * k)))

    return {
        "200dpi grey": pages,
        "150dpi grey": [scaled(p, 0.75) for p in pages],
        "300dpi grey": [scaled(p, 1.5) for p in pages],
        "300dpi black-and-white": [scaled(p, 1.5).point(lambda v: 255 if v > 140 else 0).convert("1") for p in pages],
        "upside down": [p.rotate(180) for p in pages],
        "sideways": [p.rotate(90, expand=True) for p in pages],
        "skewed 3°": [p.rotate(3, expand=True, fillcolor=235) for p in pages],
        "skewed -3°": [p.rotate(-3, expand=True, fillcolor=235) for p in pages],
    }


@pytest.mark.parametrize("annex", [3, 5, 7])
def test_ink_is_found_where_it_belongs_and_missed_where_it_is_not(annex: int) -> None:
    case = read_case(EXIT_EXAMPLE / "case.json")
    form = next(f for f in forms_for(case) if f.spec.annex == annex)
    pdf, boxes = render_with_boxes(form, case.archive_no)
    assert boxes
    ms = make_signed()
    names = [b.name for b in boxes]
    for unsigned in (frozenset(), frozenset(names[:1])):
        scans = ms.signed_scan(form, case.archive_no, case.data["union"], unsigned=unsigned)
        for label, variant in _variants(scans).items():
            flags = form_flags(variant, pdf, boxes)
            assert [(f.area, f.ink) for f in flags] == [(n, n not in unsigned) for n in names], label


@pytest.mark.parametrize("variant", ["200dpi grey", "300dpi black-and-white", "upside down", "skewed -3°"])
def test_a_signed_attachment_is_sorted_and_ink_checked_from_its_own_images(variant: str) -> None:
    """The scanner's JPEG or CCITT image is what is read (no page rendering); a sheet straightened by /Rotate
    reads the same."""
    case = read_case(EXIT_EXAMPLE / "case.json")
    form = next(f for f in forms_for(case) if f.spec.annex == 3)
    pdf, boxes = render_with_boxes(form, case.archive_no)
    ms = make_signed()
    names = [b.name for b in boxes]
    scans = _variants(ms.signed_scan(form, case.archive_no, case.data["union"], unsigned=frozenset(names[:1])))[variant]
    scanner = pikepdf.open(io.BytesIO(ms.scanner_pdf(scans)))
    if variant == "300dpi black-and-white":  # as a scanner writes it: CCITT G4, one bit a pixel
        scanner = pikepdf.open(io.BytesIO(img2pdf.convert([_g4_tiff(scans)], nodate=True)))
    if variant == "upside down":
        for page in scanner.pages:
            page.obj.Rotate = 180
    [offer], notes = read_signed_attachment(scanner, "扫描件.pdf", case.archive_no)
    assert notes == [] and offer.original.form_key == form_key(form) and offer.original.pages == [1, 2][:len(scans)]
    assert all(single_image(page) for page in offer.pages.pages)
    flags = form_flags(offer.images(), pdf, boxes)
    assert [(f.area, f.ink) for f in flags] == [(n, n != names[0]) for n in names]
    # the build's own check uses the codes found when the pages were sorted, not a second search: in the pixels
    # of the images it checks, where a search would find them
    images = offer.images()
    for image, known in zip(images, offer._codes(images), strict=True):
        [found] = find_codes(image)
        assert known and [c.text for c in known] == [found.text]
        assert max(abs(a - b) for p, q in zip(known[0].corners, found.corners, strict=True)
                   for a, b in zip(p, q, strict=True)) < 3
    assert [(f.area, f.ink) for f in offer.ink(pdf, boxes)] == [(n, n != names[0]) for n in names]


def _g4_tiff(pages: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", compression="group4", save_all=True, append_images=pages[1:], dpi=(300, 300))
    return buf.getvalue()


def test_due_lists_forms_awaiting_signature_and_handover_refuses_them(case_copy, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["build", str(unsigned_copy(case_copy)), "-o", str(out)]) == ExitCode.AWAITING_SIGNATURE
    target = tmp_path / "due.xlsx"
    assert main(["due", "--outbox", str(out), "--as-of", "2019-04-01", "-o", str(target)]) == ExitCode.OK
    assert "待签章表单 1 份" in capsys.readouterr().out
    rows = [[c.value for c in row] for row in load_workbook(target).active.iter_rows(min_row=4)]
    survey = datetime.fromisoformat(read_case(FILING_EXAMPLE / "case.json").data["survey"]["date"])
    [row] = [r for r in rows if str(r[5]).startswith("待签章")]
    assert row[:3] == ["周晓梅", FILING_NO, "李建华"]
    assert row[5:8] == ["待签章:成都市总工会建档困难职工入户调查表（附件3）", survey, survey]
    assert row[9].startswith("待签章,已 ") and rows.index(row) == 0  # the oldest first

    district = read_case(FILING_EXAMPLE / "case.json").data["district"]
    handover = ["handover", "--outbox", str(out), "--district", district, "--date", "2019-11-01"]
    assert main([*handover, "-o", str(tmp_path / "h1")]) == ExitCode.USAGE
    refused = capsys.readouterr()
    assert f"待签章(表单签章原件尚未扫描入卷),不能作为原件移交:{FILING_NO}" in refused.out + refused.err
    assert not (tmp_path / "h1").exists()
    assert main([*handover, "--allow-unsigned", "-o", str(tmp_path / "h2")]) == ExitCode.OK
    register = load_workbook(tmp_path / "h2" / "移交清单.xlsx").active
    [row] = [[c.value for c in r] for r in register.iter_rows() if r[1].value == FILING_NO]
    assert row[5:7] == ["否（待签章）", "待签章：附件3"]  # the form by its annex, not its whole title
