"""Hand packages over to the district: a folder (and a zip of it) with the packages, a handover register
(移交清单) as PDF and Excel, and one SHA-256 manifest covering everything; then the handover is recorded in the
outbox (handover_log), so that the next one offers only what is new or corrected since.

Only packages that verify are handed over — the copies in the handover folder are verified, so what goes is
what was checked, and each one's 四性检测报告 (and their summary) goes with them. A package whose generated
forms still wait for their signed originals (待签章) is refused unless the clerk allows it explicitly; then the
register marks it "否（待签章）" and names the forms, so that nobody takes unsigned drafts for the archive's
originals. The folder is written aside and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Spacer, Table, TableStyle
from tqdm import tqdm

from kunnan_docs.core.labels import ItemState, Outcome
from kunnan_docs.core.zh import pinyin_key, zh_date
from kunnan_docs.errors import UsageError
from kunnan_docs.forms.fonts import register
from kunnan_docs.forms.qr import form_label
from kunnan_docs.forms.typeset import (
    CELL_STYLE,
    FRAME_W,
    Para,
    Title,
    cells,
    document,
    numbered_canvas,
    sheet_text,
    styles,
    zh_punct,
)
from kunnan_docs.package.inspection import Summary, inspect
from kunnan_docs.package.layout import (
    HANDOVER_MARKER,
    HANDOVER_PACKAGES,
    HANDOVER_REGISTER,
    write_manifests,
)
from kunnan_docs.package.nolinks import files_below, open_below
from kunnan_docs.package.outbox import Published
from kunnan_docs.package.verify import Container, examine_folders
from kunnan_docs.staff.handover_log import Handed, HandoverRecord, Offer, Standing, manifest_digest, record, version
from kunnan_docs.staff.inspection_report import write_into_handover
from kunnan_docs.staff.xlsx import ZH_DATE_FORMAT, new_workbook, put, write_table

HEADERS = ["序号", "档案号", "姓名", "类别", "页数", "材料齐全", "备注"]
WIDTHS = [10, 50, 18, 11, 11, 23, 39]  # mm: 24 wide digits of an archive number, 否（待签章） on one line
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
KEEP_WITH_END = 2  # data rows the totals and the signature block take along to a new page
SEAL_ROW = 24 * mm  # room for a round seal (42 mm across, pressed half over the line)
BLANK_DATE = "______年____月____日"
SIGN_LINE = "________________"


@dataclass
class Handover:
    folder: Path
    zip: Path
    offers: list[Offer]

    @property
    def packages(self) -> list[Published]:
        return [o.package for o in self.offers]

    @property
    def pages(self) -> int:
        """The packages' content pages, as their covers and report.json count them."""
        return sum(content_pages(p) for p in self.packages)


def content_pages(pkg: Published) -> int:
    """页数 on the register: the package's content pages (without cover, contents list and remarks sheet), the
    number its cover and report.json give."""
    return pkg.listing.pages.content


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


def unsigned_forms(pkg: Published) -> list[str]:
    return [a.title for a in pkg.listing.awaiting_signature]


def _short_form(key: str, title: str) -> str:
    """附件3, 附件7(第2份): a register names forms by their annex, not by their whole title."""
    return form_label(key) if key.startswith("annex") else title


def remark(offer: Offer) -> str:
    """备注: what an archivist must know of a package — why it is not complete (missing items, follow-up period,
    forms awaiting their signed originals) and whether it corrects one handed over before."""
    pkg = offer.package
    report = pkg.report
    parts = []
    missing = [f"第{e.no}项" for e in report.checklist if e.status is ItemState.MISSING]
    if missing:
        parts.append(f"{Outcome.INCOMPLETE.label}：缺{'、'.join(missing)}")
    if not report.follow_up_complete:
        parts.append(f"{Outcome.FOLLOW_UP.label}：脱困未满六个月")
    if pkg.listing.awaiting_signature:
        parts.append(f"{Outcome.AWAITING_SIGNATURE.label}：" + "、".join(_short_form(a.form_key, a.title)
                                                                  for a in pkg.listing.awaiting_signature))
    if offer.standing in (Standing.CHANGED, Standing.CORRECTED) and offer.last is not None:
        why = "更正" if offer.standing is Standing.CORRECTED else "变动"
        parts.append(f"{why}后重新移交，前次{zh_date(offer.last.date)}移交第{offer.last_version}版")
    return zh_punct("；".join(parts))


