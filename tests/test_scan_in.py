"""The round trip, read back: our own printed forms, scanned as an office scanner would (several families shuffled,
pages turned, skewed, noisy, black-and-white, a page missing, one twice, one unreadable, one outdated), filed by
`scan-in` into their packages, which still verify."""

from __future__ import annotations

import io
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import img2pdf
import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image
from reportlab.pdfgen.canvas import Canvas

from kunnan_docs.cli import main
from kunnan_docs.core.casefile import read_case
from kunnan_docs.core.resources import load_json
from kunnan_docs.core.workcal import WorkCalendar
from kunnan_docs.errors import ExitCode
from kunnan_docs.forms import qr
from kunnan_docs.forms.fill import forms_for
from kunnan_docs.forms.pdf import render_pdf
from kunnan_docs.inbox.ledger import Ledger
from kunnan_docs.package.layout import HISTORY, LEDGER, STATE_DIR, safe_name
from kunnan_docs.package.pageimage import single_image
from kunnan_docs.package.signed import originals_for
from kunnan_docs.package.verify import verify_folder
from kunnan_docs.scan.filing import (
    PROCESSED,
    REASON_FILE,
    REVIEW,
    REVIEW_PAGES,
    REVIEW_PDF,
    scan_in,
    waiting_forms,
)
from kunnan_docs.scan.folder import ScannerFolder
from kunnan_docs.scan.pages import read_scan

from .conftest import CANCELLED_EXAMPLE, EXIT_EXAMPLE, FILING_EXAMPLE, REFILED_EXAMPLE, set_pointer
from .scanner_sim import (
    Spoil,
    code_sheet,
    duplex_back,
    encoded,
    flate_bomb_pdf,
    jpeg_claiming,
    pages_of,
    phone_photo,
    red_seal,
    scan,
    scanner_pdf,
    two_up,
    with_jpeg_claiming,
)

EXIT_NO, FILING_NO, REFILED_NO = "CD510104-2018-0112", "CD510108-2019-0037", "CD510107-2024-0008"
LONG_REASON = "".join(f"第{i}句:企业停产,收入骤减。" for i in range(70))  # makes the filing survey two pages


def _case(example: Path, folder: Path, edits: dict[str, object] | None = None) -> Path:
    shutil.copytree(example, folder)
    case_file = folder / "case.json"
    data = json.loads(case_file.read_text(encoding="utf-8"))
    data["attachments"] = [a for a in data["attachments"] if not a.get("signed")]  # just printed: nothing signed yet
    for pointer, value in (edits or {}).items():
        set_pointer(data, pointer, value)
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return case_file


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three families built into one outbox; a scanner folder beside it."""
    root = tmp_path_factory.mktemp("roundtrip")
    cases = [_case(EXIT_EXAMPLE, root / "exit"), _case(FILING_EXAMPLE, root / "filing", {"/hardship_reason": LONG_REASON}),
             _case(REFILED_EXAMPLE, root / "refiled")]
    outbox = root / "outbox"
    assert main(["build", *map(str, cases), "-o", str(outbox)]) == ExitCode.AWAITING_SIGNATURE
    scanner = root / "inbox" / "扫描件"
    scanner.mkdir(parents=True)
    pristine = root / "pristine"  # as built: the tests that file into `outbox` must not change what others copy
    shutil.copytree(outbox, pristine, symlinks=True)
    return {"root": root, "outbox": outbox, "pristine": pristine, "scanner": scanner, "refiled_case": cases[2]}


def _printed(outbox: Path, archive_no: str) -> dict[str, list[pdfium.PdfPage]]:
    """The generated forms in the published package, as the clerk prints them, by form key."""
    docs = outbox / safe_name(archive_no) / "documents"
    printed = {}
    for pdf in sorted(docs.glob("*.pdf")):
        pages = pages_of(pdf)
        code = qr.parse(qr.read(pages[0].render(scale=2).to_pil())[0].text)
        assert code
        printed[code.form_key] = pages
    return printed


def _blank_scan(dpi: int = 200) -> bytes:
    """A page with no code at all: a scanned sheet of plain paper with a smudge."""
    img = Image.new("L", (int(8.27 * dpi), int(11.69 * dpi)), 235)
    img.paste(90, (300, 400, 900, 700))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=50, dpi=(dpi, dpi))
    return buf.getvalue()


def _tiff(images: list[Image.Image], path: Path, dpi: int) -> Path:
    images[0].save(path, "TIFF", compression="group4", save_all=True, append_images=images[1:], dpi=(dpi, dpi))
    return path


def _codes_of_stored(pdf: Path) -> list[tuple[str, int, int]]:
    """Each stored page read back as a clerk's viewer shows it (with its /Rotate): form, page, and how it is turned."""
    doc = pdfium.PdfDocument(pdf)
    found = []
    for i in range(len(doc)):
        [hit] = qr.read(doc[i].render(scale=150 / 72, grayscale=True).to_pil())
        code = qr.parse(hit.text)
        assert code
        found.append((code.form_key, code.page, hit.turned))
    return found


