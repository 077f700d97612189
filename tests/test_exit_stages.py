"""An exit recorded stage by stage: the exit example trimmed to each stage of the notice's order, built for real.
Each is 脱困办理中 (exit code 7) until the written notice, never 材料齐全 and never rejected; its checklist counts
only the items whose stage has come; its forms are those of the stages reached; its next step and date reach
report.json and `due`; `progress` counts it only once notified."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from kunnan_docs.cli import main
from kunnan_docs.core.casefile import read_case
from kunnan_docs.core.rules import exit_stage, next_exit_step
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.errors import ExitCode
from kunnan_docs.staff.due import due_list
from kunnan_docs.staff.progress import tally

from .conftest import DELETE, EXIT_EXAMPLE

EXIT_NO = "CD510104-2018-0112"
DISTRICT = "成都市锦江区总工会"
LATER = ("collective_review", "publicity", "district_approval", "notice", "return_visits")
FORM_SCANS = {"publicity": "附件5", "notice": "附件6", "return_visits": "附件7"}  # signed scans of later forms


@dataclass(frozen=True)
class Stage:
    name: str  # report.json exit_stage
    keep: tuple[str, ...]  # the exit's objects recorded
    reference: str  # reference_date: the day the clerk builds
    code: ExitCode
    status: str
    label: str
    not_yet: list[int]  # checklist items 未到办理阶段
    forms: list[str]  # generated forms, documents/<stem>.pdf
    step: tuple[str, str] | None  # next step text (start) and date


STAGES = [
    Stage("applied", (), "2019-09-02", ExitCode.EXIT_IN_PROGRESS, "exit_in_progress", "脱困办理中：已申请(待集体研究)",
          [13, 14, 15], ["附件3-入户调查表", "附件4-脱困申请表"],
          ("可提交所在单位或乡镇(街道)工会集体研究审批", "2019-09-02")),
    Stage("reviewed", ("collective_review",), "2019-09-10", ExitCode.EXIT_IN_PROGRESS, "exit_in_progress",
          "脱困办理中：已集体研究(待公示)", [13, 14, 15], ["附件3-入户调查表", "附件4-脱困申请表"],
          # 2019-09-13 was the Mid-Autumn holiday: five working days from the 10th end on the 17th
          ("可张贴脱困公示(附件5),不少于5个工作日(自2019年9月10日起最早2019年9月17日期满)", "2019-09-10")),
    Stage("publicity", ("collective_review", "publicity"), "2019-09-20", ExitCode.EXIT_IN_PROGRESS,
          "exit_in_progress", "脱困办理中：公示中", [14, 15], ["附件3-入户调查表", "附件4-脱困申请表", "附件5-脱困公示"],
          ("公示期满(2019年9月20日)后可报区县审批", "2019-09-21")),
    Stage("publicity_ended", ("collective_review", "publicity"), "2019-09-23", ExitCode.EXIT_IN_PROGRESS,
          "exit_in_progress", "脱困办理中：公示期满(待区县审批)", [14, 15],
          ["附件3-入户调查表", "附件4-脱困申请表", "附件5-脱困公示"], ("公示期满(2019年9月20日)后可报区县审批", "2019-09-21")),
    Stage("approved", ("collective_review", "publicity", "district_approval"), "2019-09-27", ExitCode.EXIT_IN_PROGRESS,
          "exit_in_progress", "脱困办理中：已审批(待书面通知)", [14, 15],
          ["附件3-入户调查表", "附件4-脱困申请表", "附件5-脱困公示"], ("可发出书面退档通知书(附件6)", "2019-09-27")),
    Stage("notified", ("collective_review", "publicity", "district_approval", "notice"), "2019-10-12",
          ExitCode.INCOMPLETE, "follow_up", "回访期中(脱困未满六个月)", [15],
          ["附件3-入户调查表", "附件4-脱困申请表", "附件5-脱困公示", "附件6-退档通知书"], None),
    Stage("notified", LATER, "2020-04-30", ExitCode.OK, "complete", "材料齐全", [],
          ["附件3-入户调查表", "附件4-脱困申请表", "附件5-脱困公示", "附件6-退档通知书", "附件7-回访记录单-1",
           "附件7-回访记录单-2"], None),
]


def trimmed(case_copy, stage: Stage) -> Path:
    """The exit example as recorded at that stage: later objects and the signed scans of later forms left out."""
    data = json.loads((EXIT_EXAMPLE / "case.json").read_text(encoding="utf-8"))
    dropped = [FORM_SCANS[name] for name in LATER if name not in stage.keep and name in FORM_SCANS]
    kept = [a for a in data["attachments"] if not any(f"签章-{annex}" in a["path"] for annex in dropped)]
    edits = {f"/exit/{name}": DELETE for name in LATER if name not in stage.keep}
    return case_copy(EXIT_EXAMPLE, {**edits, "/attachments": kept, "/reference_date": stage.reference})


def built(case_copy, tmp_path: Path, stage: Stage, capsys: pytest.CaptureFixture[str] | None = None
          ) -> tuple[Path, dict]:
    out = tmp_path / "out"
    assert main(["build", str(trimmed(case_copy, stage)), "-o", str(out)]) == stage.code
    if capsys is not None:  # the clerk reads the outcome and what to do next
        said = capsys.readouterr().out
        assert f"结论:{stage.label}" in said
        assert ("下一步:" in said) == (stage.step is not None)
        assert stage.step is None or f"下一步:{stage.step[0]}(自" in said
    return out, json.loads((out / EXIT_NO / "report.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("stage", STAGES, ids=[f"{s.name}-{s.status}" for s in STAGES])
def test_each_stage_builds_with_its_outcome_checklist_forms_and_next_step(case_copy, tmp_path, capsys,
                                                                          stage: Stage) -> None:
    out, report = built(case_copy, tmp_path, stage, capsys)
    assert (report["status"], report["status_label"], report["exit_stage"]) == (stage.status, stage.label, stage.name)
    assert [e["no"] for e in report["checklist"] if e["status"] == "not_yet"] == stage.not_yet
    assert [e["no"] for e in report["checklist"] if e["status"] == "missing"] == []
    assert report["awaiting_signature"] == []  # every form printed so far is in signed: the stage alone holds it
    forms = sorted(p.stem for p in (out / EXIT_NO / "documents").glob("*.pdf"))
    assert forms == sorted(stage.forms)
    step = report["next_step"]
    assert (step and (step["text"], step["date"])) == (stage.step or None)
    cover = pdfium.PdfDocument(out / EXIT_NO / f"{EXIT_NO}.pdf")[0].get_textpage().get_text_range()
    assert "材料齐全" not in cover or stage.status == "complete"
    if stage.not_yet:
        summary = (out / EXIT_NO / "报告.txt").read_text(encoding="utf-8-sig")
        assert f"{stage.not_yet[0]:>2}. " in summary and "未到办理阶段" in summary


def test_an_exit_in_progress_is_due_and_not_counted_as_exited(case_copy, tmp_path, capsys) -> None:
    out, _ = built(case_copy, tmp_path, STAGES[2])  # publicity 2019-09-16 .. 09-20
    [step] = [d for d in due_list(out, date(2019, 9, 18)).items if d.step]
    assert (step.what, step.last, step.due) == ("脱困:公示期满(2019年9月20日)后可报区县审批", date(2019, 9, 16),
                                                date(2019, 9, 21))
    assert step.status == "3 天后可办理" and not step.overdue
    assert [d.status for d in due_list(out, date(2019, 9, 25)).items if d.step] == ["可办理"]
    assert not [d for d in due_list(out, date(2019, 9, 10)).items if d.step]  # not yet known on the 10th
    assert main(["due", "--outbox", str(out), "--as-of", "2019-09-25"]) == ExitCode.OK
    said = capsys.readouterr().out
    assert "脱困:公示期满(2019年9月20日)后可报区县审批" in said and "脱困下一步 1 项" in said
    lines = tally(out, date(2025, 1, 1)).lines
    assert [(x.district, x.filed, x.exited) for x in lines] == [(DISTRICT, 1, 0), ("合计", 1, 0)]


def test_progress_counts_an_exit_from_its_notice(case_copy, tmp_path) -> None:
    out, _ = built(case_copy, tmp_path, STAGES[5])  # notified 2019-10-12, no return visit yet
    assert [(x.filed, x.exited) for x in tally(out, date(2019, 10, 11)).lines] == [(1, 0), (1, 0)]
    assert [(x.filed, x.exited) for x in tally(out, date(2019, 10, 12)).lines] == [(1, 1), (1, 1)]
    assert [(x.filed, x.exited) for x in tally(out).lines] == [(1, 1), (1, 1)]
    assert [d.what for d in due_list(out, date(2020, 4, 1)).items] == ["脱困满六个月回访"]  # no step after the notice


def test_a_form_signed_at_its_stage_stays_valid_as_later_stages_are_recorded(case_copy, tmp_path) -> None:
    """The fingerprint covers what a form prints: recording the publicity does not outdate the signed Annex 4."""
    _, report = built(case_copy, tmp_path, STAGES[2])
    [application] = [e for e in report["checklist"] if e["no"] == 11]
    assert application["status"] == "present" and application["documents"][0]["signed_original"]
    assert report["notes"] == []


def test_stage_and_next_step_from_the_library(case_copy) -> None:
    calendar = WorkCalendar()
    case = read_case(trimmed(case_copy, STAGES[4]))
    assert exit_stage(case).label == "已审批(待书面通知)"
    step = next_exit_step(case, calendar)
    assert step is not None and step.from_date == step.since == date(2019, 9, 27)
    assert exit_stage(read_case(EXIT_EXAMPLE.parent / "filing-li-jianhua" / "case.json")) is None

