"""Each kind of case as data (schemas/checklists.json): its words, its checklist item by item, and which case
object holds its procedure. Code asks a kind's spec, never the kind's name, so that a kind is added as data, its
rules and its forms."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from kunnan_docs.core.labels import ExitStage, Kind
from kunnan_docs.core.resources import checklist_data


@dataclass(frozen=True)
class Item:
    id: str
    no: int
    title: str
    applies: str | None = None  # name of an applicability rule, None = always
    needs: tuple[str, ...] = ()  # signature / seal the paper original must carry (待签章 until scanned back)
    needs_note: str = ""  # who signs or seals, in Chinese
    stage: ExitStage | None = None  # the exit stage from which the item is due (未到办理阶段 before)
    follow_up: bool = False  # due once the return visits cover the six months after exit
    publicity: bool = False  # the posted publicity notice, printed in runs by `notices`

    @property
    def needs_signing(self) -> bool:
        return bool(self.needs)

    def reached(self, stage: ExitStage | None, follow_up_done: bool) -> bool:
        """Whether the procedure has come to this item; one that has not is 未到办理阶段, not missing."""
        if self.stage is not None and (stage is None or not stage.reached(self.stage)):
            return False
        return follow_up_done or not self.follow_up


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    label: str  # 建档, 脱困, 注销
    checklist_title: str
    archive_title: str  # the cover's title
    procedure: str | None  # the case object holding the kind's procedure: exit, cancellation, None
    closed_by: str | None  # JSON pointer of the date from which the family is out of the archive
    items: tuple[Item, ...]

    @property
    def has_exit(self) -> bool:
        """The kind records an exit stage by stage (exit stages, follow-up, publicity)."""
        return self.procedure == "exit"

    @property
    def has_cancellation(self) -> bool:
        return self.procedure == "cancellation"

    @property
    def item_ids(self) -> set[str]:
        return {i.id for i in self.items}

    @property
    def publicity_item(self) -> Item | None:
        return next((i for i in self.items if i.publicity), None)


def _item(data: dict[str, Any]) -> Item:
    return Item(data["id"], data["no"], data["title"], data.get("applies"), tuple(data.get("needs", [])),
                data.get("needs_note", ""), ExitStage(data["stage"]) if data.get("stage") else None,
                bool(data.get("follow_up")), bool(data.get("publicity")))


@cache
def kind_spec(kind: str) -> KindSpec:
    """The kind's spec from schemas/checklists.json (`kind` as stored, e.g. "exit", or a Kind)."""
    data = checklist_data()["kinds"][kind]
    return KindSpec(Kind(kind), data["label"], data["checklist_title"], data["archive_title"], data["procedure"],
                    data["closed_by"], tuple(_item(i) for i in data["items"]))


def supporting_proof_applies(case_data: dict[str, Any]) -> bool:
    """Item 10 is needed only where a hardship category or an aid record calls for proof (README)."""
    rule = checklist_data()["supporting_proof"]
    categories = set(case_data.get("worker", {}).get("hardship_categories", []))
    aid = {a.get("category") for a in case_data.get("assistance", [])}
    return bool(categories & set(rule["hardship_categories"]) or aid & set(rule["assistance_categories"]))


def applies(item: Item, case_data: dict[str, Any]) -> bool:
    if item.applies == "supporting_proof":
        return supporting_proof_applies(case_data)
    return True
