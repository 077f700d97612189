"""Command line: `kunnan-docs COMMAND ...`. Every message is Chinese; exit codes are in errors.ExitCode."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from kunnan_docs import __version__
from kunnan_docs.errors import CaseRejected, ExitCode, KunnanError, UsageError, worst
from kunnan_docs.package.layout import HANDOVER_INSPECTIONS, INPUT_DIR, LEDGER, STATE_DIR

if TYPE_CHECKING:
    from kunnan_docs.core.validate import Validation
    from kunnan_docs.core.workcal import WorkCalendar
    from kunnan_docs.inbox.watcher import Config
    from kunnan_docs.package.inspection import Summary
    from kunnan_docs.package.outbox import Published
    from kunnan_docs.pipeline import CaseResult


# argparse's own words (the usage line, its section titles, its error messages) go through gettext; these are
# their Chinese, so that no English reaches a clerk. Keys are argparse's message ids (Python 3.11–3.13).
_ARGPARSE_ZH = {
    "usage: ": "用法:",
    "positional arguments": "位置参数",
    "options": "选项",
    "subcommands": "子命令",
    "show this help message and exit": "显示本帮助并退出",
    "show program's version number and exit": "显示版本号并退出",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s:%(message)s",
    "the following arguments are required: %s": "缺少必填参数:%s",
    "unrecognized arguments: %s": "无法识别的参数:%s",
    "invalid choice: %(value)r (choose from %(choices)s)": "没有 %(value)r 这一项(可选:%(choices)s)",
    "invalid %(type)s value: %(value)r": "取值 %(value)r 无效",
    "expected one argument": "后面需要一个值",
    "expected at most one argument": "后面最多一个值",
    "expected at least one argument": "后面至少需要一个值",
    "expected %s argument": "后面需要 %s 个值",
    "expected %s arguments": "后面需要 %s 个值",
    "ambiguous option: %(option)s could match %(matches)s": "选项 %(option)s 不明确,可能是 %(matches)s",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
    "one of the arguments %s is required": "参数 %s 中必须给出一个",
    "ignored explicit argument %r": "多余的取值 %r",
    "unexpected option string: %s": "意外的选项 %s",
}


def _zh(message: str) -> str:
    return _ARGPARSE_ZH.get(message, message)


def _zh_n(singular: str, plural: str, n: int) -> str:
    return _zh(singular if n == 1 else plural)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"命令用法有误:{message}\n请运行 `{self.prog} --help` 查看用法和示例。\n")


def _calendar(args: argparse.Namespace) -> WorkCalendar:
    from kunnan_docs.core.workcal import WorkCalendar
    try:
        return WorkCalendar(args.calendar)
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"日历补充文件 {args.calendar} 无法读取或格式不对({exc})。请对照 README“工作日历”修改。") from None


def cmd_validate(args: argparse.Namespace) -> int:
    from kunnan_docs.core.validate import case_files, validate_file
    files = case_files([Path(p) for p in args.paths])
    if not files:
        raise UsageError("没有找到任何案卷文件(*.json)。请检查给出的文件或文件夹。")
    calendar = _calendar(args)
    results = [validate_file(p, calendar) for p in files]
    _check_identity(results, _checked_outbox(args.outbox))
    if args.json:
        print(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
    else:
        for r in results:
            _print_validation(r)
        bad = sum(not r.ok for r in results)
        print(f"\n共 {len(results)} 份案卷:合格 {len(results) - bad} 份,不合格 {bad} 份。")
    return ExitCode.OK if all(r.ok for r in results) else ExitCode.INVALID


def _checked_outbox(given: str | None) -> Path | None:
    """The outbox whose packages a case is checked against: the one given, else ./outbox when there is one."""
    if given is None:
        return Path("outbox") if Path("outbox").is_dir() else None
    if not Path(given).is_dir():
        raise UsageError(f"发件夹 {given} 不存在。请给出已发布案卷所在的发件夹(--outbox),或不加 --outbox。")
    return Path(given)


def _check_identity(results: list[Validation], outbox: Path | None) -> None:
    """One archive number, one family; one person, one active file: against the outbox and the cases before."""
    from kunnan_docs.package import identity
    index = identity.load(outbox)
    for r in results:
        if r.ok and r.case is not None:
            r.findings += index.check(r.case)
            if r.ok:
                index.admit(r.case, str(r.path))


def _validated(path: Path, calendar: WorkCalendar) -> Validation:
    """Validate one case for a command that goes on to use it; print findings, stop on errors."""
    from kunnan_docs.core.validate import validate_file
    result = validate_file(path, calendar)
    if not result.ok:
        _print_validation(result)
        raise CaseRejected("案卷未通过校验,请按上面的提示修改后重新提交。")
    return result


def cmd_render(args: argparse.Namespace) -> int:
    from kunnan_docs.forms.render import render_forms
    calendar = _calendar(args)
    result = _validated(Path(args.case), calendar)
    assert result.case is not None
    rendered = render_forms(result.case, Path(args.output), calendar)
    for r in rendered:
        print(f"已生成 {r.pdf}  {r.docx}")
    print(f"共 {len(rendered)} 份表单(PDF 与 Word 各一份),在 {args.output}。")
    _custom_templates_notice()
    return ExitCode.OK


def _custom_templates_notice() -> None:
    """A clerk's Word templates change the Word files only: say so, lest a Word file's wording be taken for the
    archived one (README "The forms")."""
    from kunnan_docs.core.resources import TEMPLATES_ENV

    if folder := os.environ.get(TEMPLATES_ENV):
        print(f"注意:使用了自定义 Word 模板文件夹 {folder}({TEMPLATES_ENV})。模板中的改动只进入 Word 文件;"
              "PDF 表单和案卷 PDF 仍按 templates/forms.json 排版,文字可能与 Word 文件不同,归档以案卷 PDF 为准。")


def cmd_build(args: argparse.Namespace) -> int:
    from kunnan_docs.core.validate import case_files
    _calendar(args)  # a broken calendar file is a usage error before any work starts
    cases = case_files([Path(p) for p in args.cases])
    if not cases:
        raise UsageError("没有找到任何案卷文件(*.json)。请检查给出的文件或文件夹。")
    return _build_all(cases, Path(args.output), args)


def cmd_rebuild(args: argparse.Namespace) -> int:
    outbox = Path(args.output)
    cases = sorted(p for p in outbox.glob(f"*/{INPUT_DIR}/*.json") if p.is_file())
    if not cases:
        raise UsageError(f"发件夹 {outbox} 中没有可重建的案卷(每个案卷文件夹应有 {INPUT_DIR}/ 中的案卷文件)。")
    return _build_all(cases, outbox, args)


def _build_all(cases: list[Path], outbox: Path, args: argparse.Namespace) -> int:
    """build and rebuild: every case through the pipeline, locally or on a cluster, printed in the order given."""
    from kunnan_docs.batch import default_workers, executor_for, run_cases
    from kunnan_docs.package.publish import recover
    for note in recover(outbox):
        print(note)
    _custom_templates_notice()
    workers = args.workers or default_workers(len(cases))
    results = []
    with executor_for(args.scheduler, workers) as executor:
        for result in run_cases(cases, outbox, args.calendar, executor, args.batch_size, args.force):
            _print_result(result)
            results.append(result)
    skipped = sum(r.skipped for r in results)
    if skipped:
        print(f"其中 {skipped} 份与已发布的案卷完全一致(同样的材料、同一版本程序),未重复成卷;要重新成卷请加 --force。")
    return worst(r.outcome.exit_code for r in results)


def _print_result(result: CaseResult) -> None:
    from kunnan_docs.core.labels import Outcome
    label = f"{result.case_file}" + (f"(档案号 {result.archive_no})" if result.archive_no else "")
    # the findings with their codes and pointers, then the messages that are no finding's (result.messages)
    lines = [f.render() for f in result.findings] + result.messages[len(result.findings):]
    if result.outcome is Outcome.REJECTED:
        print(f"不合格  {label}")
        for line in lines:
            print(f"    {line}")
        print("  → 案卷被退回:请按上面的提示修改后重新提交。")
        return
    done = "已是最新" if result.skipped else "已成卷"
    print(f"{done}  {result.folder}  共 {result.pages} 页  结论:{result.label}")
    for line in lines:
        print(f"    {line}")


def cmd_verify(args: argparse.Namespace) -> int:
    from kunnan_docs.package.inspection import summarize
    from kunnan_docs.package.verify import examine_path

    paths = [Path(f) for f in args.folders]
    for path in paths:
        if not path.is_dir() and path.suffix.lower() != ".zip":
            raise UsageError(f"{path} 不是文件夹或 zip 压缩包。请给出案卷文件夹、移交文件夹或移交压缩包。")
    results = []
    for path in paths:
        found = examine_path(path)
        summary = summarize(found, path.name, date.today())
        report = None if args.no_report else _write_inspection(summary, path, args.report_dir)
        results.append((path, list(found.problems), summary, report))
    failed = any(problems for _, problems, _, _ in results)
    if args.json:
        print(json.dumps([{"path": str(path), "ok": not problems, "problems": [p.to_dict() for p in problems],
                           "inspection": {"passed": summary.passed, "conclusion": summary.conclusion,
                                          "report": str(report) if report else None}}
                          for path, problems, summary, report in results], ensure_ascii=False, indent=2))
    else:
        for path, problems, summary, report in results:
            print(f"{'通过' if not problems else '未通过'}  {path}")
            for problem in problems:
                print(f"    {problem}")
            print(f"    四性检测:{summary.conclusion}" + (f"(报告 {report})" if report else ""))
        if failed:
            print("请把未通过的案卷退回移交方,要求重新成卷后再移交。")
    return ExitCode.VERIFY_FAILED if failed else ExitCode.OK


def _write_inspection(summary: Summary, verified: Path, folder: str | None) -> Path:
    """The 四性检测报告 beside what was verified: the one part of `verify` that needs the PDF writer."""
    from kunnan_docs.staff.inspection_report import write_beside
    return write_beside(summary, verified, Path(folder) if folder else None)


def _watch_config(args: argparse.Namespace) -> Config:
    from kunnan_docs.inbox.watcher import Config
    inbox, outbox = Path(args.inbox), Path(args.outbox)
    base = inbox.resolve().parent
    if args.calendar:
        _calendar(args)
    return Config(
        inbox=inbox, outbox=outbox,
        processed=Path(args.processed) if args.processed else base / "processed",
        rejected=Path(args.rejected) if args.rejected else base / "rejected",
        state=Path(args.state) if args.state else outbox / STATE_DIR,
        settle=args.settle, timeout=args.timeout, poll=args.poll, rescan=args.rescan,
        workers=args.workers or max(1, os.cpu_count() or 1), once=getattr(args, "once", False), calendar=args.calendar,
        scanner=Path(args.scanner) if getattr(args, "scanner", None) else None,
    )


def cmd_watch(args: argparse.Namespace) -> int:
    from kunnan_docs.inbox.watcher import watch
    return watch(_watch_config(args))


def cmd_serve(args: argparse.Namespace) -> int:
    from kunnan_docs.web import serve  # the web stack loads only for this command

    config = _watch_config(args)
    if args.set_password:
        serve.set_password(config, args.user)
        return ExitCode.OK
    return serve.serve(config, args.host, args.port, args.allowed_host,
                       Path(args.tls_cert) if args.tls_cert else None, Path(args.tls_key) if args.tls_key else None)


def cmd_scan_in(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from kunnan_docs.forms.aside import process_pool
    from kunnan_docs.scan.pages import long_enough, ready_to_read

    files = [Path(f) for f in args.files]
    for path in files:
        if not path.is_file():
            raise UsageError(f"找不到扫描件 {path}。请给出扫描仪保存的文件(PDF、TIFF、JPEG 或 PNG)。")
    workers = args.workers or os.cpu_count() or 1
    long = workers > 1 and long_enough(files)  # worth its pool at once: its processes read pages, then rebuild
    with process_pool(workers, preload=_scan_in_stack if long else None) if workers > 1 else nullcontext() as executor:
        if executor and long:  # its processes start (and, spawned, load the reading stack meanwhile)
            for _ in range(workers):
                executor.submit(ready_to_read)
        from kunnan_docs.package.publish import recover  # imported after the pool started: half a second
        from kunnan_docs.scan.filing import PoolRebuild, scan_in

        calendar = _calendar(args)
        outbox = Path(args.output)
        for note in recover(outbox):
            print(note)
        report = scan_in(files, outbox, calendar, PoolRebuild(outbox, args.calendar, executor, early=long), executor=executor,
                         review=Path(args.review) if args.review else None,
                         processed=Path(args.processed) if args.processed else None)
    for line in report.lines:
        print(line)
    return ExitCode.INCOMPLETE if report.review or report.waiting else ExitCode.OK


def _scan_in_stack() -> None:
    """What scan-in's pool processes need, loaded once, before they are forked: reading pages, then rebuilding."""
    from kunnan_docs.batch import warm_up
    from kunnan_docs.scan.pages import ready_to_read

    ready_to_read()
    warm_up()


