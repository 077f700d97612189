"""The scanner's folder (default inbox/扫描件/): files are taken once they have settled, like cases, and filed."""

from __future__ import annotations

import os
from pathlib import Path

from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.scan.filing import Rebuild, scan_in

SKIPPED_PREFIXES = (".", "~$")  # hidden files and the temporary copies some scanner software writes first


class ScannerFolder:
    """Call `poll` from a loop: a file whose size and time have not changed for `settle` seconds is taken."""

    def __init__(self, folder: Path, outbox: Path, calendar: WorkCalendar, rebuild: Rebuild,
                 settle: float = 2.0) -> None:
        self.folder, self.outbox, self.calendar, self.rebuild, self.settle = folder, outbox, calendar, rebuild, settle
        self._seen: dict[str, tuple[tuple[int, int], float]] = {}
        self._started = False

    def poll(self, now: float) -> list[str]:
        """Lines to log, in Chinese: what was filed, what waits, what went to review."""
        ready: list[Path] = []
        present: set[str] = set()
        for entry in sorted(os.scandir(self.folder), key=lambda e: e.name) if self.folder.is_dir() else []:
            if entry.name.startswith(SKIPPED_PREFIXES) or not entry.is_file(follow_symlinks=False):
                continue  # the review and processed areas are folders inside it
            present.add(entry.name)
            stat = entry.stat(follow_symlinks=False)
            key = (stat.st_size, stat.st_mtime_ns)
            seen = self._seen.get(entry.name)
            if seen is None or seen[0] != key:
                self._seen[entry.name] = (key, now)
            elif now - seen[1] >= self.settle:
                ready.append(Path(entry.path))
        self._seen = {name: seen for name, seen in self._seen.items() if name in present}
        if not ready and self._started:
            return []
        self._started = True  # the first poll also finishes whatever a killed run left in its journal
        lines = scan_in(ready, self.outbox, self.calendar, self.rebuild).lines
        for path in ready:
            self._seen.pop(path.name, None)
        return lines

    def next_due(self) -> float | None:
        """When the earliest file seen will have settled (for the loop's wake-up), or None if none waits."""
        return min((since + self.settle for _, since in self._seen.values()), default=None)
