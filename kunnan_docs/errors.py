"""Exit codes and the exception hierarchy the CLI maps onto them (documented in README)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # 全部合格 / 材料齐全
    INVALID = 1  # 案卷不合格(被退回)
    USAGE = 2  # 命令用法错误
    INCOMPLETE = 3  # 已成卷但材料不全(或仍在回访期)
    VERIFY_FAILED = 4  # 校验发现缺失或被改动
    INTERNAL = 10  # 程序内部错误


class KunnanError(Exception):
    """Base of every error a clerk may see; the message is Chinese and says what to do."""

    exit_code = ExitCode.INTERNAL


class UsageError(KunnanError):
    exit_code = ExitCode.USAGE


class CaseRejected(KunnanError):
    """The case cannot be processed as it stands (bad JSON, invalid fields, broken attachment)."""

    exit_code = ExitCode.INVALID


class TemplateError(KunnanError):
    """A Word template is broken or asks for a field the case does not have."""

    exit_code = ExitCode.INTERNAL

