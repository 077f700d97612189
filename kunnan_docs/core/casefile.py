"""Read a case file (UTF-8, with or without a Windows BOM) and hold it to the JSON Schema."""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.findings import Finding, Severity, field, schema_node
from kunnan_docs.core.labels import Kind
from kunnan_docs.core.resources import case_schema
from kunnan_docs.core.text import one_line
from kunnan_docs.errors import CaseRejected
from kunnan_docs.privacy import mask_value

# Limits on a case file, applied before it is parsed (README "案卷文件的限制"); the watcher's discovery uses
# them too. A real case file is a few KB and nests about 4 deep; scans are attachments beside it.
MAX_CASE_BYTES = 5 * 1024 * 1024
MAX_CASE_DEPTH = 20


@dataclass
class Case:
    """A loaded case file: the raw data plus where it came from (attachments are relative to it)."""

    data: dict[str, Any]
    path: Path
    raw: bytes = dc_field(repr=False, default=b"")

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def archive_no(self) -> str:
        return str(self.data.get("archive_no", ""))

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def worker(self) -> dict[str, Any]:
        return self.data.get("worker", {})

    @property
    def exit(self) -> dict[str, Any]:
        return self.data.get("exit", {})

    def at(self, pointer: str) -> Any:
        """The value at a JSON pointer, or None where the case has nothing there."""
        value: Any = self.data
        for part in [p for p in pointer.split("/") if p]:
            if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            elif isinstance(value, dict) and part in value:
                value = value[part]
            else:
                return None
        return value

    def date_at(self, pointer: str) -> date | None:
        return parse_date(self.at(pointer))

    def all_dates(self) -> list[date]:
        found: list[date] = []

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                for v in value.values():
                    walk(v)
            elif isinstance(value, list):
                for v in value:
                    walk(v)
            elif (d := parse_date(value)) is not None:
                found.append(d)

        walk({k: v for k, v in self.data.items() if k != "reference_date"})
        return found

    @property
    def reference_date(self) -> date:
        """The 'as of' date for overdue checks: given in the file, else the latest date in it (deterministic)."""
        given = parse_date(self.data.get("reference_date"))
        if given:
            return given
        dates = self.all_dates()
        return max(dates) if dates else date(2019, 7, 30)


def parse_date(value: Any) -> date | None:
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def read_case(path: Path) -> Case:
    """Read and parse the file; any problem becomes a CaseRejected with a Chinese message, never a traceback."""
    return parse_case(read_case_bytes(path), path)


def parse_case(raw: bytes, path: Path) -> Case:
    """Parse bytes already read, so that a caller builds from exactly the bytes it hashed."""
    return Case(data=parse_case_json(raw, path.name), path=path, raw=raw)


def read_case_bytes(path: Path) -> bytes:
    """The file's bytes, refusing before reading what is not a regular file or is over MAX_CASE_BYTES.

    Opened without blocking, so that a FIFO or a device named like a case file cannot hang the reader."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise CaseRejected(f"找不到案卷文件 {path}。请检查文件名和所在文件夹。") from None
    except OSError as exc:
        raise CaseRejected(f"无法读取案卷文件 {path}({exc.strerror})。请确认文件没有被其他程序占用。") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CaseRejected(f"{path.name} 不是普通文件(是文件夹、管道或设备),不能作为案卷读取。请放入导出的 .json 文件。")
        if info.st_size > MAX_CASE_BYTES:
            raise CaseRejected(_too_big(path.name))
        try:
            raw = file.read(MAX_CASE_BYTES + 1)  # the file may grow after fstat
        except OSError as exc:
            raise CaseRejected(f"无法读取案卷文件 {path}({exc.strerror})。请确认文件没有被其他程序占用。") from None
    if len(raw) > MAX_CASE_BYTES:
        raise CaseRejected(_too_big(path.name))
    return raw


def _too_big(name: str) -> str:
    return (f"案卷文件 {name} 超过 {MAX_CASE_BYTES // 1024 // 1024} MB,不像是案卷 JSON 文件。"
            "扫描件请作为附件放在案卷文件夹中,不要写进 JSON。")


def parse_case_json(raw: bytes, name: str) -> dict[str, Any]:
    """The case file's JSON object, held to the limits (README "案卷文件的限制") before anything is parsed:
    at most MAX_CASE_BYTES, nested at most MAX_CASE_DEPTH deep, and only numbers JSON allows (no NaN or
    Infinity, which Python's json module would accept and a form would print as "nan元")."""
    if len(raw) > MAX_CASE_BYTES:
        raise CaseRejected(_too_big(name))
    if not raw.strip():
        raise CaseRejected(f"案卷文件 {name} 是空文件。请重新导出或保存后再放入。")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CaseRejected(
            f"案卷文件 {name} 不是 UTF-8 编码(第 {exc.start + 1} 个字节处出错)。"
            "请在记事本或 WPS 中“另存为”,编码选择 UTF-8 后再放入。"
        ) from None
    if (line := _too_deep_at(text)) is not None:
        raise CaseRejected(f"案卷文件 {name} 第 {line} 行处括号嵌套超过 {MAX_CASE_DEPTH} 层,不是案卷的结构。"
                           "请用本工具的示例或 Excel 模板重新生成案卷文件。")
    numbers = _NumberGuard()
    try:
        data = json.loads(text, parse_constant=numbers.refuse, parse_float=numbers.finite_float, parse_int=numbers.short_int)
    except json.JSONDecodeError as exc:
        raise CaseRejected(
            f"案卷文件 {name} 不是有效的 JSON:第 {exc.lineno} 行第 {exc.colno} 列附近有错误"
            f"({_json_reason(exc.msg)})。请检查该处的引号、逗号和括号是否成对、是否多了或少了逗号。"
        ) from None
    if not isinstance(data, dict):
        raise CaseRejected(f"案卷文件 {name} 的最外层应是一个 {{ … }} 对象,而不是列表或单个值。")
    if problems := list(_unusable_values(data, "")):
        raise CaseRejected(f"案卷文件 {name} 中有 JSON 不允许的值:{';'.join(problems)}。请改为实际的数字或文字后重新提交。")
    return data


# What matters for nesting: a whole string (skipped in one step), a bracket, or a quote that opens a string
# never closed (the JSON is broken from there on, and json.loads stops at the first error anyway).
_STRUCTURE = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]|"', re.DOTALL)


