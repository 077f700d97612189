"""Text from outside (a case's values, an inbox entry's name) in a line we write: control characters never go out
raw. The case schema refuses them in every string (schemas/case.schema.json, `$defs/plain_text`, the same class as
CONTROL here); a log or status line shows any that come another way (a file name) escaped, so that a name holding a
newline or an ESC can neither forge a line nor drive the clerk's terminal."""

from __future__ import annotations

import re

CONTROL = r"\x00-\x1f\x7f-\x9f\u2028\u2029"  # C0, DEL, C1, and the Unicode line and paragraph separators
_CONTROL = re.compile(f"[{CONTROL}]")


def one_line(text: str) -> str:
    """The text as one line: each control character written as its escape (\\n, \\x1b, \\u2028)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
