"""A family's file from the desk in a real browser (chromium through selenium, `kunnan-docs serve` started as a
clerk starts it): type a new case (a wrong check digit is named beside the ID field while typing), save it half
done, finish it, submit it; record a home visit; correct the ID number with a reason; open a case the inbox
rejected, fix it and resubmit. Each page is saved as a screenshot at 1366×768 ($KUNNAN_SCREENSHOTS)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from kunnan_docs.package.layout import HISTORY, INPUT_DIR, read_report
from kunnan_docs.package.verify import verify_path
from kunnan_docs.web.security import AUDIT_FILE

from .conftest import FILING_EXAMPLE
from .test_web_browser import browser, downloads, drop, screens, serving, set_value, wait_for  # noqa: F401

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402

pytestmark = pytest.mark.browser

NO = "CD510106-2020-0015"
WRONG_ID, GOOD_ID, CORRECT_ID = "510106197803152301", "510106197803152303", "51010619780315232X"


def by_name(driver: webdriver.Chrome, pointer: str) -> object:
    return driver.find_element(By.NAME, pointer)


def type_in(driver: webdriver.Chrome, pointer: str, text: str) -> None:
    field = by_name(driver, pointer)
    field.clear()
    field.send_keys(text)


def choose(driver: webdriver.Chrome, pointer: str, label: str) -> None:
    Select(by_name(driver, pointer)).select_by_visible_text(label)


def findings_at(driver: webdriver.Chrome, pointer: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f'ul.findings[data-for="{pointer}"]').text


def shot(driver: webdriver.Chrome, folder: Path, name: str, anchor: str | None = None) -> None:
    if anchor:
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", by_name(driver, anchor))
    time.sleep(0.3)
    driver.save_screenshot(str(folder / f"{name}.png"))


def submit(driver: webdriver.Chrome, button: str = "submit") -> None:
    driver.find_element(By.ID, button).click()


def test_a_familys_file_from_the_desk(browser, tmp_path: Path, screens: Path) -> None:  # noqa: F811
    with serving(tmp_path) as url:
        outbox = tmp_path / "outbox"
        browser.get(url + "/inbox")
        browser.find_element(By.ID, "nav-new").click()

        # 新建档案: the first fields, and a wrong check digit named beside the ID field while typing
        type_in(browser, "/archive_no", NO)
        choose(browser, "/level", "区县级")
        type_in(browser, "/district", "成都市武侯区总工会")
        type_in(browser, "/union", "武侯区浆洗街街道总工会")
        set_value(browser, "/filing_date", "2020-05-20")
        type_in(browser, "/worker/name", "陈秀英")
        choose(browser, "/worker/gender", "女")
        type_in(browser, "/worker/id_number", WRONG_ID)
        wait_for(browser, lambda d: "校验位" in findings_at(d, "/worker/id_number"))
        assert "ID-CHECK" not in browser.page_source.split("<body")[1].split("<script")[0]
        shot(browser, screens, "editor-new-finding", "/worker/id_number")
        type_in(browser, "/worker/id_number", GOOD_ID)
        wait_for(browser, lambda d: findings_at(d, "/worker/id_number") == "")

        # saved half done, found again in 草稿, finished
        submit(browser, "save")
        assert "草稿已保存" in browser.find_element(By.ID, "saved").text
        browser.find_element(By.ID, "nav-drafts").click()
        assert NO in browser.find_element(By.ID, "draft-list").text
        shot(browser, screens, "drafts")
        browser.find_element(By.LINK_TEXT, NO).click()
        assert by_name(browser, "/worker/id_number").get_attribute("value") == GOOD_ID
        type_in(browser, "/worker/phone", "13980051234")
        type_in(browser, "/worker/address", "成都市武侯区浆洗街12号")
        type_in(browser, "/worker/employer", "成都锦城纺织厂")
        choose(browser, "/worker/enterprise_status", "破产")
        choose(browser, "/worker/work_status", "失业")
        set_value(browser, "/worker/work_start_date", "1996-09-01")
        choose(browser, "/worker/housing_type", "租住私房")
        type_in(browser, "/worker/housing_area", "36.5")
        choose(browser, "/worker/hukou_type", "城镇")
        browser.find_element(By.CSS_SELECTOR, 'input[name="/worker/hardship_categories"][value="因病"]').click()
        type_in(browser, "/worker/health_status", "本人患类风湿性关节炎")
        choose(browser, "/worker/medical_insurance", "城镇职工医保")
        type_in(browser, "/worker/monthly_income", "0")
        type_in(browser, "/worker/family_annual_income", "16800")
        browser.find_element(By.CSS_SELECTOR, '.rows[data-pointer="/family_members"] .add-row').click()
        type_in(browser, "/family_members/0/name", "刘洋")
        type_in(browser, "/family_members/0/relation", "儿子")
        type_in(browser, "/family_members/0/age", "17")
        type_in(browser, "/family_members/0/status", "高中在读")
        type_in(browser, "/hardship_reason", "所在企业破产后本人失业,患类风湿性关节炎,儿子高中在读,家庭收入低。")
        set_value(browser, "/survey/date", "2020-05-12")
        browser.find_element(By.CSS_SELECTOR, '.rows[data-pointer="/survey/surveyors"] .add-row').click()
        type_in(browser, "/survey/surveyors/0", "赵敏")
        type_in(browser, "/contact_person/name", "赵敏")
        set_value(browser, "/contact_person/assigned_date", "2020-05-20")
        wait_for(browser, lambda d: "检查通过" in d.find_element(By.ID, "check-state").text)
        shot(browser, screens, "editor-filled", "/family_members/0/name")
        submit(browser)
        wait_for(browser, lambda d: "已保存并成卷" in d.find_element(By.ID, "saved").text)
        assert read_report(outbox / NO).kind == "filing" and verify_path(outbox / NO) == []
        shot(browser, screens, "package-after-submit")

        # 登记 a home visit: a new version, the first kept
        browser.find_element(By.ID, "record-visit").click()
        set_value(browser, "/home_visits/0/date", "2020-11-18")
        type_in(browser, "/home_visits/0/visitor", "赵敏")
        type_in(browser, "/home_visits/0/notes", "了解治疗和求职情况")
        shot(browser, screens, "record-visit")
        browser.find_element(By.ID, "save-record").click()
        wait_for(browser, lambda d: "已保存并成卷" in d.find_element(By.ID, "saved").text)
        assert "第1版" in browser.find_element(By.ID, "versions").text
        case = json.loads((outbox / NO / INPUT_DIR / "case.json").read_text(encoding="utf-8"))
        assert case["home_visits"] == [{"date": "2020-11-18", "visitor": "赵敏", "notes": "了解治疗和求职情况"}]

        # 更正 the ID number, with a reason: the old version stays in the history
        browser.find_element(By.ID, "correct").click()
        type_in(browser, "/worker/id_number", CORRECT_ID)
        type_in(browser, "reason", "身份证号末两位录入错误,已对照身份证原件核实")
        shot(browser, screens, "correct", "/worker/id_number")
        submit(browser)
        wait_for(browser, lambda d: "已保存并成卷" in d.find_element(By.ID, "saved").text)
        assert "第2版" in browser.find_element(By.ID, "versions").text
        assert browser.find_element(By.ID, "id-masked").text == "510106********232X"
        old = outbox / HISTORY / NO / "第2版" / INPUT_DIR / "case.json"
        assert json.loads(old.read_text(encoding="utf-8"))["worker"]["id_number"] == GOOD_ID

        # a case the inbox rejected: opened in the editor, fixed, resubmitted; rejected/ keeps it
        drop(FILING_EXAMPLE, tmp_path / "inbox", "李建华", {"gender": "女"})
        browser.get(url + "/inbox")
        wait_for(browser, lambda d: "性别" in d.find_element(By.ID, "rejected").text)
        assert "/worker" not in browser.find_element(By.ID, "rejected").text
        shot(browser, screens, "inbox-rejected")
        wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "button.open-rejected").click() or True)
        wait_for(browser, lambda d: "身份证号第17位" in findings_at(d, "/worker/gender"))
        shot(browser, screens, "editor-rejected", "/worker/gender")
        choose(browser, "/worker/gender", "男")
        submit(browser)
        wait_for(browser, lambda d: "已保存并成卷" in d.find_element(By.ID, "saved").text)
        assert read_report(outbox / "CD510108-2019-0037").status == "complete"
        assert list((tmp_path / "rejected").rglob("case.json"))  # the rejected input is still there

        audit = [json.loads(line) for line in (outbox / ".kunnan" / AUDIT_FILE).read_text("utf-8").splitlines()]
        actions = [a["action"] for a in audit]
        for action in ("新建草稿", "保存草稿", "提交成卷", "登记", "更正", "打开退回案卷", "退回案卷重新提交"):
            assert action in actions, actions
        assert GOOD_ID not in json.dumps(audit, ensure_ascii=False)