def cmd_status(args: argparse.Namespace) -> int:
    from kunnan_docs.inbox.status import status_lines
    from kunnan_docs.scan.filing import waiting_forms

    state = Path(args.state) if args.state else Path(args.outbox) / STATE_DIR
    if (state / LEDGER).exists():
        print("\n".join(status_lines(state)))
    elif Path(args.outbox).is_dir():
        print("收件夹台账:无(这个发件夹还没有运行过 kunnan-docs watch),以下只看已发布的案卷。")
    else:
        raise UsageError(f"在 {state} 中找不到台账,{args.outbox} 也不是发件夹。请确认发件夹,或先运行 kunnan-docs watch。")
    waiting = waiting_forms(Path(args.outbox))
    print(f"签章原件缺页:{len(waiting)} 份")
    for line in waiting:
        print(f"    {line}")
    from kunnan_docs.package.outbox import published

    packages = published(Path(args.outbox))
    _print_signatures(Path(args.outbox), packages)
    _print_corrected(Path(args.outbox), packages)
    return ExitCode.OK


def _print_corrected(outbox: Path, packages: list[Published]) -> None:
    """Packages changed after their handover: the district holds an outdated version until they go again."""
    from kunnan_docs.staff.handover_log import Standing, past, standings

    history = past(outbox)
    if not history:
        return
    offers = standings(packages, history)
    for standing in (Standing.CORRECTED, Standing.CHANGED):
        changed = [o for o in offers if o.standing is standing]
        print(f"{standing.label}:{len(changed)} 卷" + ("(在工作台“移交”页或用 kunnan-docs handover 移交)"
                                                       if changed else ""))
        for offer in changed:
            print(f"    {offer.package.archive_no}  {offer.package.case.get('district') or ''}  {offer.text}")


