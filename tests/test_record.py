"""The record an archivist accepts (issue 21): the contents list by the 件 (DA/T 22) read back cell by cell from
the PDF, one page count everywhere, a remarks sheet (备考表) that states facts, the DA/T 46 metadata validated
against its XSD, and the 四性检测 (DA/T 70) report, with tampered packages failing the right check."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import shutil
import zipfile
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from lxml import etree
from openpyxl import load_workbook
from reportlab.pdfgen.canvas import Canvas

from kunnan_docs.cli import main
from kunnan_docs.core.casefile import read_case
from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.labels import Kind
from kunnan_docs.core.resources import checklist_data
from kunnan_docs.errors import ExitCode
from kunnan_docs.forms.fill import forms_for
from kunnan_docs.forms.qr import form_fingerprint, form_key
from kunnan_docs.forms.typeset import zh_punct
from kunnan_docs.package import metadata
from kunnan_docs.package.checks import PACKAGE_CHECKS
from kunnan_docs.package.layout import write_manifests
from kunnan_docs.package.pdfa import check_file
from kunnan_docs.package.sheets import TOC_HEADER
from kunnan_docs.package.signed import store_original

from .conftest import CANCELLED_EXAMPLE, EXIT_EXAMPLE, FILING_EXAMPLE, set_pointer
from .test_paper import glyphs, row_bands, rules

EXIT_NO = "CD510104-2018-0112"
VISITS = [("2019-11-15", "2019年11月15日"), ("2019-12-20", "2019年12月20日"), ("2020-02-18", "2020年2月18日"),
          ("2020-04-15", "2020年4月15日")]


def table(page: pdfium.PdfPage) -> list[dict[str, str]]:
    """The contents list's rows as printed: each cell's characters, found by the table's own rules."""
    walls = sorted({round(r.x0, 1) for r in rules(page) if r.vertical})
    found = glyphs(page)
    rows = []
    for bottom, top in row_bands(page):
        cells = ["".join(g.char for g in found if left < (g.left + g.right) / 2 < right
                         and bottom < (g.bottom + g.top) / 2 < top)
                 for left, right in itertools.pairwise(walls)]
        rows.append(cells)
    header, *body = rows
    assert header == TOC_HEADER
    return [dict(zip(header, row, strict=True)) for row in body]


def contents(folder: Path, archive_no: str) -> list[dict[str, str]]:
    doc = pdfium.PdfDocument(folder / f"{archive_no}.pdf")
    start = json.loads((folder / "report.json").read_text(encoding="utf-8"))["pages"]["content_start_index"]
    return [row for i in range(1, start) for row in table(doc[i])]


def page_text(folder: Path, archive_no: str, index: int) -> str:
    doc = pdfium.PdfDocument(folder / f"{archive_no}.pdf")
    return doc[index].get_textpage().get_text_range().replace("\r", "").replace("\n", "")