def _too_deep_at(text: str) -> int | None:
    """The line where brackets outside strings first nest deeper than MAX_CASE_DEPTH, or None.
    A linear scan, so that neither json nor jsonschema ever recurse deeper than that."""
    depth = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_CASE_DEPTH:
                return text.count("\n", 0, match.start()) + 1
        elif token in "]}":
            depth -= 1
        elif token == '"':
            break
    return None


@dataclass(frozen=True)
class _Unusable:
    """Stands in for a number JSON does not allow, so that the message can name the field it sits in."""

    text: str
    reason: str


class _NumberGuard:
    """json.loads hooks: NaN, Infinity, numbers too large for a float and integers too long to convert
    become _Unusable markers instead of values a form would print."""

    MAX_INT_DIGITS = 30

    def refuse(self, text: str) -> _Unusable:
        return _Unusable(text, "不是数字(可能是表格或程序导出的“非数字/无穷大”)")

    def finite_float(self, text: str) -> float | _Unusable:
        value = float(text)
        return value if math.isfinite(value) else _Unusable(text[:20], "数值大得超出范围")

    def short_int(self, text: str) -> int | _Unusable:
        return int(text) if len(text.lstrip("-")) <= self.MAX_INT_DIGITS else _Unusable(text[:20] + "…", "位数过多")


def _unusable_values(value: Any, pointer: str) -> Iterator[str]:
    """Where the parsed case holds an _Unusable marker or text no file can store (a lone surrogate)."""
    if isinstance(value, _Unusable):
        yield f"{field(pointer)}填的是 {value.text},{value.reason}"
    elif isinstance(value, str) and not _encodable(value):
        yield f"{field(pointer)}中有无法保存的字符(不成对的 \\u 转义)"
    elif isinstance(value, dict):
        for key, item in value.items():
            if not _encodable(key):
                yield f"{field(pointer)}中有项名含无法保存的字符(不成对的 \\u 转义)"
            else:
                yield from _unusable_values(item, f"{pointer}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _unusable_values(item, f"{pointer}/{i}")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_JSON_REASONS = {
    "Expecting ',' delimiter": "缺少逗号",
    "Expecting ':' delimiter": "缺少冒号",
    "Expecting value": "缺少值或多了逗号",
    "Expecting property name enclosed in double quotes": "键名必须用英文双引号,或最后一项后面多了逗号",
    "Unterminated string starting at": "引号没有闭合",
    "Extra data": "JSON 结束后还有多余内容",
    "Invalid control character at": "字符串中有换行等控制字符",
}


def _json_reason(msg: str) -> str:
    return next((zh for en, zh in _JSON_REASONS.items() if msg.startswith(en)), "格式错误")


@cache
def _validator() -> Draft202012Validator:
    """The shipped schema is checked against the 2020-12 meta-schema by the tests, not in every process (50 ms)."""
    return Draft202012Validator(case_schema(), format_checker=FormatChecker())


def schema_findings(case: Case) -> list[Finding]:
    """Every schema violation as a Chinese finding (code S-*), sorted by position for stable output; every
    missing required field has its own (the desk's editor shows each beside its field). A string refused for a
    control character or a space around it (S-TEXT) is not also reported as badly formatted."""
    findings = {f for err in _validator().iter_errors(case.data) for f in _schema_findings(err)}
    text = set(_plain_text_findings(case.data, ""))
    plain = {f.pointer for f in text}
    kept = [f for f in findings if not (f.code == "S-FORMAT" and f.pointer in plain)]
    return sorted([*kept, *text], key=lambda f: (f.pointer, f.code, f.message))


@cache
def _plain_text() -> re.Pattern[str]:
    """What every string of a case must match (schemas/case.schema.json `$defs/plain_text`)."""
    return re.compile(case_schema()["$defs"]["plain_text"]["pattern"])


