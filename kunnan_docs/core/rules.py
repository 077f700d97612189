"""The notice's rules that JSON Schema cannot express. Each rule yields findings with a stable code.

Rules run only on a case that passed the schema, so they may rely on required fields being there. Each rule
declares the kinds it applies to (every kind when it names none). An exit is recorded stage by stage: the rules
check what is there, and `exit_stage` / `next_exit_step` say where it stands and what comes next, from when.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from kunnan_docs.core import idcard
from kunnan_docs.core.casefile import Case, parse_date
from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.findings import Finding, Severity, field, schema_node
from kunnan_docs.core.identity import archive_key
from kunnan_docs.core.labels import ExitStage, Kind
from kunnan_docs.core.resources import load_json, printable_characters
from kunnan_docs.core.workcal import WorkCalendar, add_months
from kunnan_docs.core.zh import zh_date

E, W = Severity.ERROR, Severity.WARNING
MIN_PUBLICITY_WORKDAYS = 5
FOLLOW_UP_MONTHS = 6
VISIT_INTERVAL_MONTHS = 6
SOCIAL_SECURITY_CARD = "社会保障卡"

Rule = Callable[[Case, WorkCalendar], Iterator[Finding]]
RULES: list[tuple[Rule, frozenset[Kind]]] = []


def rule(*kinds: Kind) -> Callable[[Rule], Rule]:
    """Register a rule for the kinds it applies to; naming none, for every kind."""

    def register(fn: Rule) -> Rule:
        RULES.append((fn, frozenset(kinds or Kind)))
        return fn

    return register


def rules_for(kind: str) -> list[Rule]:
    """The rules that apply to a kind, in the order they were declared."""
    return [r for r, kinds in RULES if kind in kinds]


def check_rules(case: Case, calendar: WorkCalendar | None = None) -> list[Finding]:
    calendar = calendar or WorkCalendar()
    return [f for r in rules_for(case.kind) for f in r(case, calendar)]


@rule()
def id_number(case: Case, _: WorkCalendar) -> Iterator[Finding]:
    number = case.worker["id_number"]
    problem = idcard.id_problem(number)
    p = "/worker/id_number"
    if problem:
        yield Finding(problem.code, E, p, f"{field(p)}有误:{problem.reason}。请对照身份证原件重新录入。")
        return
    if idcard.sex(number) != case.worker["gender"]:
        g = "/worker/gender"
        yield Finding("ID-SEX", E, g,
                      f"{field(g)}填的是“{case.worker['gender']}”,但身份证号第17位表明是“{idcard.sex(number)}”。"
                      "请核对性别或身份证号。")
    born = idcard.birth_date(number)
    assert born is not None
    if born > case.reference_date:
        yield Finding("ID-FUTURE", E, p, f"{field(p)}中的出生日期 {born} 晚于案卷日期。请核对身份证号。")


@rule()
def family_members(case: Case, _: WorkCalendar) -> Iterator[Finding]:
    for i, member in enumerate(case.data.get("family_members", [])):
        born = parse_date(member.get("birth_date"))
        if born and born > case.reference_date:
            p = f"/family_members/{i}/birth_date"
            yield Finding("FAM-BIRTH", E, p, f"{field(p)} {born} 晚于案卷日期。请核对出生日期。")


@rule()
def survey_before_filing(case: Case, _: WorkCalendar) -> Iterator[Finding]:
    survey, filed = case.date_at("/survey/date"), case.date_at("/filing_date")
    if survey and filed and survey > filed:
        p = "/survey/date"
        yield Finding("FIL-SURVEY", W, p,
                      f"{field(p)} {survey} 晚于建档日期 {filed}。建档应以入户调查为依据,请核对两个日期。")


@rule()
def previous_archive(case: Case, _: WorkCalendar) -> Iterator[Finding]:
    previous = case.data.get("previous_archive_no")
    if previous and archive_key(previous) == archive_key(case.archive_no):
        p = "/previous_archive_no"
        yield Finding("FIL-PREVIOUS", E, p,
                      f"{field(p)}与本次档案号相同({previous})。返困重新建档应使用新档案号,原档案号填旧号。")


@rule()
def contact_person(case: Case, _: WorkCalendar) -> Iterator[Finding]:
    if not case.data.get("contact_person"):
        p = "/contact_person"
        yield Finding("CP-MISSING", E, p,
                      f"未指派{field(p)}。通知要求每名困难职工指派一名工会干部作为帮扶联系责任人,请补填姓名和指派日期。")


def _gaps(pointer: str, dates: list[tuple[int, date]], start: date, until: date,
          code: str, what: str, months: int) -> Iterator[Finding]:
    """Warn where consecutive events (from `start`) are more than `months` apart, or the last is overdue."""
    previous, prev_label = start, "建档日期"
    for index, day in sorted(dates, key=lambda x: x[1]):
        if day > add_months(previous, months):
            p = f"{pointer}/{index}/date"
            yield Finding(f"{code}-GAP", W, p,
                          f"{field(p)} {day} 距{prev_label} {previous} 超过{months}个月。"
                          f"通知要求每半年至少{what}一次,请补录遗漏的记录或说明原因。")
        previous, prev_label = day, f"上一次{what}"
    due = add_months(previous, months)
    if until > due:
        yield Finding(f"{code}-OVERDUE", W, pointer,
                      f"截至 {until},{field(pointer)}最近一次是 {previous},已超过{months}个月(应于 {due} 前)。"
                      f"请尽快安排{what}并补录。")


@rule()
def visits_and_checks(case: Case, _: WorkCalendar) -> Iterator[Finding]:
    filed = case.date_at("/filing_date")
    assert filed is not None
    until = case.reference_date
    closed_by = kind_spec(case.kind).closed_by  # visits and checks end when the family leaves the archive
    if closed_by:
        until = min(until, case.date_at(closed_by) or until)
    visits = [(i, parse_date(v["date"])) for i, v in enumerate(case.data.get("home_visits", []))]
    checks = [(i, parse_date(v["date"])) for i, v in enumerate(case.data.get("archive_checks", []))]
    yield from _gaps("/home_visits", [(i, d) for i, d in visits if d], filed, until,
                     "VIS", "入户走访", VISIT_INTERVAL_MONTHS)
    yield from _gaps("/archive_checks", [(i, d) for i, d in checks if d], filed, until,
                     "CHK", "档案核查", VISIT_INTERVAL_MONTHS)


@rule()
def assistance(case: Case, _: WorkCalendar) -> Iterator[Finding]:
    filed = case.date_at("/filing_date")
    assert filed is not None
    for i, aid in enumerate(case.data.get("assistance", [])):
        base = f"/assistance/{i}"
        day = parse_date(aid["date"])
        if day and day < filed:
            p = f"{base}/date"
            yield Finding("AID-BEFORE-FILING", E, p,
                          f"{field(p)} {day} 早于建档日期 {filed}。通知规定“先建档、后帮扶”,"
                          "建档前不得发放帮扶资金。请核对日期,或将该笔记录移出本档案。")
        if aid["channel"] != SOCIAL_SECURITY_CARD:
            p = f"{base}/channel"
            yield Finding("AID-CHANNEL", E, p,
                          f"{field(p)}为“{aid['channel']}”。通知规定帮扶资金一律通过社会保障卡发放到个人,"
                          f"请改为“{SOCIAL_SECURITY_CARD}”并填写脱敏卡号。")
        medical = aid.get("medical")
        if aid["category"] == "医疗" and medical is None:
            p = f"{base}/medical"
            yield Finding("AID-MEDICAL-MISSING", E, p,
                          f"医疗救助缺少{field(p)}。请填写医疗总费用、已报销部分和个人负担部分,以便核对救助上限。")
        if medical is None:
            continue
        if aid["amount"] > medical["own_burden"]:
            p = f"{base}/amount"
            yield Finding("AID-MEDICAL-LIMIT", E, p,
                          f"{field(p)} {aid['amount']} 元超过个人负担部分 {medical['own_burden']} 元。"
                          "通知规定医疗救助标准不得超过个人负担部分,请按个人负担部分核减金额。")
        if abs(medical["reimbursed"] + medical["own_burden"] - medical["total_cost"]) > 0.005:
            p = f"{base}/medical"
            yield Finding("AID-MEDICAL-SUM", W, p,
                          f"{field(p)}:已报销 {medical['reimbursed']} 元 + 个人负担 {medical['own_burden']} 元"
                          f" ≠ 总费用 {medical['total_cost']} 元。请对照医药票据核对。")


# The notice's order (一(三)), as the objects of `exit` that record each step
EXIT_STEPS = ("application", "collective_review", "publicity", "district_approval", "notice", "return_visits")
EXIT_DATES = [
    ("/exit/application/date", "脱困申请"),
    ("/exit/collective_review/date", "集体研究审批"),
    ("/exit/publicity/start", "公示开始"),
    ("/exit/publicity/end", "公示期满"),
    ("/exit/district_approval/date", "区(市)县总工会审核审批"),
    ("/exit/notice/date", "书面通知"),
]
PROCEDURE = "申请→集体研究→公示(不少于5个工作日)→公示期满后审批→书面通知→回访"


def _recorded(case: Case, step: str) -> bool:
    return bool(case.exit.get(step))


@rule(Kind.EXIT)
def exit_steps(case: Case, _: WorkCalendar) -> Iterator[Finding]:
    """Stages come in the notice's order: the latest one recorded names every earlier one still missing."""
    recorded = [name for name in EXIT_STEPS if _recorded(case, name)]
    if not recorded:
        return
    last = recorded[-1]
    missing = [name for name in EXIT_STEPS[:EXIT_STEPS.index(last)] if not _recorded(case, name)]
    if missing:
        p = f"/exit/{last}"
        first = "、".join(f"【{schema_node(f'/exit/{name}')['title']}】" for name in missing)
        where = "、".join(f"/exit/{name}" for name in missing)
        yield Finding("EXIT-STEP-MISSING", E, p,
                      f"已登记{field(p)},但还没有登记{first}。通知规定的程序是 {PROCEDURE}。"
                      f"请先登记{first}({where}),或先删去{field(p)},办到这一步时再登记。")


