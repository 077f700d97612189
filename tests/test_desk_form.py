"""The editor's form is generated from the case schema, and a posted form turns back into the same case: every
schema field has a widget, choices are Chinese drop-downs, nothing a case holds is lost by opening and saving it.
And the findings a clerk reads while typing: the rules speak about a half-filled case, in plain Chinese."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from kunnan_docs.core.casefile import Case
from kunnan_docs.core.findings import schema_node
from kunnan_docs.core.resources import case_schema
from kunnan_docs.core.validate import case_findings, draft_findings
from kunnan_docs.web.form import (
    DROP,
    ROW,
    Box,
    Field,
    Group,
    Node,
    Rows,
    case_from_form,
    editor_form,
    parse_form,
    place,
    pointers,
    record_form,
)

from .conftest import EXAMPLES, EXIT_EXAMPLE, FILING_EXAMPLE
from .desk_kit import form_pairs

CASES = sorted(EXAMPLES.glob("*/case.json"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def fields(nodes: list[Node] | list[Group]) -> dict[str, Field]:
    found: dict[str, Field] = {}
    for node in nodes:
        if isinstance(node, Group | Box):
            found |= fields(node.children)
        elif isinstance(node, Rows):
            found |= fields([*node.rows, node.blank])
        else:
            found[node.pointer] = node
    return found


def schema_leaves(pointer: str = "") -> list[str]:
    """Every field of the schema, a list's items as the blank row."""
    node = schema_node(pointer) if pointer else case_schema()
    if "properties" in node:
        return [leaf for key in node["properties"] for leaf in schema_leaves(f"{pointer}/{key}")]
    if node.get("type") == "array" and "enum" not in schema_node(f"{pointer}/0"):
        return schema_leaves(f"{pointer}/{ROW}".replace(ROW, "0"))
    return [pointer]


def test_every_field_of_the_schema_has_a_widget_with_its_chinese_title() -> None:
    shown = {p.replace(f"/{ROW}", "/0") for p in fields(editor_form({}))}
    wanted = {p for p in schema_leaves() if not p.startswith(("/schema_version", "/attachments"))}
    assert wanted <= shown, wanted - shown
    for f in fields(editor_form({})).values():
        assert re.search(r"[\u4e00-\u9fff]", f.title), f.pointer


def test_a_field_the_layout_does_not_name_still_appears(monkeypatch) -> None:
    """The layout only orders: a new schema field shows up by itself, in the last group."""
    schema = copy.deepcopy(case_schema())
    schema["$defs"]["worker"]["properties"]["wechat"] = {"title": "微信号", "type": "string"}
    monkeypatch.setattr("kunnan_docs.web.form.case_schema", lambda: schema)
    monkeypatch.setattr("kunnan_docs.core.findings.case_schema", lambda: schema)
    groups = editor_form({})
    assert groups[-1].title == "其他" and "/worker/wechat" in fields(groups[-1:])


def test_widgets_come_from_the_schema() -> None:
    found = fields(editor_form({}))
    assert found["/worker/gender"].widget == "select" and found["/worker/gender"].options == [("男", "男"), ("女", "女")]
    assert found["/kind"].options == [("filing", "建档"), ("exit", "脱困"), ("cancellation", "注销")]
    assert ("contact_person", "帮扶联系人提出退档建议") in found["/exit/application/initiated_by"].options
    assert found["/worker/hardship_categories"].widget == "checks"
    assert found["/filing_date"].widget == "date" and found[f"/family_members/{ROW}/birth_date"].widget == "date"
    assert found["/worker/housing_area"].widget == "number" and found[f"/family_members/{ROW}/age"].widget == "integer"
    assert found["/worker/housing_area"].limits == {"minimum": 0, "maximum": 2000}
    assert found["/hardship_reason"].widget == "textarea"
    assert found["/exit/application/signed_by_worker"].widget == "bool"
    assert "18位" in found["/worker/id_number"].hint  # hints from the schema (x-hint)
    assert "公示的工会受理意见" in found["/exit/publicity/contact"].hint  # and from its description
    assert found["/worker/name"].required and not found["/worker/children_schools"].required


