"""The 四性检测 (DA/T 70-2018) of what verify examined: every check of the four properties listed, passed or
failed, with why — from verify's problems (each tagged with the check it fails, or known by its kind) and from
what the package states of itself (checklist, signed originals, PDF/A, fonts). A package may pass verify (whole,
unaltered) and still fail a check of its completeness (材料不全, 待签章): the report says so, verify's exit
code does not. The PDF of the report is staff/inspection_report.py; this module has the data and its JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from kunnan_docs.core.labels import ItemState
from kunnan_docs.package.checks import PACKAGE_CHECKS, Check, Property
from kunnan_docs.package.verify import Container, Examination, Problem, ProblemKind, Verified
from kunnan_docs.privacy import mask_text

STANDARD = "DA/T 70-2018《文书类电子档案检测一般要求》"
BOTH = (Check.FIXITY_SHA256, Check.FIXITY_SM3)
BY_KIND: dict[ProblemKind, tuple[Check, ...]] = {
    ProblemKind.NO_MANIFEST: BOTH, ProblemKind.MISSING: BOTH, ProblemKind.EXTRA: BOTH,
    ProblemKind.CHANGED: (Check.FIXITY_SHA256,), ProblemKind.BAD_REPORT: (Check.REPORT,),
    ProblemKind.BAD_PDF: (Check.OPENS,), ProblemKind.PAGE_COUNT: (Check.PAGES,), ProblemKind.BOOKMARKS: (Check.PAGES,),
    ProblemKind.CONTENTS: (Check.PAGES,), ProblemKind.QR: (Check.CODES,), ProblemKind.PDFA: (Check.PDFA,),
    ProblemKind.METADATA: (Check.METADATA_AGREES,), ProblemKind.SECURITY: (Check.NO_ACTIVE,),
    ProblemKind.BAD_ZIP: (Check.CONTAINER_OPENS,), ProblemKind.ZIP_BOMB: (Check.CONTAINER_SAFE,),
    ProblemKind.ZIP_NAME: (Check.CONTAINER_SAFE,), ProblemKind.ZIP_LINK: (Check.CONTAINER_SAFE,),
    ProblemKind.BAD_HANDOVER: (Check.HANDOVER_COMPLETE,), ProblemKind.NOT_HANDED_OVER: (Check.HANDOVER_COMPLETE,),
}
# what cannot be checked without a readable report.json, or without the package PDF open
NEEDS_REPORT = tuple(c for c in PACKAGE_CHECKS if c not in (*BOTH, Check.REPORT))
NEEDS_PDF = (Check.METADATA_AGREES, Check.CODES, Check.PAGES, Check.PIECES, Check.FONTS, Check.RENDERS,
             Check.NOT_ENCRYPTED, Check.NO_ACTIVE, Check.NO_LINKS)


def checks_of(problem: Problem) -> tuple[Check, ...]:
    return (problem.check,) if problem.check else BY_KIND[problem.kind]


@dataclass(frozen=True)
class Result:
    check: Check
    passed: bool
    details: tuple[str, ...] = ()  # why it failed, in Chinese

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.check.value, "property": self.check.quality.value, "property_label": self.check.quality.label,
                "name": self.check.label, "passed": self.passed, "details": list(self.details)}


def _passed(results: tuple[Result, ...]) -> dict[Property, bool]:
    return {p: all(r.passed for r in results if r.check.quality is p) for p in Property}


@dataclass(frozen=True)
class Inspection:
    """One package's 四性检测."""

    package: str  # its folder's name
    archive_no: str  # "" when report.json could not be read
    results: tuple[Result, ...]
    problems: tuple[Problem, ...]  # verify's, which fail the package on receipt (exit code 4)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def properties(self) -> dict[Property, bool]:
        return _passed(self.results)

    @property
    def conclusion(self) -> str:
        failed = [p.label for p, ok in self.properties.items() if not ok]
        return "四性检测通过" if not failed else f"未通过:{'、'.join(failed)}"

    def to_dict(self) -> dict[str, Any]:
        return {"package": self.package, "archive_no": self.archive_no, "passed": self.passed,
                "conclusion": self.conclusion, "properties": {p.value: ok for p, ok in self.properties.items()},
                "checks": [r.to_dict() for r in self.results],
                "problems": [{k: mask_text(v) for k, v in p.to_dict().items()} for p in self.problems]}