def _row(seq: int, offer: Offer) -> list[object]:
    pkg = offer.package
    answer = "是" if pkg.complete else "否（待签章）" if pkg.listing.status is Outcome.AWAITING_SIGNATURE else "否"
    return [seq, pkg.archive_no, pkg.case.get("worker_name", ""), pkg.kind.label, content_pages(pkg), answer,
            remark(offer)]


def _signatures(when: date, style: ParagraphStyle) -> Table:
    """Both sides' seal, signature and date, side by side: each unit seals, each clerk signs and dates."""
    rows = [[Para("移交单位（盖章）：", style), Para("接收单位（盖章）：", style)],
            [Para(f"移交人（签字）：{SIGN_LINE}", style), Para(f"接收人（签字）：{SIGN_LINE}", style)],
            [Para(f"移交日期：{zh_date(when)}", style), Para(f"接收日期：{BLANK_DATE}", style)]]
    return Table(rows, colWidths=[FRAME_W / 2 - 4] * 2, rowHeights=[SEAL_ROW, 14 * mm, 10 * mm],
                 style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                   ("FONTNAME", (0, 0), (-1, -1), register())]))  # not Helvetica (PDF/A)


def register_pdf(rows: list[list[object]], giver: str, receiver: str, when: date, total_pages: int) -> bytes:
    """The register: the table's header on every page, page numbers, and the last rows kept on one page with the
    totals and both sides' seals, signatures and dates (接收日期 never alone on a page)."""
    st = styles()
    cell = ParagraphStyle("hand", st["value"], fontSize=10, leading=14)
    sign = ParagraphStyle("hand-sign", st["sign"], leading=20)
    total = ["合计", f"{len(rows)} 卷", "", "", total_pages, "", ""]
    end = [_signatures(when, sign), *[""] * (len(HEADERS) - 1)]
    data = [cells(HEADERS, st["label"]), *(cells(row, cell) for row in rows), cells(total, cell), end]
    last = len(data) - 1
    scale = FRAME_W / (sum(WIDTHS) * mm)
    ruled = [c for c in CELL_STYLE if c[0] != "GRID"] + [("GRID", (0, 0), (-1, last - 1), 0.8, colors.black)]
    table = Table(data, colWidths=[w * mm * scale for w in WIDTHS], repeatRows=1,
                  style=TableStyle([*ruled, ("FONTNAME", (0, 0), (-1, -1), register()),
                                    ("SPAN", (0, last), (-1, last)), ("TOPPADDING", (0, last), (-1, last), 10 * mm),
                                    ("NOSPLIT", (0, max(1, last - 1 - KEEP_WITH_END)), (-1, last))]))
    story = [Title("困难职工档案移交清单", st["title"]),
             Para(sheet_text(f"移交单位：{giver}"), st["sign"]), Para(sheet_text(f"接收单位：{receiver}"), st["sign"]),
             Spacer(1, 3 * mm), table]
    return document(story, f"移交清单 {receiver}", canvasmaker=numbered_canvas("移交清单"))


def register_xlsx(rows: list[list[object]], giver: str, receiver: str, when: date, total_pages: int,
                  path: Path) -> None:
    """The same register as a workbook, set up to print like the PDF: header row on every page, page numbers."""
    wb = new_workbook()
    ws = wb.active
    ws.title = HANDOVER_REGISTER
    ws["A1"] = "困难职工档案移交清单"
    for r, (label, value) in enumerate([("移交单位：", giver), ("接收单位：", receiver), ("移交日期：", when)], start=2):
        ws.cell(row=r, column=1, value=label)
        put(ws, r, 2, value)  # the district and the handing unit come from the cases: never a formula
    ws["B4"].number_format = ZH_DATE_FORMAT
    header_row = 6
    nxt = write_table(ws, HEADERS, rows, start_row=header_row)
    ws.cell(row=nxt, column=1, value="合计")
    ws.cell(row=nxt, column=2, value=len(rows)).number_format = '0"卷"'  # numbers, so Excel can add them up
    ws.cell(row=nxt, column=5, value=total_pages)
    for r, (left, right) in enumerate([("移交单位（盖章）：", "接收单位（盖章）："), ("移交人（签字）：", "接收人（签字）："),
                                       ("移交日期：", "接收日期：")], start=nxt + 2):
        ws.cell(row=r, column=1, value=left)
        ws.cell(row=r, column=5, value=right)
    ws.cell(row=nxt + 4, column=2, value=when).number_format = ZH_DATE_FORMAT
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.oddFooter.center.text = "第 &P 页 共 &N 页"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
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


