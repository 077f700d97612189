"""The Chinese words for our codes, in one table, so that a cover, a register, a log line and a web page agree.

Kinds follow the notice's annex titles: Annex 1 建档困难职工资料目录清单, Annex 2 脱困困难职工资料目录清单, so an
archive is a 建档 or a 脱困 困难职工档案. 解困脱困 names the work as a whole (the notice's title, the targets, the
联系卡 and 回访记录单), never a kind of archive; 脱困退档 names the procedure of leaving.
"""

from __future__ import annotations

KIND = {"filing": "建档", "exit": "脱困"}

# What became of one case (pipeline.Outcome values, report.json `status`).
OUTCOME = {
    "complete": "材料齐全",
    "awaiting_signature": "待签章",
    "incomplete": "材料不全",
    "follow_up": "回访期中",
    "rejected": "已退回",
}
# What the checklist found for one item (report.json `checklist[].status`).
ITEM_STATE = {"present": "已有", "awaiting_signature": "已有打印稿,待签章", "missing": "缺少", "not_applicable": "不适用"}
# Where a case is in the watched inbox before it has an outcome (ledger statuses).
STAGE = {"waiting": "等待中", "building": "成卷中", "duplicate": "重复提交"}


def archive_title(kind: str) -> str:
    """建档困难职工档案 / 脱困困难职工档案, as on the cover."""
    return f"{KIND[kind]}困难职工档案"

