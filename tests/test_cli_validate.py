"""The validate command as a clerk meets it: files from Windows tools, broken JSON, exit codes."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kunnan_docs.cli import main
from kunnan_docs.core.casefile import MAX_CASE_BYTES, MAX_CASE_DEPTH
from kunnan_docs.errors import ExitCode

from .conftest import EXAMPLES, EXIT_EXAMPLE, ROOT


def test_bom_file_loads(case_copy, capsys) -> None:
    case_file = case_copy(EXIT_EXAMPLE)
    case_file.write_bytes(b"\xef\xbb\xbf" + case_file.read_bytes())
    assert main(["validate", str(case_file)]) == ExitCode.OK
    assert "合格" in capsys.readouterr().out


def test_broken_json_names_line_and_column(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "坏.json"
    bad.write_text('{\n  "kind": "exit",\n  "archive_no": "X1"\n  "level": "市级"\n}', encoding="utf-8")
    assert main(["validate", str(bad)]) == ExitCode.INVALID
    out = capsys.readouterr().out
    assert "第 4 行第 3 列" in out and "缺少逗号" in out and "Traceback" not in out


def test_not_utf8_and_empty_and_non_object(tmp_path: Path, capsys) -> None:
    (tmp_path / "gbk.json").write_bytes('{"姓名": "王"}'.encode("gbk"))
    (tmp_path / "empty.json").write_bytes(b"")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    assert main(["validate", str(tmp_path)]) == ExitCode.INVALID
    out = capsys.readouterr().out
    assert "不是 UTF-8 编码" in out and "是空文件" in out and "最外层应是一个" in out


def test_json_output_is_machine_readable(case_copy, capsys) -> None:
    case_file = case_copy(EXIT_EXAMPLE, {"/assistance/0/channel": "现金"})
    assert main(["validate", "--json", str(case_file)]) == ExitCode.INVALID
    [result] = json.loads(capsys.readouterr().out)
    assert result["valid"] is False and result["archive_no"] == "CD510104-2018-0112"
    assert {"code": "AID-CHANNEL", "severity": "error", "pointer": "/assistance/0/channel"}.items() <= \
        result["findings"][0].items()


def test_usage_errors(tmp_path: Path, capsys) -> None:
    assert main(["validate", str(tmp_path)]) == ExitCode.USAGE  # no case files there
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == ExitCode.USAGE
    assert "命令用法有误" in capsys.readouterr().err


ARGPARSE_ENGLISH = ("usage", "argument", "required", "invalid", "choose from", "expected", "unrecognized",
                    "options", "show this help", "error:")


@pytest.mark.parametrize("argv", [["--help"], ["build", "--help"], ["frobnicate"], ["build", "case.json"],
                                  ["build", "-o"], ["build", "a.json", "-o", "x", "--workers", "many"],
                                  ["status", "--no-such-option"]])
def test_the_command_line_speaks_chinese_even_where_argparse_speaks(argv: list[str], capsys) -> None:
    """Help pages and usage errors come from argparse, in English unless told otherwise: a clerk reads them."""
    with contextlib.suppress(SystemExit):
        main(argv)
    said = capsys.readouterr()
    text = (said.out + said.err).lower()
    assert text.strip()
    assert [word for word in ARGPARSE_ENGLISH if word in text] == []


def test_readme_first_commands_are_the_ones_we_run(tmp_path: Path) -> None:
    """The README's first lines name the main job and the test command; the main job works as written."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:12]
    commands = [ln.strip() for ln in lines if ln.startswith("    ")]
    assert len(commands) == 2 and commands[1] == "bash .ci/run", lines
    assert "pytest" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    main_job = commands[0].split("kunnan-docs ", 1)[1].split()  # e.g. build examples/*/case.json -o outbox
    args = []
    for arg in main_job:
        args += sorted(str(p) for p in ROOT.glob(arg)) if "*" in arg else [arg]
    args[args.index("-o") + 1] = str(tmp_path / "outbox")
    proc = subprocess.run([sys.executable, "-m", "kunnan_docs", *args], capture_output=True, text=True,
                          check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len([p for p in (tmp_path / "outbox").iterdir() if not p.name.startswith(".")]) == len(list(EXAMPLES.glob("*/case.json")))


def test_every_command_has_help_with_an_example(capsys) -> None:
    from kunnan_docs.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert {"validate", "render", "build", "verify", "watch", "status", "notices", "handover", "due",
            "progress", "template-xlsx", "import-xlsx"} <= set(commands)
    for name, sub in commands.items():
        text = sub.format_help()
        assert "示例:kunnan-docs " + name in text, name


@pytest.mark.parametrize(("written", "shown"), [("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "-Infinity"),
                                                ("1e999", "1e999"), ("1" * 5000, "11111")])
def test_numbers_json_does_not_allow_are_refused_naming_the_field(case_copy, capsys, written: str, shown: str) -> None:
    """Python's json reads NaN and Infinity (and 1e999 as infinity); a form would print "nan元"."""
    case_file = case_copy(EXIT_EXAMPLE)
    text = case_file.read_text(encoding="utf-8").replace('"monthly_income": 0', f'"monthly_income": {written}')
    case_file.write_text(text, encoding="utf-8")
    assert main(["validate", str(case_file)]) == ExitCode.INVALID
    out = capsys.readouterr().out
    assert "【职工本人/本人月收入(元)】填的是 " + shown in out, out
    assert "JSON 不允许" in out and "Traceback" not in out


def test_nesting_deeper_than_the_limit_is_refused_before_parsing(tmp_path: Path, capsys) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text('{\n"a":\n' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    at_limit = tmp_path / "ok.json"
    at_limit.write_text('{"a": ' + "[" * (MAX_CASE_DEPTH - 1) + "]" * (MAX_CASE_DEPTH - 1) + "}", encoding="utf-8")
    assert main(["validate", str(deep), str(at_limit)]) == ExitCode.INVALID
    out = capsys.readouterr().out
    assert f"deep.json 第 3 行处括号嵌套超过 {MAX_CASE_DEPTH} 层" in out and "RecursionError" not in out
    assert "ok.json 第" not in out and "[错误 S-UNKNOWN] 【案卷】中有无法识别的项 a" in out  # parsed; only the schema complains


def test_brackets_inside_strings_do_not_count(case_copy) -> None:
    case_file = case_copy(EXIT_EXAMPLE, {"/hardship_reason": "[" * 100 + '\\"{{' * 50})
    assert main(["validate", str(case_file)]) == ExitCode.OK


def test_file_over_the_size_limit_is_refused_unread(tmp_path: Path, capsys) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as f:
        f.truncate(MAX_CASE_BYTES + 1)  # sparse: refused from its size, before a byte is read
    assert main(["validate", str(big)]) == ExitCode.INVALID
    assert f"big.json 超过 {MAX_CASE_BYTES // 1024 // 1024} MB" in capsys.readouterr().out


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_fifo_named_like_a_case_file_is_refused_without_hanging(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "case.json"
    os.mkfifo(fifo)
    assert main(["validate", str(fifo)]) == ExitCode.INVALID
    assert "case.json 不是普通文件" in capsys.readouterr().out


def test_lone_surrogate_escape_is_refused(case_copy, capsys) -> None:
    case_file = case_copy(EXIT_EXAMPLE)
    text = case_file.read_text(encoding="utf-8").replace('"name": "王淑芬"', '"name": "王\\ud800"')
    case_file.write_text(text, encoding="utf-8")
    assert main(["validate", str(case_file)]) == ExitCode.INVALID
    assert "【职工本人/姓名】中有无法保存的字符" in capsys.readouterr().out
