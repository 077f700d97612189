"""What the district runs on receipt: is the package folder whole, unaltered and self-consistent?

Checks, in order: every file against both manifests, SHA-256 and SM3 (no byte changed, none missing, none
added); report.json has the shape layout.py promises; the PDF opens; its page count and bookmarks agree with
report.json; the metadata XML follows its XSD and agrees with the PDF, report.json and the files' digests; it
and every form that declare PDF/A-2b pass the self-check (package/pdfa.py); no PDF is encrypted or holds
JavaScript, embedded files or links out; the contents list names every page range; the QR codes on the cover
and on the first page of every generated form decode to the archive number (QR only, from the bottom strip of
the page in grey: a handover verifies hundreds of packages); every page renders.
A damaged file is a problem of its package, never an exception: a PDF that does not open or read to its end is
`bad_pdf`. A handover zip is judged from its directory before anything is extracted (zip_refusals).
`examine` keeps, besides the problems, what the 四性检测 report needs (package/inspection.py).
Depends on the package layout only, not on the builder.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import stat
import tempfile
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path, PureWindowsPath

import pikepdf
import pypdfium2 as pdfium

from kunnan_docs.core.zh import page_span
from kunnan_docs.errors import BadPackage, ConfigError
from kunnan_docs.forms import qr
from kunnan_docs.forms.aside import process_pool
from kunnan_docs.package import metadata
from kunnan_docs.package.checks import Check
from kunnan_docs.package.layout import (
    DOCUMENTS,
    HANDOVER_MARKER,
    HANDOVER_PACKAGES,
    MANIFEST,
    MANIFEST_SM3,
    MANIFESTS,
    REPORT,
    ChecklistEntry,
    Report,
    file_digests,
    package_metadata,
    package_pdf,
    read_manifest,
    read_report,
    safe_name,
)
from kunnan_docs.package.pdfa import check_file
from kunnan_docs.privacy import mask_text

logging.getLogger("fontTools").setLevel(logging.ERROR)  # its English warnings on a damaged font; we report the file
PER_WORKER = 4  # packages a verifying process must have at least to be worth its start (about 1 s)
QR_DPI = 150
MAX_PAGE = 1684  # points: a page's longer side, at most A2 (ours are A4), before it is rendered to read its code
QR_STRIP = 64 * 72 / 25.4  # points: the cover's code ends 56 mm above the bottom edge, a form's 30 mm
RESEND = "请要求移交方重新发送整个文件夹。"
# A handover zip is checked against these before anything is extracted (our zips: ratios under 10, a few
# thousand entries; a bomb expands a thousandfold).
MAX_ENTRIES = 100_000
MAX_RATIO = 100
RATIO_FLOOR = 1 << 20  # bytes: smaller entries may compress as well as they like
MAX_NAME = 1024  # bytes of one entry's name
LOCAL_HEADER = 30  # bytes of a zip entry's local header before its name
DISK_RESERVE = 256 << 20  # bytes left free when a zip is extracted
PDF_ERRORS = (OSError, ValueError, pikepdf.PdfError, pdfium.PdfiumError)  # what a damaged PDF raises in our readers
MAKE_ROOM = "请清理磁盘,或把环境变量 TMPDIR 设为空间足够的文件夹后重新校验;也可以先解压,再校验解压出的文件夹。"


class ProblemKind(StrEnum):
    """What is wrong, for programs reading `verify --json`; the Chinese message says it to a clerk."""

    NO_MANIFEST = "no_manifest"
    MISSING = "missing"  # a file the manifest lists is not there
    CHANGED = "changed"  # a file's SHA-256 differs from the manifest
    EXTRA = "extra"  # a file the manifest does not list
    BAD_REPORT = "bad_report"  # report.json unreadable or not of the promised shape
    BAD_PDF = "bad_pdf"  # the package PDF does not open
    PAGE_COUNT = "page_count"
    BOOKMARKS = "bookmarks"
    CONTENTS = "contents"  # the printed contents list lacks a page range
    QR = "qr"
    BAD_ZIP = "bad_zip"  # the zip does not open, is damaged, encrypted, or not one handover folder
    ZIP_BOMB = "zip_bomb"  # too many entries, or sizes out of proportion: refused before extracting
    ZIP_NAME = "zip_name"  # an entry's name reaches out of the folder, is absolute, or collides with another
    ZIP_LINK = "zip_link"  # a symbolic link or special file in the zip
    BAD_HANDOVER = "bad_handover"  # handover.json unreadable
    NOT_HANDED_OVER = "not_handed_over"  # a package the handover lists is not in it
    PDFA = "pdfa"  # a PDF declares PDF/A-2b but fails the self-check, or the declaration contradicts report.json
    METADATA = "metadata"  # the metadata XML does not follow its XSD, or disagrees with the PDF or report.json
    SECURITY = "security"  # a PDF is encrypted, or holds JavaScript, embedded files or links out


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    message: str  # Chinese, says what is wrong and what to do
    file: str = ""  # the file at fault, relative to the package folder
    package: str = ""  # the package's folder inside a handover
    check: Check | None = None  # the 四性检测 check it fails, where its kind alone does not say (inspection.py)

    def __str__(self) -> str:
        return f"{self.package}:{self.message}" if self.package else self.message

    @property
    def fault(self) -> str:
        """What is wrong, without the advice to the receiving side: the desk gives the sender its own advice."""
        return self.message.removesuffix(RESEND)

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind.value, "message": self.message, "file": self.file, "package": self.package}


@dataclass(frozen=True)
class Examination:
    """One package as verify found it: its problems, and what the 四性检测 report states besides (inspection.py)."""

    folder: str  # the package folder's name
    problems: tuple[Problem, ...]
    report: Report | None  # None when report.json could not be read
    unembedded_fonts: tuple[str, ...] = ()  # fonts of the package PDF drawn without their program (a scanner's)
    metadata: bool = False  # the package has its metadata XML (those made before it was written have none)
    pdf_read: bool = False  # the package PDF was read to its end (else the checks of its pages did not all run)


class Container(StrEnum):
    PACKAGE = "package"
    HANDOVER = "handover"
    ZIP = "zip"


@dataclass(frozen=True)
class Verified:
    """What verify_path found: every problem, and each package examined (none when a zip is refused)."""

    container: Container
    problems: tuple[Problem, ...]
    packages: tuple[Examination, ...]


def verify_path(path: Path) -> list[Problem]:
    """A package folder, a handover folder, or a handover zip: every problem found."""
    return list(examine_path(path).problems)


def examine_path(path: Path) -> Verified:
    """verify_path, with each package's examination for the 四性检测 report."""
    if path.is_file() and path.suffix.lower() == ".zip":
        return _verify_zip(path)
    if (path / HANDOVER_MARKER).is_file():
        return _verify_handover(path)
    found = examine(path)
    return Verified(Container.PACKAGE, found.problems, (found,))


