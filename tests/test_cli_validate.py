"""The validate command as a clerk meets it: files from Windows tools, broken JSON, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kunnan_docs.cli import main
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
    try:
        main(["frobnicate"])
    except SystemExit as exc:
        assert exc.code == ExitCode.USAGE
    assert "命令用法有误" in capsys.readouterr().err


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
