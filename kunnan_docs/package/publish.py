"""Stage 4: write a package folder into the outbox, atomically, keeping any previous version.

The folder is written in the writer's own staging folder (package/lock.py), its manifest last, then renamed into
place under the outbox's publish lock. A folder already published for the same archive number is first moved to
outbox/_历史版本/<档案号>/第N版. A crash leaves either the old folder or the new one at outbox/<档案号>; `recover`
finishes or discards whatever a dead writer left in .staging, never what a live one is writing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kunnan_docs.core.casefile import Case
from kunnan_docs.errors import injected_write_fault
from kunnan_docs.package.build import Package, remarks_text, to_do
from kunnan_docs.package.describe import write_metadata
from kunnan_docs.package.layout import (
    DOCUMENTS,
    GENERATOR,
    HISTORY,
    INPUT_DIR,
    MANIFEST,
    REPORT,
    SUMMARY,
    VERSION,
    Report,
    document,
    package_pdf,
    safe_name,
    write_manifests,
)
from kunnan_docs.package.lock import abandoned_staging, publishing
from kunnan_docs.privacy import mask_number


def report(pkg: Package) -> Report:
    """The package's report.json, checked against the layout's shape as it is written."""
    case = pkg.case
    return Report.from_dict({
        "archive_no": case.archive_no,
        "generator": GENERATOR,  # a rebuild after an upgrade is not skipped as up to date
        "kind": case.kind,
        "status": pkg.status,
        "status_label": pkg.status_label,
        "follow_up_complete": pkg.follow_up_done,
        "exit_stage": pkg.exit_stage,
        "next_step": pkg.next_step.to_dict() if pkg.next_step else None,
        "awaiting_signature": [a for r in pkg.awaiting for a in r.awaiting_forms()],
        "notes": pkg.notes,
        "pages": {"total": pkg.total_pages, "content": pkg.content_pages, "content_start_index": pkg.content_start},
        "checklist": [r.to_dict() for r in pkg.results],
        "findings": [f.to_dict() for f in pkg.findings],
        "documents": [document(form.stem, ext) for form, _, _ in pkg.forms for ext in ("pdf", "docx")],
        "pdfa": {"declared": not pkg.pdfa_problems, "problems": pkg.pdfa_problems},
        "case": case_summary(case),
        "corrections": [asdict(c) | {"fields": list(c.fields)} for c in pkg.corrections],
    })


def case_summary(case: Case) -> dict[str, Any]:
    """What the staff workflows (notices, handover, due lists, progress, the web desk) need; the ID number only
    masked, no income or health."""
    data, exit_ = case.data, case.exit
    return {
        "worker_name": case.worker.get("name"), "id_number_masked": mask_number(case.worker.get("id_number") or ""), "union": data.get("union"), "district": data.get("district"),
        "level": data.get("level"), "previous_archive_no": data.get("previous_archive_no"),
        "filing_date": data.get("filing_date"), "reference_date": case.reference_date.isoformat(),
        "contact_person": (data.get("contact_person") or {}).get("name"),
        "home_visits": _dates(data.get("home_visits", [])), "archive_checks": _dates(data.get("archive_checks", [])),
        "publicity": exit_.get("publicity"), "notice_date": exit_.get("notice", {}).get("date"),
        "return_visits": _dates(exit_.get("return_visits", [])),
        "cancellation": _cancellation(data.get("cancellation")),
    }


def _cancellation(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """What `progress` and `due` need of a cancellation: when, and why (and the file a duplicate duplicates)."""
    if not data:
        return None
    return {"reason": data["reason"], "date": data["date"], "duplicate_of": data.get("duplicate_of")}


def _dates(records: list[dict[str, Any]]) -> list[str]:
    return sorted(r["date"] for r in records)


def summary(pkg: Package) -> str:
    """The Chinese summary a clerk reads first."""
    lines = [f"档案号:{pkg.case.archive_no}", f"结论:{pkg.status_label}", ""]
    lines.append("清单检查:")
    for r in pkg.results:
        pages = f"(第{r.page_range}页)" if r.page_range else ""
        lines.append(f"  {r.item.no:>2}. {r.item.title}:{r.status.label}{pages}")
    lines.append("")
    lines += remarks_text(pkg)
    if notes := to_do(pkg):
        lines += ["", *notes]
    if pkg.pdfa_problems:
        lines += ["", "案卷 PDF 未能声明为 PDF/A-2b(长期保存格式),因为扫描件 PDF 中有以下内容,需重新导出才能符合:"]
        lines += [f"  {problem}" for problem in pkg.pdfa_problems]
        lines.append("下一步:用扫描软件把该附件另存为 PDF/A 或 JPEG 图片,替换后重新放入收件夹。")
    if pkg.missing:
        lines += ["", "下一步:把缺少的材料扫描后放到案卷文件夹,在案卷 attachments 中登记,再重新放入收件夹。"]
    if pkg.awaiting:
        lines += ["", "下一步:把 documents/ 中待签章的表单打印出来,请有关人员签字、盖章,扫描后放入收件夹的“扫描件”"
                  "文件夹(或在工作台“扫描入卷”上传),签章原件会按页上的二维码自动入卷并重新成卷。"]
    return "\n".join(lines) + "\n"


def write_folder(pkg: Package, folder: Path, inputs: Path | None = None,
                 input_digests: Mapping[str, tuple[str, str]] | None = None) -> None:
    """`inputs`, the private copy the package was built from, moves in as input/ (covered by the manifest);
    `input_digests`, its files' (SHA-256, SM3) by path relative to it, taken while the package was built."""
    injected_write_fault(folder)
    folder.mkdir(parents=True)
    pkg.save_pdf(package_pdf(folder, pkg.case.archive_no))
    (folder / DOCUMENTS).mkdir()
    for form, pdf, docx in pkg.forms:
        (folder / document(form.stem, "pdf")).write_bytes(pdf)
        (folder / document(form.stem, "docx")).write_bytes(docx)
    (folder / REPORT).write_text(report(pkg).to_json(), encoding="utf-8")
    (folder / SUMMARY).write_text(summary(pkg), encoding="utf-8-sig")  # BOM: Windows Notepad shows it right
    if inputs is not None:
        os.rename(inputs, folder / INPUT_DIR)
    known = {f"{INPUT_DIR}/{rel}": digests for rel, digests in (input_digests or {}).items()}
    write_manifests(folder, write_metadata(pkg, folder, known))


