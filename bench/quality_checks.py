"""What the answer-quality suite checks in an answer: pure functions of the answer, no I/O.

Every answer gets the general checks (no protocol markup, the right tools or none, no sentence said three
times, not empty, in the user's language); a case adds its own (a fact, a code block, a table, a
citation, the time). Each check gives a verdict and, when it fails, what it saw."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

GENERAL = ("completed", "non_empty", "no_markup", "tools", "no_repetition", "language")

# What a model's protocol looks like when it leaks into the visible text: tool-call and tool-result tags,
# a tool call written as bare JSON, chat-template tokens, and the words Parlor wraps results in.
MARKUP = re.compile("|".join((
    r"</?\s*tool_(?:call|result|response)\b",
    r"</?\s*tools\s*>",
    r"<\|[a-z_]+\|>",
    r"\{\s*\"(?:name|function)\"\s*:\s*\"[^\"]*\"\s*,\s*\"(?:arguments|parameters)\"",
    r"\btool returned:",
    r"Using this result, answer my question",
)), re.IGNORECASE)

STOPWORDS = {  # frequent words of two letters or more, enough to tell these languages apart in a paragraph
    "en": "the and is are you your of to in it that this for with what have be can my on not",
    "fr": "le la les et est sont vous tu de des un une pour que qui dans pas avec ce je mon sur au",
    "de": "der die das und ist sind sie du ein eine nicht mit zu von für den dem ich es auf wie wird",
    "es": "el la los las es son usted tú de un una para que en con por se su lo muy del",
    "it": "il lo la gli le di un una per che non con del della questo io sono",
    "pt": "os as você de um uma para que em não com do da isso eu são",
}
_COMMON = {lang: frozenset(words.split()) for lang, words in STOPWORDS.items()}


@dataclass
class Answer:
    """One answer as the client received it."""

    text: str  # the visible text (what a user reads)
    tool_calls: list[tuple[str, Any]] = field(default_factory=list)  # (tool, input) in order
    sources: list[dict[str, Any]] = field(default_factory=list)  # source-document parts
    finished: bool = False  # the stream ended with `finish`
    error: str | None = None  # an `error` chunk's text
    ttft_ms: float | None = None
    output_tokens: int = 0
    seconds: float = 0.0
    markup_stripped: int = 0  # markup the server dropped before it reached the client: a leak all the same


@dataclass(frozen=True)
class Verdict:
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class Expectations:
    """A case's own checks (see tests/data/quality/prompts.toml)."""

    lang: str = "en"
    tools: tuple[str, ...] = ()
    tools_allowed: tuple[str, ...] = ()
    contains_any: tuple[str, ...] = ()
    contains_all: tuple[str, ...] = ()
    code_block: bool = False
    table: bool = False
    citation: bool = False
    time_zone: str | None = None


def general(answer: Answer, expect: Expectations, final: bool) -> dict[str, Verdict]:
    """The checks every answer gets. The tools check is the case's on its judged (`final`) answer; an
    earlier turn of a case only must not call a tool the case does not name."""
    return {
        "completed": _completed(answer),
        "non_empty": Verdict(bool(answer.text.strip()), "no text"),
        "no_markup": no_markup(answer.text, answer.markup_stripped),
        "tools": tools_used(answer, expect, required=final),
        "no_repetition": no_repetition(answer.text),
        "language": language(answer.text, expect.lang),
    }


def specific(answer: Answer, expect: Expectations, now: datetime | None = None) -> dict[str, Verdict]:
    """The case's own checks on its judged answer."""
    checks: dict[str, Verdict] = {}
    if expect.contains_any or expect.contains_all:
        checks["facts"] = facts(answer.text, expect.contains_any, expect.contains_all)
    if expect.code_block:
        checks["code_block"] = Verdict(bool(CODE_BLOCK.search(answer.text)), "no fenced code block")
    if expect.table:
        checks["table"] = Verdict(bool(TABLE.search(answer.text)), "no Markdown table")
    if expect.citation:
        checks["citation"] = Verdict(bool(answer.sources), "no source cited")
    if expect.time_zone:
        checks["time"] = current_time(answer.text, expect.time_zone, now)
    return checks


