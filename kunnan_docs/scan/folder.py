"""The scanner's folder (default inbox/扫描件/): files are taken once they have settled, like cases, and filed;
the packages they complete are rebuilt when the watcher says no worker is building them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.scan.filing import ScanReport, file_scans, pending_rebuilds, rebuild_pending

SKIPPED_PREFIXES = (".", "~$")  # hidden files and the temporary copies some scanner software writes first


class ScannerFolder:
    """Call `poll` and then `rebuild` from a loop: a file whose size and time have not changed for `settle`
    seconds is filed; the rebuilds it calls for wait (journaled) until their archive numbers are not busy."""

    def __init__(self, folder: Path, outbox: Path, calendar: WorkCalendar, rebuild: Callable[[Path], str],
                 settle: float = 2.0) -> None:
        """`rebuild`: one package's input case file → a Chinese line saying what became of it."""
        self.folder, self.outbox, self.calendar, self.settle = folder, outbox, calendar, settle
        self._rebuild = lambda case_files: [rebuild(f) for f in case_files]
        self._seen: dict[str, tuple[tuple[int, int], float]] = {}
        self.pending: set[str] = set()  # archive numbers whose rebuild is journaled, not yet done
        self._journals_read = False

    def poll(self, now: float) -> list[str]:
        """File the settled files; lines to log, in Chinese: what was filed, what waits, what went to review."""
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
        if not ready:
            return []
        self._journals_read = False  # read them again even if a write error stops the filing half-way
        report = ScanReport()
        file_scans(ready, self.outbox, self.calendar, report)
        for path in ready:
            self._seen.pop(path.name, None)
        return report.lines

    def rebuild(self, busy: set[str]) -> list[str]:
        """Rebuild the packages filed scans call for (a killed run's too), except while an archive number of theirs
        is in `busy` (a worker is building it); lines to log. Updates `pending`."""
        if not self._journals_read:
            self.pending = set().union(*pending_rebuilds(self.outbox).values())
            self._journals_read = True
        if not self.pending - busy:
            return []
        report = ScanReport()
        rebuild_pending(self.outbox, self.calendar, self._rebuild, report, busy)
        self.pending = set().union(*pending_rebuilds(self.outbox).values())
        return report.lines

    def next_due(self) -> float | None:
        """When the earliest file seen will have settled (for the loop's wake-up), or None if none waits."""
        return min((since + self.settle for _, since in self._seen.values()), default=None)
