"""The Annex 1 / Annex 2 checklists (data in schemas/checklists.json) and how a case meets them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kunnan_docs.core.resources import checklist_data


@dataclass(frozen=True)
class Item:
    id: str
    no: int
    title: str
    applies: str | None  # name of an applicability rule, None = always
    needs: tuple[str, ...] = ()  # signature / seal the paper original must carry (待签章 until scanned back)
    needs_note: str = ""  # who signs or seals, in Chinese

    @property
    def needs_signing(self) -> bool:
        return bool(self.needs)


def items_for(kind: str) -> list[Item]:
    data = checklist_data()
    max_no = data["checklists"][kind]["max_no"]
    return [Item(i["id"], i["no"], i["title"], i.get("applies"), tuple(i.get("needs", [])), i.get("needs_note", ""))
            for i in data["items"] if i["no"] <= max_no]


def checklist_title(kind: str) -> str:
    return checklist_data()["checklists"][kind]["title"]


def item_ids(kind: str) -> set[str]:
    return {i.id for i in items_for(kind)}


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