def _verify_zip(path: Path) -> Verified:
    """The zip's directory is checked whole before one byte is extracted: names, links, sizes and ratios."""
    def refused(problems: list[Problem]) -> Verified:
        return Verified(Container.ZIP, tuple(problems), ())

    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        return refused([Problem(ProblemKind.BAD_ZIP, f"压缩包 {path.name} 已损坏或不是 zip 文件,无法打开。" + RESEND)])
    with zf:
        infos = zf.infolist()
        refusals = zip_refusals(path.name, infos, path.stat().st_size)
        if refusals:
            return refused(refusals)
        with tempfile.TemporaryDirectory(prefix="kunnan-verify-") as tmp:
            _room_for(Path(tmp), sum(i.file_size for i in infos))
            try:
                _extract(zf, infos, Path(tmp))
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
                return refused([Problem(ProblemKind.BAD_ZIP,
                                        f"压缩包 {path.name} 中的数据已损坏,无法解压({type(exc).__name__})。" + RESEND)])
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise ConfigError(f"临时文件夹 {Path(tmp).parent} 空间不足,解压 {path.name} 时磁盘已满。" + MAKE_ROOM) from None
                return refused([Problem(ProblemKind.ZIP_NAME, f"压缩包 {path.name} 中有本机无法建立的文件名,无法解压"
                                        f"({_shown(exc.strerror or '')})。" + RESEND)])
            inside = _verify_handover(Path(tmp) / infos[0].filename.split("/", 1)[0])
            return Verified(Container.ZIP, inside.problems, inside.packages)


