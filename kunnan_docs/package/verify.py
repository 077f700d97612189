"""What the district runs on receipt: is the package folder whole, unaltered and self-consistent?

Checks, in order: every file against the manifest (no byte changed, none missing, none added); the
PDF opens; its page count, bookmarks and contents list agree with report.json; the QR codes on the
cover and on the first page of every generated form decode to the archive number (QR only, from the
bottom strip of the page in grey: a handover verifies hundreds of packages).
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2 as pdfium

from kunnan_docs.forms import qr
from kunnan_docs.package.publish import INPUT_PREFIX, MANIFEST, REPORT, safe_name, sha256_file

QR_DPI = 150
QR_STRIP = 64 * 72 / 25.4  # points: the cover's code ends 56 mm above the bottom edge, a form's 30 mm
HANDOVER_MARKER = "handover.json"  # written by handover.py, which imports this module
HANDOVER_PACKAGES = "案卷"


def verify_path(path: Path) -> list[str]:
    """A package folder, a handover folder, or a handover zip: every problem found, in Chinese."""
    if path.is_file() and path.suffix.lower() == ".zip":
        return _verify_zip(path)
    if (path / HANDOVER_MARKER).is_file():
        return _verify_handover(path)
    return verify_folder(path)


def _verify_zip(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf, tempfile.TemporaryDirectory() as tmp:
            names = zf.namelist()
            if any(n.startswith("/") or ".." in Path(n).parts for n in names):
                return [f"压缩包 {path.name} 中有指向包外的文件名,拒绝解压。"]
            tops = {n.split("/", 1)[0] for n in names}
            if len(tops) != 1:
                return [f"压缩包 {path.name} 应只含一个移交文件夹。"]
            zf.extractall(tmp)
            return _verify_handover(Path(tmp) / tops.pop())
    except zipfile.BadZipFile:
        return [f"压缩包 {path.name} 已损坏,无法打开。请要求移交方重新发送。"]


def _verify_handover(folder: Path) -> list[str]:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return [f"移交文件夹缺少清单文件 {MANIFEST}。"]
    problems = _check_manifest(folder, manifest)
    listed = json.loads((folder / HANDOVER_MARKER).read_text(encoding="utf-8")).get("packages", [])
    packages = folder / HANDOVER_PACKAGES
    present = sorted(p for p in packages.iterdir() if p.is_dir()) if packages.is_dir() else []
    names = {p.name for p in present}
    missing = sorted(no for no in listed if safe_name(no) not in names)  # folders carry folder-safe names
    problems += [f"移交清单中的案卷 {no} 不在移交文件夹中。" for no in missing]
    for pkg in present:
        problems += [f"{pkg.name}:{problem}" for problem in verify_folder(pkg)]
    return problems


def verify_folder(folder: Path) -> list[str]:
    """Every problem found, in Chinese; an empty list means the package is sound."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return [f"缺少清单文件 {MANIFEST},无法确认材料是否完整。请要求移交方重新发送整个文件夹。"]
    problems = _check_manifest(folder, manifest)
    try:
        report = json.loads((folder / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [*problems, f"{REPORT} 无法读取({exc})。"]
    pdf_path = folder / f"{safe_name(report['archive_no'])}.pdf"
    try:
        with pikepdf.open(pdf_path) as pdf:
            problems += _check_structure(pdf, report)
    except (OSError, pikepdf.PdfError) as exc:
        return [*problems, f"案卷 PDF {pdf_path.name} 无法打开({str(exc).splitlines()[0][:100]})。"]
    doc = pdfium.PdfDocument(pdf_path)
    try:
        return problems + _check_contents_list(doc, report) + _check_qr(doc, report)
    finally:
        doc.close()


def _check_manifest(folder: Path, manifest: Path) -> list[str]:
    problems: list[str] = []
    listed: set[str] = set()
    for line in manifest.read_text(encoding="utf-8").splitlines():
        digest, _, rel = line.partition("  ")
        if not rel or rel.startswith(INPUT_PREFIX):
            continue  # inputs stay with the archive room; their hashes are for its own records
        listed.add(rel)
        path = folder / rel
        if not path.is_file():
            problems.append(f"缺少文件:{rel}")
        elif sha256_file(path) != digest:
            problems.append(f"文件已被改动(SHA-256 不符):{rel}")
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel != MANIFEST and rel not in listed:
            problems.append(f"多出清单中没有的文件:{rel}")
    return problems


def _check_structure(pdf: pikepdf.Pdf, report: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    pages = report["pages"]
    if len(pdf.pages) != pages["total"]:
        problems.append(f"案卷 PDF 有 {len(pdf.pages)} 页,报告记载 {pages['total']} 页。")
    start = pages["content_start_index"]
    with pdf.open_outline() as outline:
        marks = {item.title.split(".", 1)[0]: item for item in outline.root if "." in item.title}
        objgen = {page.objgen: i for i, page in enumerate(pdf.pages)}
        for entry in report["checklist"]:
            if entry["status"] != "present":
                continue
            mark = marks.get(str(entry["no"]))
            expected = start + entry["documents"][0]["pages"][0] - 1
            target = _destination_index(mark, objgen) if mark else None
            if target != expected:
                problems.append(f"书签与目录不符:清单第{entry['no']}项应从第 {expected + 1} 页(PDF 页序)开始。")
    return problems


def _check_contents_list(doc: pdfium.PdfDocument, report: dict[str, Any]) -> list[str]:
    """The printed contents list (pages between the cover and the first content page) names every range."""
    start = report["pages"]["content_start_index"]
    toc_text = "".join(doc[i].get_textpage().get_text_range() for i in range(1, start))
    return [f"卷内文件目录中找不到清单第{e['no']}项的页号 {e['pages']}。"
            for e in report["checklist"] if e["status"] == "present" and e["pages"] not in toc_text]


def _destination_index(mark: pikepdf.OutlineItem, objgen: dict[tuple[int, int], int]) -> int | None:
    dest = mark.destination
    if isinstance(dest, pikepdf.Array) and len(dest) and isinstance(dest[0], pikepdf.Dictionary):
        return objgen.get(dest[0].objgen)
    return None


def _check_qr(doc: pdfium.PdfDocument, report: dict[str, Any]) -> list[str]:
    """The cover's code names the archive number; each generated form's first page says page 1 of it."""
    archive_no = report["archive_no"]
    start = report["pages"]["content_start_index"]
    wanted = {0: qr.COVER_KEY}
    for entry in report["checklist"]:
        for d in entry["documents"]:
            if d["generated"]:
                wanted[start + d["pages"][0] - 1] = None
    problems = []
    for index, key in sorted(wanted.items()):
        codes = [c for found in read_page_codes(doc[index]) if (c := qr.parse(found.text))]
        if not any(c.archive_no == archive_no and (c.form_key == key if key else c.page == 1) for c in codes):
            problems.append(f"第 {index + 1} 页(PDF 页序)的二维码无法识别或不是档案号 {archive_no}。")
    return problems


def read_page_codes(page: pdfium.PdfPage) -> list[qr.Found]:
    """Our codes sit in the bottom strip of a page: render that strip in grey first, the whole page only if needed."""
    scale = QR_DPI / 72
    strip = max(0.0, page.get_height() - QR_STRIP)
    found = qr.read(page.render(scale=scale, crop=(0, 0, 0, strip), grayscale=True).to_pil())
    return found or qr.read(page.render(scale=scale, grayscale=True).to_pil())
