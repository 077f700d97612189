"""Tracking: which inbox entries hold cases, and when each has settled (README "收件夹", settling).

The watcher's bookkeeping between discovery and the workers, with no ledger, filing or process in it:
entries an event touched are marked dirty (from watchdog's thread); a scan turns them into jobs; a job
whose inputs have not changed for the settle interval is ready, or waits for missing attachments until the
timeout. Refusals, time-outs and waits are handed back for the watcher to record and file.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field

from kunnan_docs.inbox.discovery import Discovery, Job, signature
from kunnan_docs.privacy import mask_text

log = logging.getLogger("kunnan.watch")


@dataclass
class Settled:
    """What one settling pass found for the watcher to act on (all no longer tracked but `waiting`)."""

    refused: list[Job] = field(default_factory=list)  # discovery's refusal says why
    timed_out: list[Job] = field(default_factory=list)  # attachments still missing after the timeout
    waiting: list[Job] = field(default_factory=list)  # settled, attachments missing, still tracked


class Tracker:
    def __init__(self, discovery: Discovery, settle: float, timeout: float, skip: str | None = None) -> None:
        """`skip`: an inbox entry never looked at as a case (the scanner's folder)."""
        self.discovery, self.settle_for, self.timeout, self.skip = discovery, settle, timeout, skip
        self.tracked: dict[str, Job] = {}  # by inbox entry name
        self.loose: set[str] = set()  # tracked loose case files: their scans are other inbox entries
        self.unsettled: set[str] = set()  # changed lately: look again at stable_since + settle
        self.ready: deque[str] = deque()  # settled and complete: taken in this order as workers free up
        self.waiting: set[str] = set()  # settled, attachments missing
        self.unclaimed: dict[str, str] = {}  # entries that are no case, with the reason
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()

    def mark_dirty(self, name: str) -> None:
        """An event touched this entry (safe to call from another thread)."""
        with self._dirty_lock:
            self._dirty.add(name)

    def take_dirty(self) -> set[str]:
        with self._dirty_lock:
            dirty, self._dirty = self._dirty, set()
        return dirty

    def scan(self, names: set[str] | None, now: float, busy: set[str]) -> None:
        """Look again at the given inbox entries (all of them when None) and at loose cases needing them;
        entries in `busy` (being built) are left alone."""
        if names is None:
            self.take_dirty()
            names = set(self.discovery.names()) - {self.skip}
            gone = (set(self.tracked) | set(self.unclaimed)) - names
            self.discovery.forget_gone()
        else:
            names |= {n for n in self.loose if self.tracked[n].needs() & names}
            gone = set()
        jobs, unclaimed = self.discovery.look(sorted(names - busy))
        for name in (names - busy) | gone:
            self.unclaimed.pop(name, None)
            if name in unclaimed:
                self.unclaimed[name] = unclaimed[name]
            new, old = jobs.get(name), self.tracked.get(name)
            if new is None:
                self.untrack(name)
                continue
            if old is not None and old.signature == new.signature:
                new.stable_since, new.first_missing = old.stable_since, old.first_missing
            else:
                new.stable_since = now
                new.first_missing = old.first_missing if old and new.missing else None
                self.unsettled.add(name)
                if old is None:
                    log.info(f"发现新案卷 {mask_text(new.source)}")
            self.tracked[name] = new
            if new.loose:
                self.loose.add(name)

    def unclaimed_now(self, needed: set[str]) -> dict[str, str]:
        """Entries no case can use: neither a tracked loose case nor `needed` (by cases being built) names them."""
        needed = needed.union(*(self.tracked[n].needs() for n in self.loose))
        return {n: m for n, m in self.unclaimed.items() if n not in needed}

    def untrack(self, name: str) -> None:
        self.tracked.pop(name, None)
        self.loose.discard(name)
        self.unsettled.discard(name)
        self.waiting.discard(name)

    def settle(self, now: float) -> Settled:
        found = Settled()
        for name in sorted(self.unsettled):
            job = self.tracked.get(name)
            if job is None:
                self.unsettled.discard(name)
                continue
            if now - job.stable_since < self.settle_for:
                continue
            current = signature(job)
            if current != job.signature:  # changed without an event reaching us: settle again
                job.signature, job.stable_since = current, now
                continue
            self.unsettled.discard(name)
            if job.refusal:
                self.untrack(name)
                found.refused.append(job)
            elif job.missing:
                self.waiting.add(name)
                if job.first_missing is None:
                    job.first_missing = now
            else:
                self.waiting.discard(name)
                self.ready.append(name)
        for name in sorted(self.waiting):
            job = self.tracked.get(name)
            if job is None or not job.missing:
                self.waiting.discard(name)
            elif now - job.first_missing >= self.timeout:  # type: ignore[operator]
                self.untrack(name)
                found.timed_out.append(job)
            else:
                found.waiting.append(job)
        return found

    def changed(self, name: str, job: Job, now: float) -> bool:
        """True (and settling again) when the job's files changed since it settled."""
        current = signature(job)
        if current == job.signature:
            return False
        job.signature, job.stable_since = current, now
        self.unsettled.add(name)
        return True

    def retry_later(self, job: Job) -> None:
        """Back among the tracked cases, to be taken again once settled (and any pause is over)."""
        name = job.entry.name
        self.tracked[name] = job
        if job.loose:
            self.loose.add(name)
        self.unsettled.add(name)

    def look_again_at_all(self) -> None:
        """After a fault: whatever was half-way settles again before it is taken."""
        self.unsettled |= set(self.tracked)
        self.ready.clear()

    def deadlines(self) -> list[float]:
        """When a case settles or times out waiting for its attachments."""
        due = [self.tracked[n].stable_since + self.settle_for for n in self.unsettled if n in self.tracked]
        return due + [self.tracked[n].first_missing + self.timeout  # type: ignore[operator]
                      for n in self.waiting if n in self.tracked and self.tracked[n].first_missing is not None]

    def idle(self) -> bool:
        """Nothing left to settle or take: every case tracked waits for an attachment that has not come."""
        return not (self.unsettled or self.ready or self._dirty) and set(self.tracked) <= self.waiting

    def settling(self) -> list[str]:
        """Cases seen but not yet taken because their files are still changing (safe to call from another thread)."""
        tracked = dict(self.tracked)
        return sorted(tracked[n].source for n in list(self.unsettled) + list(self.ready) if n in tracked)
