"""Locate the shipped data folders (schemas/, templates/) in a source checkout or an installed wheel."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from kunnan_docs.errors import ConfigError

_PACKAGE = Path(__file__).resolve().parent.parent
TEMPLATES_ENV = "KUNNAN_TEMPLATES"  # a folder of a clerk's own Word templates (forms/word.py), instead of templates/


def data_dir(name: str) -> Path:
    """Installed wheels carry the folder inside the package; a checkout has it at the top level."""
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"找不到数据目录 {name}/,安装不完整。请重新安装 kunnan-docs(在源码目录运行 pip install -e .)。")


@cache
def load_json(folder: str, filename: str) -> Any:
    """A shipped data file; a missing one is a broken installation (exit 6), not a fault of the case."""
    path = data_dir(folder) / filename
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        made = "(字体在安装时由 fonts/make_fonts.py 生成)" if folder == "fonts" else ""
        raise ConfigError(f"找不到 {folder}/{filename}{made},安装不完整。"
                          "请重新安装 kunnan-docs(在源码目录运行 pip install -e .)后再试。") from None


def case_schema() -> dict[str, Any]:
    return load_json("schemas", "case.schema.json")


def checklist_data() -> dict[str, Any]:
    return load_json("schemas", "checklists.json")


@cache
def font_chain() -> tuple[tuple[str, str], ...]:
    """The PDF fonts in fallback order, as (name, file in fonts/); fonts/fonts.json is written by make_fonts.py.
    Asked once per character typeset: read and checked once per process."""
    chain = tuple((f["name"], f["file"]) for f in load_json("fonts", "fonts.json"))
    missing = [file for _, file in chain if not (data_dir("fonts") / file).is_file()]
    if missing:
        raise ConfigError(f"找不到字体文件 fonts/{'、'.join(missing)},安装不完整。"
                          "请重新安装 kunnan-docs(在源码目录运行 pip install -e .)后再试。")
    return chain


@cache
def printable_characters() -> frozenset[int]:
    """Every code point that some font of the chain has a glyph for."""
    return frozenset(code for f in load_json("fonts", "fonts.json") for first, last in f["characters"]
                     for code in range(first, last + 1))
