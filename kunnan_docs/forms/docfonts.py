"""Rare characters in the Word forms: set in a font that has them, embedded in the file.

Word and WPS set the forms in 宋体 and 仿宋, which hold the characters of GB 18030's first edition (the
common ones, Extension A) but not those of Extension B and later (王𠮷, 𬌗): those print as empty boxes, or
vanish, on a machine without a font that has them. So each run of such characters gets a run of its own in
the font of our chain that has them (Noto Serif SC, TC or JP, as in the PDF), and the file embeds a subset
of that font holding exactly the characters used (a few KB), obfuscated as Office embeds fonts (ISO/IEC
29500-1 §17.8.1): Word, WPS and LibreOffice show them with nothing installed. A form without such a
character is left as it was, nothing embedded.
"""

from __future__ import annotations

import copy
import hashlib
import io
import uuid
from functools import cache, lru_cache

import docx.document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml.ns import qn
from lxml import etree

from kunnan_docs.core.resources import data_dir, font_chain
from kunnan_docs.forms.fonts import SERIF, font_for

OBFUSCATED_FONT = "application/vnd.openxmlformats-officedocument.obfuscatedFont"
FIRST_NOT_IN_SIMSUN, LAST_UNIFIED = 0x9FA6, 0x9FFF  # 宋体 and 仿宋 end the unified ideographs at U+9FA5
# settings.xml's children before <w:embedTrueTypeFonts/> (CT_Settings is a sequence: order matters to Word)
SETTINGS_BEFORE_EMBED = ("writeProtection", "view", "zoom", "removePersonalInformation", "removeDateAndTime",
                         "doNotDisplayPageBoundaries", "displayBackgroundShape", "printPostScriptOverText",
                         "printFractionalCharacterWidth", "printFormsData")
THEME_ATTRIBUTES = ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme")


@lru_cache(maxsize=1 << 12)
def rare_font(char: str) -> str | None:
    """The font of our chain to set this character in, where Word's 宋体 and 仿宋 lack it; else None."""
    code = ord(char)
    if code < 0x3400:  # Latin, punctuation, symbols, kana: 宋体 has them
        return None
    name = font_for(char)
    beyond_simsun = code > 0xFFFF or FIRST_NOT_IN_SIMSUN <= code <= LAST_UNIFIED
    return name if name is not None and (name != SERIF or beyond_simsun) else None


@cache
def _font_file(name: str) -> str:
    return str(data_dir("fonts") / dict(font_chain())[name])


@cache
def family(name: str) -> str:
    """The family name inside the font file (what a run and the font table call it), e.g. Noto Serif JP."""
    from fontTools.ttLib import TTFont  # here: only a form with a rare character embeds a font

    with TTFont(_font_file(name), lazy=True) as font:
        return str(font["name"].getDebugName(1))


@lru_cache(maxsize=64)
def subset(name: str, chars: frozenset[str]) -> bytes:
    """A TrueType subset of the chain font holding these characters (and .notdef), with its names and
    timestamps as they are: the same characters give the same bytes."""
    from fontTools import subset as ftsubset
    from fontTools.ttLib import TTFont

    options = ftsubset.Options()
    options.recalc_timestamp = False
    options.layout_features = []
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.drop_tables += ["DSIG"]
    out = io.BytesIO()
    with TTFont(_font_file(name), recalcTimestamp=False) as font:
        subsetter = ftsubset.Subsetter(options)
        subsetter.populate(unicodes=sorted(map(ord, chars)))
        subsetter.subset(font)
        font.save(out)
    return out.getvalue()


def obfuscate(font: bytes, key: uuid.UUID) -> bytes:
    """ISO/IEC 29500-1 §17.8.1: the first 32 bytes XORed with the key's 16 bytes, in reverse order."""
    mask = key.bytes[::-1] * 2
    return bytes(b ^ m for b, m in zip(font[:32], mask, strict=True)) + font[32:]


def _split_run(run: etree._Element, used: dict[str, set[str]]) -> None:
    """Replace the run by runs of its pieces: its own properties for common text, a rare font for the rest."""
    props = run.find(qn("w:rPr"))
    pieces: list[tuple[str | None, etree._Element]] = []
    for child in run:
        if child is props:
            continue
        if child.tag != qn("w:t") or not child.text:
            pieces.append((None, child))
            continue
        text, current, start = child.text, rare_font(child.text[0]), 0
        for i in range(1, len(text) + 1):
            font = rare_font(text[i]) if i < len(text) else "end"
            if font != current:
                piece = etree.Element(qn("w:t"))
                piece.text = text[start:i]
                piece.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
                pieces.append((current, piece))
                if current:
                    used.setdefault(current, set()).update(text[start:i])
                current, start = font, i
    parent, at = run.getparent(), run.getparent().index(run)
    parent.remove(run)
    for offset, (font, piece) in enumerate(pieces):
        new = etree.Element(qn("w:r"))
        new_props = copy.deepcopy(props) if props is not None else None
        if font:
            new_props = new_props if new_props is not None else etree.Element(qn("w:rPr"))
            _set_font(new_props, family(font))
        if new_props is not None:
            new.append(new_props)
        new.append(piece)
        parent.insert(at + offset, new)


