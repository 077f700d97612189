"""PDF/A-2b for every PDF we write, by OCRmyPDF's route: pikepdf writes the XMP metadata and an sRGB OutputIntent.

What makes our PDFs conform is how they are made — every font embedded (reportlab subsets, no base-14
font), no encryption, JavaScript, actions, annotations or embedded files — plus the two declarations
added here. `kunnan_docs.package.pdfa` checks the result; the tests prove it for every kind of PDF.
The ICC profile is the sRGB profile of the icc-profiles-free collection that pikepdf ships (zlib
licence, profile tag "no copyright, use freely"); it is read from pikepdf's package data so that a
build does not import pikepdf's validator.
"""

from __future__ import annotations

import io
from functools import cache
from importlib.resources import files

import pikepdf

PART, CONFORMANCE = "2", "B"
OUTPUT_CONDITION = "sRGB"
# fix_metadata_version would reopen and reserialise the XMP on every save to update a pdf:PDFVersion
# that make_archival never writes (pikepdf's own PDF/A check pins it off, for not rewriting XMP)
SAVE_OPTIONS = {"deterministic_id": True, "object_stream_mode": pikepdf.ObjectStreamMode.generate,
                "fix_metadata_version": False}


@cache
def srgb_profile() -> bytes:
    return (files("pikepdf") / "pdfa" / "data" / "sRGB.icc").read_bytes()


def make_archival(pdf: pikepdf.Pdf, declare: bool = True) -> None:
    """Add the sRGB OutputIntent and XMP metadata agreeing with the document info; with `declare`,
    identify the file as PDF/A-2b (leave it out when a scanned attachment could not conform)."""
    for page in pdf.pages:
        if "/Trans" in page.obj:  # reportlab writes an empty page transition; PDF/A has no use for it
            del page.obj["/Trans"]
    if "/Trapped" in pdf.docinfo:  # no XMP equivalent that PDF/A-2 accepts without an extension schema
        del pdf.docinfo["/Trapped"]
    profile = pdf.make_stream(srgb_profile(), N=3)
    intent = pikepdf.Dictionary(Type=pikepdf.Name.OutputIntent, S=pikepdf.Name.GTS_PDFA1,
                                OutputConditionIdentifier=pikepdf.String(OUTPUT_CONDITION),
                                Info=pikepdf.String("sRGB IEC61966-2.1"), DestOutputProfile=profile)
    pdf.Root.OutputIntents = pikepdf.Array([pdf.make_indirect(intent)])
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:  # no clock time: rebuilds stay identical
        meta.load_from_docinfo(pdf.docinfo)
        if declare:
            meta["pdfaid:part"], meta["pdfaid:conformance"] = PART, CONFORMANCE
        else:
            for key in ("pdfaid:part", "pdfaid:conformance"):
                if key in meta:
                    del meta[key]


def archival_bytes(data: bytes) -> bytes:
    """A PDF written by reportlab, made PDF/A-2b."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        make_archival(pdf)
        out = io.BytesIO()
        pdf.save(out, **SAVE_OPTIONS)
    return out.getvalue()