def _print_signatures(outbox: Path, packages: list[Published]) -> None:
    """What the outbox still lacks in ink: forms awaiting their signed original, and signature areas that look blank
    (those a clerk confirmed at the desk, 已核对, are counted apart: package/checked.py)."""
    from kunnan_docs.package.checked import checked

    awaiting = [p for p in packages if p.listing.awaiting_signature]
    print(f"待签章:{len(awaiting)} 卷")
    for p in awaiting:
        print(f"    {p.archive_no}  " + "、".join(a.title for a in p.listing.awaiting_signature))
    notes = [(p.archive_no, n, c) for p in packages for n, c in checked(outbox, p.archive_no, p.listing.notes)]
    still = [(archive_no, note) for archive_no, note, c in notes if c is None]
    if notes:
        print(f"请核对:{len(still)} 处" + (f"(另有 {len(notes) - len(still)} 处已核对)" if len(still) < len(notes) else ""))
        for archive_no, note in still:
            print(f"    {archive_no}  {note}")


def _date_arg(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}”不是日期,请写成 2019-09-16") from None


def cmd_notices(args: argparse.Namespace) -> int:
    from kunnan_docs.staff import notices
    chosen = notices.select(Path(args.outbox), args.date_from, args.date_to)
    if not chosen:
        print("该期间没有需要公示的脱困案卷,未生成文件。")
        return ExitCode.OK
    run = notices.combine(chosen)
    Path(args.output).write_bytes(run.pdf)
    print(f"已生成 {args.output}:{len(chosen)} 份脱困公示,每页一份,按公示单位排序。打印后盖章张贴。")
    return ExitCode.OK


