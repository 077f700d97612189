"""The package's metadata for an electronic archive: an XML of DA/T 46-2009's elements (文书类电子文件元数据方案)
beside the package PDF, checked against the shipped XSD (schemas/dat46-package.xsd) when written and when verified.

One 案卷 (the package) with its 档号, 题名, 责任者, 起止日期, 密级, 件数, 页数 and its PDF's format and fixity
(SHA-256 and SM3), then one 文件 per 件 of the contents list: 件号, 页号, 题名, 责任者, 日期, 页数, and the file
its pages came from with its digests. Readers (verify) use this module; the builder fills a Volume
(package/describe.py). Deterministic: the same Volume gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from lxml import etree

from kunnan_docs.core.resources import data_dir
from kunnan_docs.errors import BadMetadata, ConfigError

NAMESPACE = "urn:kunnan-docs:dat46:1"
SCHEME = "DA/T 46-2009"
XSD = "dat46-package.xsd"
LANGUAGE = "汉语"
_N = f"{{{NAMESPACE}}}"


@dataclass(frozen=True)
class Electronic:
    """电子属性 of one computer file: where it is, how big, which format, and its digests."""

    name: str  # 计算机文件名: relative to the package folder, or to `location` when that is given
    size: int
    sha256: str
    sm3: str
    format: str  # 格式名称: PDF, PDF/A-2b, JPEG, PNG, TIFF
    version: str = ""  # 格式版本
    creator: str = ""  # 文档创建程序
    location: str = ""  # 存储位置/当前位置 of a file kept outside the package (a signed original in _签章原件/)


@dataclass(frozen=True)
class Piece:
    """One 件: a row of the contents list."""

    no: int  # 室编件号 (顺序号)
    first: int  # 页号: archive pages first–last
    last: int
    title: str
    responsible: str
    date: str | None  # ISO
    doc_no: str  # 文件编号 (文号); "" when it has none
    note: str  # 附注: the checklist item, and whether it is a signed original or a print awaiting one
    file: Electronic | None  # the file its pages came from; None when it is not known (built without input/)

    @property
    def pages(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


@dataclass(frozen=True)
class Volume:
    """The 案卷: what its cover says, and its 件."""

    archive_no: str  # 档号/室编案卷号
    year: int  # 档号/年度: the year of filing
    retention: str  # 保管期限
    keeper: str  # 来源/立档单位名称
    title: str
    person: str  # 人名: the worker
    responsible: str  # the union that made the file
    dates: tuple[str, str] | None  # 起止日期 (ISO), None when no document is dated
    classification: str  # 密级
    pages: int  # 页数: content pages, archive page numbers 1…n
    note: str  # 附注: the package's conclusion
    pdf: Electronic  # the package PDF
    pieces: tuple[Piece, ...]
    generator: str


def _add(parent: etree._Element, tag: str, text: object = None, **attrs: str) -> etree._Element:
    node = etree.SubElement(parent, _N + tag, attrs)
    if text is not None:
        node.text = str(text)
    return node


def _electronic(parent: etree._Element, f: Electronic) -> None:
    node = _add(parent, "电子属性")
    fmt = _add(node, "格式信息")
    _add(fmt, "格式名称", f.format)
    if f.version:
        _add(fmt, "格式版本", f.version)
    _add(node, "计算机文件名", f.name)
    _add(node, "计算机文件大小", f.size)
    if f.creator:
        _add(node, "文档创建程序", f.creator)
    fixity = _add(node, "固化信息")
    _add(fixity, "数字摘要", f.sha256, 算法="SHA-256")
    _add(fixity, "数字摘要", f.sm3, 算法="SM3")


def to_xml(v: Volume) -> bytes:
    """The XML's bytes: UTF-8, indented, elements in DA/T 46's order."""
    root = etree.Element(_N + "案卷", {"方案": SCHEME, "生成程序": v.generator}, nsmap={None: NAMESPACE})
    _add(root, "聚合层次", "案卷")
    _add(_add(root, "来源"), "立档单位名称", v.keeper)
    code = _add(root, "档号")
    _add(code, "年度", v.year)
    _add(code, "保管期限", v.retention)
    _add(code, "室编案卷号", v.archive_no)
    content = _add(root, "内容描述")
    _add(content, "题名", v.title)
    _add(content, "人名", v.person)
    _add(content, "责任者", v.responsible)
    if v.dates:
        _add(content, "日期", "/".join(v.dates))
    _add(content, "密级", v.classification)
    form = _add(root, "形式特征")
    _add(form, "件数", len(v.pieces))
    _add(form, "页数", v.pages)
    _add(form, "语种", LANGUAGE)
    _add(root, "附注", v.note)
    _electronic(root, v.pdf)
    for p in v.pieces:
        node = _add(root, "文件")
        _add(node, "聚合层次", "文件")
        code = _add(node, "档号")
        _add(code, "室编件号", p.no)
        _add(code, "页号", p.pages)
        content = _add(node, "内容描述")
        _add(content, "题名", p.title)
        if p.doc_no:
            _add(content, "文件编号", p.doc_no)
        _add(content, "责任者", p.responsible)
        if p.date:
            _add(content, "日期", p.date)
        _add(_add(node, "形式特征"), "页数", p.last - p.first + 1)
        if p.file and p.file.location:
            _add(_add(node, "存储位置"), "当前位置", p.file.location)
        _add(node, "附注", p.note)
        if p.file:
            _electronic(node, p.file)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@cache
def schema() -> etree.XMLSchema:
    """The shipped XSD; a missing or broken one is a broken installation (exit 6)."""
    path = data_dir("schemas") / XSD
    try:
        return etree.XMLSchema(etree.parse(str(path)))
    except (OSError, etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
        raise ConfigError(f"元数据格式文件 schemas/{XSD} 缺失或已损坏({str(exc)[:80]})。"
                          "请重新安装 kunnan-docs(在源码目录运行 pip install -e .)后再试。") from None


def _parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise BadMetadata(f"不是完整的 XML({str(exc)[:80]})") from None
    xsd = schema()
    if not xsd.validate(root):
        error = xsd.error_log.last_error
        raise BadMetadata(f"第 {error.line} 行不符合 schemas/{XSD}({error.message[:120]})")
    return root


def _text(node: etree._Element, path: str) -> str:
    found = node.find(_path(path))
    return found.text if found is not None and found.text is not None else ""


def _path(path: str) -> str:
    return "/".join(_N + part for part in path.split("/"))


def _read_electronic(node: etree._Element | None) -> Electronic | None:
    if node is None:
        return None
    digests = {d.get("算法"): d.text or "" for d in node.iterfind(_path("固化信息/数字摘要"))}
    return Electronic(_text(node, "计算机文件名"), int(_text(node, "计算机文件大小")), digests.get("SHA-256", ""),
                      digests.get("SM3", ""), _text(node, "格式信息/格式名称"), _text(node, "格式信息/格式版本"),
                      _text(node, "文档创建程序"))


def read(data: bytes) -> Volume:
    """The Volume an XML describes; raises BadMetadata when it is not one that follows the XSD."""
    root = _parse(data)
    pieces = []
    for node in root.iterfind(_N + "文件"):
        pages = _text(node, "档号/页号")
        first, _, last = pages.partition("-")
        file = _read_electronic(node.find(_N + "电子属性"))
        location = _text(node, "存储位置/当前位置")
        if file and location:
            file = replace(file, location=location)
        pieces.append(Piece(int(_text(node, "档号/室编件号")), int(first), int(last or first),
                            _text(node, "内容描述/题名"), _text(node, "内容描述/责任者"),
                            _text(node, "内容描述/日期") or None, _text(node, "内容描述/文件编号"),
                            _text(node, "附注"), file))
    dates = _text(root, "内容描述/日期")
    pdf = _read_electronic(root.find(_N + "电子属性"))
    assert pdf is not None  # required by the XSD
    start, _, end = dates.partition("/")
    return Volume(_text(root, "档号/室编案卷号"), int(_text(root, "档号/年度")), _text(root, "档号/保管期限"),
                  _text(root, "来源/立档单位名称"), _text(root, "内容描述/题名"), _text(root, "内容描述/人名"),
                  _text(root, "内容描述/责任者"), (start, end) if dates else None, _text(root, "内容描述/密级"),
                  int(_text(root, "形式特征/页数")), _text(root, "附注"), pdf, tuple(pieces), root.get("生成程序", ""))


def read_file(path: Path) -> Volume:
    """read() of a file; OSError when it cannot be read."""
    return read(path.read_bytes())