def _shown(name: str) -> str:
    """A name read from a zip as a message may quote it: no control characters, no ID or phone number, bounded."""
    clean = "".join("?" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in name)
    return mask_text(clean if len(clean) <= 80 else clean[:80] + "…")


def _folded(name: str) -> str:
    """Names as Windows and macOS compare them: one normal form, letter case ignored."""
    return unicodedata.normalize("NFC", name).casefold()


def _name_fault(name: str) -> str | None:
    """Why an entry's name may not be extracted, if it may not."""
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        return "含控制字符"
    if name.startswith("/") or "\\" in name or PureWindowsPath(name).drive:
        return "是绝对路径或含反斜杠"
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "含“..”或空的路径段,会指向包外"
    if len(name.encode("utf-8")) > MAX_NAME:
        return "过长"
    return None


def zip_refusals(label: str, infos: list[zipfile.ZipInfo], zip_size: int) -> list[Problem]:
    """What forbids extracting a zip, read from its directory alone: too many entries, names that reach out of
    the folder or collide, links and special files, encryption or a compression we do not write, and sizes out
    of proportion (a zip bomb: one entry, or the whole, expanding over MAX_RATIO times; entries sharing bytes)."""
    def bomb(message: str) -> list[Problem]:
        return [Problem(ProblemKind.ZIP_BOMB, f"压缩包 {label} {message},可能是恶意构造的“压缩炸弹”,未解压。" + RESEND)]

    if len(infos) > MAX_ENTRIES:
        return bomb(f"有 {len(infos)} 个文件,超过 {MAX_ENTRIES} 个")
    problems = []
    seen: set[str] = set()
    folders = {"/".join(parts[:k]) for i in infos for parts in [_folded(i.filename).rstrip("/").split("/")]
               for k in range(1, len(parts))}
    for info in infos:
        fault = _name_fault(info.filename)
        folded = _folded(info.filename)
        if fault is None and (folded in seen or (not info.is_dir() and folded in folders)):
            fault = "与另一个文件或文件夹重名(不区分大小写),解压时会互相覆盖"
        seen.add(folded)
        if fault:
            problems.append(Problem(ProblemKind.ZIP_NAME, f"压缩包 {label} 中的文件名“{_shown(info.filename)}”{fault},"
                                    "拒绝解压。" + RESEND, _shown(info.filename)))
        elif stat.S_IFMT(info.external_attr >> 16) not in (0, stat.S_IFREG, stat.S_IFDIR):
            problems.append(Problem(ProblemKind.ZIP_LINK, f"压缩包 {label} 中的“{_shown(info.filename)}”是符号链接或特殊文件,"
                                    "不是普通文件,拒绝解压。" + RESEND, _shown(info.filename)))
        elif info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            problems.append(Problem(ProblemKind.BAD_ZIP, f"压缩包 {label} 中的“{_shown(info.filename)}”已加密或用了不支持的"
                                    "压缩方式。请要求移交方用本工具生成的压缩包重新发送。", _shown(info.filename)))
    if problems:
        return problems
    tops = {i.filename.split("/", 1)[0] for i in infos}
    if len(tops) != 1 or not any("/" in i.filename for i in infos):
        return [Problem(ProblemKind.BAD_ZIP, f"压缩包 {label} 应只含一个移交文件夹。" + RESEND)]
    for info in infos:
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            return bomb(f"中的“{_shown(info.filename)}”解压后 {_size(info.file_size)},是压缩后的 "
                        f"{info.file_size // max(info.compress_size, 1)} 倍")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            return bomb(f"中的“{_shown(info.filename)}”记载的大小自相矛盾")
    expanded = sum(i.file_size for i in infos)
    if expanded > RATIO_FLOOR and expanded > MAX_RATIO * max(zip_size, 1):
        return bomb(f"解压后共 {_size(expanded)},是压缩包的 {expanded // max(zip_size, 1)} 倍")
    end = 0
    for info in sorted(infos, key=lambda i: i.header_offset):
        if info.header_offset < end:
            return bomb("中有几个文件共用同一段数据")
        end = info.header_offset + LOCAL_HEADER + len(info.orig_filename.encode("utf-8")) + info.compress_size
    if end > zip_size:
        return bomb("记载的文件大小超出压缩包本身")
    return []