def cmd_handover(args: argparse.Namespace) -> int:
    from kunnan_docs.package.outbox import published
    from kunnan_docs.staff.handover import choose, content_pages, hand_over
    from kunnan_docs.staff.handover_log import past, standings

    outbox = Path(args.outbox)
    found = standings(choose(published(outbox), args.district, args.cases), past(outbox))
    chosen = found if args.cases or args.all else [o for o in found if o.offered]
    if not chosen:
        print(f"“{args.district}”的 {len(found)} 卷都已移交,之后也没有更正,这次没有要移交的。"
              "如需把已移交的案卷再移交一次,加 --all(或用 --cases 指定档案号)。")
        return ExitCode.OK
    if len(chosen) < len(found):
        print(f"另有 {len(found) - len(chosen)} 卷已移交且之后没有更正,这次不再移交(加 --all 可一并移交)。")
    result = hand_over(outbox, chosen, args.district, Path(args.output), args.date or date.today(),
                       args.allow_unsigned, args.receiver or "", args.by or _login_name())
    for offer in chosen:
        print(f"移交  {offer.package.archive_no}  {content_pages(offer.package)} 页"
              + (f"  {offer.text}" if offer.last else ""))
    incomplete = sum(not p.complete for p in result.packages)
    print(f"已生成移交文件夹 {result.folder} 和压缩包 {result.zip}:{len(result.packages)} 卷,共 {result.pages} 页"
          + (f",其中 {incomplete} 卷材料不全、待签章或在回访期中(见移交清单备注)" if incomplete else "") + "。")
    print(f"每卷的四性检测报告及汇总在 {result.folder / HANDOVER_INSPECTIONS},已随移交文件夹和压缩包一并移交。")
    print("已记入发件夹的移交记录;接收方可运行 kunnan-docs verify 检查压缩包或文件夹是否完整。")
    return ExitCode.OK


def _login_name() -> str:
    """Who made a handover from the command line, for the record: the computer's login name."""
    import getpass
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


def cmd_due(args: argparse.Namespace) -> int:
    from kunnan_docs.staff.due import HEADERS as DUE_HEADERS
    from kunnan_docs.staff.due import due_list
    from kunnan_docs.staff.due import write_xlsx as write_due_xlsx
    from kunnan_docs.staff.duplicates import folded_note
    from kunnan_docs.staff.xlsx import terminal_table
    as_of = args.as_of or date.today()
    items, folded = due_list(Path(args.outbox), as_of, reach=bool(args.output))
    if not items:
        print(f"截至 {as_of},30 天内没有到期的走访、核查或回访,没有办理中的脱困,也没有待签回的表单。")
    else:
        print(terminal_table(DUE_HEADERS, [d.row() for d in items]))
        awaiting = sum(d.awaiting for d in items)
        steps = f"脱困下一步 {sum(d.step for d in items)} 项(按所列日期起办理)," if any(d.step for d in items) else ""
        print(f"\n共 {len(items)} 项,其中逾期 {sum(d.overdue and not d.awaiting for d in items)} 项,{steps}"
              f"待签章表单 {awaiting} 份(打印后尚未签字盖章扫描回来,请联系有关人员)。")
    if folded:
        print(f"{folded_note(folded)}查看:kunnan-docs duplicates")
    if args.output:
        write_due_xlsx(items, as_of, Path(args.output))
        print(f"已写入 {args.output}")
    return ExitCode.OK


def cmd_progress(args: argparse.Namespace) -> int:
    from kunnan_docs.staff.duplicates import folded_note
    from kunnan_docs.staff.progress import HEADERS as PROGRESS_HEADERS
    from kunnan_docs.staff.progress import OTHER_HEADERS, tally
    from kunnan_docs.staff.xlsx import terminal_table
    as_of = args.as_of or date.today()
    progress = tally(Path(args.outbox), as_of)
    lines, others = progress.lines, progress.others
    if not lines and not others and not progress.cancelled:
        raise UsageError(f"发件夹 {args.outbox} 中没有截至 {as_of} 已建档的案卷。")
    print(f"统计截止日期:{as_of}。目标只计全国级建档户。")
    print(terminal_table(PROGRESS_HEADERS, [x.row() for x in lines]))
    if others:
        print("\n其他层级建档户(不计入目标):")
        print(terminal_table(OTHER_HEADERS, [x.other_row() for x in others]))
    if progress.cancelled:
        print(f"\n{progress.cancelled_line}")
    if progress.folded:
        print(f"\n{folded_note(progress.folded)}查看:kunnan-docs duplicates")
    if args.output:
        from kunnan_docs.staff.progress_sheet import report_pdf as progress_pdf

        Path(args.output).write_bytes(progress_pdf(progress, as_of))
        print(f"已写入 {args.output}")
    return ExitCode.OK