@rule(Kind.EXIT)
def exit_order(case: Case, _: WorkCalendar) -> Iterator[Finding]:
    filed = case.date_at("/filing_date")
    steps = [("/filing_date", "建档", filed)] + [(p, label, d) for p, label in EXIT_DATES if (d := case.date_at(p))]
    for (p1, l1, d1), (p2, _l2, d2) in itertools.pairwise(steps):
        strict = p2 == "/exit/district_approval/date"  # approval only after the publicity has ended
        if d1 and d2 and (d2 < d1 or (strict and d2 == d1)):
            relation = "不晚于" if strict else "早于"
            yield Finding("EXIT-ORDER", E, p2,
                          f"{field(p2)} {d2} {relation}{l1}日期 {d1}({field(p1)})。通知规定的程序是"
                          f" {PROCEDURE}。请核对两个日期。")
    app = case.exit["application"]
    if app["initiated_by"] == "worker" and not app.get("signed_by_worker"):
        p = "/exit/application/signed_by_worker"
        yield Finding("EXIT-UNSIGNED", E, p,
                      f"本人申请脱困但未确认{field(p)}。本人书面申请须经本人签字认可;请取得签字后确认"
                      f"{field(p)},或把{field('/exit/application/initiated_by')}改为帮扶联系人提出退档建议。")
    notice = case.exit.get("notice")
    if notice and notice["recipient"] == "family" and not notice.get("recipient_name"):
        p = "/exit/notice/recipient_name"
        yield Finding("EXIT-RECIPIENT", E, p, f"书面通知发给家属时须填写{field(p)}。")