@pytest.fixture(scope="module")
def four_visits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The exit example with four return visits (their forms not signed yet: 待签章)."""
    root = tmp_path_factory.mktemp("four")
    folder = root / "case"
    shutil.copytree(EXIT_EXAMPLE, folder)
    data = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    visits = [{"date": iso, "visitor": "黄丽", "situation": f"第{n}次回访,生活稳定。", "union_opinion": "继续关注"}
              for n, (iso, _) in enumerate(VISITS, start=1)]
    set_pointer(data, "/exit/return_visits", visits)
    (folder / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = root / "outbox"
    assert main(["build", str(folder / "case.json"), "-o", str(out)]) == ExitCode.AWAITING_SIGNATURE
    return out / EXIT_NO


def test_the_contents_list_has_one_row_per_document_each_with_its_own_responsible_title_date_pages(
        built_examples: Path) -> None:
    folder = built_examples / EXIT_NO
    rows = contents(folder, EXIT_NO)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    documents = [(e["no"], d) for e in report["checklist"] for d in e["documents"]]
    assert len(rows) == len(documents) == 17  # 15 items, two of them holding two documents
    assert [r["顺序号"] for r in rows] == [str(n) for n in range(1, 18)]
    for row, (no, doc) in zip(rows, documents, strict=True):
        first, last = doc["pages"]
        assert row["页号"] == (str(first) if first == last else f"{first}～{last}")
        assert row["备注"] == f"第{no}项" and row["题名"] == zh_punct(doc["title"])
        assert row["责任者"] and row["日期"]  # 责任者 is never blank
    # Annex 4 and the worker's own signed application: two rows, each with its own 责任者
    annex4, own = [r for r in rows if r["备注"] == "第11项"]
    assert (annex4["题名"], annex4["责任者"]) == ("成都市总工会困难职工脱困申请表（附件4）", "锦江区书院街街道总工会")
    assert (own["题名"], own["责任者"], own["日期"]) == ("本人签字的脱困申请", "王淑芬", "2019年9月2日")
    # the real title only, never the checklist heading before it
    assert not any(r["题名"].startswith(("困难职工解困脱困申请表:", "解困脱困回访记录单:")) for r in rows)
    by_item = {r["备注"]: r["责任者"] for r in rows}
    assert (by_item["第1项"], by_item["第3项"], by_item["第8项"]) == ("公安机关", "成都锦华纺织有限公司破产管理人",
                                                                    "锦江区总工会")  # implied, named, named


def test_four_return_visits_are_four_rows_with_their_own_dates(four_visits: Path) -> None:
    rows = [r for r in contents(four_visits, EXIT_NO) if r["备注"].startswith("第15项")]
    assert [r["日期"] for r in rows] == [zh for _, zh in VISITS]
    assert [r["题名"] for r in rows] == [f"成都市总工会解困脱困回访记录单（第{n}次）（附件7）" for n in range(1, 5)]
    assert all(r["备注"] == "第15项，待签章" for r in rows)  # printed forms standing in for their originals
    pages = [int(r["页号"]) for r in rows]
    assert pages == list(range(pages[0], pages[0] + 4))


def test_every_checklist_item_implies_a_responsible_body() -> None:
    """A scan whose attachment names no 责任者 takes the body its item implies: never a blank cell."""
    rules_ = checklist_data()["responsible"]
    for kind in Kind:
        assert [i.id for i in kind_spec(kind).items if not rules_.get(i.id)] == []


def test_the_cover_counts_documents(built_examples: Path) -> None:
    cover = page_text(built_examples / EXIT_NO, EXIT_NO, 0)
    assert "共 17 件 18 页" in cover


def test_the_remarks_sheet_states_facts_without_paths_or_instructions(built_examples: Path,
                                                                      four_visits: Path) -> None:
    for folder, archive_no in [(built_examples / EXIT_NO, EXIT_NO), (four_visits, EXIT_NO),
                               *[(built_examples / n, n) for n in ("CD510108-2019-0037", "CD510106-2018-0045")]]:
        doc = pdfium.PdfDocument(folder / f"{archive_no}.pdf")
        remarks = page_text(folder, archive_no, len(doc) - 1)
        assert "卷内备考表" in remarks and "立卷人" in remarks and "检查人" in remarks and "立卷时间" in remarks
        for software in ("scans/", ".pdf", ".jpg", "扫描件文件夹", "请", "重新成卷", "kunnan-docs", "documents/"):
            assert software not in remarks.replace("申请", ""), (archive_no, software)
    remarks = page_text(four_visits, EXIT_NO, len(pdfium.PdfDocument(four_visits / f"{EXIT_NO}.pdf")) - 1)
    assert "本卷共 19 件" in remarks
    assert "待签章：第15项 成都市总工会解困脱困回访记录单（第3次）（附件7）尚无签章原件（须回访工作人员签字），" in remarks
    exit_remarks = page_text(built_examples / EXIT_NO, EXIT_NO, 20)
    assert "第11项 成都市总工会困难职工脱困申请表（附件4）：签章原件已入卷（第12页）" in exit_remarks


def test_the_clerk_reads_what_to_do_in_the_summary_not_on_the_sheet(four_visits: Path) -> None:
    summary = (four_visits / "报告.txt").read_text(encoding="utf-8-sig")
    assert "下一步:把 documents/ 中待签章的表单打印出来" in summary
    assert "签章原件取自扫描件“scans/签章-附件3-入户调查表.pdf”第1页" in summary
    assert "旧版打印件" in summary  # the signed scans of visits 1 and 2 were printed before the visits changed


@pytest.mark.parametrize("example", [FILING_EXAMPLE, CANCELLED_EXAMPLE], ids=["filing", "cancellation"])
def test_other_kinds_list_their_documents_too(built_examples: Path, example: Path) -> None:
    archive_no = json.loads((example / "case.json").read_text(encoding="utf-8"))["archive_no"]
    folder = built_examples / archive_no
    rows = contents(folder, archive_no)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert len(rows) == sum(len(e["documents"]) for e in report["checklist"])
    assert all(r["责任者"] for r in rows)


# -- one page count everywhere ------------------------------------------------------------------------------

def test_one_page_count_and_one_document_count_in_every_place(built_examples: Path, tmp_path: Path) -> None:
    """Content pages (archive page numbers 1…n) and documents (件), read back from the cover, the contents list,
    the remarks sheet, report.json, the metadata XML and the handover register (PDF and workbook)."""
    folder = built_examples / EXIT_NO
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    pages, documents = report["pages"]["content"], sum(len(e["documents"]) for e in report["checklist"])
    doc = pdfium.PdfDocument(folder / f"{EXIT_NO}.pdf")
    numbered = [i for i in range(len(doc)) if top_right_number(doc[i]) is not None]
    assert [top_right_number(doc[i]) for i in numbered] == list(range(1, pages + 1))  # what is printed on them
    assert f"共 {documents} 件 {pages} 页" in page_text(folder, EXIT_NO, 0)
    rows = contents(folder, EXIT_NO)
    assert len(rows) == documents and rows[-1]["页号"].split("～")[-1] == str(pages)
    assert f"本卷共 {documents} 件，{pages} 页" in page_text(folder, EXIT_NO, len(doc) - 1)
    volume = metadata.read_file(folder / f"{EXIT_NO}.xml")
    assert (volume.pages, len(volume.pieces), volume.pieces[-1].last) == (pages, documents, pages)
    outbox = tmp_path / "outbox"
    shutil.copytree(built_examples, outbox)
    assert main(["handover", "--outbox", str(outbox), "--district", "成都市锦江区总工会", "--date", "2020-05-06",
                 "-o", str(tmp_path / "移交")]) == ExitCode.OK
    register = pdfium.PdfDocument(tmp_path / "移交" / "移交清单.pdf")[0].get_textpage().get_text_range()
    assert f"1 {EXIT_NO} 王淑芬 脱困 {pages} 是" in register.replace("\r\n", " ")
    sheet = load_workbook(tmp_path / "移交" / "移交清单.xlsx").active
    assert [r[4] for r in sheet.iter_rows(values_only=True) if r[1] == EXIT_NO] == [pages]


def top_right_number(page: pdfium.PdfPage) -> int | None:
    """The archive page number printed in the page's top-right corner, if any."""
    width, height = page.get_size()
    zone = 20 * 72 / 25.4
    text = page.get_textpage().get_text_bounded(width - 3 * zone, height - zone, width, height).strip()
    return int(text) if text.isdigit() else None


