"""`kunnan-docs status`: what the watcher is waiting for, building, refused and published today, and which
inbox entries it cannot use — read from the ledger only, so everything shown is already masked."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from kunnan_docs.core.labels import InboxStage, Outcome, label
from kunnan_docs.core.text import one_line
from kunnan_docs.errors import UsageError
from kunnan_docs.inbox.ledger import PUBLISHED, Ledger
from kunnan_docs.package.layout import LEDGER


def status_lines(state: Path) -> list[str]:
    if not (state / LEDGER).exists():
        raise UsageError(f"在 {state} 中找不到台账。请确认发件夹,或先运行 kunnan-docs watch。")
    ledger = Ledger(state / LEDGER)
    try:
        today = date.today().isoformat()
        sections = [(InboxStage.WAITING.label, ledger.by_status(InboxStage.WAITING)),
                    (InboxStage.BUILDING.label, ledger.by_status(InboxStage.BUILDING)),
                    (Outcome.REJECTED.label, ledger.by_status(Outcome.REJECTED)),
                    ("今天发布", [r for r in ledger.by_status(*PUBLISHED) if r.updated.startswith(today)])]
        lines = []
        for title, rows in sections:
            lines.append(f"{title}:{len(rows)} 份")
            for r in rows:
                extra = f"  {r.reason.splitlines()[0]}" if r.reason and title != "今天发布" else ""
                where = f"  {r.outputs[0]}" if r.outputs and title == "今天发布" else ""
                lines.append(f"    {r.updated}  {r.archive_no or r.source}  {label(r.status)}"
                             f"{where}{extra}")
        unclaimed = ledger.unclaimed()
        lines.append(f"收件夹中无法处理的项目:{len(unclaimed)} 个")
        lines += [f"    {seen}  {entry}  {reason}" for entry, reason, seen in unclaimed]
        return [one_line(line) for line in lines]  # an entry's name may hold a newline or an ESC
    finally:
        ledger.close()
