"""One case, end to end: validate → snapshot the inputs → render and build → publish.

The CLI, the watcher and the scanner round trip all call `process_case`, so a case gets the same checks, the same
package and the same outcome word wherever it comes from. The package is built from a private copy of its inputs
(kept in the package as `input/`), so the manifest vouches for exactly the bytes the package was built from, and a
package can be rebuilt from itself.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kunnan_docs.core.casefile import parse_case
from kunnan_docs.core.findings import Finding, Severity
from kunnan_docs.core.identity import Correction
from kunnan_docs.core.labels import Outcome
from kunnan_docs.core.rules import attachment_path_problem
from kunnan_docs.core.validate import validate_file
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.core.zh import zh_date
from kunnan_docs.errors import CaseRejected, injected_write_fault
from kunnan_docs.forms import aside
from kunnan_docs.package.layout import INPUT_DIR, STATE_DIR, file_digests


@dataclass
class CaseResult:
    case_file: Path
    outcome: Outcome
    archive_no: str | None = None
    folder: Path | None = None  # the published package folder
    label: str = ""  # the package's Chinese conclusion, e.g. 材料不全(缺第3项)
    pages: int = 0
    messages: list[str] = field(default_factory=list)  # for people: the findings' messages first (errors only when
    # rejected), then a refusal of the build or 请核对 notes; no code, no pointer
    input_digest: str = ""  # inputs_digest() of the bytes the package was built from
    skipped: bool = False  # already published from exactly these inputs by this version (batch.run_cases)
    findings: list[Finding] = field(default_factory=list)  # the same findings typed: code and pointer for engineers


def inputs_digest(folder: Path, files: list[Path], each: dict[str, tuple[str, str]] | None = None) -> str:
    """One SHA-256 over the inputs' names (relative to the case folder) and bytes, in a stable order.

    Given `each`, it receives every file's own (SHA-256, SM3) for the package manifests, from the same one read."""
    digest = hashlib.sha256()
    for path in sorted(files):
        rel = path.relative_to(folder).as_posix()
        digest.update(rel.encode() + b"\0")
        if each is not None:
            each[rel] = file_digests(path, digest)
            continue
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def process_case(case_file: Path, outbox: Path, calendar: WorkCalendar | None = None,
                 data: bytes | None = None, correction: Correction | None = None) -> CaseResult:
    """Validate, build and publish one case. `data` are the case file's bytes as the caller read and hashed them.

    A case the clerk must fix ends as Outcome.REJECTED with its messages; a broken installation (ConfigError) and
    OS errors such as a full disk propagate, because no case is at fault and the caller must keep its input.
    The archive number must stay its family's and the person keep one active file (package.identity), checked
    before the build and again right before publishing; `correction` (who, when, why) lets the ID number or the
    name of an existing archive number change, and is recorded in the package.
    """
    from kunnan_docs.package import identity
    from kunnan_docs.package.build import build  # here: the CLI and the watcher import this module cheaply
    from kunnan_docs.package.formcache import FOLDER as FORMS_CACHE
    from kunnan_docs.package.formcache import FormCache
    from kunnan_docs.package.lock import private_staging, publishing
    from kunnan_docs.package.publish import put_in_place, stage
    from kunnan_docs.package.signed import originals_for

    calendar = calendar or WorkCalendar()
    checked = validate_file(case_file, calendar, raw=data)
    archive_no = checked.case.archive_no if checked.case else None
    if not checked.ok:
        errors = [f for f in checked.findings if f.severity == "error"]
        return CaseResult(case_file, Outcome.REJECTED, archive_no, messages=[f.message for f in errors], findings=errors)
    assert checked.case is not None
    raw = checked.case.raw
    with private_staging(outbox) as staging:  # ours alone: no other writer's recover() removes it
        snapshot = staging / f".{INPUT_DIR}"  # a dot: no archive number's folder name (layout.safe_name) starts so
        snapshot.mkdir()
        files = _snapshot(case_file, raw, checked.case.data.get("attachments", []), snapshot)
        case = parse_case(raw, snapshot / case_file.name)
        index = identity.load(outbox)
        said = index.check(case, correction)
        if refused := _refused(case_file, archive_no, said):
            return refused
        if current := index.current(case.archive_no):
            case.data["archive_no"] = archive_no = current.archive_no  # one number, one folder, one spelling
        hashed = aside.start("kunnan_docs.pipeline:hashed_inputs", snapshot, files)  # before the build forks its own
        try:
            pkg = build(case, checked.findings, calendar, originals_for(outbox, case.archive_no),
                        identity.corrections(outbox, index, case, correction),
                        FormCache(outbox / STATE_DIR / FORMS_CACHE))
        except CaseRejected as exc:
            return CaseResult(case_file, Outcome.REJECTED, archive_no, messages=[str(exc)])
        finally:
            digest, each = hashed()
        staged = stage(pkg, staging, inputs=snapshot, input_digests=each)
        with publishing(outbox, case.archive_no):  # the authoritative check, and no other writer till the publish
            refusal = identity.refusal(outbox, case, correction)
            if refused := _refused(case_file, archive_no, [refusal] if refusal else []):
                return refused
            folder = put_in_place(staged, outbox)
    step = pkg.next_step
    then = [f"下一步:{step.text}(自{zh_date(step.from_date)}起)"] if step else []  # an exit in progress
    shown = [*said, *pkg.findings]
    return CaseResult(case_file, pkg.status, archive_no, folder, pkg.status_label, pkg.total_pages,
                      [f.message for f in shown] + [f"请核对:{note}" for note in pkg.notes] + then, digest,
                      findings=shown)


def _refused(case_file: Path, archive_no: str | None, findings: list[Finding]) -> CaseResult | None:
    errors = [f for f in findings if f.severity is Severity.ERROR]
    return CaseResult(case_file, Outcome.REJECTED, archive_no, messages=[f.message for f in errors],
                      findings=errors) if errors else None


def hashed_inputs(folder: Path, files: list[Path]) -> tuple[str, dict[str, tuple[str, str]]]:
    """inputs_digest and each file's (SHA-256, SM3), from one read (run aside, on the second core)."""
    each: dict[str, tuple[str, str]] = {}
    return inputs_digest(folder, files, each), each


def _snapshot(case_file: Path, raw: bytes, attachments: list[dict[str, str]], snapshot: Path) -> list[Path]:
    """Copy the case file's bytes and its attachments aside; the build reads only this copy."""
    target = snapshot / case_file.name
    injected_write_fault(target)
    target.write_bytes(raw)
    files = [target]
    folder = case_file.parent.resolve()
    for rel in sorted({a["path"] for a in attachments}):
        real = Path(os.path.realpath(folder / rel))
        if attachment_path_problem(folder, rel) is not None or folder not in real.parents:
            continue  # the build reports it as missing; nothing outside the case folder is read
        copy = snapshot / rel
        copy.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(real, copy)
        except FileNotFoundError:
            continue  # removed since validation: the build reports it as missing
        files.append(copy)
    return files