def _set_font(props: etree._Element, face: str) -> None:
    fonts = props.find(qn("w:rFonts"))
    if fonts is None:
        fonts = etree.Element(qn("w:rFonts"))
        style = props.find(qn("w:rStyle"))
        props.insert(0 if style is None else props.index(style) + 1, fonts)
    for attribute in THEME_ATTRIBUTES:
        fonts.attrib.pop(qn(f"w:{attribute}"), None)
    for attribute in ("ascii", "hAnsi", "eastAsia", "cs"):
        fonts.set(qn(f"w:{attribute}"), face)
    fonts.set(qn("w:hint"), "eastAsia")


def _replace_part(document: docx.document.Document, reltype: str, blob: bytes) -> Part:
    """A private copy of a part shared with the template (font table, settings), holding `blob`."""
    rel = next(r for r in document.part.rels.values() if r.reltype == reltype)
    old = rel.target_part
    new = Part(old.partname, old.content_type, blob, document.part.package)
    rel._target = new
    return new


def story_roots(document: docx.document.Document) -> list[etree._Element]:
    """The body and every header and footer as rendered: docxtpl puts a rendered footer in a new part behind
    the document's relationship (python-docx's sections still see the template's)."""
    parts = [rel.target_part for rel in document.part.rels.values() if rel.reltype in (RT.HEADER, RT.FOOTER)]
    return [document.element, *(part.element for part in parts)]


def embed_rare(document: docx.document.Document) -> None:
    """Set every rare character of the body and footers in a font that has it, and embed those fonts."""
    used: dict[str, set[str]] = {}
    for root in story_roots(document):
        runs = {id(t.getparent()): t.getparent() for t in root.iter(qn("w:t"))
                if t.text and t.getparent().tag == qn("w:r") and any(rare_font(char) for char in t.text)}
        for run in runs.values():
            _split_run(run, used)
    if not used:
        return
    package = document.part.package
    font_table_rel = next(r for r in document.part.rels.values() if r.reltype == RT.FONT_TABLE)
    table = etree.fromstring(font_table_rel.target_part.blob)
    new_table = _replace_part(document, RT.FONT_TABLE, b"")
    for n, name in enumerate(sorted(used), start=1):
        data = subset(name, frozenset(used[name]))
        key = uuid.UUID(bytes=hashlib.sha256(data).digest()[:16])  # from the content: the same bytes every run
        part = Part(PackURI(f"/word/fonts/font{n}.odttf"), OBFUSCATED_FONT, obfuscate(data, key), package)
        entry = etree.SubElement(table, qn("w:font"))
        entry.set(qn("w:name"), family(name))
        etree.SubElement(entry, qn("w:charset")).set(qn("w:val"), "86")  # GB2312: a Chinese face
        etree.SubElement(entry, qn("w:family")).set(qn("w:val"), "roman")
        etree.SubElement(entry, qn("w:pitch")).set(qn("w:val"), "variable")
        embedded = etree.SubElement(entry, qn("w:embedRegular"))
        embedded.set(qn("r:id"), new_table.relate_to(part, RT.FONT))
        embedded.set(qn("w:fontKey"), "{" + str(key).upper() + "}")
    new_table._blob = etree.tostring(table, xml_declaration=True, encoding="UTF-8", standalone=True)
    settings_rel = next(r for r in document.part.rels.values() if r.reltype == RT.SETTINGS)
    settings = etree.fromstring(settings_rel.target_part.blob)
    if settings.find(qn("w:embedTrueTypeFonts")) is None:  # Word keeps the fonts when the clerk saves
        before = [child for child in settings if etree.QName(child).localname in SETTINGS_BEFORE_EMBED]
        settings.insert(settings.index(before[-1]) + 1 if before else 0, etree.Element(qn("w:embedTrueTypeFonts")))
    _replace_part(document, RT.SETTINGS, etree.tostring(settings, xml_declaration=True, encoding="UTF-8",
                                                        standalone=True))

