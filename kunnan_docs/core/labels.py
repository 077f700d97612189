"""Our vocabulary as types, with the Chinese word of each code in one table, so that a cover, a register, a log
line and a web page agree.

Each enum's values are the strings written in report.json and the ledger (old packages and ledgers read back).
Kinds follow the notice's annex titles: Annex 1 建档困难职工资料目录清单, Annex 2 脱困困难职工资料目录清单, so an
archive is a 建档 or a 脱困 困难职工档案; 注销 is our own kind (the notice's 二(三) "该注销的注销"). 解困脱困 names
the work as a whole (the notice's title, the targets, the 联系卡 and 回访记录单), never a kind of archive;
脱困退档 names the procedure of leaving. A kind's words live with its checklist in schemas/checklists.json.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from kunnan_docs.core.resources import checklist_data
from kunnan_docs.errors import ExitCode


class _Labelled(StrEnum):
    """A code as stored, and its Chinese word (`label`)."""

    _label: str

    def __new__(cls, value: str, label: str) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member._label = label
        return member

    @property
    def label(self) -> str:
        return self._label


class Kind(StrEnum):
    """What a case file is; each kind's checklist, titles and procedure are data (core.checklist.kind_spec)."""

    FILING = "filing"
    EXIT = "exit"
    CANCELLATION = "cancellation"

    @property
    def label(self) -> str:
        return str(checklist_data()["kinds"][self.value]["label"])


class Outcome(_Labelled):
    """What became of one case: the one status vocabulary of CLI, watcher, ledger, report.json and the desk."""

    COMPLETE = "complete", "材料齐全"
    AWAITING_SIGNATURE = "awaiting_signature", "待签章"  # forms generated, signed originals not yet scanned back
    INCOMPLETE = "incomplete", "材料不全"
    FOLLOW_UP = "follow_up", "回访期中"
    EXIT_IN_PROGRESS = "exit_in_progress", "脱困办理中"  # an exit recorded up to a stage before its notice
    REJECTED = "rejected", "已退回"

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT[self]

    @property
    def published(self) -> bool:
        return self is not Outcome.REJECTED


_EXIT = {Outcome.COMPLETE: ExitCode.OK, Outcome.AWAITING_SIGNATURE: ExitCode.AWAITING_SIGNATURE,
         Outcome.INCOMPLETE: ExitCode.INCOMPLETE, Outcome.FOLLOW_UP: ExitCode.INCOMPLETE,
         Outcome.EXIT_IN_PROGRESS: ExitCode.EXIT_IN_PROGRESS, Outcome.REJECTED: ExitCode.INVALID}


class ItemState(_Labelled):
    """What the checklist found for one item (report.json `checklist[].status`)."""

    PRESENT = "present", "已有"
    AWAITING_SIGNATURE = "awaiting_signature", "已有打印稿,待签章"  # in the package as printed
    MISSING = "missing", "缺少"
    NOT_APPLICABLE = "not_applicable", "不适用"
    NOT_YET = "not_yet", "未到办理阶段"  # an item of a procedure stage not reached yet: not counted


class ExitStage(_Labelled):
    """How far an exit has come, in the notice's order (一(三)); report.json `exit_stage`."""

    APPLIED = "applied", "已申请(待集体研究)"
    REVIEWED = "reviewed", "已集体研究(待公示)"
    PUBLICITY = "publicity", "公示中"
    PUBLICITY_ENDED = "publicity_ended", "公示期满(待区县审批)"
    APPROVED = "approved", "已审批(待书面通知)"
    NOTIFIED = "notified", "已书面通知"

    def reached(self, stage: ExitStage) -> bool:
        """Whether this stage is `stage` or a later one."""
        order = list(ExitStage)
        return order.index(self) >= order.index(stage)


class InboxStage(_Labelled):
    """Where a case is in the watched inbox, before or beside its Outcome (ledger statuses)."""

    WAITING = "waiting", "等待中"  # settling, waiting for attachments, or paused by a fault
    BUILDING = "building", "成卷中"
    DUPLICATE = "duplicate", "重复提交"  # the same content was published before: filed away, not rebuilt


LEGACY_PUBLISHED = "published"  # ledger status written before the Outcome vocabulary: published, outcome unknown
VOCABULARIES: tuple[type[StrEnum], ...] = (Outcome, InboxStage, Kind, ExitStage, ItemState)


def label(code: str) -> str:
    """The Chinese word of one of our codes: an enum member, or a value as stored (ledger, report.json). A bare
    value shared by two vocabularies (awaiting_signature) reads as the first: an outcome before an item state."""
    if isinstance(code, _Labelled | Kind):
        return code.label
    for vocabulary in VOCABULARIES:
        if code in vocabulary._value2member_map_:
            return label(vocabulary(code))
    return "已发布" if code == LEGACY_PUBLISHED else str(code)