# -- the metadata XML (DA/T 46) ------------------------------------------------------------------------------

XSD = etree.XMLSchema(etree.parse(str(Path(__file__).resolve().parent.parent / "schemas" / "dat46-package.xsd")))
NS = {"m": metadata.NAMESPACE}


@pytest.mark.parametrize("archive_no", ["CD510104-2018-0112", "CD510108-2019-0037", "CD510107-2024-0008",
                                        "CD510106-2018-0045"])
def test_every_package_has_metadata_valid_against_the_shipped_xsd(built_examples: Path, archive_no: str) -> None:
    folder = built_examples / archive_no
    tree = etree.parse(str(folder / f"{archive_no}.xml"))
    XSD.assertValid(tree)  # the XSD read here on its own, not through the module that wrote the XML
    assert tree.findtext("m:档号/m:室编案卷号", namespaces=NS) == archive_no
    assert f"  {archive_no}.xml" in (folder / "manifest-sha256.txt").read_text(encoding="utf-8")
    assert f"  {archive_no}.xml" in (folder / "manifest-sm3.txt").read_text(encoding="utf-8")
    rows = contents(folder, archive_no)
    pieces = tree.findall("m:文件", NS)
    assert [(p.findtext("m:档号/m:室编件号", namespaces=NS), p.findtext("m:档号/m:页号", namespaces=NS).replace("-", "～"),
             zh_punct(p.findtext("m:内容描述/m:题名", namespaces=NS)), p.findtext("m:内容描述/m:责任者", namespaces=NS))
            for p in pieces] == [(r["顺序号"], r["页号"], r["题名"], r["责任者"]) for r in rows]
    for node in tree.iter(f"{{{metadata.NAMESPACE}}}电子属性"):  # every file it names, with its digests
        if node.getparent().find("m:存储位置", NS) is not None:
            continue
        data = (folder / node.findtext("m:计算机文件名", namespaces=NS)).read_bytes()
        digests = {d.get("算法"): d.text for d in node.iterfind("m:固化信息/m:数字摘要", NS)}
        assert digests == {"SHA-256": hashlib.sha256(data).hexdigest(), "SM3": hashlib.new("sm3", data).hexdigest()}
        assert int(node.findtext("m:计算机文件大小", namespaces=NS)) == len(data)


