"""Data loss: an input edited during its build, a folder holding two case files (issue 10), a loose case taking
another case's scans (issue 22)."""

from __future__ import annotations

import hashlib
import json
import shutil

from .conftest import EXIT_EXAMPLE, FILING_EXAMPLE
from .test_watch import (
    EXIT_NO,
    FILING_NO,
    _heavy_case,
    areas,  # noqa: F401 - fixture
    assert_no_half_package,
    drop_folder,
    listing,
    log_text,
    packages,
    run_once,
    start,
    stop,
    wait_for,
)


def test_case_file_edited_during_its_build_is_built_again(areas) -> None:  # noqa: F811
    proc = start(areas)
    try:
        _heavy_case(areas)
        wait_for(lambda: "开始成卷" in log_text(areas), "build start")
        case_file = areas["inbox"] / "王淑芬" / "case.json"
        case = json.loads(case_file.read_text(encoding="utf-8"))
        case["union"] = "成都市锦江区另一街道工会"  # not the name: that changes only through a correction
        case_file.write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
        wait_for(lambda: listing(areas["inbox"]) == [], "inputs filed away", timeout=120)
    finally:
        assert stop(proc) == 0
    assert packages(areas) == [EXIT_NO] and listing(areas["rejected"]) == []
    package = areas["outbox"] / EXIT_NO
    assert json.loads((package / "report.json").read_text(encoding="utf-8"))["case"]["union"] == "成都市锦江区另一街道工会"
    filed = [p for p in areas["processed"].rglob("case.json")]
    assert len(filed) == 1
    digest = hashlib.sha256(filed[0].read_bytes()).hexdigest()
    assert f"{digest}  input/case.json" in (package / "manifest-sha256.txt").read_text(encoding="utf-8")
    assert_no_half_package(areas)


def test_folder_with_two_case_files_is_refused_whole(areas) -> None:  # noqa: F811
    folder = areas["inbox"] / "两份"
    shutil.copytree(FILING_EXAMPLE, folder)
    shutil.copy(EXIT_EXAMPLE / "case.json", folder / "b.json")
    result = run_once(areas)
    assert result.returncode == 1, result.stderr
    assert packages(areas) == [] and listing(areas["processed"]) == [] and listing(areas["inbox"]) == []
    rejected = listing(areas["rejected"])
    assert any(p.endswith("两份/case.json") for p in rejected) and any(p.endswith("两份/b.json") for p in rejected)
    reason = next(areas["rejected"].rglob("退回原因.txt")).read_text(encoding="utf-8-sig")
    assert "b.json" in reason and "case.json" in reason and "单独的文件夹" in reason
    assert FILING_NO not in log_text(areas) or "退回" in log_text(areas)


def test_a_loose_case_reaching_into_another_case_folder_takes_nothing(areas) -> None:  # noqa: F811
    """A loose case file whose attachments are another family's scans, in that family's case folder: refused
    with the reason; the other case keeps its scans and is built (issue 22)."""
    folder = drop_folder(areas, FILING_EXAMPLE, "李建华")
    case = json.loads((FILING_EXAMPLE / "case.json").read_text(encoding="utf-8"))
    case["archive_no"] = "CD510108-2019-0999"
    for attachment in case["attachments"]:
        attachment["path"] = f"李建华/{attachment['path']}"
    (areas["inbox"] / "借用.json").write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    scans = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    result = run_once(areas)
    assert result.returncode == 1, result.stdout + result.stderr
    assert packages(areas) == [FILING_NO] and listing(areas["inbox"]) == []
    assert_no_half_package(areas)
    filed = next(areas["processed"].iterdir()) / "李建华"
    assert sorted(p.relative_to(filed).as_posix() for p in filed.rglob("*") if p.is_file()) == scans
    assert sorted(p.name for p in areas["rejected"].rglob("*") if p.is_file()) == ["借用.json", "退回原因.txt"]
    reason = next(areas["rejected"].rglob("退回原因.txt")).read_text(encoding="utf-8-sig")
    assert "另一份案卷(李建华)" in reason
