"""Staff workflows read back: the notices PDF, the handover folder, zip, register and manifest, the due
list and progress workbooks and PDF, and the Excel import round trip."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from openpyxl import Workbook, load_workbook

from kunnan_docs.cli import main
from kunnan_docs.core.zh import pinyin_key
from kunnan_docs.errors import ExitCode
from kunnan_docs.staff.due import XLSX_HEADERS, due_list
from kunnan_docs.staff.progress import tally
from kunnan_docs.staff.xlsx import ZH_DATE_FORMAT
from kunnan_docs.staff.xlsx_import import FIRST_DATA_ROW, KEY, layout

from .conftest import EXAMPLES, EXIT_EXAMPLE, FILING_EXAMPLE
from .test_signed import make_signed

EXIT_ID = "510104196811021242"


def texts(pdf: Path) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    return [doc[i].get_textpage().get_text_range().replace("\r", "").replace("\n", "") for i in range(len(doc))]


@pytest.fixture(scope="module")
def outbox(built_examples: Path, tmp_path_factory) -> Path:
    """The four examples, plus a second exit case posted by another unit in another month."""
    root = tmp_path_factory.mktemp("wf")
    second = root / "second"
    shutil.copytree(EXIT_EXAMPLE, second)
    data = json.loads((second / "case.json").read_text(encoding="utf-8"))
    data["archive_no"] = "CD510104-2018-0200"
    data["exit"]["publicity"].update({"start": "2019-10-14", "end": "2019-10-18", "place": "成都锦华纺织有限公司",
                                      "place_type": "unit", "contact": "厂工会办公室，电话 028-84441234"})
    data["exit"]["district_approval"]["date"] = "2019-10-21"
    data["exit"]["notice"]["date"] = "2019-10-25"
    data["exit"]["return_visits"] = [{"date": "2019-12-20", "visitor": "黄丽", "situation": "生活稳定。"}]
    data["worker"].update({"id_number": "510104197001010028", "name": "张秀英"})
    (second / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    make_signed().main(root)  # its forms, signed and scanned: the second case awaits no signature
    out = root / "outbox"
    shutil.copytree(built_examples, out, symlinks=True)  # the session's build of the examples
    assert main(["build", str(second / "case.json"), "-o", str(out)]) == ExitCode.INCOMPLETE  # in follow-up
    return out


def test_notices_one_per_page_sorted_by_unit_without_personal_data(outbox, tmp_path) -> None:
    target = tmp_path / "notices.pdf"
    assert main(["notices", "--outbox", str(outbox), "-o", str(target)]) == ExitCode.OK
    pages = texts(target)
    assert len(pages) == 2
    places = ["成都锦华纺织有限公司", "书院街街道锦华社区"]  # grouped by the posting unit, in pinyin order
    assert f"{places[0]}工会盖章" in pages[0] and f"{places[1]}工会盖章" in pages[1]
    assert "请在5个工作日内向所在单位工会反映。联系方式：厂工会办公室，电话 028-84441234" in pages[0]  # where to object
    for page in pages:
        assert "脱困公示" in page and page.count("个工作日") == 1  # the period is said once
        assert "附件5" not in page and "第1页" not in page  # a poster, no internal footer
        for private in (EXIT_ID, "510104197001010028", "书院西街", "糖尿病", "18000"):
            assert private not in page


def test_notices_date_range(outbox, tmp_path) -> None:
    target = tmp_path / "oct.pdf"
    assert main(["notices", "--outbox", str(outbox), "--from", "2019-10-01", "--to", "2019-10-31",
                 "-o", str(target)]) == ExitCode.OK
    [page] = texts(target)
    assert "张秀英" in page and "2019年10月14日" in page


def test_handover_folder_zip_register_and_verify(outbox, tmp_path, capsys) -> None:
    target = tmp_path / "移交" / "锦江区"
    assert main(["handover", "--outbox", str(outbox), "--district", "成都市锦江区总工会", "--date", "2019-11-01",
                 "--all", "-o", str(target)]) == ExitCode.OK
    assert sorted(p.name for p in (target / "案卷").iterdir()) == ["CD510104-2018-0112", "CD510104-2018-0200"]
    ws = load_workbook(target / "移交清单.xlsx").active
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    header = rows.index(["序号", "档案号", "姓名", "类别", "页数", "材料齐全", "备注"])
    assert rows[1][:2] == ["移交单位：", "锦江区书院街街道总工会"] and rows[2][:2] == ["接收单位：", "成都市锦江区总工会"]
    assert rows[3][:2] == ["移交日期：", datetime(2019, 11, 1)]  # a real date cell
    pages = json.loads((outbox / "CD510104-2018-0112" / "report.json").read_text(encoding="utf-8"))["pages"]["content"]
    assert rows[header + 1][:7] == [1, "CD510104-2018-0112", "王淑芬", "脱困", pages, "是", None]
    assert rows[header + 2][1] == "CD510104-2018-0200" and rows[header + 2][5] == "否"
    assert rows[header + 2][6] == "回访期中：脱困未满六个月"
    assert rows[header + 3][:5] == ["合计", 2, None, None, pages + rows[header + 2][4]]  # numbers, not text
    assert [r[0] for r in rows[header + 5:header + 8]] == ["移交单位（盖章）：", "移交人（签字）：", "移交日期："]
    assert [r[4] for r in rows[header + 5:header + 8]] == ["接收单位（盖章）：", "接收人（签字）：", "接收日期："]
    assert ws.print_title_rows == f"${header + 1}:${header + 1}" and "&P" in ws.oddFooter.center.text
    register = texts(target / "移交清单.pdf")[0]
    assert "困难职工档案移交清单" in register and "移交人（签字）" in register and "接收人（签字）" in register
    assert "移交单位（盖章）" in register and "接收单位（盖章）" in register and "第1页" in register and "共1页" in register
    assert "移交单位：锦江区书院街街道总工会" in register and register.count("2019年11月1日") == 1
    assert not any(c in register for c in "(),:;")  # full-width punctuation throughout
    with zipfile.ZipFile(target.with_suffix(".zip")) as zf:
        names = zf.namelist()
        assert "锦江区/移交清单.xlsx" in names and "锦江区/案卷/CD510104-2018-0112/报告.txt" in names
        assert all(info.flag_bits & 0x800 for info in zf.infolist() if not info.filename.isascii())
    manifest = (target / "manifest-sha256.txt").read_text(encoding="utf-8")
    assert "  移交清单.pdf" in manifest and "  案卷/CD510104-2018-0200/CD510104-2018-0200.pdf" in manifest
    assert main(["verify", str(target), str(target.with_suffix(".zip"))]) == ExitCode.OK


def test_verify_fails_on_tampered_handover_folder_and_zip(outbox, tmp_path, capsys) -> None:
    target = tmp_path / "h"
    assert main(["handover", "--outbox", str(outbox), "--district", "成都市锦江区总工会", "--all", "-o", str(target)]) == 0
    report = target / "案卷" / "CD510104-2018-0112" / "报告.txt"
    report.write_text(report.read_text(encoding="utf-8-sig") + "改", encoding="utf-8")
    assert main(["verify", str(target)]) == ExitCode.VERIFY_FAILED
    assert "案卷/CD510104-2018-0112/报告.txt" in capsys.readouterr().out
    bad_zip = tmp_path / "bad.zip"
    with zipfile.ZipFile(target.with_suffix(".zip")) as src, zipfile.ZipFile(bad_zip, "w") as dst:
        for info in src.infolist():
            if not info.filename.endswith("移交清单.pdf"):  # a file goes missing in transit
                dst.writestr(info, src.read(info))
    assert main(["verify", str(bad_zip)]) == ExitCode.VERIFY_FAILED
    assert "缺少文件:移交清单.pdf" in capsys.readouterr().out


def test_handover_refuses_unknown_district_and_case(outbox, tmp_path, capsys) -> None:
    assert main(["handover", "--outbox", str(outbox), "--district", "某区总工会", "-o", str(tmp_path / "x")]) == 2
    assert "成都市锦江区总工会" in capsys.readouterr().err  # tells which districts exist
    assert main(["handover", "--outbox", str(outbox), "--district", "成都市锦江区总工会", "--cases", "NOPE",
                 "-o", str(tmp_path / "y")]) == ExitCode.USAGE


def test_progress_bar_stays_quiet_without_a_terminal(outbox, tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "kunnan_docs", "handover", "--outbox", str(outbox),
                             "--district", "成都市锦江区总工会", "--all", "-o", str(tmp_path / "q")],
                            capture_output=True, text=True, check=True)
    assert "复制案卷" not in result.stderr and "it/s" not in result.stderr


def test_due_list_per_contact_person(outbox, tmp_path, capsys) -> None:
    target = tmp_path / "due.xlsx"
    assert main(["due", "--outbox", str(outbox), "--as-of", "2020-08-01", "-o", str(target)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "半年入户走访" in out and "逾期 17 天" in out  # last visit 2020-01-15 → due 2020-07-15
    assert "半年档案核查" in out and "17 天后到期" in out  # last check 2020-02-18 → due 2020-08-18
    assert "脱困满六个月回访" in out  # the second exit case: notice 2019-10-25, no visit after 2020-04-25
    ws = load_workbook(target).active
    assert [c.value for c in ws[3]] == XLSX_HEADERS
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=4)]
    [li] = [r for r in rows if r[1] == "CD510108-2019-0037" and r[5] == "半年入户走访"]
    assert li[:3] == ["周晓梅", "CD510108-2019-0037", "李建华"] and li[3] and li[4]  # phone and address to visit
    assert li[6:9] == [datetime(2020, 1, 15), datetime(2020, 7, 15), -17]  # real dates and a number of days
    assert ws.cell(row=4, column=7).number_format == ZH_DATE_FORMAT
    contacts = [r[0] for r in rows]
    assert contacts == sorted(contacts, key=lambda c: pinyin_key(c))  # grouped per contact person, pinyin order
    assert not any(r[1] == "CD510104-2018-0112" for r in rows)  # finished follow-up: nothing due
    assert not any(d.phone or d.address for d in due_list(outbox, date(2020, 8, 1)).items)  # the screen's list: no reach


def test_progress_table_and_pdf(outbox, tmp_path, capsys) -> None:
    target = tmp_path / "progress.pdf"
    assert main(["progress", "--outbox", str(outbox), "-o", str(target)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "合计" in out and "67%" in out and "市级" in out  # 2 of 3 全国级 families exited; the 市级 one apart
    [page] = texts(target)
    assert "城镇困难职工解困脱困进度" in page and "2019年目标 60%" in page and "成都市成华区总工会" in page


# -- Excel import ------------------------------------------------------------------------------------

def _lookup(data: Any, pointer: str) -> Any:
    for part in [p for p in pointer.split("/") if p]:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _cell(value: Any, spec: dict[str, Any]) -> Any:
    if spec["type"] == "list" and value is not None:
        return "、".join(value)
    if spec["type"] == "choice" and value is not None:
        return {v: k for k, v in spec["choices"].items()}[value]
    return value


def fill_workbook(template: Path, cases: list[dict[str, Any]], target: Path) -> None:
    """What a clerk does in Excel: type each family into the template, one row per record."""
    wb = load_workbook(template)
    spec = layout()
    ws = wb[spec["main"]["sheet"]]
    for r, case in enumerate(cases, start=FIRST_DATA_ROW):
        for c, col in enumerate(spec["main"]["columns"], start=1):
            ws.cell(row=r, column=c, value=_cell(_lookup(case, col["pointer"]), col))
    for sheet in spec["lists"]:
        ws = wb[sheet["sheet"]]
        r = FIRST_DATA_ROW
        for case in cases:
            for record in _lookup(case, sheet["pointer"]) or []:
                ws.cell(row=r, column=1, value=case["archive_no"])
                for c, col in enumerate(sheet["columns"], start=2):
                    ws.cell(row=r, column=c, value=_cell(_lookup(record, col["pointer"]), col))
                r += 1
    wb.save(target)


def _without_nulls(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_nulls(v) for k, v in data.items() if v not in (None, "")}  # empty cells
    if isinstance(data, list):
        return [_without_nulls(v) for v in data]
    return data


def test_template_has_chinese_headers_and_hints(tmp_path) -> None:
    target = tmp_path / "t.xlsx"
    assert main(["template-xlsx", "-o", str(target)]) == ExitCode.OK
    wb = load_workbook(target)
    assert wb.sheetnames[:2] == ["说明", "案卷"] and "帮扶救助" in wb.sheetnames
    main_sheet = wb["案卷"]
    assert main_sheet["A1"].value == "档案号" and main_sheet["K1"].value == "身份证号"
    assert main_sheet["K2"].value and main_sheet["K3"].number_format == "@"
    assert wb["家庭成员"]["A1"].value == KEY


def test_import_round_trip_of_every_example(tmp_path, capsys) -> None:
    template = tmp_path / "t.xlsx"
    main(["template-xlsx", "-o", str(template)])
    originals = [json.loads((p / "case.json").read_text(encoding="utf-8")) for p in sorted(EXAMPLES.glob("*/"))
                 if (p / "case.json").exists()]
    book = tmp_path / "book.xlsx"
    fill_workbook(template, originals, book)
    assert main(["import-xlsx", str(book), "-o", str(tmp_path / "out")]) == ExitCode.OK
    for original in originals:
        imported = json.loads((tmp_path / "out" / original["archive_no"] / "case.json").read_text(encoding="utf-8"))
        assert imported == _without_nulls(original)


def test_import_reports_bad_rows_by_row_and_column(tmp_path, capsys) -> None:
    template = tmp_path / "t.xlsx"
    main(["template-xlsx", "-o", str(template)])
    good = json.loads((FILING_EXAMPLE / "case.json").read_text(encoding="utf-8"))
    wrong_sex = json.loads(json.dumps(good)) | {"archive_no": "BAD-SEX"}
    wrong_sex["worker"]["gender"] = "女"
    bad_date = json.loads(json.dumps(good)) | {"archive_no": "BAD-DATE", "filing_date": "2019年13月1日"}
    book = tmp_path / "book.xlsx"
    fill_workbook(template, [good, wrong_sex, bad_date], book)
    wb = load_workbook(book)
    wb["家庭成员"].cell(row=FIRST_DATA_ROW, column=5).value = "七十八"  # age not a number
    wb.save(book)
    assert main(["import-xlsx", str(book), "-o", str(tmp_path / "out")]) == ExitCode.INVALID
    out = capsys.readouterr().out
    assert "表“案卷”第 4 行【性别】" in out and "ID-SEX" not in out  # the clerk sees where, in words
    assert "表“案卷”第 5 行【建档日期】:“2019年13月1日”不是有效日期" in out
    assert "表“家庭成员”第 3 行【年龄】:“七十八”不是数字" in out
    assert not (tmp_path / "out" / "BAD-SEX").exists() and not (tmp_path / "out" / "BAD-DATE").exists()
    assert not (tmp_path / "out" / "CD510108-2019-0037").exists()  # its family-member row was bad


def test_id_number_typed_as_number_is_caught(tmp_path, capsys) -> None:
    template = tmp_path / "t.xlsx"
    main(["template-xlsx", "-o", str(template)])
    case = json.loads((FILING_EXAMPLE / "case.json").read_text(encoding="utf-8"))
    book = tmp_path / "book.xlsx"
    fill_workbook(template, [case], book)
    wb = load_workbook(book)
    wb["案卷"].cell(row=FIRST_DATA_ROW, column=11).value = 510108197205141236.0
    wb.save(book)
    assert main(["import-xlsx", str(book), "-o", str(tmp_path / "out")]) == ExitCode.INVALID
    assert "【身份证号】:被 Excel 当成了数字" in capsys.readouterr().out


def test_unknown_workbook_is_a_usage_error(tmp_path, capsys) -> None:
    book = tmp_path / "other.xlsx"
    Workbook().save(book)
    assert main(["import-xlsx", str(book), "-o", str(tmp_path / "out")]) == ExitCode.USAGE
    assert "template-xlsx" in capsys.readouterr().err


def test_progress_targets_count_national_families_and_other_levels_apart(outbox, tmp_path) -> None:
    progress = tally(outbox, date(2025, 1, 1))
    lines, others = progress.lines, progress.others
    assert [(x.district, x.filed, x.exited) for x in lines] == [
        ("成都市成华区总工会", 1, 0), ("成都市锦江区总工会", 2, 2), ("合计", 3, 2)]  # pinyin order, 全国级 only
    assert [(x.district, x.level, x.filed) for x in others] == [("成都市武侯区总工会", "市级", 1)]
    assert [(x.district, x.exited) for x in tally(outbox, date(2019, 10, 20)).lines][1] == ("成都市锦江区总工会", 1)
    assert tally(outbox, date(2020, 1, 1)).others == []  # filed in 2024: not yet there at the cut-off
    target = tmp_path / "p.pdf"
    assert main(["progress", "--outbox", str(outbox), "--as-of", "2025-01-01", "-o", str(target)]) == ExitCode.OK
    [page] = texts(target)
    assert "统计截止日期：2025年1月1日" in page and "全国级建档户数" in page
    assert "其他层级建档户" in page and "市级" in page and "100%" in page
    doc = pdfium.PdfDocument(target)
    tp = doc[0].get_textpage()
    boxes = [tp.get_charbox(i) for i in range(tp.count_chars())]
    text = tp.get_text_range()
    for i, box in enumerate(boxes):  # no label drawn over another (the "00%" of a clipped, overprinted 100%)
        for j in range(i + 1, len(boxes)):
            other = boxes[j]
            overlap = min(box[2], other[2]) - max(box[0], other[0]), min(box[3], other[3]) - max(box[1], other[1])
            if text[i].strip() and text[j].strip():
                assert overlap[0] <= 0.5 or overlap[1] <= 0.5, (text[i], text[j])


def test_due_uses_nothing_dated_after_as_of_and_an_empty_list_has_columns(case_copy, tmp_path, capsys) -> None:
    case_file = case_copy(FILING_EXAMPLE)
    data = json.loads(case_file.read_text(encoding="utf-8"))
    data["archive_checks"] = [{"date": "2019-08-22", "checker": "张涛"}, {"date": "2020-03-01", "checker": "张涛"}]
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out"
    main(["build", str(case_file), "-o", str(out)])
    items = due_list(out, date(2020, 2, 1)).items  # the check of 2020-03-01 is not known yet on 2020-02-01
    assert ("半年档案核查", date(2019, 8, 22), date(2020, 2, 22)) in [(d.what, d.last, d.due) for d in items]
    empty = tmp_path / "empty.xlsx"
    assert main(["due", "--outbox", str(out), "--as-of", "2019-03-13", "-o", str(empty)]) == ExitCode.OK
    ws = load_workbook(empty).active
    assert [c.value for c in ws[3]] == XLSX_HEADERS and ws["A4"].value == "（无到期事项）"
    assert all(ws.column_dimensions[c].width >= 10 for c in "ABCDEFGHIJ")


def test_pinyin_order_with_place_name_overrides() -> None:
    units = ["成都市郫都区总工会", "成都市彭州市总工会", "成都市青羊区总工会", "成都市新都区总工会", "成都市新津区总工会"]
    assert sorted(units, key=pinyin_key) == ["成都市彭州市总工会", "成都市郫都区总工会", "成都市青羊区总工会",
                                             "成都市新都区总工会", "成都市新津区总工会"]
    assert pinyin_key("郫都")[0] == ("pi2", "du1")


def test_package_sheets_speak_to_people(outbox) -> None:
    pages = texts(outbox / "CD510104-2018-0200" / "CD510104-2018-0200.pdf")
    remarks, contents, cover = pages[-1], pages[1], pages[0]
    # the sheet states the fact; the reminder, which says what to do, is the clerk's (报告.txt)
    assert "本户于2019年10月25日书面通知脱困，回访应至2020年4月25日，尚在回访期中" in remarks
    assert "提醒" not in remarks and "请核对" not in remarks and "重新成卷" not in remarks
    summary = (outbox / "CD510104-2018-0200" / "报告.txt").read_text(encoding="utf-8-sig")
    assert "提醒:脱困后须继续关注" in summary and "2019年10月25日至2020年4月25日" in summary
    import re

    for sheet in (remarks, contents, cover):
        assert not re.search(r"RV-|/exit|\d{4}-\d{2}-\d{2}|[A-Z]+-[A-Z]+-", sheet.replace("CD510104-2018-0200", ""))
    assert "（附件3）" in contents and "(附件" not in contents and "附件3)" not in contents
    assert "CD510104-2018-0200成都市锦江区总工会脱困困难职工档案" in cover  # the keeping union above the title


def test_our_sheets_break_lines_by_chinese_rules(outbox, tmp_path) -> None:
    from kunnan_docs.forms.typeset import NO_LINE_END, NO_LINE_START

    package = outbox / "CD510104-2018-0200" / "CD510104-2018-0200.pdf"
    progress = tmp_path / "p.pdf"
    assert main(["progress", "--outbox", str(outbox), "--as-of", "2025-01-01", "-o", str(progress)]) == ExitCode.OK
    doc = pdfium.PdfDocument(package)
    sheets = [doc[i].get_textpage().get_text_range() for i in (0, 1, len(doc) - 1)]
    sheets += [pdfium.PdfDocument(progress)[0].get_textpage().get_text_range()]
    for sheet in sheets:
        for line in (x.strip() for x in sheet.replace("\r", "").split("\n")):
            if line:
                assert line[0] not in NO_LINE_START and line[-1] not in NO_LINE_END, line