def test_the_metadata_names_the_package_its_kind_and_its_documents(built_examples: Path) -> None:
    volume = metadata.read_file(built_examples / EXIT_NO / f"{EXIT_NO}.xml")
    assert (volume.archive_no, volume.year, volume.retention, volume.classification) == (EXIT_NO, 2018, "定期30年", "非密")
    assert (volume.keeper, volume.responsible, volume.person) == ("成都市锦江区总工会", "锦江区书院街街道总工会", "王淑芬")
    assert volume.title == "王淑芬 脱困困难职工档案" and volume.dates == ("2018-04-02", "2020-04-15")
    assert (volume.pdf.name, volume.pdf.format) == (f"{EXIT_NO}.pdf", "PDF/A-2b") and volume.note == "材料齐全"
    own = next(p for p in volume.pieces if p.title == "本人签字的脱困申请")
    assert (own.responsible, own.date, own.note) == ("王淑芬", "2019-09-02", "清单第11项 困难职工解困脱困申请表")
    assert own.file and (own.file.name, own.file.format) == ("input/scans/11-脱困申请(本人签字).jpg", "JPEG")
    annex3 = volume.pieces[6]
    assert annex3.note == "清单第7项 困难职工入户调查表;签章原件"
    assert annex3.file and annex3.file.name == "input/scans/签章-附件3-入户调查表.pdf"


def test_a_print_awaiting_signature_and_an_original_from_the_store_are_described(four_visits: Path) -> None:
    visits = [p for p in metadata.read_file(four_visits / f"{EXIT_NO}.xml").pieces if "回访记录单" in p.title]
    assert [p.date for p in visits] == [iso for iso, _ in VISITS]
    assert all(p.note.endswith("待签章,卷内为打印稿") for p in visits)
    assert [p.file.name for p in visits if p.file] == [f"documents/附件7-回访记录单-{n}.pdf" for n in range(1, 5)]


