"""Build hook: make the TrueType fonts (fonts/make_fonts.py) when the wheel is built, not in git.

The converted fonts are 14 MB, too big to commit, and converting them takes about a minute, too slow
for a clerk's first document: so the conversion runs once, here, when fonts/fonts.json says the fonts
are missing or were made from other inputs. An editable install reads them from the checkout's fonts/
(kunnan_docs.core.resources.data_dir); a standard wheel carries them as kunnan_docs/fonts.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class FontBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        fonts = Path(self.root) / "fonts"
        script = fonts / "make_fonts.py"
        make_fonts = ModuleType("make_fonts")  # run from source: no __pycache__ left in fonts/ for the wheel
        make_fonts.__file__ = str(script)
        exec(compile(script.read_text(encoding="utf-8"), script, "exec"), make_fonts.__dict__)
        if not make_fonts.up_to_date():
            self.app.display_info("Converting the Noto Serif CJK fonts to TrueType (about a minute, once) …")
            make_fonts.main()
        if version == "standard":
            build_data["force_include"][str(fonts)] = "kunnan_docs/fonts"