def _plain_text_findings(value: Any, pointer: str) -> Iterator[Finding]:
    """S-TEXT for every string of the case holding a control character or a space before or after it."""
    if isinstance(value, str):
        if not _plain_text().search(value):
            shown = one_line(mask_value(pointer, json.dumps(value, ensure_ascii=False)))
            if value != value.strip():
                yield Finding("S-TEXT", Severity.ERROR, pointer,
                              f"{field(pointer)}的开头或结尾有空格或换行:{shown}。请删除后重新提交。")
            else:
                yield Finding("S-TEXT", Severity.ERROR, pointer, f"{field(pointer)}中有换行、制表符等控制字符:{shown}。"
                                                                 "请删除(需要分段时用句号或分号隔开)后重新提交。")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _plain_text_findings(item, f"{pointer}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _plain_text_findings(item, f"{pointer}/{i}")


def _procedure_block(err: ValidationError) -> Finding:
    """A procedure object (exit, cancellation) in a case of a kind that has no such procedure."""
    name = err.validator_value["required"][0]
    kind = str(err.instance.get("kind", ""))
    owner = next(spec for spec in map(kind_spec, Kind) if spec.procedure == name)
    what = f"{kind_spec(kind).label}案卷" if kind in Kind._value2member_map_ else "案卷"
    return Finding(f"S-{name.upper()}-BLOCK", Severity.ERROR, f"/{name}",
                   f"{what}不应包含{field('/' + name)}。若本户已{owner.label},请把{field('/kind')}改为{owner.label};"
                   f"否则请删去{field('/' + name)}的内容。")


def _pointer(err: ValidationError) -> str:
    return "".join(f"/{p}" for p in err.absolute_path)


def _schema_findings(err: ValidationError) -> list[Finding]:
    if err.validator == "required":
        pointer = _pointer(err)
        missing = [m for m in err.validator_value if isinstance(err.instance, dict) and m not in err.instance]
        return [Finding("S-REQUIRED", Severity.ERROR, f"{pointer}/{m}", f"缺少必填项{field(f'{pointer}/{m}')}。请补填后重新提交。")
                for m in missing]
    return [_schema_finding(err)]


def _schema_finding(err: ValidationError) -> Finding:
    pointer = _pointer(err)
    node = schema_node(pointer)
    hint = node.get("x-hint", "")
    value = err.instance
    shown = one_line(mask_value(pointer, json.dumps(value, ensure_ascii=False))) \
        if not isinstance(value, (dict, list)) else ""  # json leaves U+2028 and C1 controls as they are
    v = err.validator
    if v == "additionalProperties":
        extra = sorted(set(err.instance) - set(node.get("properties", {})))
        return Finding("S-UNKNOWN", Severity.ERROR, pointer,
                       f"{field(pointer)}中有无法识别的项 {', '.join(extra)}。请检查拼写,或删除这些项。")
    if v in ("enum", "const"):
        allowed = err.validator_value if v == "enum" else [err.validator_value]
        options = "、".join(str(a) for a in allowed)
        return Finding("S-CHOICE", Severity.ERROR, pointer,
                       f"{field(pointer)}的值 {shown} 不在可选范围内。只能填:{options}。")
    if v == "type":
        wanted = {"string": "文字", "number": "数字", "integer": "整数", "array": "列表 [ … ]",
                  "object": "对象 { … }", "boolean": "true 或 false", "null": "null"}
        types = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        quote = "请在两边加上英文双引号(身份证号、电话等号码按文字填写)。" \
            if "string" in types and isinstance(value, int | float) and not isinstance(value, bool) else ""
        return Finding("S-TYPE", Severity.ERROR, pointer,
                       f"{field(pointer)}应填{'或'.join(wanted.get(t, t) for t in types)},现在是 {shown or '其他类型'}。{quote}")
    if v in ("pattern", "format"):
        spaces = "前后有多余的空格,请删除。" if isinstance(value, str) and value != value.strip() else ""
        return Finding("S-FORMAT", Severity.ERROR, pointer,
                       f"{field(pointer)}的格式不正确:{shown}。{spaces}{hint or '请按说明填写。'}")
    if v in ("minLength", "maxLength", "minItems", "maxItems"):
        what = "太短或为空" if v.startswith("min") else "太长或条目太多"
        return Finding("S-LENGTH", Severity.ERROR, pointer,
                       f"{field(pointer)}{what}(限制 {err.validator_value})。请补充或精简后重新提交。")
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return Finding("S-RANGE", Severity.ERROR, pointer,
                       f"{field(pointer)}的数值 {shown} 超出合理范围。请核对金额或面积是否多写了位数。")
    if v == "uniqueItems":
        return Finding("S-DUPLICATE", Severity.ERROR, pointer, f"{field(pointer)}中有重复项。请删除重复的一项。")
    if v == "oneOf":
        return Finding("S-ONEOF", Severity.ERROR, pointer, f"{field(pointer)}:{hint or '填写方式不符合要求。'}")
    if v == "not" and pointer == "":
        return _procedure_block(err)
    return Finding("S-OTHER", Severity.ERROR, pointer, f"{field(pointer)}填写不符合要求。{hint}")