def test_shuffled_spoiled_scans_of_three_families_land_where_they_belong(world: dict[str, Path],
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    outbox, scanner = world["outbox"], world["scanner"]
    exit_forms, filing_forms = _printed(outbox, EXIT_NO), _printed(outbox, FILING_NO)
    refiled_forms = _printed(outbox, REFILED_NO)
    assert len(filing_forms["annex3"]) == 2

    # File A: a colour/grey scanner PDF of JPEG pages, three families shuffled, every way a sheet can go wrong.
    spoils = [Spoil(dpi=150), Spoil(dpi=300, turn=180), Spoil(turn=90), Spoil(skew=3, noise=20),
              Spoil(skew=-3, quality=15), Spoil(turn=270, noise=10)]
    sheets = [(page, spoil) for page, spoil in zip([p[0] for p in exit_forms.values()], spoils, strict=True)]
    sheets.append((exit_forms["annex4"][0], Spoil(dpi=200)))  # the same sheet scanned twice
    case = read_case(world["refiled_case"])
    case.data["hardship_reason"] += "(已更正)"  # a print made before the case was corrected
    outdated = pages_of(render_pdf(forms_for(case)[0], case.archive_no))[0]
    sheets.append((outdated, Spoil()))
    random.Random(7).shuffle(sheets)
    jpegs = [encoded(scan(page, spoil, seed=i), spoil) for i, (page, spoil) in enumerate(sheets)]
    jpegs.insert(3, _blank_scan())
    file_a = scanner_pdf(jpegs, scanner / "scan0001.pdf")

    # File B: black-and-white multi-page TIFF (CCITT G4) at 300 dpi: the filing survey's first page, the refiled one.
    bw = Spoil(dpi=300, bw=True)
    file_b = _tiff([scan(filing_forms["annex3"][0], bw), scan(refiled_forms["annex3"][0], Spoil(dpi=300, bw=True,
                                                                                                 turn=180))],
                   scanner / "scan0002.tif", 300)

    assert main(["scan-in", str(file_a), str(file_b), "-o", str(outbox)]) == ExitCode.INCOMPLETE
    assert not list(scanner.glob("scan*")), "the scanner files moved on"
    assert sorted(p.name for p in (scanner / PROCESSED).iterdir()) == ["scan0001.pdf", "scan0002.tif"]

    exit_originals = originals_for(outbox, EXIT_NO)
    assert sorted(exit_originals) == ["annex3", "annex4", "annex5", "annex6", "annex7-1", "annex7-2"]
    for key, original in exit_originals.items():
        assert _codes_of_stored(original.pdf) == [(key, 1, 0)], "straightened by /Rotate"
        assert original.source == "scan0001.pdf"
    assert sorted(originals_for(outbox, REFILED_NO)) == ["annex3"]
    assert originals_for(outbox, REFILED_NO)["annex3"].source == "scan0002.tif"
    assert originals_for(outbox, FILING_NO) == {}, "page 2 of the filing survey is still missing"
    assert waiting_forms(outbox) == [f"{FILING_NO} 附件3(共2页):已收到第1页,缺第2页"]
    Ledger(outbox / STATE_DIR / LEDGER).close()
    capsys.readouterr()
    assert main(["status", "--outbox", str(outbox)]) == ExitCode.OK
    assert f"签章原件缺页:1 份\n    {FILING_NO} 附件3(共2页):已收到第1页,缺第2页" in capsys.readouterr().out

    # Lossless: the stored pages hold the scanner's JPEG bytes unchanged.
    scanned_jpegs = {bytes(img.read_raw_bytes()) for p in pikepdf.open(scanner / PROCESSED / "scan0001.pdf").pages
                     for img in p.get_images().values()}
    for original in exit_originals.values():
        with pikepdf.open(original.pdf) as pdf:
            [image] = pdf.pages[0].get_images().values()
            assert bytes(image.read_raw_bytes()) in scanned_jpegs

    # Review: the unreadable page and the outdated print, with reasons; nothing else.
    [review] = [p for p in (scanner / REVIEW).iterdir()]
    reasons = (review / REASON_FILE).read_text(encoding="utf-8-sig")
    assert "第4页:未能识别二维码" in reasons and "旧版打印件" in reasons and REFILED_NO in reasons
    assert len(pikepdf.open(review / REVIEW_PDF).pages) == 2

    # Rebuilt: a new version for each package that received originals; the old one kept; verify agrees.
    for archive_no in (EXIT_NO, REFILED_NO):
        assert (outbox / HISTORY / safe_name(archive_no) / "第1版").is_dir()
        assert verify_folder(outbox / safe_name(archive_no)) == []
    assert not (outbox / HISTORY / safe_name(FILING_NO)).exists()

    # File C: the missing page, alone, upside down, as a single JPEG; the form is complete now.
    file_c = scanner / "IMG_0003.jpg"
    file_c.write_bytes(encoded(scan(filing_forms["annex3"][1], Spoil(turn=180)), Spoil()))
    assert main(["scan-in", str(file_c), "-o", str(outbox)]) == ExitCode.OK
    filing = originals_for(outbox, FILING_NO)["annex3"]
    assert _codes_of_stored(filing.pdf) == [("annex3", 1, 0), ("annex3", 2, 0)]
    assert filing.source == "scan0002.tif、IMG_0003.jpg" and filing.pages == [1, 1]
    assert waiting_forms(outbox) == []
    assert verify_folder(outbox / safe_name(FILING_NO)) == []


def test_pages_read_fast_path_and_rendered_path_alike(tmp_path: Path) -> None:
    """A page that is not one image (a PDF printed to file, a scan with a text layer) is rendered and read too."""
    case = read_case(EXIT_EXAMPLE / "case.json")
    form = forms_for(case)[1]
    vector = tmp_path / "printed.pdf"
    vector.write_bytes(render_pdf(form, case.archive_no))
    with pikepdf.open(vector, allow_overwriting_input=True) as pdf:
        pdf.pages[0].obj.Rotate = 90
        pdf.save(vector)
    [page] = read_scan(vector).pages
    assert page.code and page.code.form_key == "annex4" and page.rotate == 0


def test_single_colour_pages_png_and_600_dpi_jpeg(tmp_path: Path) -> None:
    case = read_case(EXIT_EXAMPLE / "case.json")
    page = pages_of(render_pdf(forms_for(case)[2], case.archive_no))[0]
    png = tmp_path / "page.png"
    scan(page, Spoil(dpi=150, colour=True, turn=90)).save(png, dpi=(150, 150))
    jpeg = tmp_path / "page.jpg"
    jpeg.write_bytes(encoded(scan(page, Spoil(dpi=600, colour=True)), Spoil(dpi=600)))
    for path, rotate in ((png, 270), (jpeg, 0)):
        [read] = read_scan(path).pages
        assert read.code and (read.code.form_key, read.code.page, read.rotate) == ("annex5", 1, rotate)


def test_pages_waiting_from_an_outdated_print_stop_waiting(world: dict[str, Path], tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    shutil.copytree(world["pristine"], outbox, ignore=shutil.ignore_patterns("_签章原件", HISTORY))
    old_first_page = _printed(outbox, FILING_NO)["annex3"][0]

    def rebuild(case_files: list[Path]) -> list[str]:
        return ["rebuilt"] * len(case_files)

    scan_in([scanner_pdf([encoded(scan(old_first_page))], tmp_path / "a.pdf")], outbox, WorkCalendar(), rebuild)
    assert waiting_forms(outbox) == [f"{FILING_NO} 附件3(共2页):已收到第1页,缺第2页"]
    case_file = outbox / safe_name(FILING_NO) / "input" / "case.json"
    data = json.loads(case_file.read_text(encoding="utf-8"))
    data["hardship_reason"] = "企业停产,收入骤减。"  # corrected: the survey fits one page now
    case_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    case = read_case(case_file)
    new = pages_of(render_pdf(forms_for(case)[0], case.archive_no))
    report = scan_in([scanner_pdf([encoded(scan(p)) for p in new], tmp_path / "b.pdf")], outbox, WorkCalendar(),
                     rebuild)
    assert [f.form_key for f in report.filed] == ["annex3"] and waiting_forms(outbox) == []
    assert any(n.startswith("旧版") and "a.pdf 第1页" in n for n in report.notes)


def test_crash_after_filing_before_rebuild_is_finished_by_the_next_run(world: dict[str, Path], tmp_path: Path) -> None:
    """A run killed after its pages were filed and the scanner file moved: the journal makes the next run rebuild."""
    outbox = world["outbox"]
    survey = _printed(outbox, EXIT_NO)["annex5"][0]
    scanner = tmp_path / "扫描件"
    scanner.mkdir()
    scan_file = scanner_pdf([encoded(scan(survey))], scanner / "again.pdf")
    shutil.rmtree(outbox / "_签章原件" / safe_name(EXIT_NO), ignore_errors=True)  # filed by a test before, if any
    rebuilt: list[Path] = []

    def dies(case_files: list[Path]) -> list[str]:
        raise KeyboardInterrupt  # stands for kill -9 in the middle of the rebuild

    with pytest.raises(KeyboardInterrupt):
        scan_in([scan_file], outbox, WorkCalendar(), dies)
    assert not scan_file.exists() and (scanner / PROCESSED / "again.pdf").exists()
    assert "annex5" in originals_for(outbox, EXIT_NO)
    def rebuild(case_files: list[Path]) -> list[str]:
        rebuilt.extend(case_files)
        return ["ok"] * len(case_files)

    report = scan_in([], outbox, WorkCalendar(), rebuild)
    assert report.rebuilt == [EXIT_NO] and len(rebuilt) == 1
    assert scan_in([], outbox, WorkCalendar(), rebuild).rebuilt == []


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_kill_9_at_any_moment_loses_nothing(world: dict[str, Path], tmp_path: Path) -> None:
    """A real `scan-in` process killed with SIGKILL as soon as it has filed a form, and as soon as it has written
    its journal, then run again: every form ends filed once, the scanner file in the processed area, the package
    rebuilt and verified."""
    printed = _printed(world["outbox"], EXIT_NO)
    sheets = [encoded(scan(printed[key][0], Spoil(turn=turn))) for key, turn in (("annex6", 180), ("annex7-1", 0))]
    command = [sys.executable, "-m", "kunnan_docs", "scan-in"]
    for moment in ("annex6.json", ".journal/*.json"):
        outbox, scanner = tmp_path / f"outbox-{moment[:3]}", tmp_path / f"scanner-{moment[:3]}"
        shutil.copytree(world["outbox"], outbox, ignore=shutil.ignore_patterns("_签章原件", HISTORY))
        scanner.mkdir()
        scan_file = scanner_pdf(sheets, scanner / "scan.pdf")
        store = outbox / "_签章原件"
        proc = subprocess.Popen([*command, str(scan_file), "-o", str(outbox)], stdout=subprocess.DEVNULL)
        while proc.poll() is None and not any(store.glob(f"*/{moment}")) and not any(store.glob(moment)):
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL, "killed in the middle of its work, not after it"
        rest = [str(scan_file)] if scan_file.exists() else []
        assert subprocess.run([*command, *rest, "-o", str(outbox)], stdout=subprocess.DEVNULL).returncode == 0
        assert sorted(originals_for(outbox, EXIT_NO)) == ["annex6", "annex7-1"]
        assert list(scanner.iterdir()) == [scanner / PROCESSED]
        assert [p.name for p in (scanner / PROCESSED).iterdir()] == ["scan.pdf"]
        assert not list((store / ".journal").iterdir())
        assert (outbox / HISTORY / safe_name(EXIT_NO) / "第1版").is_dir()
        assert verify_folder(outbox / safe_name(EXIT_NO)) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table in /proc (Linux)")
def test_the_pool_of_a_killed_scan_in_does_not_outlive_it(world: dict[str, Path], tmp_path: Path) -> None:
    """A long stack is read on a process pool started with the command, forked from it once it has loaded what they
    need (on Linux: they carry its command line); `scan-in` killed with SIGKILL while its pool reads: the pool's
    processes end too, instead of waiting for work forever."""
    from kunnan_docs.scan.pages import PARALLEL_PAGES

    printed = _printed(world["outbox"], EXIT_NO)
    sheets = [encoded(scan(printed[key][0], Spoil(turn=turn))) for key in printed for turn in (0, 180)]
    assert len(sheets) >= PARALLEL_PAGES
    outbox = tmp_path / "outbox"
    shutil.copytree(world["pristine"], outbox, symlinks=True)
    (tmp_path / "扫描件").mkdir()
    scan_file = scanner_pdf(sheets, tmp_path / "扫描件" / "scan.pdf")
    proc = subprocess.Popen([sys.executable, "-m", "kunnan_docs", "scan-in", str(scan_file), "-o", str(outbox),
                             "--workers", "2"], stdout=subprocess.DEVNULL)
    pool: list[int] = []
    deadline = time.monotonic() + 60
    while proc.poll() is None and len(pool) < 2 and time.monotonic() < deadline:
        pool = [pid for pid in _children(proc.pid) if b"resource_tracker" not in _cmdline(pid)]
        time.sleep(0.01)
    forked = [_cmdline(pid) == _cmdline(proc.pid) for pid in pool]
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL and len(pool) == 2, "killed while its pool works"
    assert forked == [True, True], "forked from the command, not started anew"
    deadline = time.monotonic() + 30
    while [pid for pid in pool if Path(f"/proc/{pid}").exists()] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pool if Path(f"/proc/{pid}").exists()], "the pool's processes ended with it"


def test_scanner_folder_takes_a_file_once_it_has_settled(world: dict[str, Path], tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    shutil.copytree(world["pristine"], outbox, ignore=shutil.ignore_patterns("_签章原件", HISTORY))
    folder = tmp_path / "inbox" / "扫描件"
    folder.mkdir(parents=True)
    rebuilt: list[Path] = []
    scanner = ScannerFolder(folder, outbox, WorkCalendar(), lambda f: rebuilt.append(f) or f"重建 {f.parent.parent.name}",
                            settle=5)
    page = encoded(scan(_printed(outbox, EXIT_NO)["annex4"][0]))
    half = scanner_pdf([page], tmp_path / "whole.pdf").read_bytes()
    (folder / "scan.pdf").write_bytes(half[: len(half) // 2])  # the scanner is still writing
    assert scanner.poll(100.0) == []
    (folder / "scan.pdf").write_bytes(half)
    assert scanner.poll(103.0) == [] and scanner.poll(107.0) == [], "changed at 103: not settled before 108"
    assert scanner.next_due() == 108.0
    assert scanner.poll(108.5) == [f"已归档  {EXIT_NO} 附件4:scan.pdf 第1页"]
    assert [p.name for p in folder.iterdir()] == [PROCESSED] and rebuilt == []
    assert scanner.rebuild({EXIT_NO}) == [] and scanner.pending == {EXIT_NO}, "a worker builds it: the rebuild waits"
    assert scanner.rebuild({FILING_NO}) == [f"重建 {safe_name(EXIT_NO)}"] and len(rebuilt) == 1
    assert scanner.pending == set() and scanner.rebuild(set()) == []
    assert scanner.poll(120.0) == [] and scanner.next_due() is None


def test_a_file_that_is_no_readable_scan_moves_whole_to_review_with_its_reason(world: dict[str, Path],
                                                                             tmp_path: Path) -> None:
    scanner = tmp_path / "扫描件"
    scanner.mkdir()
    broken = scanner / "scan0009.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj garbage")
    assert main(["scan-in", str(broken), "-o", str(world["outbox"])]) == ExitCode.INCOMPLETE
    assert not broken.exists() and not (scanner / PROCESSED).exists()
    folder = scanner / REVIEW / "scan0009"
    assert (folder / "scan0009.pdf").read_bytes() == b"%PDF-1.7\n1 0 obj garbage"
    assert "已损坏" in (folder / REASON_FILE).read_text(encoding="utf-8-sig")


def test_a_scan_with_an_ocr_text_layer_is_still_read_from_its_image(tmp_path: Path) -> None:
    case = read_case(EXIT_EXAMPLE / "case.json")
    sheet = scan(pages_of(render_pdf(forms_for(case)[3], case.archive_no))[0], Spoil(turn=180))
    jpeg = tmp_path / "sheet.jpg"
    jpeg.write_bytes(encoded(sheet))
    sandwich = tmp_path / "ocr.pdf"
    canvas = Canvas(str(sandwich), pagesize=(595.28, 841.89))
    canvas.drawImage(str(jpeg), 0, 0, 595.28, 841.89)
    text = canvas.beginText(72, 720)
    text.setTextRenderMode(3)  # invisible, as OCR software writes it
    text.textLine("scanned text")
    canvas.drawText(text)
    canvas.save()
    with pikepdf.open(sandwich) as pdf:
        assert single_image(pdf.pages[0]) is not None
    [page] = read_scan(sandwich).pages
    assert page.code and page.code.form_key == "annex6" and page.rotate == 180


def test_watch_takes_the_scanner_folder_like_cases(world: dict[str, Path], tmp_path: Path) -> None:
    """`watch --once` files a settled scanner file from inbox/扫描件/ and rebuilds the package; no case is made of it."""
    outbox = tmp_path / "outbox"
    shutil.copytree(world["pristine"], outbox, ignore=shutil.ignore_patterns("_签章原件", HISTORY))
    scanner = tmp_path / "inbox" / "扫描件"
    scanner.mkdir(parents=True)
    scanner_pdf([encoded(scan(_printed(outbox, EXIT_NO)["annex6"][0]))], scanner / "scan.pdf")
    assert main(["watch", str(tmp_path / "inbox"), str(outbox), "--once", "--settle", "0.3", "--workers", "1"]) == 0
    assert sorted(originals_for(outbox, EXIT_NO)) == ["annex6"]
    assert [p.name for p in (scanner / PROCESSED).iterdir()] == ["scan.pdf"]
    assert (outbox / HISTORY / safe_name(EXIT_NO) / "第1版").is_dir()
    assert not list((tmp_path / "rejected").iterdir()) and not list((tmp_path / "processed").iterdir())


def test_watch_holds_a_rebuild_while_a_worker_builds_that_archive_number(world: dict[str, Path],
                                                                         tmp_path: Path) -> None:
    """Signed scans for a package a worker is building are filed at once, but the package is rebuilt only once
    that build is in: two builders never race on one package. The watcher meanwhile builds other cases."""
    outbox, inbox = tmp_path / "outbox", tmp_path / "inbox"
    shutil.copytree(world["outbox"], outbox, ignore=shutil.ignore_patterns("_签章原件", HISTORY))
    (inbox / "扫描件").mkdir(parents=True)
    log, release = tmp_path / "watch.txt", tmp_path / "release"
    env = {**os.environ, "KUNNAN_FAULT_AT": "worker-start", "KUNNAN_FAULT_ONCE": str(tmp_path / "held"),
           "KUNNAN_FAULT_HOLD": str(release)}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kunnan_docs", "watch", str(inbox), str(outbox), "--workers", "2",
                                 "--settle", "0.3", "--rescan", "1"], stdout=out, stderr=subprocess.STDOUT, env=env)
    said = lambda: log.read_text(encoding="utf-8")  # noqa: E731
    try:
        _until(lambda: "开始监视" in said())
        edited = tmp_path / "王淑芬"  # the same case, its file written anew: built again, same forms
        shutil.copytree(world["root"] / "exit", edited)
        data = json.loads((edited / "case.json").read_text(encoding="utf-8"))
        (edited / "case.json").write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
        edited.rename(inbox / edited.name)
        _until(lambda: f"{EXIT_NO} 开始成卷" in said() and (tmp_path / "held").exists())  # a worker holds it
        scanner_pdf([encoded(scan(_printed(outbox, EXIT_NO)["annex6"][0]))], tmp_path / "scan.pdf").rename(
            inbox / "扫描件" / "scan.pdf")
        other = tmp_path / "another"
        _case(FILING_EXAMPLE, other, {"/archive_no": "CD510108-2019-0099", "/worker/id_number": "510108197205141279"})
        other.rename(inbox / "another")
        _until(lambda: "已归档  " in said() and "CD510108-2019-0099 已发布到" in said())
        assert "已重新成卷" not in said(), "rebuilt while a worker was building the same package"
        assert proc.poll() is None
        release.touch()
        _until(lambda: "已重新成卷" in said() and not (inbox / "王淑芬").exists())
    finally:
        release.touch()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    text = said()
    assert text.index(f"{EXIT_NO} 已发布到") < text.index("已重新成卷"), "the rebuild came after the worker's build"
    assert text.count("已重新成卷") == 1
    assert sorted(originals_for(outbox, EXIT_NO)) == ["annex6"]
    report = json.loads((outbox / safe_name(EXIT_NO) / "report.json").read_text(encoding="utf-8"))
    assert [d["signed_original"]["form_key"] for d in _dicts(report) if d.get("signed_original")] == ["annex6"]
    assert sorted(p.name for p in (outbox / HISTORY / safe_name(EXIT_NO)).iterdir()) == ["第1版", "第2版"]
    assert verify_folder(outbox / safe_name(EXIT_NO)) == []
    assert [p.name for p in (inbox / "扫描件" / PROCESSED).iterdir()] == ["scan.pdf"]


def _until(predicate: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _dicts(node: object) -> list[dict]:
    """Every JSON object in a parsed document, depth first."""
    if isinstance(node, list):
        return [d for item in node for d in _dicts(item)]
    if isinstance(node, dict):
        return [node, *(d for value in node.values() for d in _dicts(value))]
    return []


def test_watch_on_a_full_disk_keeps_the_scan_and_files_it_once_space_is_freed(world: dict[str, Path],
                                                                              tmp_path: Path) -> None:
    """The outbox full (KUNNAN_WRITE_FAULT, README "收件夹") while a signed scan comes in: the watcher says so, the
    scanner file stays where it is, and once space is freed the form is filed once and the package rebuilt."""
    outbox, inbox = tmp_path / "outbox", tmp_path / "inbox"
    shutil.copytree(world["outbox"], outbox, ignore=shutil.ignore_patterns("_签章原件", HISTORY, STATE_DIR))
    (inbox / "扫描件").mkdir(parents=True)
    log, full = tmp_path / "watch.txt", tmp_path / "disk-is-full"
    env = {**os.environ, "KUNNAN_WRITE_FAULT": f"ENOSPC:{outbox}", "KUNNAN_WRITE_FAULT_WHILE": str(full)}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kunnan_docs", "watch", str(inbox), str(outbox), "--workers", "1",
                                 "--settle", "0.3", "--rescan", "1", "--state", str(tmp_path / "state")],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    said = lambda: log.read_text(encoding="utf-8")  # noqa: E731
    try:
        _until(lambda: "开始监视" in said())
        full.touch()
        scanner_pdf([encoded(scan(_printed(outbox, EXIT_NO)["annex6"][0]))], tmp_path / "scan.pdf").rename(
            inbox / "扫描件" / "scan.pdf")
        _until(lambda: "磁盘空间不足" in said())
        time.sleep(2)  # retries while the disk stays full
        assert said().count("磁盘空间不足") == 1 and str(outbox) in said()
        assert (inbox / "扫描件" / "scan.pdf").exists() and originals_for(outbox, EXIT_NO) == {}
        assert proc.poll() is None
        full.unlink()
        _until(lambda: "已重新成卷" in said())
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    assert said().count("已归档") == 1 and said().count("已重新成卷") == 1
    assert sorted(originals_for(outbox, EXIT_NO)) == ["annex6"]
    assert [p.name for p in (inbox / "扫描件" / PROCESSED).iterdir()] == ["scan.pdf"]
    assert sorted(p.name for p in (outbox / HISTORY / safe_name(EXIT_NO)).iterdir()) == ["第1版"]
    assert verify_folder(outbox / safe_name(EXIT_NO)) == []
    assert not list((outbox / "_签章原件" / ".journal").iterdir())


# -- scans as offices make them, and as forgers do (issue 22) --------------------------------------------------------

def _copy_outbox(world: dict[str, Path], tmp_path: Path) -> Path:
    """The three families' packages, nothing filed yet."""
    outbox = tmp_path / "outbox"
    shutil.copytree(world["pristine"], outbox, ignore=shutil.ignore_patterns("_签章原件", HISTORY, STATE_DIR))
    return outbox


def _no_rebuild(case_files: list[Path]) -> list[str]:
    return [f"重建 {f.parent.parent.name}" for f in case_files]


def _code_of(outbox: Path, archive_no: str, key: str) -> qr.PageCode:
    code = qr.parse(qr.read(_printed(outbox, archive_no)[key][0].render(scale=2).to_pil())[0].text)
    assert code
    return code


def test_every_field_of_a_code_is_parsed_strictly() -> None:
    good = qr.PageCode(EXIT_NO, "annex7-2", 2, 3, "0123abcd")
    assert qr.parse(good.text) == good
    assert qr.parse(qr.PageCode(EXIT_NO, "annex3", 0, 0, "0123abcd").text), "a Word print's 0/0"
    forged = [f"KD1|{EXIT_NO}|annex3|²/1|0123abcd", f"KD1|{EXIT_NO}|annex3|1/{'9' * 4400}|0123abcd",
              f"KD1|{EXIT_NO}|annex3|1/3000000|0123abcd", f"KD1|{'A' * 2000}|annex3|1/1|0123abcd",
              f"KD1|{EXIT_NO}\n|annex3|1/1|0123abcd", f"KD1|{EXIT_NO}|annex3|١/1|0123abcd", f"KD1|{EXIT_NO}|annex3|2/1|0123abcd",
              f"KD1|{EXIT_NO}|annex3|0/1|0123abcd", f"KD1|{EXIT_NO}|annex3|1/1|0123ABCD", f"KD1|{EXIT_NO}|附件3|1/1|0123abcd",
              f"KD1|{EXIT_NO}|annex3|1/1|0123abcd|x", f"KD1|{EXIT_NO}|annex3|+1/1|0123abcd", "KD1|../x|annex3|1/1|0123abcd"]
    assert [text[:40] for text in forged if qr.parse(text)] == []


def test_code_square_is_where_the_forms_print_their_code() -> None:
    """scan-in and the ink check place a page by where its code is printed (qr.code_square): the renders of every
    form of templates/forms.json agree."""
    forms = [(form, case) for case in (read_case(EXIT_EXAMPLE / "case.json"), read_case(CANCELLED_EXAMPLE / "case.json"))
             for form in forms_for(case)]
    assert {form.spec.key for form, _ in forms} == {f["key"] for f in load_json("templates", "forms.json")["forms"]}
    for form, case in forms:
        [hit] = qr.read(pages_of(render_pdf(form, case.archive_no))[0].render(scale=300 / 72).to_pil())
        code = qr.parse(hit.text)
        assert code
        square = qr.code_square(code)
        assert square, code
        left, top, side = square
        expected = [(left, top), (left + side, top), (left + side, top + side), (left, top + side)]
        found = [(x * 25.4 / 300, y * 25.4 / 300) for x, y in hit.corners]
        assert max(math.dist(a, b) for a, b in zip(expected, found, strict=True)) < 0.3, (code.form_key, found)


def test_a_reused_scanner_name_never_replaces_an_earlier_review(world: dict[str, Path], tmp_path: Path) -> None:
    """Scanners name their files scan0001.pdf every day. The clerk has emptied 已处理/ but not yet looked at
    待核对/scan0001/: the next scan0001.pdf gets a review folder of its own. A file read twice (a crash before it
    moved on) writes its review once."""
    outbox = _copy_outbox(world, tmp_path)
    scanner = tmp_path / "扫描件"
    scanner.mkdir()
    first = scanner_pdf([_blank_scan()], scanner / "scan0001.pdf")
    scan_in([first], outbox, WorkCalendar(), _no_rebuild)
    kept = (scanner / REVIEW / "scan0001" / REVIEW_PDF).read_bytes()
    (scanner / PROCESSED / "scan0001.pdf").unlink()
    smudges = Image.new("L", (1654, 2339), 235)
    smudges.paste(60, (200, 300, 1400, 1900))
    second = scanner_pdf([encoded(smudges), _blank_scan()], scanner / "scan0001.pdf")
    shutil.copy(second, tmp_path / "again.pdf")
    scan_in([second], outbox, WorkCalendar(), _no_rebuild)
    shutil.copy(tmp_path / "again.pdf", second)  # the same file met again (the move was lost in a crash)
    report = scan_in([second], outbox, WorkCalendar(), _no_rebuild)
    assert sorted(p.name for p in (scanner / REVIEW).iterdir()) == ["scan0001", "scan0001-2"]
    assert (scanner / REVIEW / "scan0001" / REVIEW_PDF).read_bytes() == kept
    assert len(pikepdf.open(scanner / REVIEW / "scan0001-2" / REVIEW_PDF).pages) == 2
    assert report.review == [scanner / REVIEW / "scan0001-2"]
    broken = scanner / "scan0001.pdf"
    for _ in range(2):  # a file that is no scan at all: whole, into a folder of its own, beside the others
        broken.write_bytes(b"%PDF-1.7\n1 0 obj garbage")
        scan_in([broken], outbox, WorkCalendar(), _no_rebuild)
    assert sorted(p.name for p in (scanner / REVIEW).iterdir()) == ["scan0001", "scan0001-2", "scan0001-3"]
    assert sorted(p.name for p in (scanner / REVIEW / "scan0001-3").iterdir()) == sorted([
        ".sha256", REASON_FILE, REVIEW_PAGES, "scan0001.pdf", "scan0001-2.pdf"]), "the same bytes again: beside the first, kept"


def test_duplex_blank_backs_are_set_aside_and_listed(world: dict[str, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A duplex scan of one-sided forms: every other page is a blank back (paper grey, the front showing through
    mirrored, its code too, a dark scanner edge). They are listed as 空白页, not sent to review."""
    outbox = _copy_outbox(world, tmp_path)
    printed = _printed(outbox, EXIT_NO)
    fronts = [scan(printed[key][0], Spoil(noise=8), seed=i) for i, key in enumerate(("annex4", "annex6"))]
    pages = [encoded(p) for front in fronts for p in (front, duplex_back(front))]
    (tmp_path / "扫描件").mkdir()
    duplex = scanner_pdf(pages, tmp_path / "扫描件" / "duplex.pdf")
    assert main(["scan-in", str(duplex), "-o", str(outbox)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "空白页  duplex.pdf 第2、4页" in out and "待核对" not in out and "重新打印" not in out
    assert sorted(originals_for(outbox, EXIT_NO)) == ["annex4", "annex6"]
    assert not (tmp_path / "扫描件" / REVIEW).exists()


def test_a_red_seal_over_the_code_and_the_posted_notice_at_150_dpi_are_read(world: dict[str, Path]) -> None:
    printed = _printed(world["outbox"], EXIT_NO)
    colour = scan(printed["annex4"][0], Spoil(colour=True))
    mm = 200 / 25.4
    sealed = red_seal(colour, (colour.width - 30 * mm, colour.height - 20 * mm), 21 * mm)  # over the code
    poster = [encoded(scan(printed["annex5"][0], Spoil(dpi=150, noise=12, skew=i % 3 - 1), seed=i),
                      Spoil(dpi=150, quality=50)) for i in range(9)]
    pages = read_scan(scanner_pdf([encoded(sealed), *poster], world["root"] / "seal-and-posters.pdf")).pages
    assert [(p.code.form_key if p.code else None) for p in pages] == ["annex4"] + ["annex5"] * 9


def test_two_forms_on_one_sheet_are_cut_into_their_halves(world: dict[str, Path], tmp_path: Path) -> None:
    """Printed two pages a sheet: each half is filed as its own form (the same image, each page showing its half),
    on a landscape scan or a sheet turned on the glass. Two families' forms on one sheet go to review naming both."""
    outbox = _copy_outbox(world, tmp_path)
    printed, other = _printed(outbox, EXIT_NO), _printed(outbox, REFILED_NO)
    sheet = two_up(printed["annex4"][0], printed["annex6"][0])
    turned = two_up(printed["annex7-1"][0], printed["annex7-2"][0]).rotate(90, expand=True)
    mixed = two_up(printed["annex3"][0], other["annex3"][0])
    scanner = tmp_path / "扫描件"
    scanner.mkdir()
    path = scanner_pdf([encoded(sheet), encoded(turned), encoded(mixed)], scanner / "2up.pdf")
    report = scan_in([path], outbox, WorkCalendar(), _no_rebuild)
    assert sorted((f.form_key, tuple(f.sources)) for f in report.filed) == [
        ("annex4", (("2up.pdf", 1),)), ("annex6", (("2up.pdf", 1),)), ("annex7-1", (("2up.pdf", 2),)),
        ("annex7-2", (("2up.pdf", 2),))]
    originals = originals_for(outbox, EXIT_NO)
    for key in ("annex4", "annex6", "annex7-1", "annex7-2"):
        assert _codes_of_stored(originals[key].pdf) == [(key, 1, 0)], "the half shows its own form, upright"
        with pikepdf.open(originals[key].pdf) as pdf:
            box = pdf.pages[0].mediabox
            assert sorted(round(float(box[i + 2]) - float(box[i])) for i in (0, 1)) == [421, 595], "half a landscape A4"
    reasons = (scanner / REVIEW / "2up" / REASON_FILE).read_text(encoding="utf-8-sig")
    assert f"第3页:一张纸上有 2 份表单的二维码({EXIT_NO} 附件3第1页、{REFILED_NO} 附件3第1页)" in reasons
    assert "annex3" not in originals and originals_for(outbox, REFILED_NO) == {}


def test_a_phone_photo_is_straightened_onto_a4_and_kept(world: dict[str, Path], tmp_path: Path) -> None:
    """A photo of the sheet on a desk, in perspective, with a 72-dpi header (1058 mm wide as it says): the page is
    found by its code and its edges, mapped onto an upright A4 page, and the photo kept beside it as it came."""
    outbox = _copy_outbox(world, tmp_path)
    corners = ((0.12, 0.10), (0.86, 0.14), (0.90, 0.90), (0.08, 0.86))
    photo = phone_photo(_printed(outbox, EXIT_NO)["annex3"][0], corners)
    path = tmp_path / "IMG_2041.jpg"
    photo.save(path, quality=88, dpi=(72, 72))
    [page] = read_scan(path).pages
    assert page.photo and page.code and page.code.form_key == "annex3"
    report = scan_in([path], outbox, WorkCalendar(), _no_rebuild)
    assert [f.form_key for f in report.filed] == ["annex3"]
    original = originals_for(outbox, EXIT_NO)["annex3"]
    with pikepdf.open(original.pdf) as pdf:
        box = pdf.pages[0].mediabox
        assert (round(float(box[2])), round(float(box[3]))) == (595, 842), "an A4 page"
    [(key, number, turned)] = _codes_of_stored(original.pdf)
    assert (key, number, turned) == ("annex3", 1, 0)
    doc = pdfium.PdfDocument(original.pdf)
    [hit] = qr.read(doc[0].render(scale=200 / 72, grayscale=True).to_pil())
    left, top, side = qr.code_square(page.code)  # type: ignore[misc]
    found = [(x * 25.4 / 200, y * 25.4 / 200) for x, y in hit.corners]
    assert math.dist(found[0], (left, top)) < 3 and math.dist(found[2], (left + side, top + side)) < 3, found
    with pikepdf.open(original.pdf.with_name("annex3.原图.pdf")) as kept:
        [image] = kept.pages[0].get_images().values()
        assert bytes(image.read_raw_bytes()) == (tmp_path / PROCESSED / path.name).read_bytes(), "the photo as it came"


def test_the_paper_is_found_by_its_edges(world: dict[str, Path]) -> None:
    """The page's corners come from the paper's edges, not only from the code (whose 20 mm say little of where a
    297 mm page ends): within 1 % of the photo's size of where the sheet lies."""
    from kunnan_docs.package.geometry import find_paper, page_quad

    corners = ((0.15, 0.08), (0.88, 0.12), (0.86, 0.93), (0.10, 0.88))
    photo = phone_photo(_printed(world["outbox"], EXIT_NO)["annex4"][0], corners, size=(1500, 2000), seed=3)
    [hit] = qr.read(photo.convert("L"))
    code = qr.parse(hit.text)
    assert code
    seed = page_quad(hit.corners, qr.code_square(code), qr.PAGE_MM)  # type: ignore[arg-type]
    found = find_paper(photo, seed)
    assert found
    truth = [(x * 1500, y * 2000) for x, y in corners]
    assert max(math.dist(a, b) for a, b in zip(found, truth, strict=True)) < 20, found


def test_an_absurd_resolution_takes_the_size_the_code_says(world: dict[str, Path], tmp_path: Path) -> None:
    """A 200-dpi scan whose file says 72 dpi would be a page 1058 mm wide: it is filed as the A4 sheet it is."""
    outbox = _copy_outbox(world, tmp_path)
    path = tmp_path / "scan72.jpg"
    path.write_bytes(encoded(scan(_printed(outbox, EXIT_NO)["annex6"][0]), header_dpi=72))
    scan_in([path], outbox, WorkCalendar(), _no_rebuild)
    with pikepdf.open(originals_for(outbox, EXIT_NO)["annex6"].pdf) as pdf:
        box = pdf.pages[0].mediabox
        assert abs(float(box[2]) - 595) < 6 and abs(float(box[3]) - 842) < 6, box


def test_a_stack_rebuilds_each_package_once(world: dict[str, Path], tmp_path: Path) -> None:
    """Two scanner files with forms of the same family, and a journal a killed run left for it: one rebuild."""
    outbox = _copy_outbox(world, tmp_path)
    printed = _printed(outbox, EXIT_NO)
    files = [scanner_pdf([encoded(scan(printed[key][0]))], tmp_path / f"{key}.pdf") for key in ("annex4", "annex6")]
    rebuilt: list[Path] = []

    def rebuild(case_files: list[Path]) -> list[str]:
        rebuilt.extend(case_files)
        return ["ok"] * len(case_files)

    report = scan_in(files, outbox, WorkCalendar(), rebuild)
    assert report.rebuilt == [EXIT_NO] and [f.parent.parent.name for f in rebuilt] == [safe_name(EXIT_NO)]


def test_a_package_rebuilds_as_soon_as_its_forms_are_filed_and_once(world: dict[str, Path], tmp_path: Path) -> None:
    """scan-in starts a package's rebuild on its pool as soon as the stack's forms of that family are filed, while it
    files the next family's and before it writes its journal; the journaled rebuilds then collect those rebuilds
    rather than starting a second one each. Both packages verify."""
    from kunnan_docs.forms.aside import process_pool
    from kunnan_docs.scan.filing import JOURNAL, PoolRebuild

    outbox = _copy_outbox(world, tmp_path)
    exit_forms, refiled = _printed(outbox, EXIT_NO), _printed(outbox, REFILED_NO)
    sheets = [encoded(scan(exit_forms["annex6"][0])), encoded(scan(refiled[min(refiled)][0]))]
    (tmp_path / "扫描件").mkdir()
    scan_file = scanner_pdf(sheets, tmp_path / "扫描件" / "scan.pdf")
    journal = outbox / "_签章原件" / JOURNAL
    seen: list[tuple[str, list[str], bool, bool]] = []

    class Watched(PoolRebuild):
        def begin(self, case_file: Path) -> None:
            archive_no = json.loads(case_file.read_text(encoding="utf-8"))["archive_no"]
            super().begin(case_file)
            seen.append((archive_no, sorted(originals_for(outbox, archive_no)), journal.is_dir() and any(journal.iterdir()),
                         case_file in self.started))

    with process_pool(2) as pool:
        report = scan_in([scan_file], outbox, WorkCalendar(), Watched(outbox, None, pool, early=True))
    assert seen == [(EXIT_NO, ["annex6"], False, True), (REFILED_NO, [min(refiled)], False, True)]
    assert report.rebuilt == [EXIT_NO, REFILED_NO] and len([n for n in report.notes if n.startswith("已重新成卷")]) == 2
    for archive_no in (EXIT_NO, REFILED_NO):
        assert [p.name for p in (outbox / HISTORY / safe_name(archive_no)).iterdir()] == ["第1版"], "rebuilt once"
        assert verify_folder(outbox / safe_name(archive_no)) == []
    assert not any(journal.iterdir())

    # A short stack's pool is not running yet: nothing is started early, and its one package is rebuilt here.
    seen.clear()
    later = scanner_pdf([encoded(scan(exit_forms["annex7-1"][0]))], tmp_path / "扫描件" / "scan2.pdf")
    with process_pool(2) as pool:
        report = scan_in([later], outbox, WorkCalendar(), Watched(outbox, None, pool))
        assert not multiprocessing.active_children(), "no pool process was started for it"
    assert seen == [(EXIT_NO, ["annex6", "annex7-1"], False, False)] and report.rebuilt == [EXIT_NO]
    assert verify_folder(outbox / safe_name(EXIT_NO)) == []


def test_forged_codes_cost_nothing_and_a_genuine_scan_still_files(world: dict[str, Path], tmp_path: Path) -> None:
    """Forged or damaged codes (a page total of 3,000,000 with the real fingerprint, 4,400 digits, a superscript
    digit, a 2,000-character number) go to review as foreign codes; `status` stays small; the genuine scan files."""
    outbox = _copy_outbox(world, tmp_path)
    real = _code_of(outbox, EXIT_NO, "annex6")
    forged = [f"KD1|{EXIT_NO}|annex6|1/3000000|{real.fingerprint}", f"KD1|{EXIT_NO}|annex6|1/{'7' * 4400}|{real.fingerprint}",
              f"KD1|{EXIT_NO}|annex6|²/1|{real.fingerprint}", f"KD1|{'CD' * 1000}|annex6|1/1|{real.fingerprint}",
              f"KD1|{EXIT_NO}|annex6|1/30|{real.fingerprint}"]  # within bounds: waits for 29 pages that never come
    scanner = tmp_path / "扫描件"
    scanner.mkdir()
    path = scanner_pdf([encoded(code_sheet(text)) for text in forged], scanner / "forged.pdf")
    proc = subprocess.run([sys.executable, "-m", "kunnan_docs", "scan-in", str(path), "-o", str(outbox)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == ExitCode.INCOMPLETE, proc.stderr
    assert len(proc.stdout) < 2000 and "1/3000000" not in proc.stdout
    reasons = (scanner / REVIEW / "forged" / REASON_FILE).read_text(encoding="utf-8-sig")
    assert all(f"第{n}页:二维码不是本系统打印的表单二维码" in reasons for n in (1, 2, 3, 4)) and len(reasons) < 2000
    status = subprocess.run([sys.executable, "-m", "kunnan_docs", "status", "--outbox", str(outbox)],
                            capture_output=True, text=True, check=True).stdout
    assert len(status) < 2000 and f"{EXIT_NO} 附件6(共30页):已收到第1页" in status
    genuine = scanner_pdf([encoded(scan(_printed(outbox, EXIT_NO)["annex6"][0]))], scanner / "scan0002.pdf")
    report = scan_in([genuine], outbox, WorkCalendar(), _no_rebuild)
    assert [(f.form_key, f.sources) for f in report.filed] == [("annex6", [("scan0002.pdf", 1)])]
    assert any(n.startswith("旧版") and "forged.pdf 第5页" in n for n in report.notes)
    assert waiting_forms(outbox) == []


_PEAK = """import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss // 1024)
sys.exit(os.waitstatus_to_exitcode(status))"""


def _rss_of(command: list[str]) -> tuple[int, int]:
    """Run a real process; its exit code and its peak memory in MB (its own and its pool's, from wait4). It is
    started by a small process of its own: Linux keeps a process's peak across exec, so a child forked straight
    from this test process would report the test process's size."""
    proc = subprocess.run([sys.executable, "-c", _PEAK, *command], stdout=subprocess.PIPE, text=True)
    return proc.returncode, int(proc.stdout.strip().splitlines()[-1])


def test_decompression_bombs_go_to_review_in_little_memory(world: dict[str, Path], tmp_path: Path) -> None:
    """A 110 KB PDF holding a 30000² image, a 40000² JPEG (in a PDF and as a file), a Flate stream that inflates
    far beyond its image, a page that would be rendered with such an image: each goes to review with a Chinese
    reason, never decoded; the genuine page beside them is filed. The process stays small and exits 3."""
    outbox = _copy_outbox(world, tmp_path)
    scanner = tmp_path / "扫描件"
    scanner.mkdir()
    flate_bomb_pdf(scanner / "bomb30000.pdf", 30000)
    assert (scanner / "bomb30000.pdf").stat().st_size < 200_000
    flate_bomb_pdf(scanner / "liar.pdf", 20000, claimed=2000)
    flate_bomb_pdf(scanner / "rendered.pdf", 30000, with_text=True)
    (scanner / "header40000.jpg").write_bytes(jpeg_claiming(40000, 40000))
    genuine = encoded(scan(_printed(outbox, EXIT_NO)["annex6"][0]))
    with_jpeg_claiming([genuine], 40000, 40000, scanner / "mixed.pdf")
    files = sorted(str(p) for p in scanner.iterdir())
    code, peak = _rss_of([sys.executable, "-m", "kunnan_docs", "scan-in", *files, "-o", str(outbox)])
    assert code == ExitCode.INCOMPLETE and peak < 400, peak
    reasons = {p.name: (p / REASON_FILE).read_text(encoding="utf-8-sig") for p in (scanner / REVIEW).iterdir()}
    assert sorted(reasons) == ["bomb30000", "header40000", "liar", "mixed", "rendered"]
    assert "30000×30000" in reasons["bomb30000"] and "超出处理上限" in reasons["bomb30000"]
    assert "疑似压缩炸弹" in reasons["liar"] and "30000×30000" in reasons["rendered"]
    assert "像素太多" in reasons["header40000"] and "第1页" in reasons["mixed"] and "40000×40000" in reasons["mixed"]
    assert sorted(originals_for(outbox, EXIT_NO)) == ["annex6"]


def test_a_watcher_outlives_forged_damaged_and_huge_scans(world: dict[str, Path], tmp_path: Path) -> None:
    """`watch --once`, twice (a watcher that died on such a file would die again on every start): the forged and
    damaged files go to review, a 2,000-character number holds nothing, the genuine scan is filed and rebuilt."""
    outbox, inbox = _copy_outbox(world, tmp_path), tmp_path / "inbox"
    scanner = inbox / "扫描件"
    scanner.mkdir(parents=True)
    real = _code_of(outbox, EXIT_NO, "annex6")
    scanner_pdf([encoded(code_sheet(f"KD1|{'CD' * 1000}|annex6|1/1|{real.fingerprint}")),
                 encoded(code_sheet(f"KD1|{EXIT_NO}|annex6|²/1|{real.fingerprint}"))], scanner / "forged.pdf")
    flate_bomb_pdf(scanner / "bomb.pdf", 30000)
    (scanner / "truncated.pdf").write_bytes(scanner_pdf([encoded(scan(_printed(outbox, EXIT_NO)["annex4"][0]))],
                                                        tmp_path / "whole.pdf").read_bytes()[:3000])
    scanner_pdf([encoded(scan(_printed(outbox, EXIT_NO)["annex6"][0]))], scanner / "scan0001.pdf")
    command = [sys.executable, "-m", "kunnan_docs", "watch", str(inbox), str(outbox), "--once", "--settle", "0.3",
               "--workers", "1"]
    for _ in range(2):
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in (scanner / REVIEW).iterdir()) == ["bomb", "forged", "truncated"]
    assert sorted(p.name for p in (scanner / PROCESSED).iterdir()) == ["bomb.pdf", "forged.pdf", "scan0001.pdf"]
    assert sorted(originals_for(outbox, EXIT_NO)) == ["annex6"]
    assert (outbox / HISTORY / safe_name(EXIT_NO) / "第1版").is_dir()
    assert sorted(p.name for p in scanner.iterdir()) == [PROCESSED, REVIEW], "nothing left holding the inbox"


def test_a_long_file_is_read_on_the_pool_as_here(world: dict[str, Path], tmp_path: Path) -> None:
    """A file of PARALLEL_PAGES pages or more is read on the process pool too: the same codes, turns and blanks, and
    the same ink checks, made as each page is read against the print kept in the outbox."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from kunnan_docs.scan.pages import PARALLEL_PAGES, _read_aside
    from kunnan_docs.scan.prints import Prints

    printed = _printed(world["outbox"], EXIT_NO)
    sheets = [encoded(scan(printed[key][0], Spoil(turn=turn))) for key in printed for turn in (0, 180)]
    sheets.append(encoded(duplex_back(scan(printed["annex3"][0]))))
    assert len(sheets) >= PARALLEL_PAGES
    path = scanner_pdf(sheets, tmp_path / "long.pdf")
    prints = Prints(world["pristine"], WorkCalendar())
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        assert len(_read_aside(path, pool, prints)()) == len(sheets)
        aside = read_scan(path, pool, prints).pages
    here = read_scan(path, None, prints).pages
    assert [(p.code, p.rotate, p.blank, p.ink) for p in aside] == [(p.code, p.rotate, p.blank, p.ink) for p in here]
    assert here[-1].blank and all(p.code for p in here[:-1])
    checked = [p for p in here if p.ink]
    assert len(checked) == len(here) - 1, "every page of a form whose print is kept is checked as it is read"
    assert any(p.ink and p.ink.flags for p in checked) and all(not f.ink for p in checked if p.ink for f in p.ink.flags)


def test_a_signed_attachment_of_two_forms_a_sheet_is_not_used_as_either(world: dict[str, Path]) -> None:
    """A case's own signed scan (not scan-in) with two forms on a sheet: neither is taken as the whole sheet."""
    from kunnan_docs.package.signed import read_signed_attachment

    printed = _printed(world["outbox"], EXIT_NO)
    sheet = two_up(printed["annex4"][0], printed["annex6"][0])
    pdf = pikepdf.open(io.BytesIO(img2pdf.convert([encoded(sheet)], nodate=True)))
    offers, notes = read_signed_attachment(pdf, "签章.pdf", EXIT_NO)
    assert offers == [] and notes == ["签章扫描件“签章.pdf”第1页印有多份表单(附件4第1页、附件6第1页),未入卷。"
                                      "请每张纸只打印一页表单,签字盖章后重新扫描。"]
