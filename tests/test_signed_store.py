"""The signed originals store: what is filed is read back whole; a torn or stray file is not an original."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pikepdf
from PIL import Image

from kunnan_docs.core.casefile import read_case
from kunnan_docs.forms.fill import forms_for
from kunnan_docs.forms.qr import form_fingerprint
from kunnan_docs.package.ink import InkFlag
from kunnan_docs.package.signed import form_key, originals_for, store_dir, store_original
from tests.conftest import EXIT_EXAMPLE


def _scan_pdf(pages: int) -> bytes:
    images = [Image.new("L", (170, 240), 200 + i) for i in range(pages)]
    buf = io.BytesIO()
    images[0].save(buf, "PDF", resolution=20, save_all=True, append_images=images[1:])
    return buf.getvalue()


def test_form_keys_and_fingerprints_follow_the_printed_content() -> None:
    forms = forms_for(read_case(EXIT_EXAMPLE / "case.json"))
    keys = [form_key(f) for f in forms]
    assert keys == ["annex3", "annex4", "annex5", "annex6", "annex7-1", "annex7-2"]
    prints = [form_fingerprint(f) for f in forms]
    assert len(set(prints)) == len(prints) and all(len(p) == 8 for p in prints)
    assert prints == [form_fingerprint(f) for f in forms_for(read_case(EXIT_EXAMPLE / "case.json"))]
    forms[0].values["hardship_reason"] += "。"
    assert form_fingerprint(forms[0]) != prints[0]


def test_store_and_read_back(tmp_path: Path) -> None:
    data = _scan_pdf(2)
    flags = [InkFlag(1, "职工本人签字", "signature", True), InkFlag(1, "入户调查人员签字", "signature", False)]
    store_original(tmp_path, "CD/510104 2018", "annex3", data,
                   {"fingerprint": "0a1b2c3d", "source": "扫描0001.pdf", "pages": [7, 8],
                    "ink": [f.to_dict() for f in flags]})
    found = originals_for(tmp_path, "CD/510104 2018")
    assert list(found) == ["annex3"]
    original = found["annex3"]
    assert original.pdf.read_bytes() == data  # embedded as it came
    assert (original.fingerprint, original.source, original.pages) == ("0a1b2c3d", "扫描0001.pdf", [7, 8])
    assert [f.message for f in original.blank_areas] == ["第1页'入户调查人员签字'栏似为空白,请核对"]
    assert not list(store_dir(tmp_path, "CD/510104 2018").glob(".*part"))


def test_pages_are_copied_without_reencoding(tmp_path: Path) -> None:
    scan = pikepdf.open(io.BytesIO(_scan_pdf(3)))
    store_original(tmp_path, "A-1", "annex7-2", [scan.pages[2], scan.pages[0]],
                   {"fingerprint": "ffffffff", "source": "s.pdf", "pages": [3, 1]})
    stored = pikepdf.open(originals_for(tmp_path, "A-1")["annex7-2"].pdf)
    raw = [p.Resources.XObject[next(iter(p.Resources.XObject.keys()))].read_raw_bytes() for p in stored.pages]
    assert raw == [scan.pages[i].Resources.XObject[next(iter(scan.pages[i].Resources.XObject.keys()))]
                   .read_raw_bytes() for i in (2, 0)]


def test_torn_pair_and_strays_are_not_originals(tmp_path: Path) -> None:
    store_original(tmp_path, "A-1", "annex4", _scan_pdf(1), {"fingerprint": "11111111", "source": "a", "pages": [1]})
    store_original(tmp_path, "A-1", "annex5", _scan_pdf(1), {"fingerprint": "22222222", "source": "b", "pages": [1]})
    folder = store_dir(tmp_path, "A-1")
    (folder / "annex4.pdf").write_bytes(_scan_pdf(2))  # crash after the new PDF, before its JSON
    (folder / "annex6.json").write_text(json.dumps({"form_key": "annex6"}), encoding="utf-8")  # no PDF
    assert list(originals_for(tmp_path, "A-1")) == ["annex5"]
    assert originals_for(tmp_path, "B-2") == {}