@rule(Kind.EXIT)
def publicity_length(case: Case, calendar: WorkCalendar) -> Iterator[Finding]:
    start, end = case.date_at("/exit/publicity/start"), case.date_at("/exit/publicity/end")
    if not (start and end) or end < start:
        return
    count = calendar.count(start, end)
    if count.unknown_years:
        years = "、".join(str(y) for y in sorted(count.unknown_years))
        yield Finding("CAL-UNKNOWN-YEAR", W, "/exit/publicity",
                      f"日历中还没有 {years} 年的法定节假日安排,公示期暂按周一至周五计为 {count.days} 个工作日。"
                      "国务院公布该年放假安排后,请系统管理员在日历补充文件中登记该年安排,再重新校验。")
    if count.days < MIN_PUBLICITY_WORKDAYS:
        p = "/exit/publicity/end"
        earliest = calendar.add_workdays(start, MIN_PUBLICITY_WORKDAYS)
        yield Finding("EXIT-PUBLICITY-SHORT", E, p,
                      f"公示期 {start} 至 {end} 只有 {count.days} 个工作日(已扣除法定节假日、计入调休上班日),"
                      f"通知要求不少于 {MIN_PUBLICITY_WORKDAYS} 个工作日。{field(p)}最早应为 {earliest};"
                      "请延长公示并重新公示后再报审批。")


def follow_up_until(case: Case) -> date | None:
    """The date from which return visits have covered the six months after exit."""
    notice = case.date_at("/exit/notice/date")
    return add_months(notice, FOLLOW_UP_MONTHS) if notice else None


