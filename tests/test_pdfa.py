"""PDF/A-2b: every PDF we write declares it and passes the self-check (and veraPDF, where installed);
a scanned PDF that cannot conform keeps the package from declaring it, and says why."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pikepdf
import pikepdf.pdfa
import pytest
from reportlab.pdfgen.canvas import Canvas

from kunnan_docs.cli import main
from kunnan_docs.errors import ExitCode
from kunnan_docs.package.pdfa import check_file, declares_pdfa

from .conftest import FILING_EXAMPLE


@pytest.fixture(scope="module")
def outputs(built_examples: Path, tmp_path_factory) -> dict[str, list[Path]]:
    """Packages of every example (the session's build, copied), their forms, and the staff PDFs made from them."""
    root = tmp_path_factory.mktemp("pdfa")
    outbox = root / "outbox"
    shutil.copytree(built_examples, outbox, symlinks=True)
    packages = sorted(p / f"{p.name}.pdf" for p in outbox.iterdir() if not p.name.startswith((".", "_")))
    forms = sorted(outbox.glob("*/documents/*.pdf"))
    assert main(["notices", "--outbox", str(outbox), "-o", str(root / "notices.pdf")]) == ExitCode.OK
    assert main(["progress", "--outbox", str(outbox), "-o", str(root / "progress.pdf")]) == ExitCode.OK
    assert main(["handover", "--outbox", str(outbox), "--district", "成都市锦江区总工会", "--date", "2019-11-01",
                 "-o", str(root / "handover")]) == ExitCode.OK
    staff = [root / "notices.pdf", root / "progress.pdf", root / "handover" / "移交清单.pdf"]
    assert len(packages) == 4 and len(forms) >= 10
    return {"packages": packages, "forms": forms, "staff": staff}


def _all(outputs: dict[str, list[Path]]) -> list[Path]:
    return [path for paths in outputs.values() for path in paths]


def test_every_pdf_declares_pdfa_2b_and_passes_the_self_check(outputs) -> None:
    for path in _all(outputs):
        report = pikepdf.pdfa.validate_written(path, "2b")
        assert report.passed, f"{path.name}: {report.summary()}"
        with pikepdf.open(path) as pdf:
            assert declares_pdfa(pdf), path.name
            meta = pdf.open_metadata()
            assert meta["dc:title"] == str(pdf.docinfo.Title)  # XMP agrees with the document info
            [intent] = pdf.Root.OutputIntents
            assert intent.S == "/GTS_PDFA1" and intent.DestOutputProfile.N == 3
            assert intent.DestOutputProfile.read_bytes()[36:40] == b"acsp"  # an ICC profile
            assert "/Encrypt" not in pdf.trailer and "/OpenAction" not in pdf.Root and "/Names" not in pdf.Root
            assert all("/Annots" not in page.obj and "/AA" not in page.obj for page in pdf.pages)
        assert check_file(path) == (True, [])


def test_packages_report_their_declaration(outputs) -> None:
    for package in outputs["packages"]:
        report = json.loads((package.parent / "report.json").read_text(encoding="utf-8"))
        assert report["pdfa"] == {"declared": True, "problems": []}


def test_every_font_is_embedded_and_distinct_subsets_have_distinct_tags(outputs) -> None:
    """ISO 32000-1 §9.6.4: one tag names one subset; merging twelve forms must not reuse AAAAAA+."""
    for path in outputs["packages"]:
        with pikepdf.open(path) as pdf:
            subsets: dict[str, bytes] = {}
            for page in pdf.pages:
                fonts = list(page.Resources.get("/Font", {}).values())
                for xobject in page.Resources.get("/XObject", {}).values():  # the page-number stamps
                    fonts += list(xobject.get("/Resources", {}).get("/Font", {}).values())
                for font in fonts:
                    program = font.FontDescriptor.FontFile2.read_bytes()  # embedded TrueType, never base-14
                    name = str(font.BaseFont).lstrip("/")
                    assert name[6] == "+" and name[:6].isupper()
                    assert subsets.setdefault(name, program) == program, f"{name} names two subsets"
            report = json.loads((path.parent / "report.json").read_text(encoding="utf-8"))
            printed = any(d["generated"] for e in report["checklist"] for d in e["documents"])
            # cover, contents, remarks, page numbers, and a form unless every form is in as its signed scan
            assert len(subsets) >= 4 + printed


def test_a_scanned_pdf_that_cannot_conform_is_reported_not_declared(case_copy, tmp_path, capsys) -> None:
    case_file = case_copy(FILING_EXAMPLE)
    scan = case_file.parent / "scans" / "04-承诺书和收入证明.pdf"
    canvas = Canvas(str(scan), initialFontName="Helvetica")  # base-14: referenced, never embedded
    canvas.drawString(72, 720, "Income statement")
    canvas.save()
    assert main(["build", str(case_file), "-o", str(tmp_path / "out")]) == ExitCode.OK
    folder = tmp_path / "out" / "CD510108-2019-0037"
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["pdfa"]["declared"] is False and report["pdfa"]["problems"]
    with pikepdf.open(folder / "CD510108-2019-0037.pdf") as pdf:
        assert not declares_pdfa(pdf)
    summary = (folder / "报告.txt").read_text(encoding="utf-8-sig")
    assert "未能声明为 PDF/A-2b" in summary and "下一步" in summary
    assert main(["verify", str(folder)]) == ExitCode.OK  # honest: not declared, nothing claimed falsely


def test_self_check_catches_a_file_that_declares_pdfa_but_lost_its_output_intent(outputs, tmp_path) -> None:
    broken = tmp_path / "broken.pdf"
    with pikepdf.open(outputs["forms"][0]) as pdf:
        del pdf.Root.OutputIntents
        pdf.save(broken)
    declared, problems = check_file(broken)
    assert declared and problems and "声明符合 PDF/A-2b" in problems[0]


def test_verapdf_agrees_where_installed(outputs) -> None:
    verapdf = shutil.which("verapdf")
    if not verapdf:
        pytest.skip("veraPDF is not on PATH (it is in no package registry we use): only the self-check ran")
    for path in _all(outputs):
        result = subprocess.run([verapdf, "--flavour", "2b", str(path)], capture_output=True, text=True, check=False)
        assert 'isCompliant="true"' in result.stdout, f"{path.name}: {result.stdout[-2000:]}"