def inspect(found: Examination) -> Inspection:
    """Every check of PACKAGE_CHECKS for one examined package."""
    failing: dict[Check, list[str]] = {}
    for problem in found.problems:
        for check in checks_of(problem):
            failing.setdefault(check, []).append(mask_text(problem.fault))  # a file may be named by an ID number
    report = found.report
    untested: dict[Check, str] = {}
    if report is None:
        untested = dict.fromkeys(NEEDS_REPORT, "未能检测:report.json 无法读取")
    elif not found.pdf_read:
        untested = dict.fromkeys(NEEDS_PDF, "未能检测:案卷 PDF 无法打开")
    else:
        _stated(found, failing)
    results = []
    for check in PACKAGE_CHECKS:
        details = failing.get(check, []) + ([untested[check]] if check in untested else [])
        results.append(Result(check, not details, tuple(details)))
    return Inspection(found.folder, report.archive_no if report else "", tuple(results), found.problems)


def _stated(found: Examination, failing: dict[Check, list[str]]) -> None:
    """The checks a package's own statements decide: its checklist, signed originals, PDF/A, fonts, metadata."""
    report = found.report
    assert report is not None
    missing = [f"缺第{e.no}项 {e.title}" for e in report.checklist if e.status is ItemState.MISSING]
    failing.setdefault(Check.CHECKLIST, []).extend(missing)
    failing.setdefault(Check.SIGNED, []).extend(f"第{a.no}项 {a.title}:待签章,卷内为打印稿"
                                                for a in report.awaiting_signature)
    if report.pdfa is not None and not report.pdfa.declared:
        failing.setdefault(Check.PDFA, []).extend(["案卷 PDF 未声明为 PDF/A-2b", *report.pdfa.problems])
    if found.unembedded_fonts:
        failing.setdefault(Check.FONTS, []).append(f"未嵌入的字体:{'、'.join(found.unembedded_fonts)}")
    if not found.metadata:
        for check in (Check.METADATA_VALID, Check.METADATA_AGREES, Check.PIECES):
            failing.setdefault(check, []).append("案卷中没有元数据文件(本工具较早版本生成的案卷),无法核对")
    for check in list(failing):
        if not failing[check]:
            del failing[check]


@dataclass(frozen=True)
class Summary:
    """The 四性检测 of what one verify was given: a package, a handover folder or a handover zip."""

    name: str  # the folder's or zip's name
    container: Container
    day: date
    results: tuple[Result, ...]  # the handover's own checks (its manifest, its list, its zip); none for a package
    packages: tuple[Inspection, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results) and all(p.passed for p in self.packages)

    @property
    def conclusion(self) -> str:
        failed = [p.label for p in Property if not all(r.passed for r in self.results if r.check.quality is p)
                  or not all(i.properties[p] for i in self.packages)]
        return "四性检测通过" if not failed else f"未通过:{'、'.join(failed)}"

    def to_dict(self) -> dict[str, Any]:
        return {"standard": STANDARD, "date": self.day.isoformat(), "name": self.name,
                "container": self.container.value, "passed": self.passed, "conclusion": self.conclusion,
                "checks": [r.to_dict() for r in self.results], "packages": [p.to_dict() for p in self.packages]}


CONTAINER_CHECKS = {Container.PACKAGE: (), Container.HANDOVER: (Check.HANDOVER_FIXITY, Check.HANDOVER_COMPLETE),
                    Container.ZIP: (Check.HANDOVER_FIXITY, Check.HANDOVER_COMPLETE, Check.CONTAINER_OPENS,
                                    Check.CONTAINER_SAFE)}


def summarize(found: Verified, name: str, day: date) -> Summary:
    """The Summary of one verify_path: the handover's own checks from its own problems (those of no package)."""
    failing: dict[Check, list[str]] = {}
    for problem in found.problems:
        if problem.package:
            continue
        for check in checks_of(problem):
            failing.setdefault(Check.HANDOVER_FIXITY if check in BOTH else check, []).append(mask_text(problem.fault))
    results = tuple(Result(c, c not in failing, tuple(failing.get(c, ()))) for c in CONTAINER_CHECKS[found.container])
    return Summary(name, found.container, day, results, tuple(inspect(e) for e in found.packages))