def cmd_duplicates(args: argparse.Namespace) -> int:
    from kunnan_docs.staff.duplicates import duplicates
    found = duplicates(Path(args.outbox))
    if args.json:
        print(json.dumps([d.to_dict() for d in found], ensure_ascii=False, indent=2))
        return ExitCode.OK
    if not found:
        print("没有重复建档:每人最多一份在档档案(建档中或脱困办理中)。")
        return ExitCode.OK
    print(f"重复建档:{len(found)} 人各有不止一份在档档案(建档中或脱困办理中)。")
    for d in found:
        print(f"\n身份证号 {d.id_masked}  {'、'.join(d.names)}")
        for p in d.files:
            c = p.case
            print(f"    {p.archive_no}  {c.get('worker_name') or ''}  {c.get('union') or ''}  {c.get('district') or ''}"
                  f"  建档日期 {c.get('filing_date') or ''}")
        print(f"    → {d.advice}")
    return ExitCode.OK


def cmd_template_xlsx(args: argparse.Namespace) -> int:
    from kunnan_docs.staff.xlsx_import import write_template
    write_template(Path(args.output))
    print(f"已生成空白模板 {args.output}。填好后运行 kunnan-docs import-xlsx {args.output} -o 案卷文件夹/")
    return ExitCode.OK


def cmd_import_xlsx(args: argparse.Namespace) -> int:
    from kunnan_docs.staff.xlsx_import import RowState, import_book
    written, problems, found = import_book(Path(args.book), Path(args.output), _checked_outbox(args.outbox))
    for path in written:
        print(f"已生成 {path}")
    for family in found.families:
        if family.state is RowState.CHANGED:
            print(f"  {family.archive_no}:已成卷,改动了{'、'.join(family.changes)},放入收件夹后成卷为新版本")
    if skipped := found.count(RowState.UNCHANGED):
        print(f"与已成卷的相同,未生成 {skipped} 户:"
              + "、".join(f.archive_no for f in found.families if f.state is RowState.UNCHANGED))
    for problem in problems:
        print(f"  ✗ {problem}")
    print(f"导入 {len(written)} 份案卷" + (f",{len(problems)} 个问题未导入,请在工作簿中改正后重新导入。" if problems else "。")
          + "\n请把各户的扫描件放进对应的案卷文件夹(路径与“附件”表一致),再放入收件夹。")
    return ExitCode.INVALID if problems else ExitCode.OK


def _print_validation(r: Validation) -> None:
    label = f"{r.path}" + (f"(档案号 {r.case.archive_no})" if r.case and r.case.archive_no else "")
    print(f"{'合格' if r.ok else '不合格'}  {label}")
    for f in r.findings:
        print(f"    {f.render()}")


DEFAULT_PORT = 8765  # the desk's address: http://127.0.0.1:8765/


def watch_options(p: argparse.ArgumentParser) -> None:
    """The folders and timing of the watched inbox, for `watch` and for `serve`, which runs the same watcher."""
    p.add_argument("inbox", nargs="?", default="inbox", help="收件夹(默认 ./inbox)")
    p.add_argument("outbox", nargs="?", default="outbox", help="发件夹(默认 ./outbox)")
    p.add_argument("--poll", action="store_true", help="轮询模式:用于收不到文件事件的网络共享文件夹")
    p.add_argument("--settle", type=float, default=2.0, metavar="秒", help="文件停止变化多久后才处理(默认 2)")
    p.add_argument("--timeout", type=float, default=600.0, metavar="秒", help="缺附件最多等多久后退回(默认 600)")
    p.add_argument("--rescan", type=float, default=30.0, metavar="秒", help="事件模式下也定期重新扫描(默认 30)")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="并行成卷数(默认 CPU 核数)")
    p.add_argument("--processed", metavar="DIR", help="已处理区(默认收件夹旁的 processed/)")
    p.add_argument("--scanner", metavar="DIR", help="扫描件文件夹:签章表单扫描后放这里,自动归档(默认 收件夹/扫描件/)")
    p.add_argument("--rejected", metavar="DIR", help="退回区(默认收件夹旁的 rejected/)")
    p.add_argument("--state", metavar="DIR", help="台账和日志所在文件夹(默认 发件夹/.kunnan)")


def _batch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=0, metavar="N", help="本机并行进程数(默认 CPU 核数)")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786",
                   help="在 Dask 集群上成卷(需 pip install 'kunnan-docs[cluster]';各节点须能访问同一案卷和发件夹)")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="每个任务处理的案卷数(默认 8)")
    p.add_argument("--force", action="store_true", help="即使与已发布的案卷完全一致也重新成卷")


