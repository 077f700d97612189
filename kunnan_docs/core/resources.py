"""Locate the shipped data folders (schemas/, templates/) in a source checkout or an installed wheel."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent.parent


def data_dir(name: str) -> Path:
    """Installed wheels carry the folder inside the package; a checkout has it at the top level."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"找不到数据目录 {name}/,安装可能不完整,请重新安装 kunnan-docs。")


@cache
def load_json(folder: str, filename: str) -> Any:
    return json.loads((data_dir(folder) / filename).read_text(encoding="utf-8"))


def case_schema() -> dict[str, Any]:
    return load_json("schemas", "case.schema.json")


def checklist_data() -> dict[str, Any]:
    return load_json("schemas", "checklists.json")


def font_chain() -> list[tuple[str, str]]:
    """The PDF fonts in fallback order, as (name, file in fonts/); fonts/fonts.json is written by make_fonts.py."""
    return [(f["name"], f["file"]) for f in load_json("fonts", "fonts.json")]


@cache
def printable_characters() -> frozenset[int]:
    """Every code point that some font of the chain has a glyph for."""
    return frozenset(code for f in load_json("fonts", "fonts.json") for first, last in f["characters"]
                     for code in range(first, last + 1))