def test_records_are_small_forms_of_one_list_item() -> None:
    visit = [f.pointer for f in record_form("/home_visits") if isinstance(f, Field)]
    assert visit == ["/home_visits/0/date", "/home_visits/0/visitor", "/home_visits/0/notes"]
    aid = record_form("/assistance")
    assert any(isinstance(n, Box) and n.pointer == "/assistance/0/medical" for n in aid)


@pytest.mark.parametrize("case_file", CASES, ids=lambda p: p.parent.name)
def test_a_case_goes_through_the_form_unchanged(case_file: Path) -> None:
    case = load(case_file)
    back = case_from_form(form_pairs(case), case)
    expected = {k: v for k, v in case.items() if v is not None}  # an empty field is left out
    expected["worker"] = {k: v for k, v in case["worker"].items() if v != ""}
    assert back == expected


def test_posted_order_and_row_numbers_do_not_change_the_case() -> None:
    """Rows removed in the page leave gaps in the numbers; the case's lists and keys are in the schema's order."""
    case = load(FILING_EXAMPLE / "case.json")
    pairs = form_pairs(case)
    renumbered = sorted(((n.replace("/family_members/2/", "/family_members/7/"), v) for n, v in pairs),
                        key=lambda pair: pair[0], reverse=True)  # stable: a checkbox list keeps its order
    assert json.dumps(case_from_form(renumbered, case), ensure_ascii=False) == \
        json.dumps(case_from_form(pairs, case), ensure_ascii=False)


def test_values_the_widget_cannot_hold_are_shown_as_text_and_kept() -> None:
    case = load(FILING_EXAMPLE / "case.json")
    case["filing_date"] = "2019/3/12"
    case["worker"]["gender"] = "男性"
    case["worker"]["housing_area"] = "四十八"
    case["worker"]["hardship_categories"] = ["因病", "因穷"]
    found = fields(editor_form(case))
    assert found["/filing_date"].widget == "text" and found["/filing_date"].text == "2019/3/12"
    assert ("男性", "男性(不在可选范围内)") in found["/worker/gender"].options
    assert found["/worker/housing_area"].widget == "text"
    assert ("因穷", "因穷(不在可选范围内)") in found["/worker/hardship_categories"].options
    back = case_from_form(form_pairs(case), case)
    assert (back["filing_date"], back["worker"]["gender"], back["worker"]["housing_area"]) == \
        ("2019/3/12", "男性", "四十八")
    assert back["worker"]["hardship_categories"] == ["因病", "因穷"]
    codes = {f.code for f in case_findings(Case(back, FILING_EXAMPLE / "case.json"))}
    assert {"S-FORMAT", "S-CHOICE", "S-TYPE"} <= codes  # the schema names each, beside its field


def test_numbers_and_flags_are_typed_forged_names_ignored() -> None:
    data = parse_form([("/worker/housing_area", " 48.5 "), ("/worker/monthly_income", "1580"),
                       ("/family_members/0/age", "78"), ("/family_members/0/income", "nan"),
                       ("/exit/application/signed_by_worker", "true"), ("/worker/no_such_field", "x"),
                       ("/../etc", "x"), ("csrf", "token"), (f"/family_members/{ROW}/name", "模板行"),
                       ("/worker/name", "   ")])
    assert data["worker"] == {"housing_area": 48.5, "monthly_income": 1580}
    assert data["family_members"] == [{"age": 78, "income": "nan"}]  # not a number JSON can hold: kept as text
    assert data["exit"] == {"application": {"signed_by_worker": True}}


def test_an_attachment_can_be_taken_out_the_others_are_kept() -> None:
    case = load(FILING_EXAMPLE / "case.json")
    back = case_from_form([*form_pairs(case), (DROP, "0")], case)
    assert back["attachments"] == case["attachments"][1:]


def test_an_empty_required_object_names_each_of_its_fields() -> None:
    case = case_from_form([("/kind", "filing")], {})
    assert case["survey"] == {} and case["worker"] == {}
    found = {f.pointer for f in case_findings(Case(case, Path("case.json")))}
    assert {"/survey/date", "/survey/surveyors", "/worker/name", "/worker/id_number"} <= found


