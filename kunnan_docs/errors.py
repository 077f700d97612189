"""Exit codes and the exception hierarchy the CLI maps onto them (documented in README)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from enum import IntEnum
from pathlib import Path

from kunnan_docs.privacy import mask_text


class ExitCode(IntEnum):
    OK = 0  # 全部合格 / 材料齐全
    INVALID = 1  # 案卷不合格(被退回)
    USAGE = 2  # 命令用法错误
    INCOMPLETE = 3  # 已成卷但材料不全(或仍在回访期)
    VERIFY_FAILED = 4  # 校验发现缺失或被改动
    AWAITING_SIGNATURE = 5  # 已成卷,材料齐全但签字盖章原件未扫描归档(待签章)
    CONFIG = 6  # 配置或模板损坏:不是案卷的问题,修好后重新运行
    EXIT_IN_PROGRESS = 7  # 已成卷,脱困办理中(尚未书面通知):按下一步办理,不是退回
    WRITE_FAILED = 8  # 写不进去(磁盘已满、只读、没有写入权限):不是案卷的问题,什么都没有退回,修好后重新运行
    INTERNAL = 10  # 程序内部错误
    INTERRUPTED = 130  # Ctrl-C


# For a run over several cases the most serious outcome decides the exit code (README "Exit codes").
_CASE_PRECEDENCE = (ExitCode.INVALID, ExitCode.INCOMPLETE, ExitCode.EXIT_IN_PROGRESS, ExitCode.AWAITING_SIGNATURE,
                    ExitCode.OK)


def worst(codes: Iterable[ExitCode]) -> ExitCode:
    """The exit code of a batch: rejected > incomplete > exit in progress > awaiting signature > complete."""
    seen = set(codes)
    return next((c for c in _CASE_PRECEDENCE if c in seen), ExitCode.OK)


class KunnanError(Exception):
    """Base of every error a clerk may see; the message is Chinese, says what to do, and has its ID and
    phone numbers masked (it ends up in reason files, the ledger and status lines). `people`: the same for the
    desk, where the message names a command, an option or a path (README "说给办事员的话")."""

    exit_code = ExitCode.INTERNAL

    def __init__(self, message: str = "", people: str = "") -> None:
        super().__init__(mask_text(message))
        self.people = mask_text(people)

    @property
    def for_people(self) -> str:
        """What a clerk reads at the desk: desk actions, no command, option or server path."""
        return self.people or str(self)


class UsageError(KunnanError):
    exit_code = ExitCode.USAGE


class CaseRejected(KunnanError):
    """The case cannot be processed as it stands (bad JSON, invalid fields, broken attachment)."""

    exit_code = ExitCode.INVALID


class AttachmentError(CaseRejected):
    """A scan that cannot go into the package; the message names the file and what to do."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"附件“{name}”{reason}")


class CellError(ValueError):
    """A spreadsheet cell that cannot become a case field; caught per cell and reported by sheet, row and
    column (the message says what the cell should hold)."""


class ConfigError(KunnanError):
    """The installation or configuration is broken (template, settings): no case is at fault, so none is rejected."""

    exit_code = ExitCode.CONFIG


class TemplateError(ConfigError):
    """A Word template is broken or asks for a field the case does not have."""


class BadPackage(KunnanError):
    """A package folder does not have the shape package/layout.py promises (e.g. report.json unreadable)."""

    exit_code = ExitCode.VERIFY_FAILED


class BodyTooLarge(Exception):
    """A request body streaming into the desk (an upload of scans) went past its limit; the desk answers 413."""


def injected_write_fault(path: Path | str) -> None:
    """Test hook for the full-disk and permission tests where no small file system can be mounted (README
    "收件夹", fault injection): KUNNAN_WRITE_FAULT=<ENOSPC|EACCES|...>:<folder> makes a write below that folder
    fail with the operating system's own OSError, while the file KUNNAN_WRITE_FAULT_WHILE exists (always if
    unset). Called where the outbox, the ledger and the processed/rejected areas are written."""
    spec = os.environ.get("KUNNAN_WRITE_FAULT")
    if not spec:
        return
    switch = os.environ.get("KUNNAN_WRITE_FAULT_WHILE")
    if switch and not os.path.exists(switch):
        return
    name, _, folder = spec.partition(":")
    number = getattr(errno, name)
    if Path(os.path.abspath(folder)) in (target := Path(os.path.abspath(path)), *target.parents):
        raise OSError(number, os.strerror(number), str(path))


class LinkFound(UsageError):
    """A link, or something that is neither a file nor a folder, where only our own files should be."""

    def __init__(self, where: str) -> None:
        found = f"“{where}”是一个链接或特殊文件,不是本程序生成的普通文件;为安全起见没有读取它。"
        super().__init__(found + "请把它从发件夹中移走,再重新成卷(kunnan-docs build 该案卷的 input/case.json)。",
                         found + "请管理员把它从发件夹中移走,再把这个案卷重新成卷。")


class BadMetadata(ValueError):
    """The XML does not parse or does not follow the XSD; the message says where (Chinese)."""


class TooLarge(Exception):
    """A page or image beyond our limits; the message is the clerk's, in Chinese."""