def hand_over(outbox: Path, offers: list[Offer], district: str, target: Path, when: date,
              allow_unsigned: bool = False, receiver: str = "", by: str = "") -> Handover:
    """Write the handover folder and zip of `offers` (the district's packages chosen), then record it in the
    outbox. receiver: 接收单位 on the register (default the district); by: who made it, for the record."""
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"输出文件夹 {target} 已存在且不是空的。请换一个文件夹名,以免覆盖上一次的移交。")
    unsigned = [o.package.archive_no for o in offers if unsigned_forms(o.package)]
    if unsigned and not allow_unsigned:
        which = f"以下案卷待签章(表单签章原件尚未扫描入卷),不能作为原件移交:{'、'.join(unsigned)}。"
        raise UsageError(which + "请把签字盖章后的表单扫描入卷(kunnan-docs scan-in)再移交;或用 --cases 只移交其他案卷;"
                                 "确需先行移交的,加 --allow-unsigned,移交清单会标明“否(待签章)”。",
                         which + "请在案卷页“上传扫描件”上传签字盖章后的表单再移交;或只勾选其他案卷;确需先行移交的,"
                                 "勾选它,移交清单会标明“否(待签章)”。")
    receiver = receiver or district
    staging = target.with_name(f".{target.name}.part")
    if staging.exists():
        shutil.rmtree(staging)
    (staging / HANDOVER_PACKAGES).mkdir(parents=True)
    copies = [staging / HANDOVER_PACKAGES / o.package.folder.name for o in offers]
    for offer, copy in tqdm(list(zip(offers, copies, strict=True)), desc="复制案卷", unit="卷", disable=None):
        shutil.copytree(offer.package.folder, copy)
    examined = examine_folders(copies)
    broken = [(o.package.archive_no, e.problems) for o, e in zip(offers, examined, strict=True) if e.problems]
    if broken:
        shutil.rmtree(staging)
        detail = ";".join(f"{no}:{problems[0].fault}" for no, problems in broken)
        raise UsageError(f"以下案卷校验未通过,不能移交:{detail}。请重新成卷后再移交。",
                         f"以下案卷校验未通过,不能移交:{detail}。请不勾选它们,先移交其他案卷;它们要由管理员重新成卷后"
                         "再移交。")
    result = Handover(target, target.with_suffix(".zip"), offers)
    rows = [_row(i, o) for i, o in enumerate(offers, start=1)]
    giver = handing_unit(result.packages)
    (staging / f"{HANDOVER_REGISTER}.pdf").write_bytes(register_pdf(rows, giver, receiver, when, result.pages))
    register_xlsx(rows, giver, receiver, when, result.pages, staging / f"{HANDOVER_REGISTER}.xlsx")
    write_into_handover(Summary(target.name, Container.HANDOVER, when, (), tuple(inspect(e) for e in examined)),
                        staging)
    marker = {"district": district, "receiver": receiver, "date": when.isoformat(),
              "packages": [o.package.archive_no for o in offers]}
    (staging / HANDOVER_MARKER).write_text(json.dumps(marker, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_manifests(staging)
    handed = tuple(Handed(o.package.archive_no, version(outbox, o.package.folder), manifest_digest(copy))
                   for o, copy in zip(offers, copies, strict=True))
    if target.exists():
        target.rmdir()
    os.rename(staging, target)
    try:
        make_zip(target, result.zip)
        record(outbox, HandoverRecord(when, district, receiver, by, _where(outbox, target), _where(outbox, result.zip),
                                      handed))
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)  # not recorded, so not made: the packages stay on offer
        result.zip.unlink(missing_ok=True)
        raise
    return result


def _where(outbox: Path, path: Path) -> str:
    """How the record names a handover's folder or zip: relative to the outbox when inside it (the desk's, which
    it offers to download again), else the absolute path."""
    path, root = path.resolve(), outbox.resolve()
    return path.relative_to(root).as_posix() if root in path.parents else str(path)