def follow_up_complete(case: Case) -> bool:
    due = follow_up_until(case)
    visits = [parse_date(v["date"]) for v in case.exit.get("return_visits", [])]
    return bool(due and any(v and v >= due for v in visits))


def follow_up_pending(case: Case) -> bool:
    """The family exited (written notice) and the return visits do not yet cover the six months after."""
    return exit_stage(case) is ExitStage.NOTIFIED and not follow_up_complete(case)


@rule(Kind.EXIT)
def return_visits(case: Case, _: WorkCalendar) -> Iterator[Finding]:
    notice = case.date_at("/exit/notice/date")
    if notice is None:
        return  # visits without a notice: exit_steps names the notice as missing
    for i, visit in enumerate(case.exit.get("return_visits", [])):
        day = parse_date(visit["date"])
        if day and day < notice:
            p = f"/exit/return_visits/{i}/date"
            yield Finding("RV-BEFORE-EXIT", E, p,
                          f"{field(p)} {day} 早于书面通知日期 {notice}。回访是脱困以后的事,请核对日期。")
    if not follow_up_complete(case):
        p = "/exit/return_visits"
        yield Finding("RV-FOLLOW-UP", W, p,
                      f"脱困后须继续关注 {FOLLOW_UP_MONTHS} 个月以上({notice} 至 {follow_up_until(case)}),"
                      f"{field(p)}尚未覆盖到该日期。本案卷暂按“回访期中”处理,回访满六个月后请补录回访记录再重新成卷。")


def exit_stage(case: Case) -> ExitStage | None:
    """How far the exit has come at the case's reference date; None for a kind without an exit."""
    if not kind_spec(case.kind).has_exit:
        return None
    if _recorded(case, "notice"):
        return ExitStage.NOTIFIED
    if _recorded(case, "district_approval"):
        return ExitStage.APPROVED
    if _recorded(case, "publicity"):
        end = case.date_at("/exit/publicity/end")
        return ExitStage.PUBLICITY_ENDED if end and case.reference_date > end else ExitStage.PUBLICITY
    if _recorded(case, "collective_review"):
        return ExitStage.REVIEWED
    return ExitStage.APPLIED


@dataclass(frozen=True)
class NextStep:
    """What an exit in progress waits for, and the earliest day it can be done (the `due` list's date)."""

    text: str  # e.g. 公示期满(2019年9月20日)后可报区县审批
    from_date: date
    since: date  # the date of the stage reached

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "date": self.from_date.isoformat(), "since": self.since.isoformat()}


def next_exit_step(case: Case, calendar: WorkCalendar) -> NextStep | None:
    """The next step of an exit before its written notice; None once notified or for another kind."""
    stage = exit_stage(case)
    if stage is None or stage is ExitStage.NOTIFIED:
        return None
    if stage is ExitStage.APPROVED:
        day = case.date_at("/exit/district_approval/date")
        assert day is not None
        return NextStep("可发出书面退档通知书(附件6)", day, day)
    if stage in (ExitStage.PUBLICITY, ExitStage.PUBLICITY_ENDED):
        start, end = case.date_at("/exit/publicity/start"), case.date_at("/exit/publicity/end")
        assert start is not None and end is not None
        return NextStep(f"公示期满({zh_date(end)})后可报区县审批", end + timedelta(days=1), start)
    if stage is ExitStage.REVIEWED:
        day = case.date_at("/exit/collective_review/date")
        assert day is not None
        earliest = calendar.add_workdays(day, MIN_PUBLICITY_WORKDAYS)
        return NextStep(f"可张贴脱困公示(附件5),不少于{MIN_PUBLICITY_WORKDAYS}个工作日"
                        f"(自{zh_date(day)}起最早{zh_date(earliest)}期满)", day, day)
    day = case.date_at("/exit/application/date")
    assert day is not None
    return NextStep("可提交所在单位或乡镇(街道)工会集体研究审批", day, day)


CANCELLATION_ORDER = [
    ("/filing_date", "建档"),
    ("/cancellation/decision/date", "工会研究决定"),
    ("/cancellation/district_approval/date", "区(市)县总工会审批"),
    ("/cancellation/date", "注销"),
]
OTHER_REASON, DUPLICATE_REASON = "其他", "重复建档"


def same_archive_no(a: str, b: str) -> bool:
    """Archive numbers compared as people read them: case-folded and trimmed."""
    return a.strip().casefold() == b.strip().casefold()


