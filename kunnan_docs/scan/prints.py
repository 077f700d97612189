"""The ink check of a scanner page, made while scan-in reads it: against the blank print of its form.

Reading a page decodes its image and finds its code; the ink check needs exactly that image and that code. Made
here, on the process that read the page, it costs neither a second decoding nor a second search for the code when
the package is rebuilt (the rebuild finds the result kept beside the filed original, package/signed.py). The print
is the one the package was built with: its forms are kept in the outbox (package/formcache.py) under a key made
from the package's own copy of its case. A page whose print is not kept, or whose code names no form of its
package, is simply not checked here: the rebuild checks it as before.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kunnan_docs.errors import CaseRejected
from kunnan_docs.forms import qr
from kunnan_docs.package.ink import InkFlag, Located, page_flags
from kunnan_docs.package.layout import INPUT_DIR, REPORT, STATE_DIR, safe_name
from kunnan_docs.package.signed import ink_areas

if TYPE_CHECKING:
    import pypdfium2 as pdfium
    from PIL import Image

    from kunnan_docs.core.workcal import WorkCalendar
    from kunnan_docs.forms.fill import FilledForm
    from kunnan_docs.forms.pdf import Box
    from kunnan_docs.package.formcache import FormCache

KEEP_FORMS = 160  # prints kept open per process, the least recently used let go first (about 0.3 MB each)
KEEP_ARCHIVES = 64  # packages' forms kept per process, likewise


@dataclass(frozen=True)
class PageInk:
    """One page's ink check, made when it was read: against which print (the SHA-256 of its PDF and its areas,
    as the kept record of a filed form is keyed) and the flags of this page's areas."""

    print_sha256: str
    areas: list[list[Any]]
    flags: list[InkFlag]


def package_case(outbox: Path, archive_no: str) -> Path | None:
    """The package's own copy of its case file, if the archive number has a package."""
    folder = outbox / safe_name(archive_no)
    if not (folder / REPORT).is_file():
        return None
    found = sorted((folder / INPUT_DIR).glob("*.json"))
    return found[0] if found else None


def package_forms(outbox: Path, archive_no: str, calendar: WorkCalendar) -> dict[str, FilledForm] | None:
    """Form key → the form as the package prints it, from the package's own copy of its case; None for an unknown
    archive number (or a package whose case names another)."""
    from kunnan_docs.core.casefile import read_case
    from kunnan_docs.forms.fill import forms_for

    case_file = package_case(outbox, archive_no)
    try:
        case = read_case(case_file) if case_file else None
    except CaseRejected:
        return None
    if case is None or case.archive_no != archive_no:
        return None
    return {qr.form_key(f): f for f in forms_for(case, calendar)}


class Prints:
    """The kept blank prints of an outbox's forms, looked up by the code on a scanned page (once a process per
    archive number and form)."""

    def __init__(self, outbox: Path, calendar: WorkCalendar) -> None:
        self.outbox, self.calendar = outbox, calendar
        self._cache: FormCache | None = None  # opened when a page is first checked: `status` imports this module
        self._forms: OrderedDict[str, dict[str, FilledForm] | None] = OrderedDict()
        self._prints: OrderedDict[tuple[str, str, str], tuple[str, list[Box], pdfium.PdfDocument] | None] = OrderedDict()

    def page_ink(self, picture: Image.Image, factor: int, found: list[qr.Found], code: qr.PageCode) -> PageInk | None:
        """The ink check of a page of the form `code` names, on `picture` (its own image reduced by `factor`, in
        which `found` gives the codes in full-size pixels); None when its print is not kept."""
        printed = self._print(code)
        if printed is None:
            return None
        sha, boxes, doc = printed
        codes = [Located(f.text, tuple((x / factor, y / factor) for x, y in f.corners)) for f in found]
        return PageInk(sha, ink_areas(boxes), page_flags(picture, codes, doc, boxes, code.page))

    def _print(self, code: qr.PageCode) -> tuple[str, list[Box], pdfium.PdfDocument] | None:
        key = (code.archive_no, code.form_key, code.fingerprint)
        if key not in self._prints:
            self._prints[key] = self._load(code)
            _bound(self._prints, KEEP_FORMS)
        self._prints.move_to_end(key)
        return self._prints[key]

    def forms(self, archive_no: str) -> dict[str, FilledForm] | None:
        """package_forms of the archive number, read once a process (while it is among the recently used)."""
        if archive_no not in self._forms:
            self._forms[archive_no] = package_forms(self.outbox, archive_no, self.calendar)
            _bound(self._forms, KEEP_ARCHIVES)
        self._forms.move_to_end(archive_no)
        return self._forms[archive_no]

    def _load(self, code: qr.PageCode) -> tuple[str, list[Box], pdfium.PdfDocument] | None:
        import pypdfium2 as pdfium

        from kunnan_docs.package import formcache  # here: it loads the form stack, which `status` never needs

        form = (self.forms(code.archive_no) or {}).get(code.form_key)
        if form is None or qr.form_fingerprint(form) != code.fingerprint:
            return None
        if self._cache is None:
            self._cache = formcache.FormCache(self.outbox / STATE_DIR / formcache.FOLDER)
        key = formcache.form_key(form, code.archive_no)
        kept = self._cache.get(key) if key else None
        if kept is None:
            return None
        return hashlib.sha256(kept.pdf).hexdigest(), kept.boxes, pdfium.PdfDocument(kept.pdf)


def _bound(kept: OrderedDict[Any, Any], most: int) -> None:
    """Let go of the least recently used entries beyond `most`."""
    while len(kept) > most:
        kept.popitem(last=False)