def test_a_signed_original_from_the_store_is_described_where_it_is_kept(case_copy, tmp_path: Path) -> None:
    case_file = case_copy(EXIT_EXAMPLE)
    data = json.loads(case_file.read_text(encoding="utf-8"))
    data["attachments"] = [a for a in data["attachments"] if "附件6" not in a["path"]]
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    form = next(f for f in forms_for(read_case(case_file)) if form_key(f) == "annex6")
    out = tmp_path / "out"
    store_original(out, EXIT_NO, "annex6", case_file.parent / "scans" / "签章-附件6-退档通知书.pdf",
                   {"fingerprint": form_fingerprint(form), "source": "扫描仪-0007.pdf", "pages": [1],
                    "filed": "2019-10-20T09:00:00"})
    assert main(["build", str(case_file), "-o", str(out)]) == ExitCode.OK
    folder = out / EXIT_NO
    piece = next(p for p in metadata.read_file(folder / f"{EXIT_NO}.xml").pieces if "退档通知书" in p.title)
    stored = out / "_签章原件" / EXIT_NO / "annex6.pdf"
    assert piece.file and (piece.file.location, piece.file.name) == (f"_签章原件/{EXIT_NO}", "annex6.pdf")
    assert piece.file.sha256 == hashlib.sha256(stored.read_bytes()).hexdigest()
    doc = pdfium.PdfDocument(folder / f"{EXIT_NO}.pdf")
    assert "签章原件已入卷（第16页，2019年10月20日扫描）" in page_text(folder, EXIT_NO, len(doc) - 1)
    assert main(["verify", str(folder)]) == ExitCode.OK and failed(folder) == set()


# -- 四性检测 (DA/T 70) ---------------------------------------------------------------------------------------

def inspected(path: Path) -> dict[str, dict]:
    """The checks of the one package `verify` was given, by id, from the JSON it wrote beside it."""
    report = json.loads(path.with_name(f"{path.name}-四性检测报告.json").read_text(encoding="utf-8"))
    [package] = report["packages"]
    return {c["id"]: c for c in package["checks"]}


def failed(path: Path) -> set[str]:
    return {i for i, c in inspected(path).items() if not c["passed"]}


@pytest.fixture
def copy(built_examples: Path, tmp_path: Path) -> Path:
    target = tmp_path / EXIT_NO
    shutil.copytree(built_examples / EXIT_NO, target)
    return target