def test_a_wrong_check_digit_is_found_while_the_rest_is_still_empty() -> None:
    """The rules assume a schema-valid case; on a draft each says what it can."""
    case = case_from_form([("/kind", "filing"), ("/worker/id_number", "510108197205141237")], {})
    found = draft_findings(Case(case, Path("case.json")))
    id_check = [f for f in found if f.pointer == "/worker/id_number" and f.code == "ID-CHECK"]
    assert id_check and "校验位" in id_check[0].message
    assert "ID-CHECK" not in {f.code for f in case_findings(Case(case, Path("case.json")))}  # the schema stops it


@pytest.mark.parametrize("case_file", CASES, ids=lambda p: p.parent.name)
def test_a_complete_case_has_the_same_findings_as_the_validator_gives(case_file: Path) -> None:
    case = Case(load(case_file), case_file)
    assert draft_findings(case) == case_findings(case)
    broken = Case({**load(case_file), "filing_date": "2030-01-01"}, case_file)
    assert draft_findings(broken) == case_findings(broken)


def test_findings_go_to_the_nearest_place_the_form_has() -> None:
    groups = editor_form(load(EXIT_EXAMPLE / "case.json"))
    places = pointers(groups)
    case = Case({**load(EXIT_EXAMPLE / "case.json"), "home_visits": []}, EXIT_EXAMPLE / "case.json")
    placed = place(draft_findings(case), places)
    assert "/home_visits" in placed  # the overdue warning: at the list
    fake = case_findings(Case({**case.data, "worker": {**case.worker, "gender": "男"}}, case.path))
    assert "/worker/gender" in place(fake, places)
    whole = case_findings(Case({**case.data, "foo": 1}, case.path))
    assert "" in place(whole, places)  # for the case as a whole


BROKEN = {  # one edit per rule or schema check, on the exit example
    "/worker/id_number": "510104196811021243", "/worker/gender": "男", "/worker/phone": "12",
    "/worker/hukou_type": "城市", "/worker/housing_area": "42", "/worker/extra": 1, "/contact_person": None,
    "/assistance/0/channel": "现金", "/assistance/0/date": "2010-01-01", "/exit/application/signed_by_worker": False,
    "/exit/publicity/end": "2019-09-17", "/exit/notice/recipient": "family", "/attachments/0/item": "no_such_item",
    "/attachments/1/path": "../outside.jpg", "/family_members/0/birth_date": "2030-01-01", "/hardship_reason": "短",
    "/survey/date": "2018-05-01", "/previous_archive_no": "CD510104-2018-0112",
}


def test_messages_name_fields_by_their_title_only() -> None:
    """Clerks read them: no JSON pointer, rule code, file path, README or command-line flag; the code and pointer
    stay on the finding for --json, logs and report.json."""
    data = load(EXIT_EXAMPLE / "case.json")
    findings = []
    for pointer, value in BROKEN.items():
        edited = copy.deepcopy(data)
        parts = pointer.strip("/").split("/")
        node: Any = edited
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is None:
            del node[parts[-1]]
        else:
            node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = value
        findings += case_findings(Case(edited, EXIT_EXAMPLE / "case.json"))
    filing_with_exit = Case({**data, "kind": "filing"}, EXIT_EXAMPLE / "case.json")
    findings += case_findings(filing_with_exit)
    codes = {f.code for f in findings}
    assert {"ID-CHECK", "ID-SEX", "S-FORMAT", "S-CHOICE", "S-TYPE", "S-UNKNOWN", "CP-MISSING", "AID-CHANNEL",
            "AID-BEFORE-FILING", "EXIT-UNSIGNED", "EXIT-PUBLICITY-SHORT", "EXIT-RECIPIENT", "ATT-ITEM", "ATT-PATH",
            "FAM-BIRTH", "S-LENGTH", "FIL-SURVEY", "FIL-PREVIOUS", "S-EXIT-BLOCK"} <= codes
    for f in findings:
        assert f.pointer.startswith("/") or f.pointer == "", f
        assert not re.search(r"\(/|/[a-z_]+/|\b[A-Z]{2,}-[A-Z]+|README|schemas/|kunnan-docs|--[a-z]|\btrue\b"
                             r"|kind =|initiated_by", f.message), (f.code, f.message)
        assert "【" in f.message or f.pointer == "", (f.code, f.message)
        assert f.render().startswith(f"[{'错误' if f.severity == 'error' else '提醒'} {f.code}")
        assert f.pointer in f.render()
