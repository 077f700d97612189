"""The checks of a 四性检测 (DA/T 70-2018, 文书类电子档案检测一般要求) as kunnan-docs runs them on a package: each
belongs to one of the four properties and has its Chinese wording. `verify` tags a problem with the check it
fails; package/inspection.py lists every check, passed or failed, for the report."""

from __future__ import annotations

from enum import StrEnum


class Property(StrEnum):
    AUTHENTICITY = "authenticity"
    INTEGRITY = "integrity"
    USABILITY = "usability"
    SECURITY = "security"

    @property
    def label(self) -> str:
        return {"authenticity": "真实性", "integrity": "完整性", "usability": "可用性", "security": "安全性"}[self]


class Check(StrEnum):
    """Values are the ids in the report's JSON; the order is the report's."""

    FIXITY_SHA256 = "fixity_sha256"
    FIXITY_SM3 = "fixity_sm3"
    METADATA_AGREES = "metadata_agrees"
    CODES = "codes"
    REPORT = "report"
    CHECKLIST = "checklist"
    PAGES = "pages"
    PIECES = "pieces"
    SIGNED = "signed"
    OPENS = "opens"
    PDFA = "pdfa"
    FONTS = "fonts"
    RENDERS = "renders"
    METADATA_VALID = "metadata_valid"
    NOT_ENCRYPTED = "not_encrypted"
    NO_ACTIVE = "no_active"
    NO_LINKS = "no_links"
    # a handover as a whole (its folder, its zip)
    HANDOVER_FIXITY = "handover_fixity"
    HANDOVER_COMPLETE = "handover_complete"
    CONTAINER_OPENS = "container_opens"
    CONTAINER_SAFE = "container_safe"

    @property
    def quality(self) -> Property:
        """The property (of the four) it checks."""
        return _TABLE[self][0]

    @property
    def label(self) -> str:
        return _TABLE[self][1]


AUT, INT, USE, SEC = Property.AUTHENTICITY, Property.INTEGRITY, Property.USABILITY, Property.SECURITY
_TABLE = {
    Check.FIXITY_SHA256: (AUT, "每个文件与 SHA-256 清单一致(无改动、缺失、多出的文件)"),
    Check.FIXITY_SM3: (AUT, "每个文件与 SM3 清单一致"),
    Check.METADATA_AGREES: (AUT, "元数据与案卷 PDF、report.json 一致(档号、页数、文件摘要)"),
    Check.CODES: (AUT, "封面和每份表单首页的二维码是本档案号"),
    Check.REPORT: (INT, "report.json 完整可读,格式正确"),
    Check.CHECKLIST: (INT, "对照资料目录清单,应有的材料都在"),
    Check.PAGES: (INT, "页数一致(PDF 总页数、书签、卷内文件目录的页号)"),
    Check.PIECES: (INT, "元数据中的每一件都在卷内,与 report.json 一一对应"),
    Check.SIGNED: (INT, "须签字盖章的表单都有签章原件"),
    Check.OPENS: (USE, "案卷 PDF 和表单 PDF 能完整打开"),
    Check.PDFA: (USE, "PDF/A-2b 自检通过"),
    Check.FONTS: (USE, "字体全部嵌入"),
    Check.RENDERS: (USE, "每一页都能显示"),
    Check.METADATA_VALID: (USE, "元数据可读,符合 schemas/dat46-package.xsd"),
    Check.NOT_ENCRYPTED: (SEC, "PDF 未加密"),
    Check.NO_ACTIVE: (SEC, "无 JavaScript,无嵌入文件"),
    Check.NO_LINKS: (SEC, "无指向外部的链接或动作"),
    Check.HANDOVER_FIXITY: (AUT, "移交文件夹的文件与其清单一致"),
    Check.HANDOVER_COMPLETE: (INT, "移交清单所列的案卷都在"),
    Check.CONTAINER_OPENS: (USE, "移交压缩包能打开、解压"),
    Check.CONTAINER_SAFE: (SEC, "移交压缩包安全(无压缩炸弹、越界路径、链接)"),
}
PACKAGE_CHECKS = tuple(c for c in Check if not c.name.startswith(("HANDOVER", "CONTAINER")))