def _completed(answer: Answer) -> Verdict:
    if answer.error is not None:
        return Verdict(False, f"error: {answer.error}")
    return Verdict(answer.finished, "the stream did not finish")


def no_markup(text: str, stripped: int = 0) -> Verdict:
    found = MARKUP.search(text)
    if found:
        return Verdict(False, f"markup: {text[max(0, found.start() - 20):found.end() + 20]!r}")
    return Verdict(not stripped, f"the server stripped markup {stripped} time(s)")


def tools_used(answer: Answer, expect: Expectations, required: bool = True) -> Verdict:
    called = [name for name, _ in answer.tool_calls]
    unwanted = [name for name in called if name not in expect.tools and name not in expect.tools_allowed]
    if unwanted:
        return Verdict(False, f"called {', '.join(unwanted)}" + ("" if expect.tools else " on a message needing none"))
    missing = [name for name in expect.tools if name not in called] if required else []
    return Verdict(not missing, f"did not call {', '.join(missing)}")


def no_repetition(text: str) -> Verdict:
    """No sentence of three words or more said three times (code blocks and table rows aside)."""
    prose = TABLE_ROW.sub("", CODE_BLOCK.sub("", text))
    sentences = [re.sub(r"\W+", " ", s).strip().lower() for s in re.split(r"(?<=[.!?])\s+|\n+", prose)]
    counts = Counter(s for s in sentences if len(s.split()) >= 3)
    repeated = [s for s, n in counts.items() if n >= 3]
    return Verdict(not repeated, f"said {counts[repeated[0]]} times: {repeated[0]!r}" if repeated else "")


def detect_language(text: str) -> str | None:
    """The language whose frequent words the text uses most (None: too little prose to tell)."""
    words = re.findall(r"[^\W\d_]+", TABLE_ROW.sub(" ", CODE_BLOCK.sub(" ", text)).lower())
    if len(words) < 4:
        return None
    scores = {lang: sum(1 for w in words if w in common) for lang, common in _COMMON.items()}
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] >= 2 else None


def language(text: str, expected: str) -> Verdict:
    found = detect_language(text)
    return Verdict(found in (None, expected), f"answered in {found}, asked in {expected}")


def _digits_joined(text: str) -> str:
    """1,234,567 and 1 234 567 (and a thin or narrow space) read as 1234567."""
    return re.sub(r"(?<=\d)[,\u202f\u2009\u00a0 ](?=\d{3}\b)", "", text)


def facts(text: str, any_of: Sequence[str], all_of: Sequence[str]) -> Verdict:
    haystack = _digits_joined(text).lower()
    missing = [f for f in all_of if f.lower() not in haystack]
    if missing:
        return Verdict(False, f"missing {', '.join(map(repr, missing))}")
    if any_of and not any(f.lower() in haystack for f in any_of):
        return Verdict(False, f"none of {', '.join(map(repr, any_of))}")
    return Verdict(True)


def current_time(text: str, zone: str, now: datetime | None = None) -> Verdict:
    """The answer names the zone's current time to the minute (±2), in 24- or 12-hour form."""
    moment = (now or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(zone))
    for shift in range(-2, 3):
        t = moment + timedelta(minutes=shift)
        forms = (f"{t:%H:%M}", f"{t.hour % 12 or 12}:{t:%M}", f"{t.hour}:{t:%M}", f"{t:%Hh%M}", f"{t.hour}h{t:%M}")
        if any(re.search(rf"(?<!\d){re.escape(form)}(?!\d)", text) for form in forms):
            return Verdict(True)
    return Verdict(False, f"not the time in {zone} ({moment:%H:%M})")


def saved_fact(saved: Sequence[str], wanted: str) -> Verdict:
    """The user's memory holds a fact containing `wanted`."""
    hit = any(wanted.lower() in fact.lower() for fact in saved)
    return Verdict(hit, f"saved {list(saved)!r}, none with {wanted!r}")


CODE_BLOCK = re.compile(r"```[^\n]*\n.*?\S.*?```", re.S)
TABLE = re.compile(r"^\s*\|.*\|\s*\n\s*\|(?:\s*:?-{3,}:?\s*\|)+", re.M)
TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$", re.M)

