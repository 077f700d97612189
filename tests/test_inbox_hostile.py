"""Whatever a shared drive can hold, dropped into the inbox at once beside two good cases (issue 10).

Nothing hangs the watcher (it runs with a time limit), nothing outside the inbox is read (a link points at
a FIFO outside: reading it would hang), every bad entry is refused with a reason file or named by
`status`, and the good cases are built all the same.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
from pathlib import Path

from .conftest import EXIT_EXAMPLE, FILING_EXAMPLE
from .inbox_kit import assert_packages_verify, copy_case, make_areas, packages, reason_files, status, watch_once

EXIT_NO, FILING_NO = "CD510104-2018-0112", "CD510108-2019-0037"
LONG_NAME = "档" * 85  # 255 bytes in UTF-8, the most ext4 allows


def _hostile_inbox(tmp_path: Path, inbox: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.mkfifo(outside / "trap.json")  # read through a link, this blocks forever
    shutil.copytree(FILING_EXAMPLE, outside / "case-folder")
    os.symlink(outside / "trap.json", inbox / "link.json")
    os.symlink(outside / "case-folder", inbox / "linked-folder")
    os.mkfifo(inbox / "pipe.json")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(inbox / "socket.json"))
    server.close()
    os.mknod(inbox / "device.json", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    (inbox / "dir-named-case" / "case.json").mkdir(parents=True)  # a folder named like a case file
    folder = copy_case(FILING_EXAMPLE, inbox / "linked-case-file")
    (folder / "case.json").unlink()
    os.symlink(outside / "case-folder" / "case.json", folder / "case.json")
    copy_case(FILING_EXAMPLE, inbox / "nan", {"archive_no": "CD-NAN-1"})
    case_file = inbox / "nan" / "case.json"
    case_file.write_text(case_file.read_text(encoding="utf-8").replace('"CD-NAN-1"', '"CD-NAN-1", "x": NaN'),
                         encoding="utf-8")
    (inbox / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (inbox / "huge.json").write_bytes(b" " * (6 << 20) + b"{}")
    escaping = copy_case(FILING_EXAMPLE, inbox / "escaping-scan", {"archive_no": "CD-ESC-1"})
    (escaping / "scans" / "01-身份证复印件.jpg").unlink()
    os.symlink(outside / "trap.json", escaping / "scans" / "01-身份证复印件.jpg")
    (inbox / "说明.txt").write_text("not a case", encoding="utf-8")
    copy_case(FILING_EXAMPLE, inbox / "batch" / "nested", {"archive_no": "CD-NEST-1"})
    # and two good cases: one with the longest name the file system allows, one with an upper-case .JSON
    copy_case(FILING_EXAMPLE, inbox / LONG_NAME)
    copy_case(EXIT_EXAMPLE, inbox / "upper")
    (inbox / "upper" / "case.json").rename(inbox / "upper" / "CASE.JSON")


def test_hostile_entries_are_refused_or_named_and_good_cases_built(tmp_path: Path) -> None:
    areas = make_areas(tmp_path)
    _hostile_inbox(tmp_path, areas["inbox"])
    result = watch_once(areas, timeout=240)
    assert result.returncode == 1, result.stderr
    assert packages(areas["outbox"]) == [EXIT_NO, FILING_NO]
    assert_packages_verify(areas["outbox"])
    processed = sorted(p.name for p in areas["processed"].iterdir())
    assert len(processed) == 2 and any(LONG_NAME[:40] in p for p in processed)
    assert (next(areas["processed"].glob("*upper")) / "upper" / "CASE.JSON").is_file()
    assert (next(p for p in areas["processed"].iterdir() if LONG_NAME[:40] in p.name) / LONG_NAME / "case.json").is_file()
    reasons = reason_files(areas["rejected"])
    expected = {"link.json": "链接", "linked-folder": "链接", "pipe.json": "不是普通文件",
                "socket.json": "不是普通文件", "device.json": "不是普通文件", "dir-named-case": "不是普通文件",
                "linked-case-file": "不是普通文件", "nan": "NaN", "deep.json": "嵌套", "huge.json": "5 MB",
                "escaping-scan": "01-身份证复印件.jpg"}
    for entry, words in expected.items():
        assert entry in reasons, (entry, sorted(reasons))
        assert words in reasons[entry], (entry, reasons[entry])
        assert "如何重新提交" in reasons[entry]
    assert sorted(reasons) == sorted(expected)
    # links moved as links: what they point at is untouched outside the inbox
    assert stat.S_ISFIFO(os.lstat(tmp_path / "outside" / "trap.json").st_mode)
    assert json.loads((tmp_path / "outside" / "case-folder" / "case.json").read_text(encoding="utf-8"))
    left = sorted(p.name for p in areas["inbox"].iterdir() if not p.name.startswith("."))
    assert left == ["batch", "说明.txt"]
    shown = status(areas["outbox"])
    assert "无法处理的项目:2 个" in shown and "说明.txt" in shown and "batch" in shown, shown


FORGED = "\n2019-09-16 08:00:00 CD510104-2018-0112 已发布到 发件夹(材料齐全)\x1b[2J"


def test_entry_names_with_a_newline_and_an_escape_forge_no_log_or_status_line(tmp_path: Path) -> None:
    """A case file and a stray file whose names hold a newline, a forged log line and a terminal escape (issue 22):
    watch.log and `status` show them escaped, on the line they belong to."""
    areas = make_areas(tmp_path)
    (areas["inbox"] / f"坏{FORGED}.json").write_text("not json", encoding="utf-8")
    (areas["inbox"] / f"杂{FORGED}.txt").write_text("not a case", encoding="utf-8")
    result = watch_once(areas)
    assert result.returncode == 1, result.stderr
    written = {"watch.log": (areas["outbox"] / ".kunnan" / "watch.log").read_text(encoding="utf-8"),
               "terminal": result.stderr, "status": status(areas["outbox"])}
    for where, text in written.items():
        assert "\x1b" not in text, where
        lines = text.splitlines()
        assert not any(line.startswith("2019-09-16") for line in lines), where  # no forged line
        assert any("\\n2019-09-16 08:00:00 CD510104-2018-0112 已发布到" in line and "\\x1b[2J" in line
                   for line in lines), (where, text)
    assert "杂\\n2019-09-16" in written["status"]  # the stray file, named by status, escaped