def test_verify_writes_the_four_properties_beside_the_package(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(p.name for p in copy.rglob("*"))
    assert main(["verify", str(copy)]) == ExitCode.OK
    assert "四性检测:四性检测通过" in capsys.readouterr().out
    assert sorted(p.name for p in copy.rglob("*")) == before  # nothing inside the manifest-covered folder
    checks = inspected(copy)
    assert list(checks) == [c.value for c in PACKAGE_CHECKS] and all(c["passed"] for c in checks.values())
    assert {c["property_label"] for c in checks.values()} == {"真实性", "完整性", "可用性", "安全性"}
    pdf = copy.with_name(f"{EXIT_NO}-四性检测报告.pdf")
    text = "".join(p.get_textpage().get_text_range() for p in pdfium.PdfDocument(pdf)).replace("\r\n", "")
    assert "四性检测报告" in text and "DA/T 70-2018" in text and "结论：四性检测通过" in text
    for check in PACKAGE_CHECKS:
        assert check.label.replace(",", "，").replace("(", "（").replace(")", "）")[:8] in text
    assert check_file(pdf) == (True, [])  # PDF/A-2b like every PDF we write
    assert main(["verify", str(copy)]) == ExitCode.OK  # and the package still verifies


def reseal(folder: Path) -> None:
    """Rewrite the manifests to match the folder, as someone who knows the format would after an edit."""
    write_manifests(folder)


def test_a_changed_scan_fails_fixity_by_both_manifests(copy: Path) -> None:
    scan = copy / "input" / "scans" / "01-身份证复印件.jpg"
    scan.write_bytes(scan.read_bytes()[:-1] + b"\0")
    assert main(["verify", str(copy)]) == ExitCode.VERIFY_FAILED
    assert failed(copy) == {"fixity_sha256", "fixity_sm3", "metadata_agrees"}  # the XML's digest disagrees too


def test_the_report_masks_an_id_number_a_file_is_named_by(copy: Path) -> None:
    (copy / "input" / "510104196811021242.jpg").write_bytes(b"?")
    assert main(["verify", str(copy)]) == ExitCode.VERIFY_FAILED
    assert failed(copy) == {"fixity_sha256", "fixity_sm3"}
    pdf = copy.with_name(f"{EXIT_NO}-四性检测报告.pdf")
    text = "".join(p.get_textpage().get_text_range() for p in pdfium.PdfDocument(pdf))
    written = copy.with_name(f"{EXIT_NO}-四性检测报告.json").read_text(encoding="utf-8") + text
    assert "510104196811021242" not in written and "510104********1242" in written


def test_a_package_made_before_the_metadata_verifies_and_its_report_says_what_could_not_be_checked(
        copy: Path) -> None:
    (copy / f"{EXIT_NO}.xml").unlink()
    reseal(copy)  # as packages were published before the metadata was written
    assert main(["verify", str(copy)]) == ExitCode.OK
    assert failed(copy) == {"metadata_valid", "metadata_agrees", "pieces"}
    assert inspected(copy)["pieces"]["details"] == ["案卷中没有元数据文件(本工具较早版本生成的案卷),无法核对"]


def test_metadata_edited_and_resealed_fails_agreement_not_fixity(copy: Path) -> None:
    xml = copy / f"{EXIT_NO}.xml"
    xml.write_text(xml.read_text(encoding="utf-8").replace("<页数>18</页数>", "<页数>19</页数>"), encoding="utf-8")
    reseal(copy)
    assert main(["verify", str(copy)]) == ExitCode.VERIFY_FAILED
    assert failed(copy) == {"metadata_agrees"}
    assert "页数为 19,report.json 记载 18" in inspected(copy)["metadata_agrees"]["details"][0]


def test_metadata_that_breaks_the_xsd_fails_its_validity(copy: Path) -> None:
    xml = copy / f"{EXIT_NO}.xml"
    xml.write_text(re.sub(r"<室编案卷号>.*</室编案卷号>", "", xml.read_text(encoding="utf-8")), encoding="utf-8")
    reseal(copy)
    assert main(["verify", str(copy)]) == ExitCode.VERIFY_FAILED
    assert failed(copy) == {"metadata_valid"}


def test_a_piece_dropped_from_the_metadata_fails_the_pieces_check(copy: Path) -> None:
    xml = copy / f"{EXIT_NO}.xml"
    tree = etree.parse(str(xml))
    tree.getroot().remove(tree.findall("m:文件", NS)[-1])
    tree.write(str(xml), xml_declaration=True, encoding="UTF-8")
    reseal(copy)
    assert main(["verify", str(copy)]) == ExitCode.VERIFY_FAILED
    assert failed(copy) == {"pieces"}


@pytest.mark.parametrize(("edit", "check"), [
    ("javascript", "no_active"), ("attachment", "no_active"), ("link", "no_links"), ("encrypt", "not_encrypted")])
def test_a_pdf_made_unsafe_and_resealed_fails_its_security_check(copy: Path, edit: str, check: str) -> None:
    path = copy / f"{EXIT_NO}.pdf"
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        if edit == "javascript":
            pdf.Root.OpenAction = pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript,
                                                                       JS=pikepdf.String("app.alert(1)")))
        elif edit == "attachment":
            pdf.attachments["a.txt"] = pikepdf.AttachedFileSpec(pdf, b"hidden")
        elif edit == "link":
            pdf.pages[2].Annots = pdf.make_indirect(pikepdf.Array([pikepdf.Dictionary(
                Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10],
                A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("http://example.com/")))]))
        pdf.save(path, encryption=pikepdf.Encryption(owner="x", user="") if edit == "encrypt" else None)
    reseal(copy)
    assert main(["verify", str(copy)]) == ExitCode.VERIFY_FAILED
    assert check in failed(copy) and failed(copy) <= {check, "metadata_agrees", "pdfa"}  # the XML's digest, PDF/A