def stage(pkg: Package, staging: Path, inputs: Path | None = None,
          input_digests: Mapping[str, tuple[str, str]] | None = None) -> Path:
    """The package written in `staging`, the writer's own (lock.private_staging), its manifest last; returns its
    folder, named as it will be in the outbox."""
    staged = staging / safe_name(pkg.case.archive_no)
    write_folder(pkg, staged, inputs, input_digests)
    return staged


def put_in_place(staged: Path, outbox: Path) -> Path:
    """A staged package published: the current version (if any) moved to history as 第N版, the staged folder renamed
    into its place, under the outbox's publish lock (which a caller may hold already, to check something first);
    returns the published folder."""
    target, history = outbox / staged.name, outbox / HISTORY / staged.name
    with publishing(outbox, staged.name):
        if target.exists():
            history.mkdir(parents=True, exist_ok=True)
            n = 1 + max((int(m.group(1)) for p in history.iterdir() if (m := VERSION.fullmatch(p.name))), default=0)
            os.rename(target, history / f"第{n}版")
        os.rename(staged, target)
    return target


def recover(outbox: Path) -> list[str]:
    """After a crash: publish a package a dead writer finished (has its manifest) unless a newer one was published
    since, and drop the rest of what it left; a live writer's staging is left alone (package/lock.py)."""
    done: list[str] = []
    for staging in abandoned_staging(outbox):
        for staged in sorted(p for p in staging.iterdir() if (p / MANIFEST).exists()):
            with publishing(outbox, staged.name):
                if not (outbox / staged.name).exists():
                    put_in_place(staged, outbox)
                    done.append(f"已发布中断前完成的案卷 {staged.name}")
        done.append(f"已清理中断时未完成的临时文件 {staging.name}")
    return done
