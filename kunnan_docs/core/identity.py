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
from dataclasses import dataclass
from datetime import date

FAMILY_KEY_CHARS = 32  # 128 bits of the HMAC: collisions among a province's families are out of reach


def archive_key(archive_no: str) -> str:
    """What two archive numbers are compared by."""
    return archive_no.strip().casefold()


def family_key(id_number: str, secret: bytes) -> str:
    """The keyed hash a person is recognised by (the ID number trimmed, its final x upper-cased)."""
    message = f"kunnan-family:{id_number.strip().upper()}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:FAMILY_KEY_CHARS]


def is_active(kind: str, notice_date: str | None) -> bool:
    """A file the family is still in: a filing, or an exit whose written notice has not been issued. Exited and
    cancelled files are not."""
    return kind == "filing" or (kind == "exit" and not notice_date)


@dataclass(frozen=True)
class Correction:
    """Why an existing file's identity (or any field) is changed, given by the clerk who changes it."""

    reason: str
    by: str
    date: date