def test_a_page_removed_and_resealed_fails_the_page_checks(copy: Path) -> None:
    path = copy / f"{EXIT_NO}.pdf"
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        del pdf.pages[5]
        pdf.save(path)
    reseal(copy)
    assert main(["verify", str(copy)]) == ExitCode.VERIFY_FAILED
    assert {"pages", "metadata_agrees"} <= failed(copy)


def test_an_incomplete_package_verifies_but_its_report_says_what_is_missing(case_copy, tmp_path: Path) -> None:
    case_file = case_copy(EXIT_EXAMPLE)
    data = json.loads(case_file.read_text(encoding="utf-8"))
    data["attachments"] = [a for a in data["attachments"] if a["item"] != "labour_relation"]
    data["exit"]["return_visits"].append({"date": "2020-04-29", "visitor": "黄丽", "situation": "生活稳定。"})
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert main(["build", str(case_file), "-o", str(tmp_path / "out")]) == ExitCode.INCOMPLETE
    folder = tmp_path / "out" / EXIT_NO
    assert main(["verify", str(folder)]) == ExitCode.OK  # whole and unaltered: it is what it says
    checks = inspected(folder)
    assert {i for i, c in checks.items() if not c["passed"]} == {"checklist", "signed"}
    assert checks["checklist"]["details"] == ["缺第3项 劳动关系证明"]
    assert checks["signed"]["details"] == ["第15项 成都市总工会解困脱困回访记录单（第3次）（附件7）:待签章,卷内为打印稿"]


def test_a_scanners_pdf_with_a_font_it_does_not_carry_fails_fonts_and_pdfa(case_copy, tmp_path: Path) -> None:
    case_file = case_copy(FILING_EXAMPLE)
    canvas = Canvas(str(case_file.parent / "scans" / "04-承诺书和收入证明.pdf"), initialFontName="Helvetica")
    canvas.drawString(72, 720, "Income statement")
    canvas.save()
    assert main(["build", str(case_file), "-o", str(tmp_path / "out")]) == ExitCode.OK
    folder = tmp_path / "out" / "CD510108-2019-0037"
    assert main(["verify", str(folder)]) == ExitCode.OK
    checks = inspected(folder)
    assert {i for i, c in checks.items() if not c["passed"]} == {"fonts", "pdfa"}
    assert checks["fonts"]["details"] == ["未嵌入的字体:Helvetica"]


def test_the_handover_carries_one_report_per_package_and_a_summary(built_examples: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    shutil.copytree(built_examples, outbox)
    target = tmp_path / "锦江区-2020-05"
    assert main(["handover", "--outbox", str(outbox), "--district", "成都市锦江区总工会", "--date", "2020-05-06",
                 "-o", str(target)]) == ExitCode.OK
    with zipfile.ZipFile(target.with_suffix(".zip")) as zf:
        names = {n.removeprefix(f"{target.name}/") for n in zf.namelist()}
    assert {f"四性检测报告/{EXIT_NO}.pdf", f"四性检测报告/{EXIT_NO}.json", "四性检测报告/汇总.pdf",
            "四性检测报告/汇总.json"} <= names
    summary = json.loads((target / "四性检测报告" / "汇总.json").read_text(encoding="utf-8"))
    assert (summary["container"], summary["date"], summary["passed"]) == ("handover", "2020-05-06", True)
    assert [p["archive_no"] for p in summary["packages"]] == [EXIT_NO]
    assert "  四性检测报告/汇总.pdf" in (target / "manifest-sha256.txt").read_text(encoding="utf-8")
    assert main(["verify", str(target.with_suffix(".zip")), "--report-dir", str(tmp_path / "收到")]) == ExitCode.OK
    received = json.loads((tmp_path / "收到" / f"{target.name}.zip-四性检测报告.json").read_text(encoding="utf-8"))
    assert received["container"] == "zip" and [c["id"] for c in received["checks"]] == [
        "handover_fixity", "handover_complete", "container_opens", "container_safe"]
    assert received["passed"]
