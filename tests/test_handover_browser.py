"""The 移交 page in a real browser at 1366×768: a district with a package to hand over, one 待签章 (unticked), one
with a truncated PDF (marked, not ticked); the handover made from the page and listed below it. Screenshots of
both states go to $KUNNAN_SCREENSHOTS (or a temporary folder)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kunnan_docs.cli import main
from kunnan_docs.errors import ExitCode
from kunnan_docs.package.verify import verify_path

from .conftest import EXIT_EXAMPLE, FILING_EXAMPLE, REFILED_EXAMPLE
from .test_web_browser import By, Select, browser, downloaded, downloads, screens, serving  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

JINJIANG = "成都市锦江区总工会"
EXIT_NO = "CD510104-2018-0112"
UNSIGNED_NO = "CD510104-2019-0300"
BROKEN_NO = "CD510107-2024-0008"


def _moved(example: Path, root: Path, **fields: object) -> Path:
    """An example filed in 锦江区 (the refiled one as it is, the filing one as another family, unsigned)."""
    folder = Path(shutil.copytree(example, root / example.name))
    data = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    data.update(district=JINJIANG, **fields)
    if "archive_no" in fields:
        data["worker"]["id_number"] = "510104197001010036"
        data["attachments"] = [a for a in data["attachments"] if not a.get("signed")]
    (folder / "case.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder / "case.json"


def test_the_handover_page_at_1366_by_768(browser, tmp_path: Path, screens: Path, downloads: Path) -> None:  # noqa: F811
    outbox = tmp_path / "outbox"
    cases = [EXIT_EXAMPLE / "case.json", _moved(FILING_EXAMPLE, tmp_path, archive_no=UNSIGNED_NO),
             _moved(REFILED_EXAMPLE, tmp_path)]
    assert main(["build", *map(str, cases), "-o", str(outbox)]) == ExitCode.AWAITING_SIGNATURE
    form = next((outbox / BROKEN_NO / "documents").glob("附件3-*.pdf"))
    form.write_bytes(form.read_bytes()[:4000])  # cut short, as a copy interrupted

    with serving(tmp_path) as url:
        browser.get(url + "/handover")
        Select(browser.find_element(By.ID, "district")).select_by_visible_text(JINJIANG)
        browser.find_element(By.ID, "choose").click()
        rows = {r.get_attribute("data-archive-no"): r for r in browser.find_elements(By.CSS_SELECTOR, "#handover-list tr[data-archive-no]")}
        box = {no: row.find_element(By.NAME, "cases") for no, row in rows.items()}
        assert box[EXIT_NO].is_selected() and not box[UNSIGNED_NO].is_selected()
        assert not box[BROKEN_NO].is_enabled() and "已损坏或不完整" in rows[BROKEN_NO].text
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 1366  # no sideways scrolling
        browser.save_screenshot(str(screens / "handover.png"))

        box[UNSIGNED_NO].click()  # the clerk chooses to hand it over before it is signed
        browser.find_element(By.ID, "make-handover").click()
        assert "已生成移交:2 卷" in browser.find_element(By.ID, "handover-done").text
        before = set(downloads.iterdir())
        browser.find_element(By.ID, "dl-handover-zip").click()
        assert verify_path(downloaded(downloads, ".zip", before)) == []

        browser.get(url + "/handover?district=" + JINJIANG)
        rows = browser.find_elements(By.CSS_SELECTOR, "#handover-list tr[data-archive-no]")
        assert [r.get_attribute("data-archive-no") for r in rows] == [BROKEN_NO]  # the rest went, unchanged since
        past = browser.find_element(By.ID, "past-handovers").text
        assert EXIT_NO in past and UNSIGNED_NO in past
        browser.save_screenshot(str(screens / "handover-past.png"))