@rule(Kind.CANCELLATION)
def cancellation(case: Case, _: WorkCalendar) -> Iterator[Finding]:
    data = case.data["cancellation"]
    reason = data["reason"]
    if reason == OTHER_REASON and not (data.get("note") or "").strip():
        p = "/cancellation/note"
        yield Finding("CANCEL-NOTE", E, p,
                      f"注销原因为“{OTHER_REASON}”时须在{field(p)}中写明具体原因,请补填后重新提交。")
    duplicate_of = (data.get("duplicate_of") or "").strip()
    if reason == DUPLICATE_REASON and not duplicate_of:
        p = "/cancellation/duplicate_of"
        yield Finding("CANCEL-DUPLICATE-OF", E, p,
                      f"注销原因为“{DUPLICATE_REASON}”时须在{field(p)}中填写与本档重复、继续保留的档案号,"
                      "注销审批表和备考表会写明。请补填后重新提交。")
    elif duplicate_of and same_archive_no(duplicate_of, case.archive_no):
        p = "/cancellation/duplicate_of"
        yield Finding("CANCEL-DUPLICATE-SELF", E, p,
                      f"{field(p)}与本档案号相同({case.archive_no})。请填写继续保留的另一份档案的档案号。")
    steps = [(p, what, d) for p, what in CANCELLATION_ORDER if (d := case.date_at(p))]
    for (p1, l1, d1), (p2, _l2, d2) in itertools.pairwise(steps):
        if d2 < d1:
            yield Finding("CANCEL-ORDER", E, p2,
                          f"{field(p2)} {d2} 早于{l1}日期 {d1}({field(p1)})。注销的程序是 工会研究决定→"
                          "区(市)县总工会审批→注销,且都在建档之后。请核对两个日期。")


@rule()
def attachments(case: Case, _: WorkCalendar) -> Iterator[Finding]:
    allowed = kind_spec(case.kind).item_ids
    folder = case.folder.resolve()
    for i, att in enumerate(case.data.get("attachments", [])):
        base = f"/attachments/{i}"
        if att["item"] not in allowed:
            p = f"{base}/item"
            choices = "、".join(f"第{item.no}项 {item.title}" for item in kind_spec(case.kind).items)
            yield Finding("ATT-ITEM", E, p,
                          f"{field(p)}“{att['item']}”不是本类案卷清单中的项目。请改为清单中的一项:{choices}。")
        p = f"{base}/path"
        problem = attachment_path_problem(folder, att["path"])
        if problem:
            code = "ATT-MISSING" if problem == MISSING else "ATT-PATH"
            yield Finding(code, E, p, f"{field(p)}“{att['path']}”{problem}")


def form_keys(case: Case) -> dict[str, list[str]]:
    """The forms the case prints now, by checklist item: their keys in templates/forms.json (annex7-1, annex7-2 …
    one per return visit), for the items whose exit stage has come — the forms forms.fill.forms_for fills."""
    items = {item.id: item for item in kind_spec(case.kind).items}
    stage = exit_stage(case)
    found: dict[str, list[str]] = {}
    for spec in load_json("templates", "forms.json")["forms"]:
        item = items.get(spec["item"])
        if item is None or not item.reached(stage, follow_up_done=True):
            continue
        visits = len(case.exit.get("return_visits", []))
        keys = [f"{spec['key']}-{n}" for n in range(1, visits + 1)] if spec.get("per") else [spec["key"]]
        found.setdefault(item.id, []).extend(keys)
    return found


def form_name(key: str) -> str:
    """How a clerk names one of our printed forms: 附件3, 附件7（第2次回访）, 注销审批表."""
    base, _, seq = key.partition("-")
    spec = next((f for f in load_json("templates", "forms.json")["forms"] if f["key"] == base), None)
    if spec is None:
        return key
    name = f"附件{spec['annex']}" if spec["annex"] else spec["label"]
    return name + (spec.get("subtitle", "（第{seq}份）").format(seq=seq) if seq else "")


