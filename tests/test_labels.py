"""One table of Chinese labels: no module or desk template keeps its own copy of the words for kinds, outcomes,
item states, exit stages or inbox stages."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from kunnan_docs.core import labels
from kunnan_docs.core.checklist import kind_spec
from kunnan_docs.core.labels import ExitStage, InboxStage, ItemState, Kind, Outcome, label
from kunnan_docs.errors import ExitCode, worst

PACKAGE = Path(labels.__file__).resolve().parent.parent
TEMPLATES = PACKAGE / "web" / "templates"
CODES = {m.value for vocabulary in labels.VOCABULARIES for m in vocabulary}
WORDS = {m.label for vocabulary in labels.VOCABULARIES for m in vocabulary} | {label(labels.LEGACY_PUBLISHED)}
# Words no prose needs: a page that writes one by hand copies a status (建档, 脱困, 已有 … are common prose)
STATUS_WORDS = {w for w in WORDS if len(w) >= 3 and w not in {k.label for k in Kind}}


def _own_tables(path: Path) -> list[str]:
    """Dict literals that map one of our codes to Chinese text."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Dict):
            pairs = [(k.value, v.value) for k, v in zip(node.keys, node.values, strict=True)
                     if isinstance(k, ast.Constant) and isinstance(v, ast.Constant) and isinstance(v.value, str)]
            if any(k in CODES and any("\u4e00" <= c <= "\u9fff" for c in v) for k, v in pairs):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def test_kind_and_status_words_come_from_the_one_table() -> None:
    tables = [t for p in sorted(PACKAGE.rglob("*.py")) for t in _own_tables(p) if not t.startswith("core/labels.py")]
    assert tables == []


_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_LITERAL = re.compile(r"\"([^\"]*)\"|'([^']*)'")


def hand_written_labels(text: str) -> list[str]:
    """Our words in a template: inside a Jinja expression's string literal (a label chosen by hand, as
    `"建档" if p.kind == "filing"`), or a status word anywhere in its text."""
    found = []
    for tag in _TAG.findall(text):
        found += [w for m in _LITERAL.finditer(tag) for w in WORDS if w in (m.group(1) or m.group(2) or "")]
    prose = _TAG.sub(" ", text)
    return found + [w for w in STATUS_WORDS if w in prose]


def test_desk_templates_take_our_words_from_the_label_filter() -> None:
    found = {p.name: words for p in sorted(TEMPLATES.glob("*.html")) if (words := hand_written_labels(p.read_text("utf-8")))}
    assert found == {}


@pytest.mark.parametrize("snippet", [
    '<td>{{ "建档" if p.kind == "filing" else "脱困" }}</td>',
    '{{ {"present": "已有", "missing": "缺少"}.get(e.status) }}',
    '<td>{{ "解困脱困(附件2清单)" }}</td>',
    "<h2>等待中 <span>{{ n }}</span></h2>",
    "<p>状态不是“材料齐全”的案卷</p>",
])
def test_the_template_check_finds_a_label_written_by_hand(snippet: str) -> None:
    assert hand_written_labels(snippet)
    assert not hand_written_labels('<td>{{ p.kind|label }}</td><h2>{{ "waiting"|label }}</h2><p>解困脱困进度</p>')


def test_every_code_has_its_word_and_stored_values_read_back() -> None:
    for vocabulary in labels.VOCABULARIES:
        for member in vocabulary:
            assert member.label and any("\u4e00" <= c <= "\u9fff" for c in member.label), member
            assert label(member.value) in {m.label for v in labels.VOCABULARIES for m in v if m.value == member.value}
    assert label("awaiting_signature") == Outcome.AWAITING_SIGNATURE.label == "待签章"  # an outcome first
    assert ItemState("awaiting_signature").label == "已有打印稿,待签章" and ItemState.NOT_YET.label == "未到办理阶段"
    assert label("published") == "已发布" and label("unknown-code") == "unknown-code"  # legacy ledgers, foreign text
    assert InboxStage.DUPLICATE.label == "重复提交" and ExitStage.PUBLICITY.label == "公示中"


def test_kinds_are_data_and_use_the_annex_titles_wording() -> None:
    assert [Kind(k).label for k in ("filing", "exit", "cancellation")] == ["建档", "脱困", "注销"]
    assert kind_spec("exit").archive_title == "脱困困难职工档案" and kind_spec("filing").archive_title == "建档困难职工档案"
    assert kind_spec(Kind.CANCELLATION).has_cancellation and kind_spec("exit").has_exit
    assert not (kind_spec("filing").has_exit or kind_spec("filing").has_cancellation)


def test_outcomes_keep_their_exit_codes_and_a_batch_takes_the_most_serious() -> None:
    assert {o: o.exit_code for o in Outcome} == {
        Outcome.COMPLETE: ExitCode.OK, Outcome.AWAITING_SIGNATURE: ExitCode.AWAITING_SIGNATURE,
        Outcome.INCOMPLETE: ExitCode.INCOMPLETE, Outcome.FOLLOW_UP: ExitCode.INCOMPLETE,
        Outcome.EXIT_IN_PROGRESS: ExitCode.EXIT_IN_PROGRESS, Outcome.REJECTED: ExitCode.INVALID}
    assert ExitCode.EXIT_IN_PROGRESS == 7
    order = [ExitCode.INVALID, ExitCode.INCOMPLETE, ExitCode.EXIT_IN_PROGRESS, ExitCode.AWAITING_SIGNATURE, ExitCode.OK]
    for i, code in enumerate(order):
        assert worst(order[i:]) is code and worst(reversed(order[i:])) is code
    assert worst([]) is ExitCode.OK


def test_exit_stages_follow_the_notices_order() -> None:
    stages = list(ExitStage)
    assert [s.value for s in stages] == ["applied", "reviewed", "publicity", "publicity_ended", "approved", "notified"]
    assert ExitStage.NOTIFIED.reached(ExitStage.APPLIED) and ExitStage.PUBLICITY.reached(ExitStage.PUBLICITY)
    assert not ExitStage.PUBLICITY_ENDED.reached(ExitStage.APPROVED)
