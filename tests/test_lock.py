"""requirements.lock pins every dependency the tests run with, and .ci/run installs through it."""

from __future__ import annotations

import re
import tomllib

from .conftest import ROOT


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_lock_pins_every_runtime_and_test_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {normalized(re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0])
              for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    lines = [ln for ln in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
             if ln and not ln.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[^\s=]+", ln) for ln in lines), "exact pins only"
    pinned = {normalized(ln.split("==")[0]) for ln in lines}
    assert wanted - pinned == set(), "a dependency is missing from the lock: run `bash .ci/lock`"


def test_ci_installs_the_locked_versions() -> None:
    assert "-c requirements.lock" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
