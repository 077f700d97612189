"""Read what an outbox holds: the current package of every archive number (history and state excluded)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kunnan_docs.package.publish import HISTORY, REPORT, safe_name


@dataclass
class Published:
    folder: Path
    report: dict[str, Any]

    @property
    def archive_no(self) -> str:
        return self.report["archive_no"]

    @property
    def kind(self) -> str:
        return self.report["kind"]

    @property
    def case(self) -> dict[str, Any]:
        return self.report.get("case", {})

    @property
    def pdf(self) -> Path:
        return self.folder / f"{safe_name(self.archive_no)}.pdf"

    @property
    def complete(self) -> bool:
        return self.report["status"] == "complete"


def published(outbox: Path) -> list[Published]:
    """Every current package, sorted by archive number; unreadable folders are skipped, not fatal."""
    found = []
    if not outbox.is_dir():
        return found
    for folder in sorted(outbox.iterdir()):
        if not folder.is_dir() or folder.name.startswith(".") or folder.name == HISTORY:
            continue
        try:
            found.append(Published(folder, json.loads((folder / REPORT).read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return sorted(found, key=lambda p: p.archive_no)
