"""The web desk's pages over a large outbox (run by hand; figures go into README "Benchmarks").

    .venv/bin/python bench/bench_desk.py [--packages 2000] [--real 10]

Makes the outbox the way bench_staff.py does (genuine packages of one district, copies naming other
districts up to --packages), then times each page through the app in-process (Starlette's test client,
no network): median of 5 requests. The 移交 page verifies every package of the district the first time it is shown
and remembers each verdict while the package's files are untouched: its first view is timed apart.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_staff import DISTRICT, fill, real_packages

from kunnan_docs.web.app import Desk, create_app
from kunnan_docs.web.security import Users


def median_ms(client: TestClient, path: str) -> float:
    times = []
    for _ in range(5):
        t = time.perf_counter()
        assert client.get(path).status_code == 200, path
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--real", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        outbox = real_packages(Path(tmp), args.real)
        fill(outbox, args.packages)
        desk = Desk(outbox, outbox / ".kunnan", Users(Path(tmp) / "none"))
        client = TestClient(create_app(desk), base_url="http://127.0.0.1")
        pages = ["/inbox/live", "/packages", "/packages?q=REAL-00001", "/packages/REAL-00000",
                 "/due?as_of=2020-08-01", "/notices?from=2019-09-01&to=2019-09-30", "/progress",
                 f"/handover?district={DISTRICT}"]
        print(f"{args.packages} packages ({args.real} genuine, of {DISTRICT})")
        t = time.perf_counter()
        assert client.get(pages[-1]).status_code == 200
        print(f"  {pages[-1] + ' (first view)':45} {(time.perf_counter() - t) * 1000:8.0f} ms")
        for path in pages:
            print(f"  {path:45} {median_ms(client, path):8.0f} ms")


if __name__ == "__main__":
    main()
