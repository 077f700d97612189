"""Forms kept between builds (package/formcache.py): a rebuild after scan-in takes its unchanged forms from the
outbox's cache and gives the very package a full build gives; a changed case, template or damaged entry is never
taken; the cache stays within its bound and never fails a build."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from kunnan_docs.core.casefile import read_case
from kunnan_docs.core.labels import Outcome
from kunnan_docs.core.resources import TEMPLATES_ENV, data_dir
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.forms.fill import forms_for
from kunnan_docs.forms.pdf import Box
from kunnan_docs.package import build as build_module
from kunnan_docs.package.formcache import FOLDER, FormCache, Typeset, form_key
from kunnan_docs.package.layout import HISTORY, INPUT_DIR, STATE_DIR, safe_name
from kunnan_docs.pipeline import process_case
from kunnan_docs.scan.filing import scan_in

from .conftest import EXIT_EXAMPLE
from .scanner_sim import encoded, pages_of, scan, scanner_pdf

EXIT_NO = "CD510104-2018-0112"


def _printed_case(tmp_path: Path) -> Path:
    """The exit example as just printed: none of its forms signed yet."""
    folder = tmp_path / "case"
    shutil.copytree(EXIT_EXAMPLE, folder)
    case_file = folder / "case.json"
    data = json.loads(case_file.read_text(encoding="utf-8"))
    data["attachments"] = [a for a in data["attachments"] if not a.get("signed")]
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return case_file


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _no_typesetting(*args: object) -> tuple[bytes, list[Box]]:
    raise AssertionError("a form was typeset again although it was kept")


def test_a_rebuild_after_scan_in_takes_kept_forms_and_equals_a_full_build(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    calendar = WorkCalendar()
    kept, fresh = tmp_path / "kept", tmp_path / "fresh"
    first = process_case(_printed_case(tmp_path), kept, calendar)
    assert first.outcome is Outcome.AWAITING_SIGNATURE
    documents = sorted((kept / safe_name(EXIT_NO) / "documents").glob("*.pdf"))
    assert len(list((kept / STATE_DIR / FOLDER).rglob("*.form"))) == len(documents)  # one entry a form
    assert (kept / STATE_DIR / FOLDER).stat().st_mode & 0o777 == 0o700  # personal data: the owner's only
    signed = [encoded(scan(page)) for pdf in documents for page in pages_of(pdf)]
    scan_in([scanner_pdf(signed, tmp_path / "scan0001.pdf")], kept, calendar, lambda files: [])  # filed only
    shutil.copytree(kept, fresh, ignore=shutil.ignore_patterns(FOLDER))  # the same outbox without kept forms
    case_file = next((kept / safe_name(EXIT_NO) / INPUT_DIR).glob("*.json"))

    full = process_case(fresh / case_file.relative_to(kept), fresh, calendar)
    monkeypatch.setattr(build_module, "render_with_boxes", _no_typesetting)
    rebuilt = process_case(case_file, kept, calendar)

    assert rebuilt.outcome is full.outcome is Outcome.COMPLETE  # every signed original came in
    assert _files(kept / safe_name(EXIT_NO)) == _files(fresh / safe_name(EXIT_NO))
    assert (kept / HISTORY / safe_name(EXIT_NO) / "第1版").is_dir()  # published as any rebuild: a new version


def test_a_form_is_kept_under_everything_that_decides_its_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = read_case(EXIT_EXAMPLE / "case.json")
    form = forms_for(case, WorkCalendar())[0]
    key = form_key(form, EXIT_NO)
    assert key == form_key(forms_for(read_case(EXIT_EXAMPLE / "case.json"), WorkCalendar())[0], EXIT_NO)
    assert form_key(form, "CD510104-2018-0113") != key
    name = next(n for n in form.spec.fields if form.values.get(n))
    changed = type(form)(form.spec, form.date, {**form.values, name: form.values[name] + "。"}, form.seq)
    assert form_key(changed, EXIT_NO) != key
    own = tmp_path / "templates"  # a clerk's own Word templates, one byte different
    shutil.copytree(data_dir("templates"), own)
    template = next(own.glob(f"{form.spec.key}_*.docx"))
    template.write_bytes(template.read_bytes() + b"\0")
    monkeypatch.setenv(TEMPLATES_ENV, str(own))
    assert form_key(form, EXIT_NO) != key
    template.unlink()
    assert form_key(form, EXIT_NO) is None  # not kept: typesetting it says what is wrong


def _typeset(n: int) -> Typeset:
    return Typeset(b"%PDF-" + bytes([n]) * 300, b"PK" + bytes([n]) * 200, [Box("sign", 1, 1.5, 2.0, 30, 40.25)])


def test_a_damaged_or_misplaced_entry_is_never_taken(tmp_path: Path) -> None:
    cache = FormCache(tmp_path / "forms")
    key, other = "a" * 64, "a" * 63 + "b"
    cache.put(key, _typeset(1))
    assert cache.get(key) == _typeset(1)
    path = tmp_path / "forms" / "a" / f"{key}.form"
    whole = path.read_bytes()
    for damaged in (whole[:-1], whole[:-5] + b"XXXXX", whole[:20], whole.replace(b"%PDF-", b"%PDF+")):
        path.write_bytes(damaged)
        assert cache.get(key) is None and not path.exists()  # a miss, and removed
    (path.parent / f"{other}.form").write_bytes(whole)  # an entry copied under another key
    assert cache.get(other) is None


def test_the_cache_is_bounded_and_keeps_what_was_used_last(tmp_path: Path) -> None:
    cache = FormCache(tmp_path / "forms", shard_entries=2)
    keys = [f"{shard:x}{n:063x}" for shard in range(16) for n in range(5)]
    for n, key in enumerate(keys):
        cache.put(key, _typeset(n))
    assert all(len(list(shard.glob("*.form"))) <= 2 for shard in (tmp_path / "forms").iterdir())
    assert len(list((tmp_path / "forms").rglob("*.form"))) == 32
    old, used, new = "f" + "1" * 63, "f" + "2" * 63, "f" + "3" * 63
    shard = tmp_path / "forms" / "f"
    shutil.rmtree(shard)
    cache.put(old, _typeset(1))
    cache.put(used, _typeset(2))
    os.utime(shard / f"{old}.form", ns=(10**18, 10**18))  # 2001
    os.utime(shard / f"{used}.form", ns=(10**9, 10**9))  # 1970: the older of the two …
    assert cache.get(used) == _typeset(2)  # … until it is used
    cache.put(new, _typeset(3))
    assert sorted(p.stem for p in shard.glob("*.form")) == [used, new]


def test_a_cache_that_cannot_be_written_changes_nothing(tmp_path: Path) -> None:
    calendar = WorkCalendar()
    outbox = tmp_path / "outbox"
    (outbox / STATE_DIR).mkdir(parents=True)
    (outbox / STATE_DIR / FOLDER).write_bytes(b"")  # a file where the cache's folder would be
    result = process_case(_printed_case(tmp_path), outbox, calendar)
    assert result.outcome is Outcome.AWAITING_SIGNATURE
    assert (outbox / STATE_DIR / FOLDER).read_bytes() == b""
    assert FormCache(outbox / STATE_DIR / FOLDER).get("0" * 64) is None