def build_parser() -> argparse.ArgumentParser:
    argparse._, argparse.ngettext = _zh, _zh_n  # type: ignore[attr-defined]  # argparse's gettext hooks
    parser = _Parser(
        prog="kunnan-docs",
        description="困难职工档案工具(成工办〔2019〕43号):校验案卷、生成附件表单、组卷、监视收件夹。",
        epilog="每个命令都可加 --help 查看说明和示例。退出码见 README。",
    )
    parser.add_argument("--version", action="version", version=f"kunnan-docs {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, func: Callable[[argparse.Namespace], int], help_: str, description: str,
                *examples: str, calendar: bool = False, outbox: bool = False) -> argparse.ArgumentParser:
        """A subcommand with its Chinese help and examples, and the options several commands share."""
        p = sub.add_parser(name, help=help_, description=description,
                           epilog="示例:" + "\n      ".join(examples),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if calendar:
            p.add_argument("--calendar", metavar="FILE", default=None, help="日历补充文件(法定节假日与调休)")
        if outbox:
            p.add_argument("--outbox", default="outbox", help="发件夹(默认 ./outbox)")
        p.set_defaults(func=func)
        return p

    p = command("validate", cmd_validate, "校验案卷文件", "按 JSON Schema 和通知规定校验案卷。",
                "kunnan-docs validate examples/", "kunnan-docs validate 案卷.json --json", calendar=True)
    p.add_argument("paths", nargs="+", metavar="PATH", help="案卷文件或文件夹(文件夹内的 *.json 全部校验)")
    p.add_argument("--json", action="store_true", help="以 JSON 输出结果,供其他程序读取")
    p.add_argument("--outbox", metavar="DIR", help="对照该发件夹中已发布的案卷检查档案号和身份证号"
                                                  "(默认 ./outbox,有这个文件夹时)")

    p = command("render", cmd_render, "生成附件表单(Word 与 PDF)",
                "校验案卷后生成它应有的附件3—7表单,每份一个 Word 文件和一个 PDF 文件。",
                "kunnan-docs render examples/exit-wang-shufen/case.json -o 表单/", calendar=True)
    p.add_argument("case", metavar="CASE.json", help="案卷文件")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="输出文件夹")

    p = command("build", cmd_build, "组卷:校验、生成表单、合成一份带目录的 PDF 案卷,发布到 outbox",
                "对每份案卷:校验 → 生成附件表单 → 与扫描件合成索引 PDF 案卷 → 对照附件1/2清单检查"
                " → 发布到 OUTBOX/<档案号>/。退出码:0 齐全,3 不全或回访期中,1 被退回。",
                "kunnan-docs build examples/exit-wang-shufen/case.json -o outbox/", calendar=True)
    p.add_argument("cases", nargs="+", metavar="CASE.json", help="案卷文件或文件夹(可多个;文件夹内的 *.json 全部成卷)")
    p.add_argument("-o", "--output", required=True, metavar="OUTBOX", help="发件夹")
    _batch_options(p)

    p = command("rebuild", cmd_rebuild, "按新版本表单重建发件夹中的全部案卷(可用集群)",
                "用每个案卷文件夹 input/ 中保存的案卷文件和扫描件重新成卷,旧版本移入 _历史版本。"
                "由同一版本程序、用完全相同的材料生成的案卷跳过,中断后重新运行只处理剩下的。",
                "kunnan-docs rebuild -o outbox", "kunnan-docs rebuild -o /共享/outbox --scheduler tcp://10.0.0.5:8786",
                calendar=True)
    p.add_argument("-o", "--output", required=True, metavar="OUTBOX", help="发件夹")
    _batch_options(p)

    p = command("verify", cmd_verify, "接收方校验案卷文件夹、移交文件夹或移交压缩包是否完整、未被改动",
                "按 SHA-256 和 SM3 清单逐个核对文件,检查 PDF 能否打开、页数与目录是否一致、二维码是否为档案号、"
                "元数据是否与案卷一致、有无加密、脚本和外部链接;并在旁边写出四性检测报告(PDF 和 JSON)。",
                "kunnan-docs verify outbox/CD510104-2018-0112", "kunnan-docs verify 移交/锦江区-2019-10.zip",
                "kunnan-docs verify outbox/CD510104-2018-0112 --json")
    p.add_argument("folders", nargs="+", metavar="FOLDER", help="案卷文件夹、移交文件夹或移交 zip")
    p.add_argument("--json", action="store_true", help="以 JSON 输出每个问题(kind 为问题类别),供其他程序读取")
    p.add_argument("--report-dir", metavar="DIR", help="四性检测报告写到这个文件夹(默认写在被校验的文件夹或压缩包旁边)")
    p.add_argument("--no-report", action="store_true", help="不写四性检测报告")

    p = command("watch", cmd_watch, "监视收件夹:自动校验、成卷、发布,处理完的文件归档",
                "监视收件夹,对放入的案卷自动成卷并发布到发件夹;原文件移到 processed/,"
                "被退回的移到 rejected/ 并附“退回原因.txt”。同一收件夹只能运行一个。",
                "kunnan-docs watch inbox outbox", "kunnan-docs watch --once",
                "kunnan-docs watch //server/共享/inbox outbox --poll", calendar=True)
    watch_options(p)
    p.add_argument("--once", action="store_true", help="只处理现有案卷,处理完即退出")

    p = command("serve", cmd_serve, "档案室网页工作台:监视收件夹,并在浏览器里看收件箱、案卷、待办,打印公示,移交,看进度",
                "启动收件夹监视和网页工作台(同一个程序,按一次 Ctrl-C 两者都停止),并显示要在浏览器中打开的地址。"
                f"默认只允许本机访问(127.0.0.1,端口 {DEFAULT_PORT});要让别的电脑访问,先用 --set-password 设置密码,"
                "再用 --host 指定本机的局域网地址(或 0.0.0.0 表示本机所有地址);这时只用 HTTPS,"
                "第一次启动会生成证书并显示其指纹,供各电脑核对。",
                "kunnan-docs serve", "kunnan-docs serve inbox outbox --port 8800",
                "kunnan-docs serve --set-password --user 张丽",
                "kunnan-docs serve --host 192.168.1.20", "kunnan-docs serve --host 0.0.0.0 --allowed-host archive.example",
                calendar=True)
    watch_options(p)
    p.add_argument("--host", default="127.0.0.1", help="在哪个地址上提供服务(默认 127.0.0.1,只有本机能访问)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"端口(默认 {DEFAULT_PORT})")
    p.add_argument("--allowed-host", action="append", default=[], metavar="名称",
                   help="还接受发往这个主机名的请求(可重复;如单位内部域名)。本机名称和地址已自动接受")
    p.add_argument("--tls-cert", metavar="FILE", help="HTTPS 证书(PEM),与 --tls-key 一起给出;"
                   "不给出时,在本机以外的地址上启动会自动生成并保留一个自签名证书")
    p.add_argument("--tls-key", metavar="FILE", help="--tls-cert 证书的私钥(PEM,不带密码)")
    p.add_argument("--set-password", action="store_true", help="为 --user 设置登录密码(只保存散列)后退出;设了密码就要登录")
    p.add_argument("--user", default="档案员", help="--set-password 的用户名(默认 档案员)")

    p = command("scan-in", cmd_scan_in, "签章原件归档:读取扫描件每页的二维码,归入对应案卷并重新成卷",
                "读取扫描仪保存的文件(多页 PDF、多页 TIFF、JPEG、PNG;页面可任意顺序、多户混扫、倒置或横放),"
                "按每页二维码归到档案号和表单;一份表单各页到齐即作为签章原件存入发件夹的 _签章原件/,"
                "并重新成卷(旧版保留在 _历史版本/)。缺页的表单等待补扫;识别不了、档案号不存在或旧版打印件的页面"
                "放到扫描件旁的 待核对/,附原因。处理完的扫描件移到 已处理/。"
                "退出码:0 全部归档,3 有页面待核对或表单缺页。",
                "kunnan-docs scan-in 扫描/scan0001.pdf -o outbox/", "kunnan-docs scan-in -o outbox/", calendar=True)
    p.add_argument("files", nargs="*", metavar="FILE", help="扫描件(可多个;不给出时只完成上次被中断的归档)")
    p.add_argument("-o", "--output", required=True, metavar="OUTBOX", help="发件夹")
    p.add_argument("--review", metavar="DIR", help="待核对区(默认扫描件旁的 待核对/)")
    p.add_argument("--processed", metavar="DIR", help="已处理区(默认扫描件旁的 已处理/)")
    p.add_argument("--workers", type=int, default=0, metavar="N", help="并行读取扫描件和重新成卷的进程数(默认 CPU 核数)")

    p = command("status", cmd_status, "查看等待、成卷中、退回和今天发布的案卷",
                "读取台账,列出等待中、成卷中、已退回(附原因)和今天发布的案卷。",
                "kunnan-docs status --outbox outbox", outbox=True)
    p.add_argument("--state", metavar="DIR", help="台账所在文件夹(默认 发件夹/.kunnan)")

    p = command("notices", cmd_notices, "打印脱困公示:一份 PDF,每页一份公示,按单位排序",
                "把公示开始日期在指定范围内的脱困案卷的公示(附件5)合成一份 A4 PDF,按公示单位排序,供打印、盖章、张贴。",
                "kunnan-docs notices --from 2019-09-01 --to 2019-09-30 -o 九月公示.pdf", outbox=True)
    p.add_argument("--from", dest="date_from", type=_date_arg, metavar="DATE", help="公示开始日期不早于")
    p.add_argument("--to", dest="date_to", type=_date_arg, metavar="DATE", help="公示开始日期不晚于")
    p.add_argument("-o", "--output", required=True, metavar="FILE.pdf")

    p = command("handover", cmd_handover, "向区(市)县总工会移交案卷:文件夹、zip、移交清单(PDF/Excel)、清单校验",
                "选出属于该区(市)县总工会、尚未移交或移交后更正过的案卷(--all 全部,或 --cases 指定的),"
                "生成移交文件夹和同名 zip,含移交清单和 SHA-256 清单,并记入发件夹的移交记录。",
                "kunnan-docs handover --district 成都市锦江区总工会 -o 移交/锦江区-2019-10", outbox=True)
    p.add_argument("--district", required=True, help="接收的区(市)县总工会或产业工会,与案卷中填写的一致")
    p.add_argument("--cases", nargs="+", metavar="档案号", help="只移交这些档案号")
    p.add_argument("--date", type=_date_arg, help="移交日期(默认今天)")
    p.add_argument("--allow-unsigned", action="store_true",
                   help="也移交待签章的案卷(默认拒绝);移交清单中标明“否（待签章）”和缺签章的表单")
    p.add_argument("--all", action="store_true",
                   help="也移交已移交过且之后未更正的案卷(默认只移交未移交过的和移交后更正过的)")
    p.add_argument("--receiver", metavar="单位", help="移交清单上的接收单位(默认与 --district 相同)")
    p.add_argument("--by", metavar="姓名", help="移交人,记入移交记录(默认本机登录名)")
    p.add_argument("-o", "--output", required=True, metavar="DIR")

    p = command("due", cmd_due, "到期提醒:半年走访、半年核查、脱困满六个月回访、待签回的表单",
                "列出已逾期或 30 天内到期的入户走访、档案核查和脱困回访,以及已打印但签章原件尚未扫描回来的表单,"
                "按帮扶联系人分组,最早的在前。",
                "kunnan-docs due --as-of 2020-03-01 -o 到期提醒.xlsx", outbox=True)
    p.add_argument("--as-of", type=_date_arg, metavar="DATE", help="以哪一天为准(默认今天)")
    p.add_argument("-o", "--output", metavar="FILE.xlsx", help="同时写入 Excel 工作簿")

    p = command("progress", cmd_progress, "解困脱困进度:各区县脱困率与 2019/2020 目标",
                "按区(市)县总工会统计建档户数、已脱困户数和脱困率,对照 2019 年 60%、2020 年 100% 的目标。",
                "kunnan-docs progress --as-of 2019-12-31 -o 进度.pdf", outbox=True)
    p.add_argument("--as-of", type=_date_arg, metavar="DATE", help="统计截止日期(默认今天)")
    p.add_argument("-o", "--output", metavar="FILE.pdf", help="同时生成一页 PDF(含柱状图)")

    p = command("duplicates", cmd_duplicates, "重复建档:同一人有不止一份在档档案的,列出并说明怎么处理",
                "按身份证号(密钥散列,不存明文)找出同一人名下不止一份在档档案(建档中或脱困办理中):"
                "身份证号(遮蔽)、姓名、各档案号、单位、建档日期,以及应注销哪一份。",
                "kunnan-docs duplicates --outbox outbox", "kunnan-docs duplicates --json", outbox=True)
    p.add_argument("--json", action="store_true", help="以 JSON 输出,供其他程序读取")

    p = command("template-xlsx", cmd_template_xlsx, "生成空白的 Excel 导入模板",
                "生成带中文列名和填写说明的空白工作簿,供在 Excel/WPS 中填写案卷。",
                "kunnan-docs template-xlsx -o 案卷导入模板.xlsx")
    p.add_argument("-o", "--output", required=True, metavar="FILE.xlsx")

    p = command("import-xlsx", cmd_import_xlsx, "从 Excel 工作簿导入案卷",
                "把模板工作簿中的每一户转成一个案卷文件夹(含 case.json),逐行校验,问题按表、行、列报告。",
                "kunnan-docs import-xlsx 案卷.xlsx -o 导入/")
    p.add_argument("book", metavar="BOOK.xlsx")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--outbox", metavar="DIR", help="对照该发件夹中已发布的案卷检查档案号和身份证号"
                                                  "(默认 ./outbox,有这个文件夹时)")
    return parser


