"""Soak test of the watched inbox (issue 10; run by hand, figures in the README and the closing note).

    .venv/bin/python bench/soak.py [--cases 1000] [--kills 30] [--workers 2] [--seed 1]

Cases are dropped at random moments, five ways in turn — a case folder renamed in, a loose case file with
its scans beside it, a folder written slowly in chunks, a folder whose last scans arrive seconds later,
and an exact duplicate of an earlier case — while the watcher is SIGKILLed at random moments and
restarted. At the end every input file is counted by content hash: each one dropped must be found exactly
once in processed/ or rejected/ (zero lost, zero doubled), every package must verify, and no process of
the watcher's may be left. Prints cases per second (first drop to last filing) and the peak memory of the
watcher and its workers together.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from copies import distinct_id  # the bench scripts' folder is on the path when one runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from kunnan_docs.package.verify import verify_folder  # noqa: E402
from tests.inbox_kit import tagged_processes  # noqa: E402

EXAMPLES = sorted(p.parent for p in (ROOT / "examples").glob("*/case.json"))
NOTES = {"退回原因.txt", "处理说明.txt"}
WAYS = ("folder", "loose", "slow", "late", "duplicate")


class Dropper:
    """Drops the cases, recording every file dropped by content hash."""

    def __init__(self, work: Path, inbox: Path, rng: random.Random) -> None:
        self.work, self.inbox, self.rng = work, inbox, rng
        self.dropped: dict[str, int] = {}
        self.cases: list[tuple[Path, dict]] = []  # (example, case data) for duplicates
        self.lock = threading.Lock()

    def count(self, path: Path) -> None:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        with self.lock:
            self.dropped[digest] = self.dropped.get(digest, 0) + 1

    def case(self, i: int) -> tuple[Path, dict]:
        example = EXAMPLES[i % len(EXAMPLES)]
        data = json.loads((example / "case.json").read_text(encoding="utf-8"))
        data["archive_no"] = f"SOAK-{i:05d}"
        data["worker"]["id_number"] = distinct_id(data["worker"]["id_number"], i)
        return example, data

    def drop(self, i: int) -> None:
        way = WAYS[i % len(WAYS)]
        if way == "duplicate" and self.cases:
            example, data = self.rng.choice(self.cases)
        else:
            example, data = self.case(i)
            self.cases.append((example, data))
        staging = self.work / f"staging-{i}"
        target = self.inbox / f"{way}-{i:05d}"
        text = json.dumps(data, ensure_ascii=False).encode("utf-8")
        scans = sorted((example / "scans").iterdir())
        if way in ("folder", "duplicate"):
            shutil.copytree(example / "scans", staging / "scans")
            (staging / "case.json").write_bytes(text)
            self._count_tree(staging)
            os.rename(staging, target)
        elif way == "loose":
            data = {**data, "attachments": [{**a, "path": f"{target.name}-scans/{Path(a['path']).name}"}
                                            for a in data["attachments"]]}
            shutil.copytree(example / "scans", staging)
            self._count_tree(staging)
            os.rename(staging, self.inbox / f"{target.name}-scans")
            (staging.parent / f"{target.name}.json").write_bytes(json.dumps(data, ensure_ascii=False).encode())
            self.count(staging.parent / f"{target.name}.json")
            os.rename(staging.parent / f"{target.name}.json", self.inbox / f"{target.name}.json")
        elif way == "slow":
            (target / "scans").mkdir(parents=True)
            for src in [*scans, None]:
                dst, data_bytes = (target / "case.json", text) if src is None else (target / "scans" / src.name,
                                                                                   src.read_bytes())
                with dst.open("wb") as f:
                    for k in range(0, len(data_bytes), 16384):
                        f.write(data_bytes[k:k + 16384])
                        f.flush()
                        time.sleep(0.002)
                self.count(dst)
        else:  # late: the case file and half the scans now, the rest a few seconds later
            half = len(scans) // 2
            (staging / "scans").mkdir(parents=True)
            for src in scans[:half]:
                shutil.copy(src, staging / "scans" / src.name)
            (staging / "case.json").write_bytes(text)
            self._count_tree(staging)
            os.rename(staging, target)

            def rest() -> None:
                time.sleep(self.rng.uniform(1, 5))
                for src in scans[half:]:
                    aside = self.work / f"late-{i}-{src.name}"
                    shutil.copy(src, aside)
                    self.count(aside)
                    os.rename(aside, target / "scans" / src.name)

            threading.Thread(target=rest, daemon=True).start()

    def _count_tree(self, folder: Path) -> None:
        for p in folder.rglob("*"):
            if p.is_file():
                self.count(p)


def filed_counts(*areas: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for area in areas:
        for p in area.rglob("*") if area.exists() else []:
            if p.is_file() and p.name not in NOTES:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                counts[digest] = counts.get(digest, 0) + 1
    return counts


def tagged(tag: str) -> list[int]:
    return tagged_processes("KUNNAN_SOAK", tag)


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tag = uuid.uuid4().hex
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inbox, outbox = work / "inbox", work / "outbox"
        inbox.mkdir()
        command = [sys.executable, "-m", "kunnan_docs", "watch", str(inbox), str(outbox), "--workers",
                   str(args.workers), "--settle", "0.5", "--rescan", "2", "--timeout", "120"]
        env = {**os.environ, "KUNNAN_SOAK": tag}
        dropper = Dropper(work, inbox, rng)
        start = time.perf_counter()
        dropping = threading.Thread(target=lambda: [(dropper.drop(i), time.sleep(rng.expovariate(8)))
                                                    for i in range(args.cases)])
        dropping.start()
        peak = 0.0
        kills = 0
        while True:
            proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            lifetime = rng.uniform(0.5, 10) if kills < args.kills else None
            born = time.perf_counter()
            while proc.poll() is None:
                peak = max(peak, rss_mb(tagged(tag)))
                time.sleep(0.25)
                if lifetime is not None and time.perf_counter() - born > lifetime:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills += 1
                    break
                left = [p for p in inbox.iterdir() if not p.name.startswith(".")]
                if lifetime is None and not dropping.is_alive() and not left:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=120)
                    break
            if lifetime is None:
                break
        elapsed = time.perf_counter() - start
        deadline = time.monotonic() + 15
        while tagged(tag) and time.monotonic() < deadline:
            time.sleep(0.2)
        orphans = tagged(tag)
        filed = filed_counts(work / "processed", work / "rejected")
        lost = sum(max(0, n - filed.get(d, 0)) for d, n in dropper.dropped.items())
        doubled = sum(max(0, n - dropper.dropped.get(d, 0)) for d, n in filed.items())
        packages = [p for p in outbox.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))]
        bad = [p.name for p in packages if verify_folder(p)]
        history = outbox / "_历史版本"
        rebuilt = sum(1 for _ in history.glob("*/*")) if history.exists() else 0
        rejected = sum(1 for _ in (work / "rejected").rglob("退回原因.txt")) if (work / "rejected").exists() else 0
        print(f"{args.cases} cases ({', '.join(WAYS)} in turn), {kills} kill -9 of the watcher, {args.workers} workers")
        print(f"files dropped {sum(dropper.dropped.values())}, filed {sum(filed.values())}: "
              f"lost {lost}, doubled {doubled}; packages {len(packages)} ({len(bad)} fail verify), "
              f"earlier versions {rebuilt}, rejected {rejected}; processes left {len(orphans)}")
        print(f"{args.cases / elapsed:.1f} cases/s over {elapsed:.0f} s; peak memory of watcher + workers "
              f"{peak:.0f} MB")
        for pid in orphans:
            os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
