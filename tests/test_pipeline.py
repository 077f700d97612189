"""One case end to end (pipeline.process_case) and the exit codes the CLI derives from its outcomes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

from kunnan_docs.cli import main
from kunnan_docs.core.labels import Outcome
from kunnan_docs.errors import ExitCode, worst
from kunnan_docs.pipeline import inputs_digest, process_case

from .conftest import DELETE, EXIT_EXAMPLE, FILING_EXAMPLE, ROOT


def test_worst_exit_code_precedence() -> None:
    assert worst([ExitCode.OK, ExitCode.INCOMPLETE, ExitCode.INVALID]) is ExitCode.INVALID
    assert worst([ExitCode.INCOMPLETE, ExitCode.OK]) is ExitCode.INCOMPLETE
    assert worst([ExitCode.AWAITING_SIGNATURE, ExitCode.INCOMPLETE]) is ExitCode.INCOMPLETE
    assert worst([ExitCode.OK, ExitCode.AWAITING_SIGNATURE]) is ExitCode.AWAITING_SIGNATURE
    assert worst([]) is ExitCode.OK


def test_rejected_outranks_incomplete_in_one_build(case_copy, tmp_path) -> None:
    bad = case_copy(edits={"/worker/id_number": "123"}, name="bad")
    incomplete = case_copy(edits={"/attachments/0": DELETE}, name="incomplete")
    for order in ([bad, incomplete], [incomplete, bad]):
        code = main(["build", *map(str, order), "-o", str(tmp_path / "out")])
        assert code == ExitCode.INVALID


def test_package_is_built_from_the_bytes_given_not_the_file_as_it_is_now(case_copy, tmp_path) -> None:
    case_file = case_copy(FILING_EXAMPLE)
    read_before = case_file.read_bytes()
    edited = json.loads(read_before)
    edited["union"] = "后来改过的单位工会"
    case_file.write_text(json.dumps(edited, ensure_ascii=False), encoding="utf-8")

    result = process_case(case_file, tmp_path / "out", data=read_before)

    assert result.outcome.published and result.folder is not None
    assert (result.folder / "input" / case_file.name).read_bytes() == read_before
    assert "后来改过的单位工会" not in (result.folder / "report.json").read_text(encoding="utf-8")
    snapshot = result.folder / "input"
    assert result.input_digest == inputs_digest(snapshot, [p for p in snapshot.rglob("*") if p.is_file()])


def test_package_can_be_rebuilt_from_its_own_inputs(tmp_path) -> None:
    first = process_case(EXIT_EXAMPLE / "case.json", tmp_path / "out")
    assert first.folder is not None
    pdf_before = next(first.folder.glob("*.pdf")).read_bytes()
    again = process_case(first.folder / "input" / "case.json", tmp_path / "out")
    assert again.outcome is first.outcome and again.input_digest == first.input_digest
    assert next(again.folder.glob("*.pdf")).read_bytes() == pdf_before
    assert not list((tmp_path / "out" / ".staging").iterdir()), "no snapshot left behind"


def test_rejected_case_publishes_nothing_and_leaves_no_snapshot(case_copy, tmp_path) -> None:
    case_file = case_copy(edits={"/attachments/0/path": "scans/none.jpg"})
    (case_file.parent / "scans" / "none.jpg").write_bytes(b"not an image")
    result = process_case(case_file, tmp_path / "out")
    assert result.outcome is Outcome.REJECTED and result.folder is None
    assert "none.jpg" in " ".join(result.messages)
    assert [p.name for p in (tmp_path / "out").iterdir()] == [".staging"]
    assert not list((tmp_path / "out" / ".staging").iterdir())


@pytest.mark.parametrize("alone", [True, False], ids=["decoded on a forked second core", "decoded in-process"])
def test_a_truncated_scan_is_refused_by_its_decode_check(case_copy, tmp_path, alone) -> None:
    """The scans' decode check runs aside while the forms are typeset: in a forked child for a build of its own,
    in the process itself beside another thread (a pool worker). Either way a scan cut short refuses the case."""
    case_file = case_copy(FILING_EXAMPLE)
    scan = case_file.parent / "scans" / "05-建档公示.jpg"
    scan.write_bytes(scan.read_bytes()[: scan.stat().st_size // 2])
    busy = threading.Event()
    if not alone:
        threading.Thread(target=busy.wait, daemon=True).start()
    try:
        result = process_case(case_file, tmp_path / "out")
    finally:
        busy.set()
    assert result.outcome is Outcome.REJECTED and result.folder is None
    assert any("scans/05-建档公示.jpg" in m and "不完整" in m for m in result.messages), result.messages


def test_broken_template_is_a_configuration_error_not_a_rejection(case_copy, tmp_path, monkeypatch, capsys) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    for docx in (ROOT / "templates").glob("*.docx"):
        (templates / docx.name).write_bytes(b"broken")
    monkeypatch.setenv("KUNNAN_TEMPLATES", str(templates))
    code = main(["build", str(case_copy()), "-o", str(tmp_path / "out")])
    assert code == ExitCode.CONFIG
    assert "模板" in capsys.readouterr().err
    assert not (tmp_path / "out" / "CD510104-2018-0112").exists()


def test_an_installation_without_its_fonts_is_a_configuration_error(case_copy, tmp_path) -> None:
    # A copy of the installation whose build hook never made the fonts (fonts/ is made at install time).
    install = tmp_path / "install"
    shutil.copytree(ROOT / "kunnan_docs", install / "kunnan_docs", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("schemas", "templates"):
        shutil.copytree(ROOT / folder, install / folder)
    (install / "fonts").mkdir()
    case_file = case_copy()

    def build() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kunnan_docs", "build", str(case_file), "-o", str(tmp_path / "out")],
                              capture_output=True, text=True, cwd=install, timeout=120)

    done = build()
    assert done.returncode == ExitCode.CONFIG, done.stderr
    assert "fonts/fonts.json" in done.stderr and "pip install" in done.stderr
    assert not (tmp_path / "out" / "CD510104-2018-0112").exists()
    shutil.copy(ROOT / "fonts" / "fonts.json", install / "fonts")
    done = build()
    assert done.returncode == ExitCode.CONFIG and "NotoSerifSC-Regular.ttf" in done.stderr, done.stderr


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kunnan_docs", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def test_internal_error_is_exit_10_and_kunnan_debug_shows_the_traceback(tmp_path) -> None:
    # A directory where the outbox's staging folder must go: an OS-level failure no case is responsible for.
    outbox = tmp_path / "out"
    outbox.mkdir()
    (outbox / ".staging").write_text("not a folder")
    env = {k: v for k, v in os.environ.items() if k != "KUNNAN_DEBUG"}
    quiet = _cli("build", str(FILING_EXAMPLE / "case.json"), "-o", str(outbox), env=env)
    assert quiet.returncode == ExitCode.INTERNAL and "Traceback" not in quiet.stderr
    assert "KUNNAN_DEBUG" in quiet.stderr
    loud = _cli("build", str(FILING_EXAMPLE / "case.json"), "-o", str(outbox), env={**env, "KUNNAN_DEBUG": "1"})
    assert loud.returncode == ExitCode.INTERNAL and "Traceback" in loud.stderr


def test_ctrl_c_is_exit_130(tmp_path, monkeypatch) -> None:
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("kunnan_docs.batch.process_case", interrupted)
    assert main(["build", str(FILING_EXAMPLE / "case.json"), "-o", str(tmp_path)]) == ExitCode.INTERRUPTED


@pytest.mark.parametrize("code", list(ExitCode))
def test_every_exit_code_is_documented(code: ExitCode) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    assert f"| {int(code)} |" in section
