"""PDF/A-2b self-check of any PDF, with what it finds in Chinese.

The checking is pikepdf's PDF/A validator (`pikepdf.pdfa`), an allowlist built on veraPDF's rule
catalogue for PDF/A-2b: it approves a file only if every object it meets is one it recognises and knows
to conform, so a refusal may be a false alarm but an approval is not. What it covers and what only
veraPDF can prove is listed in the README ("PDF/A").
"""

from __future__ import annotations

from pathlib import Path

import pikepdf

from kunnan_docs.forms.archival import CONFORMANCE, PART, SAVE_OPTIONS

FLAVOUR = PART + CONFORMANCE.lower()
SHOWN = 8  # findings listed in a message; the rest are counted


def declares_pdfa(pdf: pikepdf.Pdf) -> bool:
    """Does the XMP metadata identify the file as PDF/A-2b?"""
    return pdf.open_metadata().pdfa_status == PART + CONFORMANCE


def findings(pdf: pikepdf.Pdf) -> list[str]:
    """Why an open document, saved as we save packages, would not be PDF/A-2b ([] when it would)."""
    import pikepdf.pdfa  # the validator loads jsonschema and fontTools: only when a check is due

    return _describe(pikepdf.pdfa.check(pdf, FLAVOUR, **SAVE_OPTIONS))


def file_findings(path: Path) -> list[str]:
    """Why a PDF file is not PDF/A-2b ([] when it is)."""
    import pikepdf.pdfa

    return _describe(pikepdf.pdfa.validate_written(path, FLAVOUR))


def _describe(report: pikepdf.pdfa.Report) -> list[str]:
    lines = [f"{'不符合' if f.kind == 'violation' else '无法确认'}:{f.message}({f.rule},位置 {f.where})"
             for f in report.findings[:SHOWN]]
    if len(report.findings) > SHOWN:
        lines.append(f"另有 {len(report.findings) - SHOWN} 处未列出")
    return lines


def check_file(path: Path) -> tuple[bool, list[str]]:
    """For `verify`: does the file declare PDF/A-2b, and if so, why it fails the self-check ([] when it passes)."""
    with pikepdf.open(path) as pdf:
        if not declares_pdfa(pdf):
            return False, []
    return True, [f"{path.name} 声明符合 PDF/A-2b,但自检发现:{line}" for line in file_findings(path)]
