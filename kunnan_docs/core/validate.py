"""Stage 1 of the pipeline: case file → validated case with findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kunnan_docs.core.casefile import Case, parse_case, read_case, schema_findings
from kunnan_docs.core.findings import Finding, Severity, is_blocking
from kunnan_docs.core.rules import check_rules, rules_for
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.errors import CaseRejected


@dataclass
class Validation:
    path: Path
    case: Case | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.case is not None and not is_blocking(self.findings)

    def to_dict(self) -> dict[str, object]:
        return {
            "file": str(self.path),
            "archive_no": self.case.archive_no if self.case else None,
            "valid": self.ok,
            "findings": [f.to_dict() for f in self.findings],
        }


def validate_file(path: Path, calendar: WorkCalendar | None = None, raw: bytes | None = None) -> Validation:
    """Validate the file at `path`, or the bytes `raw` read from it earlier (attachments are looked up beside it)."""
    try:
        case = read_case(path) if raw is None else parse_case(raw, path)
    except CaseRejected as exc:
        return Validation(path, None, [Finding("JSON", Severity.ERROR, "", str(exc))])
    return Validation(path, case, case_findings(case, calendar))


def case_findings(case: Case, calendar: WorkCalendar | None = None) -> list[Finding]:
    """Schema findings, or when there are none the notice's rules (which assume a schema-valid case)."""
    return schema_findings(case) or check_rules(case, calendar)


def draft_findings(case: Case, calendar: WorkCalendar | None = None) -> list[Finding]:
    """For a case still being typed (the desk's editor): the schema's findings and, beside them, what each rule
    can already say. A rule assumes a schema-valid case, so one that meets a missing or ill-typed value stops
    there, keeping what it found before; e.g. a wrong check digit of the ID number shows while the rest of the
    form is still empty. The findings of a complete case are exactly case_findings'."""
    found = schema_findings(case)
    if not found:
        return check_rules(case, calendar)
    calendar = calendar or WorkCalendar()
    for rule in rules_for(case.kind):
        try:
            for finding in rule(case, calendar):
                found.append(finding)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, AssertionError):
            continue  # the rule needed a value that is not (yet) there as the schema wants it
    return found


def case_files(paths: list[Path]) -> list[Path]:
    """Files as given; folders searched recursively for *.json, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if p.is_file()))
        else:
            found.append(path)
    return found
