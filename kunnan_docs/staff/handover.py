"""Hand packages over to the district: a folder (and a zip of it) with the packages, a handover
register (移交清单) as PDF and Excel, and one SHA-256 manifest covering everything.

Only packages that verify are handed over. A package whose generated forms still wait for their signed
originals (待签章) is refused unless the clerk allows it explicitly; then the register marks it
"否（待签章）" and names the forms, so that nobody takes unsigned drafts for the archive's originals.
The folder is written aside and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Spacer
from tqdm import tqdm

from kunnan_docs.core.zh import pinyin_key, zh_date
from kunnan_docs.errors import UsageError
from kunnan_docs.forms.typeset import Para, Title, cells, document, grid, sheet_text, styles, zh_punct
from kunnan_docs.package.layout import HANDOVER_MARKER, HANDOVER_PACKAGES, HANDOVER_REGISTER, write_manifests
from kunnan_docs.package.nolinks import files_below, open_below
from kunnan_docs.package.outbox import Published, published
from kunnan_docs.package.verify import verify_folders
from kunnan_docs.staff.xlsx import ZH_DATE_FORMAT, new_workbook, write_table

HEADERS = ["序号", "档案号", "姓名", "类别", "页数", "材料齐全", "备注"]
WIDTHS = [10, 40, 20, 12, 12, 18, 50]
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass
class Handover:
    folder: Path
    zip: Path
    packages: list[Published]

    @property
    def pages(self) -> int:
        return sum(p.listing.pages.total for p in self.packages)


def handing_unit(packages: list[Published]) -> str:
    """移交单位: the unions whose packages are handed over, in pinyin order."""
    return "、".join(sorted({p.case.get("union") or "（未填）" for p in packages}, key=pinyin_key))


def choose(packages: list[Published], district: str, cases: list[str] | None) -> list[Published]:
    """The district's packages (or the named ones) among the outbox's, read once by the caller."""
    mine = [p for p in packages if p.case.get("district") == district]
    if cases:
        by_no = {p.archive_no: p for p in mine}
        unknown = [c for c in cases if c not in by_no]
        if unknown:
            raise UsageError(f"发件夹中没有属于“{district}”的这些档案号:{'、'.join(unknown)}。请核对档案号或区县名称。")
        mine = [by_no[c] for c in cases]
    if not mine:
        districts = sorted({p.case.get("district", "") for p in packages})
        raise UsageError(f"发件夹中没有属于“{district}”的案卷。发件夹里有的区(市)县总工会:{'、'.join(districts) or '无'}。")
    return mine


def _row(seq: int, pkg: Published) -> list[object]:
    complete = pkg.complete
    remark = "" if complete else zh_punct(pkg.listing.status_label)
    unsigned = unsigned_forms(pkg)
    if unsigned:
        remark += "；未签章：" + "、".join(unsigned)
    answer = "是" if complete else "否（待签章）" if pkg.listing.status == "awaiting_signature" else "否"
    return [seq, pkg.archive_no, pkg.case.get("worker_name", ""), pkg.kind.label, pkg.listing.pages.total,
            answer, remark]


def unsigned_forms(pkg: Published) -> list[str]:
    return [a.title for a in pkg.listing.awaiting_signature]


def _register_pdf(rows: list[list[object]], giver: str, district: str, when: date, total_pages: int) -> bytes:
    st = styles()
    cell = ParagraphStyle("hand", st["value"], fontSize=10, leading=14)
    total = ["合计", f"{len(rows)} 卷", "", "", total_pages, "", ""]
    data = [cells(HEADERS, st["label"]), *(cells(row, cell) for row in rows), cells(total, cell)]
    story = [Title("困难职工档案移交清单", st["title"]),
             Para(sheet_text(f"移交单位：{giver}"), st["sign"]), Para(sheet_text(f"接收单位：{district}"), st["sign"]),
             Para(f"移交日期：{zh_date(when)}", st["sign"]),
             Spacer(1, 3 * mm), grid(data, WIDTHS, header=True), Spacer(1, 12 * mm),
             Para("移交人（签字）：________________　　接收人（签字）：________________", st["sign"]),
             Para("接收日期：______年____月____日", st["sign"])]
    return document(story, f"移交清单 {district}")


def _register_xlsx(rows: list[list[object]], giver: str, district: str, when: date, total_pages: int,
                   path: Path) -> None:
    wb = new_workbook()
    ws = wb.active
    ws.title = HANDOVER_REGISTER
    ws["A1"] = "困难职工档案移交清单"
    for r, (label, value) in enumerate([("移交单位：", giver), ("接收单位：", district), ("移交日期：", when)], start=2):
        ws.cell(row=r, column=1, value=label)
        ws.cell(row=r, column=2, value=value)
    ws["B4"].number_format = ZH_DATE_FORMAT
    nxt = write_table(ws, HEADERS, rows, start_row=6)
    ws.cell(row=nxt, column=1, value="合计")
    ws.cell(row=nxt, column=2, value=len(rows)).number_format = '0"卷"'  # numbers, so Excel can add them up
    ws.cell(row=nxt, column=5, value=total_pages)
    ws.cell(row=nxt + 2, column=1, value="移交人（签字）：")
    ws.cell(row=nxt + 2, column=4, value="接收人（签字）：")
    ws.cell(row=nxt + 3, column=4, value="接收日期：")
    wb.save(path)


def make_zip(folder: Path, target: Path) -> None:
    """Names stored as UTF-8 (flag 0x800), which Windows Explorer and 7-Zip open correctly; fixed times. Only
    regular files below `folder` go in: a link (or a linked `folder`) raises LinkFound and leaves no zip, so that
    nothing outside the outbox can be downloaded or handed over through one."""
    tmp = target.with_name(target.name + ".part")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for parts in files_below(folder):
                info = zipfile.ZipInfo("/".join((folder.name, *parts)), ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.flag_bits |= 0x800
                info.external_attr = 0o644 << 16
                with open_below(folder, parts) as src, zf.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)


def hand_over(outbox: Path, district: str, cases: list[str] | None, target: Path, when: date,
              allow_unsigned: bool = False) -> Handover:
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"输出文件夹 {target} 已存在且不是空的。请换一个文件夹名,以免覆盖上一次的移交。")
    chosen = choose(published(outbox), district, cases)
    unsigned = [p.archive_no for p in chosen if unsigned_forms(p)]
    if unsigned and not allow_unsigned:
        raise UsageError(f"以下案卷待签章(表单签章原件尚未扫描入卷),不能作为原件移交:{'、'.join(unsigned)}。"
                         "请把签字盖章后的表单扫描入卷(kunnan-docs scan-in)再移交;或用 --cases 只移交其他案卷;"
                         "确需先行移交的,加 --allow-unsigned,移交清单会标明“否(待签章)”。")
    checks = verify_folders([p.folder for p in chosen])
    broken = [(p.archive_no, problems) for p, problems in zip(chosen, checks, strict=True) if problems]
    if broken:
        detail = ";".join(f"{no}:{problems[0]}" for no, problems in broken)
        raise UsageError(f"以下案卷校验未通过,不能移交:{detail}。请重新成卷后再移交。")
    staging = target.with_name(f".{target.name}.part")
    if staging.exists():
        shutil.rmtree(staging)
    (staging / HANDOVER_PACKAGES).mkdir(parents=True)
    for pkg in tqdm(chosen, desc="复制案卷", unit="卷", disable=None):
        shutil.copytree(pkg.folder, staging / HANDOVER_PACKAGES / pkg.folder.name)
    rows = [_row(i, p) for i, p in enumerate(chosen, start=1)]
    result = Handover(target, target.with_suffix(".zip"), chosen)
    giver = handing_unit(chosen)
    (staging / f"{HANDOVER_REGISTER}.pdf").write_bytes(_register_pdf(rows, giver, district, when, result.pages))
    _register_xlsx(rows, giver, district, when, result.pages, staging / f"{HANDOVER_REGISTER}.xlsx")
    marker = {"district": district, "date": when.isoformat(), "packages": [p.archive_no for p in chosen]}
    (staging / HANDOVER_MARKER).write_text(json.dumps(marker, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_manifests(staging)
    if target.exists():
        target.rmdir()
    os.rename(staging, target)
    make_zip(target, result.zip)
    return result
