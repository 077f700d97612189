"""Start-up cost: each command imports what it uses. Checked by module lists in a fresh process, never by timing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RENDERING = {"reportlab", "docxtpl", "docx", "img2pdf", "qrcode", "pypinyin"}
OPTIONAL = {"openpyxl", "pypdfium2", "zxingcpp", "watchdog", "tqdm", "pikepdf", "jsonschema", "starlette", "PIL"}


def loaded_after(code: str, cwd: Path) -> set[str]:
    """Top-level packages in sys.modules after running `code` in a fresh interpreter."""
    probe = f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\nprint(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, check=True).stdout
    return {name.split(".")[0] for name in out.split()}


def test_importing_the_cli_loads_no_heavy_library(tmp_path: Path) -> None:
    assert loaded_after("import kunnan_docs.cli", tmp_path) & (RENDERING | OPTIONAL) == set()


def test_version_and_help_load_no_heavy_library(tmp_path: Path) -> None:
    for argv in (["--version"], ["--help"], ["verify", "--help"]):
        assert loaded_after(f"from kunnan_docs.cli import main; main({argv!r})", tmp_path) & (RENDERING | OPTIONAL) == set()


def test_verify_and_status_run_without_the_rendering_stack(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    state = tmp_path / "outbox" / ".kunnan"
    state.mkdir(parents=True)
    subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from kunnan_docs.inbox.ledger import "
                    f"Ledger; Ledger(Path({str(state / 'ledger.sqlite')!r})).close()"], check=True)
    pkg = str(tmp_path / "pkg")
    verify = loaded_after(f"from kunnan_docs.cli import main; main(['verify', {pkg!r}, '--no-report'])", tmp_path)
    assert "pikepdf" in verify and verify & RENDERING == set()  # it did run: it opened its PDF library
    reported = loaded_after(f"from kunnan_docs.cli import main; main(['verify', {pkg!r}])", tmp_path)
    assert reported & RENDERING == {"reportlab"}  # the 四性检测报告's PDF, and nothing else of the forms' stack
    status = loaded_after(f"from kunnan_docs.cli import main; main(['status', '--outbox', {str(tmp_path / 'outbox')!r}])",
                          tmp_path)
    assert "sqlite3" in status and status & RENDERING == set()


def test_the_outcome_vocabulary_loads_without_the_rendering_stack(tmp_path: Path) -> None:
    """The ledger and `status` name outcomes with core.labels.Outcome; the build loads only when a case is built."""
    assert loaded_after("from kunnan_docs.core.labels import Outcome", tmp_path) & RENDERING == set()


ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contract_holds() -> None:
    """pyproject.toml's import-linter contracts: layers in the README's order, and package readers apart from the
    builder. A stage importing one above it, even indirectly, breaks this test and .ci/run."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 kept, 0 broken" in result.stdout


def test_building_loads_no_pinyin_dictionary(tmp_path: Path) -> None:
    """pypinyin's dictionaries (about 55 MB, walked by every garbage collection) load only for sorting lists."""
    assert "pypinyin" not in loaded_after("import kunnan_docs.package.build, kunnan_docs.pipeline", tmp_path)


def test_the_builder_loads_no_code_reader_and_no_word_library(tmp_path: Path) -> None:
    """pdfium and zxing load only for a case with signed originals; python-docx only where the Word forms render
    (a build of its own renders them in a forked child)."""
    loaded = loaded_after("import kunnan_docs.package.build, kunnan_docs.package.publish, kunnan_docs.pipeline", tmp_path)
    assert "pikepdf" in loaded and loaded & {"pypdfium2", "zxingcpp", "docx", "docxtpl"} == set()


def test_staff_lists_printed_to_the_terminal_load_no_reportlab(tmp_path: Path) -> None:
    """`due` and `progress` without -o print a table: no PDF, so no typesetting stack (0.4 s a process)."""
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    for argv in (["due", "--outbox", str(outbox)], ["progress", "--outbox", str(outbox)]):
        loaded = loaded_after(f"from kunnan_docs.cli import main; main({argv!r})", tmp_path)
        assert "kunnan_docs" in loaded and "reportlab" not in loaded, argv
