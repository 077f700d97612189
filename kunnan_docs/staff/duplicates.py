"""People, not packages: an outbox's packages grouped by person (package.identity's family key), and the people
who hold more than one active file (重复建档), which outboxes written before the identity check may hold.

`progress` and `due` count people through `people`; `kunnan-docs duplicates` and the desk's 重复建档 page list
the duplicates with what to do: cancel the later file as 重复建档, naming the one kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kunnan_docs.package import identity
from kunnan_docs.package.outbox import Published, published


def people(packages: list[Published], families: dict[str, str]) -> list[list[Published]]:
    """The packages grouped by person (a package whose ID number is unknown is a person of its own), each group
    in filing order, the groups in the order of their first package."""
    groups: dict[str, list[Published]] = {}
    for pkg in packages:
        groups.setdefault(families.get(pkg.folder.name) or f"\0{pkg.folder.name}", []).append(pkg)
    ordered = [sorted(group, key=filed_first) for group in groups.values()]
    return sorted(ordered, key=lambda group: filed_first(group[0]))


def filed_first(pkg: Published) -> tuple[str, str]:
    """The order in which a person's files were opened: the earliest is the one to keep."""
    return str(pkg.case.get("filing_date") or ""), pkg.archive_no


@dataclass(frozen=True)
class Duplicate:
    """A person with more than one active file, the earliest filed first."""

    id_masked: str
    files: tuple[Published, ...]

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(str(p.case.get("worker_name") or "") for p in self.files))

    @property
    def advice(self) -> str:
        kept, later = self.files[0].archive_no, "、".join(p.archive_no for p in self.files[1:])
        return (f"同一人只能有一份在档档案:请保留最早建档的 {kept},把 {later} 注销"
                f"(注销原因选“重复建档”,重复的档案号填 {kept})。")

    def to_dict(self) -> dict[str, Any]:
        return {"id_number_masked": self.id_masked, "names": self.names, "advice": self.advice,
                "files": [{"archive_no": p.archive_no, "name": p.case.get("worker_name"), "union": p.case.get("union"),
                           "district": p.case.get("district"), "filing_date": p.case.get("filing_date"),
                           "kind": p.kind} for p in self.files]}


def duplicates(outbox: Path) -> list[Duplicate]:
    """Every person with more than one active file today (filed, or exit before its notice), in filing order."""
    index = identity.load(outbox)
    active = {e.folder for e in index.entries if e.active}
    found = []
    for group in people([p for p in published(outbox) if p.folder.name in active], index.families()):
        if len(group) > 1:
            found.append(Duplicate(str(group[0].case.get("id_number_masked") or ""), tuple(group)))
    return found


def folded_note(folded: int) -> str:
    """What `progress` and `due` say when they counted a person's duplicate files once."""
    return f"已合并重复建档 {folded} 户:同一人有多份在档档案的只计一户(按最早建档的一份),重复的档案请注销。" \
        if folded else ""
