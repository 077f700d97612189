"""A family's exit stage by stage in a real browser (chromium through selenium, `kunnan-docs serve` started as a
clerk starts it, 1366×768): the survey filed paper first (a hand-filled Annex 3, two scanned pages), then from the
filed family: 脱困申请 → print Annex 4 → upload it signed with the exit survey (two files at once, each with its
checklist item) → 集体研究 → 公示 (a too-short period refused beside the field, then fixed) → 区县审批 → 书面通知 →
回访 → the signed forms uploaded → 材料齐全; and another family cancelled (注销). Each page is saved as a screenshot
($KUNNAN_SCREENSHOTS)."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote

import pytest
from PIL import Image

from kunnan_docs.cli import main
from kunnan_docs.core.casefile import read_case
from kunnan_docs.errors import ExitCode
from kunnan_docs.forms.fill import forms_for
from kunnan_docs.forms.qr import form_key
from kunnan_docs.package.layout import INPUT_DIR, read_report
from kunnan_docs.package.verify import verify_path
from kunnan_docs.web.security import AUDIT_FILE

from .conftest import EXIT_EXAMPLE, FILING_EXAMPLE, REFILED_EXAMPLE
from .test_signed import make_signed
from .test_web_browser import browser, csp_violations, downloads, screens, serving, set_value, wait_for  # noqa: F401

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402

pytestmark = pytest.mark.browser

NO = "CD510108-2019-0037"
UNION = "成华区猛追湾街道总工会"
REFILED_NO = "CD510107-2024-0008"


def type_in(driver: webdriver.Chrome, name: str, text: str) -> None:
    field = driver.find_element(By.NAME, name)
    field.clear()
    field.send_keys(text)


def choose(driver: webdriver.Chrome, name: str, label: str) -> None:
    Select(driver.find_element(By.NAME, name)).select_by_visible_text(label)


def findings_at(driver: webdriver.Chrome, pointer: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, f'ul.findings[data-for="{pointer}"]').text


def shot(driver: webdriver.Chrome, folder: Path, name: str, anchor: str | None = None) -> None:
    if anchor:
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", driver.find_element(By.ID, anchor))
    time.sleep(0.3)
    driver.save_screenshot(str(folder / f"{name}.png"))


def saved(driver: webdriver.Chrome) -> None:
    wait_for(driver, lambda d: "已保存并成卷" in d.find_element(By.ID, "saved").text)


def step(driver: webdriver.Chrome, name: str) -> None:
    driver.find_element(By.ID, f"step-{name}").click()
    wait_for(driver, lambda d: d.find_element(By.ID, "save-step"))


def signed_scan(outbox: Path, key: str, folder: Path) -> Path:
    """The form as the package prints it now, signed and sealed by hand, scanned (examples/make_signed.py)."""
    ms = make_signed()
    [form] = [f for f in forms_for(read_case(outbox / NO / INPUT_DIR / "case.json")) if form_key(f) == key]
    path = folder / f"scan-{key}.pdf"
    path.write_bytes(ms.scanner_pdf(ms.signed_scan(form, NO, ms.sealing_union(form, UNION))))
    return path


def upload(driver: webdriver.Chrome, files: list[tuple[Path, str]]) -> None:
    """Choose the files in the file input (several at once), then the item of each in its row."""
    driver.find_element(By.ID, "files").send_keys("\n".join(str(p) for p, _ in files))
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#upload-rows tbody tr")) == len(files))
    for i, (_, item) in enumerate(files):
        Select(driver.find_element(By.ID, f"item-{i}")).select_by_visible_text(item)


def test_an_exit_stage_by_stage_and_a_cancellation(browser, tmp_path: Path, screens: Path) -> None:  # noqa: F811
    outbox, scans = tmp_path / "outbox", tmp_path / "scans"
    scans.mkdir()
    unsigned = tmp_path / "李建华"  # the survey form as printed: not signed yet
    data = json.loads((FILING_EXAMPLE / "case.json").read_text(encoding="utf-8"))
    data["attachments"] = [a for a in data["attachments"] if not a.get("signed")]
    (unsigned / "scans").mkdir(parents=True)
    for a in data["attachments"]:
        (unsigned / a["path"]).write_bytes((FILING_EXAMPLE / a["path"]).read_bytes())
    (unsigned / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert main(["build", str(unsigned / "case.json"), str(REFILED_EXAMPLE / "case.json"), "-o", str(outbox)]) == \
        ExitCode.AWAITING_SIGNATURE
    pages = []
    for n, shade in enumerate((246, 240), start=1):  # the survey filled in and signed at the family's home
        pages.append(scans / f"入户调查表第{n}页.jpg")
        Image.new("L", (1240, 1754), shade).save(pages[-1], "JPEG", dpi=(150, 150))

    with serving(tmp_path) as url:
        browser.get(f"{url}/packages/{NO}")
        assert "待签章" in browser.find_element(By.TAG_NAME, "h1").text

        # paper first: the hand-filled Annex 3, two pages, is the signed original of item 7
        browser.find_element(By.CSS_SELECTOR, "#hand-filled-box summary").click()
        Select(browser.find_element(By.ID, "hand-form")).select_by_visible_text("附件3 入户调查表")
        browser.find_element(By.ID, "hand-files").send_keys("\n".join(str(p) for p in pages))
        shot(browser, screens, "hand-filled", "hand-filled-box")
        browser.find_element(By.ID, "hand-submit").click()
        saved(browser)
        assert "材料齐全" in browser.find_element(By.TAG_NAME, "h1").text
        assert "手填原件已入卷" in browser.find_element(By.ID, "forms").text

        # 脱困申请: the file becomes an exit in progress; Annex 4 printed from the page
        step(browser, "application")
        set_value(browser, "/exit/application/date", "2020-06-01")
        choose(browser, "/exit/application/initiated_by", "本人书面申请")
        browser.find_element(By.ID, "/exit/application/signed_by_worker").click()
        type_in(browser, "/exit/application/contact_person_opinion", "本人已再就业,家庭收入稳定,建议脱困")
        type_in(browser, "/exit/application/union_opinion", "同意报集体研究")
        shot(browser, screens, "step-application")
        browser.find_element(By.ID, "save-step").click()
        saved(browser)
        assert "已申请(待集体研究)" in browser.find_element(By.TAG_NAME, "h1").text
        assert "下一步:可提交所在单位或乡镇(街道)工会集体研究审批" in browser.find_element(By.ID, "next-step").text
        shot(browser, screens, "package-applied")
        link = browser.find_element(By.ID, "print-annex4").get_attribute("href")
        assert unquote(link).endswith("documents/附件4-脱困申请表.pdf")
        with urllib.request.urlopen(link, timeout=30) as printed:
            assert printed.read(5) == b"%PDF-"

        # the signed Annex 4 and the exit survey, two files at once, each with its item
        upload(browser, [(signed_scan(outbox, "annex4", scans), "第11项 困难职工解困脱困申请表"),
                         (EXIT_EXAMPLE / "scans" / "12-脱困调查表.jpg", "第12项 困难职工解困脱困调查表")])
        shot(browser, screens, "upload", "upload")
        browser.find_element(By.ID, "upload-submit").click()
        saved(browser)
        assert "签章原件已入卷" in browser.find_element(By.ID, "forms").text
        assert "待签章" not in browser.find_element(By.TAG_NAME, "h1").text

        # 集体研究 (its body prefilled), 公示 too short then fixed
        step(browser, "collective_review")
        assert browser.find_element(By.NAME, "/exit/collective_review/body").get_attribute("value") == UNION
        set_value(browser, "/exit/collective_review/date", "2020-06-10")
        browser.find_element(By.ID, "save-step").click()
        saved(browser)
        step(browser, "publicity")
        set_value(browser, "/exit/publicity/start", "2020-06-15")
        set_value(browser, "/exit/publicity/end", "2020-06-18")
        choose(browser, "/exit/publicity/place_type", "村(社区)")
        type_in(browser, "/exit/publicity/place", "猛追湾街道锦华社区公示栏")
        type_in(browser, "/exit/publicity/contact", "电话 028-83321456")
        browser.find_element(By.ID, "save-step").click()
        wait_for(browser, lambda d: "只有 4 个工作日" in findings_at(d, "/exit/publicity/end"))
        assert "PUBLICITY" not in browser.find_element(By.TAG_NAME, "main").text
        shot(browser, screens, "step-publicity-short", "/exit/publicity/end")
        set_value(browser, "/exit/publicity/end", "2020-06-19")
        browser.find_element(By.ID, "save-step").click()
        saved(browser)
        assert "公示中" in browser.find_element(By.TAG_NAME, "h1").text
        assert "公示期满(2020年6月19日)后可报区县审批" in browser.find_element(By.ID, "next-step").text
        assert "2020年6月15日至2020年6月19日" in browser.find_element(By.ID, "track-publicity").text
        shot(browser, screens, "package-publicity")

        # 区县审批, 书面通知, 回访
        step(browser, "district_approval")
        set_value(browser, "/exit/district_approval/date", "2020-06-22")
        browser.find_element(By.ID, "save-step").click()
        saved(browser)
        step(browser, "notice")
        set_value(browser, "/exit/notice/date", "2020-06-24")
        choose(browser, "/exit/notice/recipient", "职工本人")
        browser.find_element(By.ID, "save-step").click()
        saved(browser)
        assert [e.get_attribute("id") for e in browser.find_elements(By.CSS_SELECTOR, "#actions a[id^=step-]")] == \
            ["step-return_visits"]
        step(browser, "return_visits")
        set_value(browser, "/exit/return_visits/0/date", "2020-12-28")
        type_in(browser, "/exit/return_visits/0/visitor", "周晓梅")
        type_in(browser, "/exit/return_visits/0/situation", "本人在岗,收入稳定")
        shot(browser, screens, "step-return-visit")
        browser.find_element(By.ID, "save-step").click()
        saved(browser)

        # the signed Annexes 5, 6 and 7: 材料齐全
        upload(browser, [(signed_scan(outbox, key, scans), item) for key, item in (
            ("annex5", "第13项 解困脱困公示"), ("annex6", "第14项 退档通知书"), ("annex7-1", "第15项 解困脱困回访记录单"))])
        browser.find_element(By.ID, "upload-submit").click()
        saved(browser)
        assert browser.find_element(By.CSS_SELECTOR, "h1 .state").text == "材料齐全"
        shot(browser, screens, "package-exited")
        assert read_report(outbox / NO).status == "complete" and verify_path(outbox / NO) == []

        # 注销 of another family
        browser.get(f"{url}/packages/{REFILED_NO}")
        step(browser, "cancellation")
        choose(browser, "/cancellation/reason", "死亡")
        set_value(browser, "/cancellation/date", "2025-07-20")
        set_value(browser, "/cancellation/decision/date", "2025-07-01")
        set_value(browser, "/cancellation/district_approval/date", "2025-07-15")
        shot(browser, screens, "step-cancellation")
        browser.find_element(By.ID, "save-step").click()
        saved(browser)
        assert browser.find_element(By.ID, "print-cancel")
        shot(browser, screens, "package-cancelled")
        assert read_report(outbox / REFILED_NO).kind == "cancellation"
        assert csp_violations(browser) == []

    audit = [json.loads(line) for line in (outbox / ".kunnan" / AUDIT_FILE).read_text("utf-8").splitlines()]
    actions = [a["action"] for a in audit if a["action"] != "查看"]
    assert actions == ["手填原件入卷", "脱困办理", "上传扫描件", *["脱困办理"] * 5, "上传扫描件", "注销"], actions
