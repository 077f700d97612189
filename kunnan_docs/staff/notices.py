"""Print run of publicity notices (Annex 5): one PDF, one notice per page, sorted by the posting unit.

The pages are the packages' own Annex 5 PDFs, so the print shows exactly what the annex shows
(name, archive number, period, posting union) and nothing more.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pikepdf

from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.zh import pinyin_key
from kunnan_docs.forms.archival import SAVE_OPTIONS, make_archival
from kunnan_docs.package.layout import notice_pdf
from kunnan_docs.package.outbox import Published, published


@dataclass
class NoticeRun:
    cases: list[Published]
    pdf: bytes


def select(outbox: Path, start: date | None, end: date | None) -> list[Published]:
    chosen = []
    for pkg in published(outbox):
        publicity = pkg.case.get("publicity") or {}
        if kind_spec(pkg.kind).publicity_item is None or not publicity.get("start"):
            continue
        day = date.fromisoformat(publicity["start"])
        if (start is None or day >= start) and (end is None or day <= end) and notice_pdf(pkg.folder).is_file():
            chosen.append(pkg)
    return sorted(chosen, key=lambda p: (pinyin_key(p.case["publicity"].get("place", "")),
                                         p.case["publicity"]["start"], p.archive_no))


def combine(cases: list[Published]) -> NoticeRun:
    out = pikepdf.new()
    with out.open_outline() as outline:
        for pkg in cases:
            index = len(out.pages)
            out.pages.extend(pikepdf.open(notice_pdf(pkg.folder)).pages)
            place = pkg.case["publicity"].get("place", "")
            outline.root.append(pikepdf.OutlineItem(f"{place} {pkg.archive_no}", index))
    out.docinfo = out.make_indirect(pikepdf.Dictionary(Title=pikepdf.String("困难职工脱困公示(打印汇总)"),
                                                       Creator=pikepdf.String("kunnan-docs")))
    make_archival(out)
    buf = io.BytesIO()
    out.save(buf, **SAVE_OPTIONS)
    return NoticeRun(cases, buf.getvalue())
