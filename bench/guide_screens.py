"""The screenshots of docs/用户指南.md, taken by the story test in a real browser and made small enough for the
repository: `python bench/guide_screens.py` runs tests/test_story_browser.py (chromium, about two minutes),
then writes each guide-*.png it saved as a 256-colour PNG (1366×768, under 100 KB) into docs/."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 100 * 1024


def main() -> int:
    with tempfile.TemporaryDirectory() as base:
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_story_browser.py", "--basetemp", base],
                             cwd=ROOT, check=False)
        if run.returncode:
            return run.returncode
        shots = sorted(Path(base, "guide0").glob("guide-*.png"))
        if not shots:  # e.g. the test run spread over workers, whose folders are elsewhere
            print(f"no screenshots in {base}/guide0", file=sys.stderr)
            return 1
        for shot in shots:
            image = Image.open(shot).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            target = ROOT / "docs" / shot.name
            image.save(target, optimize=True)
            size = target.stat().st_size
            print(f"{target.relative_to(ROOT)}: {image.width}×{image.height}, {size // 1024} KB")
            if size > LIMIT:
                print(f"  {size // 1024} KB is over {LIMIT // 1024} KB", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
