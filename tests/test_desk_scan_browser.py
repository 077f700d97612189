"""扫描入卷 and 待核对 in a real browser (chromium through selenium, `kunnan-docs serve` started as a clerk starts it,
1366×768): a stack of two families' signed forms uploaded — one filed by its code, one whose code is covered and a
smudged sheet sent to 待核对 —; the review page shows each page's image and reason; the covered form is assigned by
hand to its family's Annex 3, the smudge set aside as blank; the 请核对 note of the first family confirmed (已核对).
Each page is saved as a screenshot ($KUNNAN_SCREENSHOTS)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kunnan_docs.cli import main
from kunnan_docs.errors import ExitCode
from kunnan_docs.package.layout import read_report
from kunnan_docs.package.signed import originals_for

from .conftest import FILING_EXAMPLE, REFILED_EXAMPLE
from .test_desk_scan import annex3, pdf, signature_areas, smudge
from .test_web_browser import browser, csp_violations, downloads, found_now, screens, serving, shot, wait_for  # noqa: F401

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402

pytestmark = pytest.mark.browser

NO = "CD510108-2019-0037"
REFILED_NO = "CD510107-2024-0008"


def printed(example: Path, folder: Path) -> Path:
    """The example as its forms were just printed: no signed original yet."""
    shutil.copytree(example, folder)
    data = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    data["attachments"] = [a for a in data["attachments"] if not a.get("signed")]
    (folder / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder / "case.json"


def test_a_stack_scanned_in_its_review_worked_through_and_a_note_confirmed(browser, tmp_path: Path,  # noqa: F811
                                                                          screens: Path) -> None:  # noqa: F811
    outbox = tmp_path / "outbox"
    cases = [printed(FILING_EXAMPLE, tmp_path / "li"), printed(REFILED_EXAMPLE, tmp_path / "refiled")]
    assert main(["build", *map(str, cases), "-o", str(outbox)]) == ExitCode.AWAITING_SIGNATURE
    stack = tmp_path / "扫描仪" / "scan0001.pdf"
    stack.parent.mkdir()
    stack.write_bytes(pdf([*annex3(outbox, frozenset(signature_areas(outbox)[:1])),
                           *annex3(outbox, covered=True, no=REFILED_NO), smudge()]))

    with serving(tmp_path) as url:
        browser.get(f"{url}/scan")
        assert browser.get_window_size()["width"] == 1366
        browser.find_element(By.ID, "scan-files").send_keys(str(stack))
        browser.find_element(By.ID, "scan-submit").click()
        filed = wait_for(browser, lambda d: d.find_element(By.ID, "filed")).text
        assert NO in filed and "附件3" in filed and "scan0001.pdf 第1页" in filed
        assert "材料齐全" in browser.find_element(By.ID, "rebuilt").text
        review = browser.find_element(By.ID, "to-review").text
        assert "第2页" in review and "第3页" in review and "未能识别二维码" in review
        shot(browser, screens, "scan-1-扫描入卷结果")

        browser.find_element(By.ID, "go-review").click()
        sections = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "section.review-page"))
        assert len(sections) == 2
        for image in browser.find_elements(By.CSS_SELECTOR, "section.review-page img"):
            wait_for(browser, lambda d, i=image: d.execute_script("return arguments[0].complete", i))
            assert browser.execute_script("return arguments[0].naturalWidth", image) > 100  # rendered
        box = sections[0].rect
        assert box["x"] + box["width"] <= 1366  # no sideways scrolling at 1366×768
        shot(browser, screens, "scan-2-待核对")

        first = browser.find_element(By.ID, "review-1")
        first.find_element(By.NAME, "archive_no").send_keys(REFILED_NO)
        Select(first.find_element(By.NAME, "form")).select_by_visible_text("附件3")
        first.find_element(By.CSS_SELECTOR, "button.assign-submit").click()
        done = wait_for(browser, lambda d: d.find_element(By.ID, "review-done")).text
        assert f"已指定为 {REFILED_NO} 附件3第1页" in done
        assert originals_for(outbox, REFILED_NO)["annex3"].source == originals_for(outbox, NO)["annex3"].source
        shot(browser, screens, "scan-3-已指定案卷")

        browser.find_element(By.CSS_SELECTOR, "#review-1 button.blank-submit").click()
        wait_for(browser, lambda d: "已标为空白页" in d.find_element(By.ID, "review-done").text)
        assert "没有等待核对的页" in browser.find_element(By.ID, "review-empty").text

        browser.get(f"{url}/packages/{NO}")
        notes = browser.find_element(By.ID, "notes")
        assert "似为空白" in notes.text
        browser.find_element(By.ID, "confirm-1").click()
        wait_for(browser, lambda d: "已核对:" in d.find_element(By.ID, "notes").text)
        shot(browser, screens, "scan-4-已核对", "notes")
        assert not found_now(browser, By.ID, "confirm-1")
        assert csp_violations(browser) == []
    assert read_report(outbox / NO).status == "complete"

