"""四性检测报告: the 四性检测 (package/inspection.py) as a PDF an archivist files and as JSON for programs.

`verify` writes one pair beside what it verified (a package folder, a handover folder or zip):
`<name>-四性检测报告.pdf|json`, never inside a package folder, whose manifest would no longer match. A handover
writes `四性检测报告/<档案号>.pdf|json` per package and `四性检测报告/汇总.pdf|json` into the handover folder before
its manifest is made, so the zip carries them and the manifest covers them.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Spacer

from kunnan_docs.core.zh import zh_date
from kunnan_docs.errors import UsageError
from kunnan_docs.forms.typeset import (
    Para,
    Title,
    cells,
    document,
    grid,
    numbered_canvas,
    sheet_text,
    styles,
    table_style,
)
from kunnan_docs.package.checks import Property
from kunnan_docs.package.inspection import STANDARD, Result, Summary
from kunnan_docs.package.layout import GENERATOR, HANDOVER_INSPECTIONS, INSPECTION, INSPECTION_SUMMARY
from kunnan_docs.package.verify import Container

CHECK_HEADER = ["性质", "检测项目", "结果", "说明"]
CHECK_WIDTHS = [16, 62, 16, 68]
PACKAGE_HEADER = ["序号", "档案号", *(p.label for p in Property), "结论"]
PACKAGE_WIDTHS = [11, 47, 17, 17, 17, 17, 36]
SIGN_LINE = "________________"
WHAT = {Container.PACKAGE: "案卷文件夹", Container.HANDOVER: "移交文件夹", Container.ZIP: "移交压缩包"}


def _verdict(passed: bool) -> str:
    return "通过" if passed else "未通过"


def _checks_table(results: tuple[Result, ...], style: ParagraphStyle) -> object:
    """One row per check, grouped by property (its cell spanning the group's rows)."""
    data = [cells(CHECK_HEADER, styles()["label"])]
    spans = []
    for quality in Property:
        rows = [r for r in results if r.check.quality is quality]
        if not rows:
            continue
        spans.append(("SPAN", (0, len(data)), (0, len(data) + len(rows) - 1)))
        for i, r in enumerate(rows):
            data.append(cells([quality.label if i == 0 else "", r.check.label, _verdict(r.passed),
                               ";".join(r.details) or "—"], style))
    table = grid(data, CHECK_WIDTHS, header=True)
    table.setStyle(table_style(spans))
    return table


def report_pdf(summary: Summary) -> bytes:
    """The report: what was checked, when, with what, the conclusion; the packages at a glance; each check."""
    st = styles()
    cell = ParagraphStyle("inspection", st["value"], fontSize=9.5, leading=13)
    story: list[object] = [
        Title("四性检测报告", st["title"]), Para(sheet_text(f"依据{STANDARD}"), st["subtitle"]), Spacer(1, 4 * mm),
        Para(sheet_text(f"检测对象：{WHAT[summary.container]} {summary.name}"), st["sign"]),
        Para(sheet_text(f"检测日期：{zh_date(summary.day)}　　检测工具：{GENERATOR}"), st["sign"]),
        Para(sheet_text(f"结论：{summary.conclusion}（案卷 {len(summary.packages)} 卷，通过 "
                        f"{sum(p.passed for p in summary.packages)} 卷）"), st["sign"]),
        Spacer(1, 3 * mm)]
    if summary.results:
        story += [Para(sheet_text("移交包本身"), st["sign"]), _checks_table(summary.results, cell), Spacer(1, 4 * mm)]
    if len(summary.packages) > 1:
        rows = [cells(PACKAGE_HEADER, st["label"])]
        rows += [cells([n, p.archive_no or p.package, *(_verdict(ok) for ok in p.properties.values()), p.conclusion],
                       cell) for n, p in enumerate(summary.packages, start=1)]
        story += [grid(rows, PACKAGE_WIDTHS, header=True), Spacer(1, 4 * mm)]
    for p in summary.packages:
        story += [Para(sheet_text(f"案卷 {p.archive_no or p.package}：{p.conclusion}"), st["sign"]),
                  _checks_table(p.results, cell), Spacer(1, 4 * mm)]
    story += [Spacer(1, 6 * mm), Para(f"检测人（签字）：{SIGN_LINE}　　审核人（签字）：{SIGN_LINE}", st["sign"])]
    return document(story, f"四性检测报告 {summary.name}", subject=STANDARD, canvasmaker=numbered_canvas("四性检测报告"))


def _write(path: Path, data: bytes) -> None:
    """Written aside, then renamed: a reader sees the old report or the whole new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _json(data: object) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()


def write_beside(summary: Summary, verified: Path, folder: Path | None = None) -> Path:
    """`verify`'s report, beside what it verified (or in `folder`); returns the PDF's path. A place where it
    cannot be written is a UsageError saying where else to write it."""
    stem = f"{verified.name}-{INSPECTION}"  # a zip keeps its .zip: the folder it unpacks to may be verified too
    where = folder or verified.resolve().parent
    try:
        where.mkdir(parents=True, exist_ok=True)
        _write(where / f"{stem}.json", _json(summary.to_dict()))
        _write(where / f"{stem}.pdf", report_pdf(summary))
    except OSError as exc:
        raise UsageError(f"无法在 {where} 写入四性检测报告({exc.strerror or exc})。"
                         "请用 --report-dir 指定一个可以写入的文件夹,或加 --no-report 不写报告。") from None
    return where / f"{stem}.pdf"


def write_into_handover(summary: Summary, staging: Path) -> None:
    """A handover's reports, one per package and the summary, into its folder (before its manifest is made)."""
    folder = staging / HANDOVER_INSPECTIONS
    folder.mkdir()
    for p in summary.packages:
        alone = replace(summary, name=p.package, container=Container.PACKAGE, results=(), packages=(p,))
        (folder / f"{p.package}.json").write_bytes(_json(alone.to_dict()))
        (folder / f"{p.package}.pdf").write_bytes(report_pdf(alone))
    (folder / f"{INSPECTION_SUMMARY}.json").write_bytes(_json(summary.to_dict()))
    (folder / f"{INSPECTION_SUMMARY}.pdf").write_bytes(report_pdf(summary))
