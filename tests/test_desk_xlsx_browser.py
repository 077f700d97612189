"""导入Excel in a real browser (chromium through selenium, `kunnan-docs serve` started as a clerk starts it,
1366×768): the template downloaded, a workbook of 20 families with 3 broken rows uploaded → the preview names the 3
rows' problems by sheet, row and column in Chinese and offers the 17 others → confirmed: 17 published, the 3 not →
the same workbook again: all unchanged, nothing offered → one family's phone changed: only that one offered, as a
change, rebuilt as a new version when ticked (the old one in _历史版本). The audit log says who imported what."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from kunnan_docs.package.layout import HISTORY, INPUT_DIR
from kunnan_docs.staff.xlsx_import import FIRST_DATA_ROW, OPTIONS_SHEET
from kunnan_docs.web.security import AUDIT_FILE

from .test_desk_xlsx import book, families, headers
from .test_web_browser import (  # noqa: F401
    browser,
    csp_violations,
    downloaded,
    downloads,
    found_now,
    screens,
    serving,
    shot,
    wait_for,
)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402

pytestmark = pytest.mark.browser

BUILDS = 900  # seconds for 17 builds on two cores shared with the rest of the suite
BROKEN = {5: ("建档日期", "2019年13月1日", "“2019年13月1日”不是有效日期"),
          11: ("身份证号", 510108197205141236.0, "被 Excel 当成了数字"),
          17: ("性别", "女", "")}  # a woman's gender for a man's ID number: the rules say so


def broken_book(tmp: Path) -> Path:
    path = book(tmp, families(20))
    wb = load_workbook(path)
    ws = wb["案卷"]
    letters = headers(ws)
    for family, (header, value, _) in BROKEN.items():
        ws[f"{letters[header]}{FIRST_DATA_ROW + family - 1}"] = value
    wb.save(path)
    return path


def states(driver: webdriver.Chrome) -> dict[str, str]:
    return {r.get_attribute("data-archive-no"): r.get_attribute("class")
            for r in driver.find_elements(By.CSS_SELECTOR, "#preview tr[data-archive-no]")}


def upload(driver: webdriver.Chrome, url: str, path: Path) -> None:
    driver.get(f"{url}/workbooks")
    driver.find_element(By.ID, "book").send_keys(str(path))
    driver.find_element(By.ID, "upload-book").click()
    wait_for(driver, lambda d: d.find_element(By.ID, "preview"))


def confirmed(driver: webdriver.Chrome) -> str:
    driver.find_element(By.ID, "confirm-import").click()
    return wait_for(driver, lambda d: d.find_element(By.ID, "import-done").text, timeout=BUILDS)


def test_a_workbook_of_20_families_with_3_broken_rows(browser, downloads, tmp_path: Path, screens: Path) -> None:  # noqa: F811
    outbox = tmp_path / "outbox"
    (tmp_path / "clerk").mkdir()
    workbook = broken_book(tmp_path / "clerk")
    numbers = [f"CD510108-2026-{i:04d}" for i in range(1, 21)]
    with serving(tmp_path) as url:
        browser.get(f"{url}/workbooks")
        before = set(downloads.iterdir())
        browser.find_element(By.ID, "dl-template").click()
        template = load_workbook(downloaded(downloads, ".xlsx", before))
        assert template[OPTIONS_SHEET].sheet_state == "hidden" and template["附件"].data_validations.dataValidation

        upload(browser, url, workbook)
        shot(browser, screens, "workbook-preview")
        found = states(browser)
        assert list(found) == numbers  # every family row, in the workbook's order
        assert [no for no, s in found.items() if s == "problem"] == [numbers[i - 1] for i in BROKEN]
        assert sum(s == "ready" for s in found.values()) == 17
        assert "17 户可以导入" in browser.find_element(By.ID, "summary").text
        for family, (header, _, said) in BROKEN.items():
            row = browser.find_element(By.CSS_SELECTOR, f'#preview tr[data-archive-no="{numbers[family - 1]}"]').text
            assert f"表“案卷”第 {FIRST_DATA_ROW + family - 1} 行【{header}】" in row and said in row, row
        text = browser.find_element(By.TAG_NAME, "main").text
        assert "ID-" not in text and "/worker" not in text and str(tmp_path) not in text
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 1366

        assert "导入 17 户" in confirmed(browser)
        shot(browser, screens, "workbook-done")
        assert sorted(p.name for p in outbox.iterdir() if p.name.startswith("CD")) == \
            [n for i, n in enumerate(numbers, start=1) if i not in BROKEN]

        upload(browser, url, workbook)  # the same workbook again: nothing to do
        found = states(browser)
        assert sum(s == "unchanged" for s in found.values()) == 17 and not found_now(browser, By.NAME, "cases")
        browser.find_element(By.ID, "cancel-import").click()
        wait_for(browser, lambda d: d.find_element(By.ID, "upload-book"))

        wb = load_workbook(workbook)
        wb["案卷"][f"{headers(wb['案卷'])['联系电话']}{FIRST_DATA_ROW + 1}"] = "13908005678"
        changed = tmp_path / "各户(改了电话).xlsx"
        wb.save(changed)
        upload(browser, url, changed)
        found = states(browser)
        assert [no for no, s in found.items() if s == "changed"] == [numbers[1]]
        assert sum(s == "unchanged" for s in found.values()) == 16
        [tick] = browser.find_elements(By.NAME, "cases")
        assert not tick.is_selected() and "联系电话" in browser.find_element(By.ID, "preview").text
        shot(browser, screens, "workbook-changed")
        tick.click()
        assert "导入 1 户" in confirmed(browser)
        assert not csp_violations(browser)

    case = json.loads((outbox / numbers[1] / INPUT_DIR / "case.json").read_text(encoding="utf-8"))
    assert case["worker"]["phone"] == "13908005678"
    assert [p.name for p in (outbox / HISTORY).iterdir() if p.name.startswith(numbers[1])]
    lines = [json.loads(x) for x in (outbox / ".kunnan" / AUDIT_FILE).read_text(encoding="utf-8").splitlines()]
    actions = [x["action"] for x in lines]
    assert actions.count("上传Excel工作簿") == 3 and actions.count("导入Excel") == 18
    assert actions.count("确认导入Excel") == 2 and actions.count("取消导入Excel") == 1
    assert [x["file"] for x in lines if x["action"] == "确认导入Excel"] == [workbook.name, changed.name]