# The folders a command writes, (option, what a clerk calls it), for the message of a refused write.
_AREAS = (("output", "输出位置"), ("outbox", "发件夹"), ("processed", "已处理区"), ("rejected", "退回区"),
          ("review", "待核对区"), ("state", "状态文件夹"), ("inbox", "收件夹"))
_OUTBOX_COMMANDS = {"build", "rebuild", "scan-in"}  # their -o is the outbox


def _refused_write(exc: Exception, args: argparse.Namespace) -> str | None:
    """A full disk, a read-only folder, a refused permission: what and where, in Chinese; None for other errors."""
    from kunnan_docs.inbox.faults import write_failure

    areas = {label: Path(value) for name, label in _AREAS if isinstance(value := getattr(args, name, None), str)}
    if args.command in _OUTBOX_COMMANDS:
        areas["发件夹"] = areas.pop("输出位置")
    return write_failure(exc, areas)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return ExitCode.USAGE
    try:
        return int(args.func(args))
    except KunnanError as exc:
        print(f"错误:{exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("已中断。已发布的案卷保留;未完成的案卷下次运行时会重新处理。", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as exc:
        if refused := _refused_write(exc, args):
            print(f"错误:{refused}。已发布的案卷保留,没有案卷被退回;请腾出空间或修正权限后重新运行同一命令。",
                  file=sys.stderr)
            return ExitCode.WRITE_FAILED
        if os.environ.get("KUNNAN_DEBUG"):
            traceback.print_exc()
        print("程序内部错误。请把所用的命令和案卷文件交给技术支持人员(可设置 KUNNAN_DEBUG=1 查看详情)。",
              file=sys.stderr)
        return ExitCode.INTERNAL


if __name__ == "__main__":
    sys.exit(main())