def _size(n: int) -> str:
    return f"{n / (1 << 30):.1f} GB" if n >= 1 << 30 else f"{n / (1 << 20):.1f} MB"


def _room_for(folder: Path, size: int) -> None:
    """Extracting needs the zip's whole content on disk, and some to spare."""
    free = shutil.disk_usage(folder).free
    if size + DISK_RESERVE > free:
        raise ConfigError(f"临时文件夹 {folder.parent} 空间不足:解压需要 {_size(size)},只剩 {_size(free)}。" + MAKE_ROOM)


def _extract(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], root: Path) -> None:
    """Each entry to the path its checked name gives, never more bytes than its directory entry declares (zipfile
    stops there and checks the CRC)."""
    for info in infos:
        target = root.joinpath(*info.filename.rstrip("/").split("/"))
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, target.open("xb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def _verify_handover(folder: Path) -> Verified:
    def found(problems: list[Problem], packages: tuple[Examination, ...] = ()) -> Verified:
        return Verified(Container.HANDOVER, tuple(problems), packages)

    if not (folder / MANIFEST).is_file():
        return found([Problem(ProblemKind.NO_MANIFEST, f"移交文件夹缺少清单文件 {MANIFEST}。" + RESEND, MANIFEST)])
    problems, _ = _check_manifest(folder)
    try:
        listed = json.loads((folder / HANDOVER_MARKER).read_text(encoding="utf-8"))["packages"]
        if not isinstance(listed, list) or not all(isinstance(no, str) for no in listed):
            raise ValueError("packages")
    except (OSError, ValueError, KeyError, TypeError):
        return found([*problems, Problem(ProblemKind.BAD_HANDOVER,
                                         f"移交文件 {HANDOVER_MARKER} 无法读取或缺少案卷列表。" + RESEND, HANDOVER_MARKER)])
    packages = folder / HANDOVER_PACKAGES
    present = sorted(p for p in packages.iterdir() if p.is_dir()) if packages.is_dir() else []
    names = {p.name for p in present}
    problems += [Problem(ProblemKind.NOT_HANDED_OVER, f"移交清单中的案卷 {no} 不在移交文件夹中。" + RESEND)
                 for no in sorted(listed) if safe_name(no) not in names]  # folders carry folder-safe names
    examined = tuple(examine_folders(present))
    problems += [replace(p, package=e.folder) for e in examined for p in e.problems]
    return found(problems, examined)


def verify_folders(folders: list[Path], workers: int | None = None) -> list[list[Problem]]:
    """verify_folder of each, in order (see examine_folders)."""
    return [list(e.problems) for e in examine_folders(folders, workers)]


def examine_folders(folders: list[Path], workers: int | None = None) -> list[Examination]:
    """examine() each, in order, on every core when there are enough: a handover verifies every package it
    hands over, and the checks (the PDF/A self-check above all) are pure-Python CPU work.
    workers: processes to use (default: one per core, at most one per PER_WORKER packages); 1 runs here."""
    if workers is None:
        workers = min(os.cpu_count() or 1, len(folders) // PER_WORKER)
    if workers < 2:
        return [examine(f) for f in folders]
    with process_pool(workers) as pool:
        return list(pool.map(examine, folders, chunksize=max(1, len(folders) // (4 * workers))))


def _on_disk(folder: Path) -> tuple[tuple[str, int, int, int, int], ...]:
    """Every file of a package as the file system sees it: name, size, inode, modification and change time.
    Any write to a file changes its change time, which no program can set back (utime sets the other two)."""
    files = []
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        files.append((path.relative_to(folder).as_posix(), st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(files)


@dataclass
class VerifiedBefore:
    """verify_folders for a page shown again and again (the desk's 移交 page): a package whose files are, to the
    file system, exactly as when it was last verified keeps that verdict; any other is verified again. The
    handover itself always verifies afresh."""

    seen: dict[Path, tuple[tuple[tuple[str, int, int, int, int], ...], list[Problem]]] = field(default_factory=dict)
    verified: int = 0  # packages verified (not remembered) by the last call

    def check(self, folders: list[Path]) -> list[list[Problem]]:
        now = {folder: _on_disk(folder) for folder in folders}
        stale = [f for f in folders if f not in self.seen or self.seen[f][0] != now[f]]
        for folder, problems in zip(stale, verify_folders(stale), strict=True):
            self.seen[folder] = (now[folder], problems)
        self.verified = len(stale)
        return [self.seen[f][1] for f in folders]


def verify_folder(folder: Path) -> list[Problem]:
    """Every problem found; an empty list means the package is sound."""
    return list(examine(folder).problems)


def examine(folder: Path) -> Examination:
    """verify_folder, with what the 四性检测 report states besides the problems."""
    if not (folder / MANIFEST).is_file():
        return Examination(folder.name, (Problem(ProblemKind.NO_MANIFEST, f"缺少清单文件 {MANIFEST},无法确认材料是否完整。"
                                                 + RESEND, MANIFEST),), None)
    problems, digests = _check_manifest(folder)
    try:
        report = read_report(folder)
    except BadPackage as exc:
        return Examination(folder.name, (*problems, Problem(ProblemKind.BAD_REPORT, str(exc), REPORT)), None)
    pdf_path = package_pdf(folder, report.archive_no)
    has_metadata = package_metadata(folder, report.archive_no).is_file()
    fonts: tuple[str, ...] = ()
    read = False
    try:
        with pikepdf.open(pdf_path) as pdf:
            problems += _check_structure(pdf, report, pdf_path.name)
            problems += _check_metadata(folder, report, pdf, digests) if has_metadata else []
            fonts = _unembedded_fonts(pdf)
        problems += _check_pdfa(folder, pdf_path, report)
        problems += _check_security(folder, pdf_path)
        doc = pdfium.PdfDocument(pdf_path)
        try:
            problems += (_check_contents_list(doc, report, pdf_path.name) + _check_qr(doc, report, pdf_path.name)
                         + _check_rendering(doc, pdf_path.name))
        finally:
            doc.close()
        read = True
    except PDF_ERRORS:
        problems.append(_damaged(folder, pdf_path))
    return Examination(folder.name, tuple(problems), report, fonts, has_metadata, read)


def _check_metadata(folder: Path, report: Report, pdf: pikepdf.Pdf,
                    digests: dict[str, tuple[str, str]]) -> list[Problem]:
    """The metadata XML follows its XSD and says what the PDF, report.json and the files say: the archive number
    (the PDF's keywords too), the page count, each 件's title and pages, and the digests of the files it names —
    only files the manifest lists are looked at, never a path taken from the XML."""
    path = package_metadata(folder, report.archive_no)
    name = path.name
    try:
        volume = metadata.read_file(path)
    except (OSError, metadata.BadMetadata) as exc:
        return [Problem(ProblemKind.METADATA, f"元数据 {name} {_shown(str(exc))}。" + RESEND, name,
                        check=Check.METADATA_VALID)]

    def wrong(what: str, check: Check = Check.METADATA_AGREES) -> Problem:
        return Problem(ProblemKind.METADATA, f"元数据 {name} 与案卷不符:{what}。" + RESEND, name, check=check)

    problems = []
    keywords = str(pdf.docinfo.get("/Keywords", ""))
    if not volume.archive_no == keywords == report.archive_no:
        problems.append(wrong(f"档号为 {_shown(volume.archive_no)},{REPORT} 记载 {report.archive_no},"
                              f"PDF 记载 {_shown(keywords)}"))
    if volume.pages != report.pages.content:
        problems.append(wrong(f"页数为 {volume.pages},{REPORT} 记载 {report.pages.content}"))
    said = [(p.title, p.first, p.last) for p in volume.pieces]
    held = [(d.title, *d.pages) for e in report.checklist for d in e.documents]
    if said != held:
        problems.append(wrong(f"列出 {len(said)} 件,{REPORT} 记载 {len(held)} 件" if len(said) != len(held)
                              else "有的件题名或页号与 report.json 不同", Check.PIECES))
    files = [volume.pdf, *(p.file for p in volume.pieces if p.file and not p.file.location)]
    if volume.pdf.name != package_pdf(folder, report.archive_no).name:
        problems.append(wrong(f"记载的案卷 PDF 是 {_shown(volume.pdf.name)}"))
    for f in files:
        if f.name not in digests:
            problems.append(wrong(f"记载的文件 {_shown(f.name)} 不在清单中"))
        elif digests[f.name] != (f.sha256, f.sm3):
            problems.append(wrong(f"文件 {_shown(f.name)} 的摘要与记载的不同"))
    return problems


def _unembedded_fonts(pdf: pikepdf.Pdf) -> tuple[str, ...]:
    """Names of the fonts the pages draw with but do not carry (a scanner's PDF may lean on the reader's)."""
    missing: set[str] = set()
    seen: set[tuple[int, int]] = set()

    def fonts_of(resources: object) -> None:
        if not isinstance(resources, pikepdf.Dictionary):
            return
        for font in pikepdf.Dictionary(resources.get("/Font", pikepdf.Dictionary())).values():
            if not isinstance(font, pikepdf.Dictionary) or font.get("/Subtype") == "/Type3":
                continue  # a Type 3 font is its own glyph procedures
            described = font.DescendantFonts[0] if font.get("/Subtype") == "/Type0" else font
            program = described.get("/FontDescriptor", pikepdf.Dictionary())
            if not any(k in program for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                missing.add(_shown(str(font.get("/BaseFont", "?")).lstrip("/")))
        for xobj in pikepdf.Dictionary(resources.get("/XObject", pikepdf.Dictionary())).values():
            if isinstance(xobj, pikepdf.Stream) and xobj.get("/Subtype") == "/Form" and xobj.objgen not in seen:
                seen.add(xobj.objgen)
                fonts_of(xobj.get("/Resources"))

    for page in pdf.pages:
        fonts_of(page.obj.get("/Resources"))
    return tuple(sorted(missing))


LINKS_OUT = ("/URI", "/Launch", "/GoToR", "/GoToE", "/SubmitForm", "/ImportData")  # actions that leave the file


def _active_content(pdf: pikepdf.Pdf) -> set[Check]:
    """What a PDF holds that acts rather than shows: scripts, embedded files (NO_ACTIVE), actions that leave the
    file (NO_LINKS). Every object is looked at, wherever a viewer might find it."""
    found: set[Check] = set()

    def visit(obj: pikepdf.Object, depth: int) -> None:
        if depth > 64:
            return
        if isinstance(obj, pikepdf.Stream):
            obj = obj.stream_dict
        if isinstance(obj, pikepdf.Dictionary):
            keys = set(obj.keys())
            if keys & {"/JS", "/JavaScript", "/EmbeddedFiles", "/RichMediaContent"} or obj.get("/S") == "/JavaScript" \
                    or obj.get("/Type") == "/EmbeddedFile" or obj.get("/Subtype") in ("/FileAttachment", "/RichMedia"):
                found.add(Check.NO_ACTIVE)
            if obj.get("/S") in LINKS_OUT:
                found.add(Check.NO_LINKS)
            children = [obj.get(k) for k in keys]
        elif isinstance(obj, pikepdf.Array):
            children = list(obj)
        else:
            return
        for child in children:
            if isinstance(child, (pikepdf.Dictionary, pikepdf.Array)) and not child.is_indirect:
                visit(child, depth + 1)  # indirect objects are visited from the file's object list

    for obj in pdf.objects:
        visit(obj, 0)
    return found


def _check_security(folder: Path, pdf_path: Path) -> list[Problem]:
    """The package PDF and every form PDF: not encrypted; no JavaScript or embedded files; no links out."""
    said = {Check.NO_ACTIVE: "含有 JavaScript 脚本或嵌入文件", Check.NO_LINKS: "含有指向外部的链接或动作(网址、打开程序、提交表单)"}
    problems = []
    for path in [pdf_path, *sorted((folder / DOCUMENTS).glob("*.pdf"))]:
        rel = path.relative_to(folder).as_posix()
        try:
            with pikepdf.open(path) as pdf:
                encrypted, found = pdf.is_encrypted, _active_content(pdf)
        except pikepdf.PasswordError:
            encrypted, found = True, set()
        except PDF_ERRORS:
            continue  # reported as damaged by the PDF/A check
        if encrypted:
            problems.append(Problem(ProblemKind.SECURITY, f"{rel} 已加密。" + RESEND, rel, check=Check.NOT_ENCRYPTED))
        problems += [Problem(ProblemKind.SECURITY, f"{rel} {said[c]}。" + RESEND, rel, check=c) for c in sorted(found)]
    return problems


RENDER_SCALE = 0.1  # about 7 dpi: enough for the renderer to draw every object of the page


def _check_rendering(doc: pdfium.PdfDocument, name: str) -> list[Problem]:
    """Every page of the package PDF renders."""
    problems = []
    for index in range(len(doc)):
        try:
            page = doc[index]
            scale = min(RENDER_SCALE, MAX_PAGE * RENDER_SCALE / max(page.get_size()))
            page.render(scale=scale, grayscale=True, no_smoothimage=True).close()
        except pdfium.PdfiumError:
            problems.append(Problem(ProblemKind.BAD_PDF, f"{name} 第 {index + 1} 页(PDF 页序)无法显示。" + RESEND, name,
                                    check=Check.RENDERS))
    return problems


def _damaged(folder: Path, path: Path) -> Problem:
    """A PDF that does not open or read to its end: truncated in transit, or its bytes spoilt."""
    rel = path.relative_to(folder).as_posix()
    return Problem(ProblemKind.BAD_PDF, f"PDF 文件 {rel} 已损坏或不完整(可能传输中断),无法打开。" + RESEND, rel)


def _check_pdfa(folder: Path, pdf_path: Path, report: Report) -> list[Problem]:
    """The package PDF and every form that declare PDF/A-2b pass the self-check; the package declares it
    exactly when report.json says so."""
    problems = []
    for path in [pdf_path, *sorted((folder / DOCUMENTS).glob("*.pdf"))]:
        try:
            declared, findings = check_file(path)
        except PDF_ERRORS:
            problems.append(_damaged(folder, path))
            continue
        problems += [Problem(ProblemKind.PDFA, message, path.relative_to(folder).as_posix()) for message in findings]
        if path == pdf_path and report.pdfa is not None and declared != report.pdfa.declared:
            problems.append(Problem(ProblemKind.PDFA, f"{path.name} 的 PDF/A 声明与 {REPORT} 不符。" + RESEND, path.name))
    return problems


def _check_manifest(folder: Path) -> tuple[list[Problem], dict[str, tuple[str, str]]]:
    """Every file against both manifests (SHA-256 and SM3): none changed, missing or added. Also returns the
    digests taken, relative path → (SHA-256, SM3), so that the metadata check reads no file twice."""
    problems: list[Problem] = []
    digests: dict[str, tuple[str, str]] = {}
    listed = read_manifest(folder)  # the inputs' lines stay with the archive room: their files are not shipped
    if (folder / MANIFEST_SM3).is_file():
        by_sm3: dict[str, str] | None = read_manifest(folder, MANIFEST_SM3)
        problems += [Problem(ProblemKind.CHANGED, f"两份清单列出的文件不同:{rel}", MANIFEST_SM3, check=Check.FIXITY_SM3)
                     for rel in sorted(set(by_sm3) ^ set(listed))]
    else:
        by_sm3 = None
        problems.append(Problem(ProblemKind.NO_MANIFEST, f"缺少 SM3 清单文件 {MANIFEST_SM3}。" + RESEND, MANIFEST_SM3,
                                check=Check.FIXITY_SM3))
    for rel, digest in listed.items():
        path = folder / rel
        if not path.is_file():
            problems.append(Problem(ProblemKind.MISSING, f"缺少文件:{rel}", rel))
            continue
        sha256, sm3 = digests[rel] = file_digests(path)
        if sha256 != digest:
            problems.append(Problem(ProblemKind.CHANGED, f"文件已被改动(SHA-256 不符):{rel}", rel))
        if by_sm3 is not None and by_sm3.get(rel, sm3) != sm3:
            problems.append(Problem(ProblemKind.CHANGED, f"文件已被改动(SM3 不符):{rel}", rel, check=Check.FIXITY_SM3))
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel not in MANIFESTS and rel not in listed:
            problems.append(Problem(ProblemKind.EXTRA, f"多出清单中没有的文件:{rel}", rel))
    return problems, digests


def _present(report: Report) -> list[ChecklistEntry]:
    """Items with documents in the package: present, or awaiting signature (their printed forms stand in)."""
    return [e for e in report.checklist if e.documents]


def _check_structure(pdf: pikepdf.Pdf, report: Report, name: str) -> list[Problem]:
    problems: list[Problem] = []
    if len(pdf.pages) != report.pages.total:
        problems.append(Problem(ProblemKind.PAGE_COUNT,
                                f"案卷 PDF 有 {len(pdf.pages)} 页,报告记载 {report.pages.total} 页。" + RESEND, name))
    start = report.pages.content_start_index
    with pdf.open_outline() as outline:
        marks = {item.title.split(".", 1)[0]: item for item in outline.root if "." in item.title}
        objgen = {page.objgen: i for i, page in enumerate(pdf.pages)}
        for entry in _present(report):
            mark = marks.get(str(entry.no))
            expected = start + entry.documents[0].pages[0] - 1
            target = _destination_index(mark, objgen) if mark else None
            if target != expected:
                problems.append(Problem(ProblemKind.BOOKMARKS,
                                        f"书签与目录不符:清单第{entry.no}项应从第 {expected + 1} 页(PDF 页序)开始。", name))
    return problems


def _check_contents_list(doc: pdfium.PdfDocument, report: Report, name: str) -> list[Problem]:
    """The printed contents list (pages between the cover and the first content page) names the page range of
    every document (it lists the 件), or of every item (as lists printed before did)."""
    start = min(report.pages.content_start_index, len(doc))
    toc_text = "".join(doc[i].get_textpage().get_text_range() for i in range(1, start))

    def printed(pages: str) -> bool:
        return page_span(pages) in toc_text or pages in toc_text

    return [Problem(ProblemKind.CONTENTS, f"卷内文件目录中找不到清单第{e.no}项的页号 {e.pages}。", name)
            for e in _present(report)
            if not (all(printed(d.page_range) for d in e.documents) or (e.pages and printed(e.pages)))]


def _destination_index(mark: pikepdf.OutlineItem, objgen: dict[tuple[int, int], int]) -> int | None:
    dest = mark.destination
    if isinstance(dest, pikepdf.Array) and len(dest) and isinstance(dest[0], pikepdf.Dictionary):
        return objgen.get(dest[0].objgen)
    return None


def _check_qr(doc: pdfium.PdfDocument, report: Report, name: str) -> list[Problem]:
    """The cover's code names the archive number; each generated form's first page says page 1 of it."""
    archive_no = report.archive_no
    start = report.pages.content_start_index
    wanted: dict[int, str | None] = {0: qr.COVER_KEY}
    for entry in report.checklist:
        for d in entry.documents:
            if d.generated:
                wanted[start + d.pages[0] - 1] = None
    problems = []
    for index, key in sorted(wanted.items()):
        # a page beyond the end is already reported as a page-count problem
        page = doc[index] if 0 <= index < len(doc) else None
        if page is not None and max(page.get_size()) > MAX_PAGE:  # rendering it could take gigabytes
            problems.append(Problem(ProblemKind.QR, f"第 {index + 1} 页(PDF 页序)尺寸异常,不是本工具生成的页面。" + RESEND,
                                    name))
            continue
        found = read_page_codes(page) if page is not None else []
        codes = [c for f in found if (c := qr.parse(f.text))]
        if not any(c.archive_no == archive_no and (c.form_key == key if key else c.page == 1) for c in codes):
            problems.append(Problem(ProblemKind.QR,
                                    f"第 {index + 1} 页(PDF 页序)的二维码无法识别或不是档案号 {archive_no}。", name))
    return problems


def read_page_codes(page: pdfium.PdfPage) -> list[qr.Found]:
    """Our codes sit in the bottom strip of a page: render that strip in grey first, the whole page only if needed."""
    scale = QR_DPI / 72
    strip = max(0.0, page.get_height() - QR_STRIP)
    found = qr.read(page.render(scale=scale, crop=(0, 0, 0, strip), grayscale=True).to_pil())
    return found or qr.read(page.render(scale=scale, grayscale=True).to_pil())
