"""The record an archivist accepts (issue 21): the contents list by the 件 (DA/T 22) read back cell by cell from
the PDF, one page count everywhere, and a remarks sheet (备考表) that states facts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from kunnan_docs.cli import main
from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.labels import Kind
from kunnan_docs.core.resources import checklist_data
from kunnan_docs.errors import ExitCode
from kunnan_docs.forms.typeset import zh_punct
from kunnan_docs.package.sheets import TOC_HEADER

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
                 for left, right in zip(walls, walls[1:], strict=False)]
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
