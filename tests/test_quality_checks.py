"""The answer-quality suite's checks (bench/quality_checks.py) catch what the bundled models got wrong
before (the answers quoted in issue 18 and in the suite's first run) and pass good answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.quality import load_cases
from bench.quality_checks import Answer, Expectations, current_time, detect_language, general, specific

CHAT = Expectations()
CALC = Expectations(tools=("calculator",), contains_all=("121932631112635269",))


def failed(answer: Answer, expect: Expectations) -> set[str]:
    verdicts = {**general(answer, expect, final=True), **specific(answer, expect)}
    return {name for name, verdict in verdicts.items() if not verdict.passed}


@pytest.mark.parametrize(("text", "calls", "expect", "wrong"), [
    ('<tool_result>{"name": "calculator", "arguments": {"expression": "10 + 20"}}</tool_result>',
     [("calculator", {})], CHAT, {"no_markup", "tools"}),
    ("<tool_result> </tool_result>\n<tool_result> </tool_result>", [("calculator", {})], CALC, {"no_markup", "facts"}),
    ('{"name": "get_user_data", "arguments": {}}', [], CHAT, {"no_markup"}),
    ("Sure!", [("calculator", {}), ("calculator", {}), ("calculator", {})], CHAT, {"tools"}),
    ("<|im_start|>assistant\nHello", [], CHAT, {"no_markup"}),
    ("The calculator tool returned: 42", [], CHAT, {"no_markup"}),
    ("It is 121932631112635269.", [], CALC, {"tools"}),
    ("Hi. " + "I am here to help you today. " * 3, [], CHAT, {"no_repetition"}),
    ("", [], CHAT, {"non_empty"}),
])
def test_bad_answers_fail_the_checks_they_should(text: str, calls: list[tuple[str, object]],
                                                 expect: Expectations, wrong: set[str]) -> None:
    assert failed(Answer(text, calls, finished=True), expect) == wrong


def test_good_answers_pass() -> None:
    assert failed(Answer("Hello there! Have a lovely day.", finished=True), CHAT) == set()
    assert failed(Answer("123456789 \u00d7 987654321 = 121,932,631,112,635,269.", [("calculator", {})], finished=True),
                  CALC) == set()
    code = Expectations(code_block=True, table=True)
    text = "Here:\n```python\ndef f():\n    return 1\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    assert failed(Answer(text, finished=True), code) == set()


def test_the_answer_must_be_in_the_users_language() -> None:
    assert detect_language("Bonjour ! Voici une idée de dîner rapide pour ce soir : des pâtes au pesto.") == "fr"
    assert detect_language("Ein Regenbogen entsteht, wenn Sonnenlicht auf Regentropfen trifft.") == "de"
    assert detect_language("Tea whispers in the breeze,\nA gentle breeze brings warmth.") == "en"
    assert detect_language("| Yes | No |\n|---|---|\n| No | Yes |\n\nLists and tuples compared in the table.") == "en"
    french = Expectations(lang="fr")
    assert "language" in failed(Answer("I'm sorry, but as an AI language model I cannot help with that.",
                                       finished=True), french)


def test_the_time_must_be_now_in_that_zone() -> None:
    now = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)
    assert current_time("It is 15:31 in Tokyo.", "Asia/Tokyo", now).passed
    assert current_time("It is 3:30 PM in Tokyo.", "Asia/Tokyo", now).passed
    assert not current_time("It is 14:42 in Tokyo.", "Asia/Tokyo", now).passed


def test_the_shipped_set_covers_what_the_suite_promises() -> None:
    cases = load_cases()
    categories = {c.category for c in cases}
    assert len(cases) >= 40 and len({c.id for c in cases}) == len(cases)
    assert {"small talk", "writing", "code", "table", "arithmetic", "time", "remember", "about me", "document",
            "multi-turn"} <= categories
    assert any(len(c.turns) > 1 for c in cases) and any(c.expect.lang != "en" for c in cases)
