"""Who a file belongs to: one archive number is one family, one person has one active file.

Archive numbers are compared case-folded and trimmed (`CD510108-…` and `cd510108-… ` are one number: on
Windows, network shares and in zip files they are one folder). A person is recognised by a keyed hash of the
ID number (HMAC-SHA256 with a secret kept beside the packages, package/identity.py), so that nothing outside
the package holds the number itself, nor a plain hash of it, which could be reversed by trying every birth
date. Changing the ID number or the name of an existing archive number is a correction, never a silent
resubmission: it comes with a `Correction` saying who, when and why (README "One family, one file").
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from kunnan_docs.core.checklist import kind_spec

FAMILY_KEY_CHARS = 32  # 128 bits of the HMAC: collisions among a province's families are out of reach


def archive_key(archive_no: str) -> str:
    """What two archive numbers are compared by."""
    return archive_no.strip().casefold()


def family_key(id_number: str, secret: bytes) -> str:
    """The keyed hash a person is recognised by (the ID number trimmed, its final x upper-cased)."""
    message = f"kunnan-family:{id_number.strip().upper()}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:FAMILY_KEY_CHARS]


def is_active(kind: str, closed_on: str | None) -> bool:
    """A file the family is still in: its kind has no closing date (a filing), or that date is not recorded yet (an
    exit before its written notice). Exited and cancelled files are not."""
    return kind_spec(kind).closed_by is None or not closed_on


def closed_on(kind: str, data: Mapping[str, Any]) -> str | None:
    """The date the kind's data says the family left the archive (exit notice, cancellation), if recorded."""
    value: Any = data
    for part in (kind_spec(kind).closed_by or "").strip("/").split("/"):
        value = value.get(part) if isinstance(value, Mapping) and part else None
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Correction:
    """Why an existing file's identity (or any field) is changed, given by the clerk who changes it."""

    reason: str
    by: str
    date: date