@rule()
def hand_filled(case: Case, _: WorkCalendar) -> Iterator[Finding]:
    """A hand-filled original (paper first) stands for one form the case prints now: which one must be clear."""
    printed = form_keys(case)
    ours = {spec["item"] for spec in load_json("templates", "forms.json")["forms"]}
    items = {item.id: item for item in kind_spec(case.kind).items}
    taken: set[str] = set()
    for i, att in enumerate(case.data.get("attachments", [])):
        base, item = f"/attachments/{i}", items.get(att["item"])
        if item is None:
            continue  # the attachments rule names the item
        what = f"第{item.no}项 {item.title}"
        if "form" in att and not att.get("hand_filled"):
            p = f"{base}/form"
            yield Finding("ATT-HAND-FILLED", E, p, f"{field(p)}只用于手填原件。请去掉它,或注明这份扫描件是手填原件。")
        if not att.get("hand_filled"):
            continue
        p = f"{base}/hand_filled"
        keys = printed.get(item.id, [])
        names = "、".join(form_name(k) for k in keys)
        if att.get("signed"):
            yield Finding("ATT-HAND-FILLED", E, p,
                          f"{what}的扫描件“{att['path']}”既标为签章原件又标为手填原件。打印后签字盖章的表单(有二维码)"
                          "是签章原件,手工填写签字的纸质表是手填原件:请只选一种。")
        elif item.id not in ours:
            yield Finding("ATT-HAND-FILLED", E, p,
                          f"{what}不是本工具打印的表单,手填原件只用于入户调查表、脱困申请表、脱困公示、退档通知书、"
                          "回访记录单和注销审批表。请把“手填原件”去掉,作为普通扫描件入卷。")
        elif not keys:
            yield Finding("ATT-HAND-FILLED", E, p,
                          f"本户案卷现在还没有{what}的表单(办理到该阶段后才有)。请先登记该阶段,再把手填原件入卷。")
        elif "form" in att and att["form"] not in keys:
            q = f"{base}/form"
            yield Finding("ATT-HAND-FILLED", E, q,
                          f"{field(q)}“{att['form']}”不是本户{what}的表单(现有:{names})。请改为其中一张。")
        elif "form" not in att and len(keys) > 1:
            yield Finding("ATT-HAND-FILLED", E, p,
                          f"{what}有多张表({names}),请注明这份手填原件是哪一张。")
        elif (key := att.get("form", keys[0])) in taken:
            yield Finding("ATT-HAND-FILLED", E, p,
                          f"{form_name(key)}已有一份手填原件。一张表只入卷一份:请去掉多余的一份(多页的表请扫描成一个文件)。")
        else:
            taken.add(key)


@rule()
def printable_text(case: Case, _: WorkCalendar) -> Iterator[Finding]:
    """Every character of the case prints in one of our PDF fonts: a name must never become an empty box."""
    printable = printable_characters()
    for pointer, text in _strings(case.data, ""):
        for char in dict.fromkeys(text):
            code = ord(char)
            if code in printable or char.isspace() or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
                continue  # variation selectors are dropped when typesetting; the base character prints
            yield Finding("CHAR-NO-GLYPH", E, pointer,
                          f"{field(pointer)}中的“{char}”(U+{code:04X})没有任何字体能印出,表单上会是空框。"
                          "请确认是否录入有误;如确为生僻字,请改用《通用规范汉字表》中的规范字形,"
                          "并在备注中注明原字,然后重新提交。")


def _strings(value: object, pointer: str) -> Iterator[tuple[str, str]]:
    """Every printed text of the case with its JSON pointer (attachment file paths are not printed)."""
    if isinstance(value, str):
        yield pointer, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if not (key == "path" and pointer.startswith("/attachments/")):
                yield from _strings(item, f"{pointer}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{pointer}/{i}")


MISSING = "不存在。请确认文件名(含扩展名)正确,且文件已复制到案卷文件夹中。"


def attachment_path_problem(folder: Path, relative: str) -> str | None:
    """Attachments live beside the case file; a path leaving that folder is refused, not followed."""
    rel = Path(relative)
    if rel.is_absolute() or relative.startswith(("/", "\\")) or (len(relative) > 1 and relative[1] == ":"):
        return "是绝对路径。附件必须放在案卷文件所在文件夹内,请写相对路径,如 scans/身份证.jpg。"
    if ".." in rel.parts or "\\.." in relative or "..\\" in relative:
        return "指向案卷文件夹之外(含 ..)。请把附件复制到案卷文件夹内再引用。"
    target = folder / rel
    if not target.exists():
        return MISSING
    real = Path(os.path.realpath(target))
    if real != folder and folder not in real.parents:
        return "是指向案卷文件夹之外的链接。请把文件本身复制到案卷文件夹内。"
    if not real.is_file():
        return "不是文件。请引用具体的扫描件文件。"
    return None
