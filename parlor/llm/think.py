"""A `<think>…</think>` block written inline in a model's text, streamed as reasoning instead.

Reasoning models served without a reasoning parser (DeepSeek-R1 distills, Qwen3, QwQ behind an
OpenAI-compatible server, or as a local GGUF) open their answer with their thoughts between these tags.
Only a leading block counts: one that opens the answer (after any whitespace). A `<think>` written later is
text, as when a model explains the tag itself, so an ordinary answer is never held back or swallowed.
A tag may be split across pieces anywhere: what may still become a tag is held until the next piece tells.
An unclosed block (the model hit its token limit while thinking) ends as reasoning."""

from __future__ import annotations

from enum import Enum

from parlor.llm.types import ReasoningDelta, TextDelta

OPEN, CLOSE = "<think>", "</think>"


class _State(Enum):
    START = "start"  # nothing but whitespace yet: the block may still open
    THINKING = "thinking"
    ANSWERING = "answering"


class ThinkSplitter:
    def __init__(self) -> None:
        self._state = _State.START
        self._held = ""
        self._trim = False  # the whitespace after a tag (a newline, mostly) is the tag's, not the text's

    def feed(self, piece: str) -> list[ReasoningDelta | TextDelta]:
        if self._state is _State.ANSWERING and not self._trim:  # the hot path: text passes straight through
            return [TextDelta(piece)] if piece else []
        text, self._held = self._held + piece, ""
        if self._trim:
            text = text.lstrip()
            self._trim = not text
        if self._state is _State.START:
            return self._start(text)
        if self._state is _State.THINKING:
            return self._thinking(text)
        return [TextDelta(text)] if text else []

    def end(self) -> list[ReasoningDelta | TextDelta]:
        """What is still held, once the stream is over."""
        held, self._held = self._held, ""
        if not held:
            return []
        return [ReasoningDelta(held)] if self._state is _State.THINKING else [TextDelta(held)]

    def _start(self, text: str) -> list[ReasoningDelta | TextDelta]:
        begun = text.lstrip()
        if not begun or (len(begun) < len(OPEN) and OPEN.startswith(begun)):
            self._held = text  # whitespace, or what may become the tag
            return []
        if begun.startswith(OPEN):
            self._state, self._trim = _State.THINKING, True
            return self.feed(begun[len(OPEN):])
        self._state = _State.ANSWERING
        return [TextDelta(text)]

    def _thinking(self, text: str) -> list[ReasoningDelta | TextDelta]:
        end = text.find(CLOSE)
        if end >= 0:
            self._state, self._trim = _State.ANSWERING, True
            return [*_thought(text[:end]), *self.feed(text[end + len(CLOSE):])]
        keep = _partial_tag(text)
        self._held = text[len(text) - keep:]
        return _thought(text[:len(text) - keep])


def _thought(text: str) -> list[ReasoningDelta | TextDelta]:
    return [ReasoningDelta(text)] if text else []


def _partial_tag(text: str) -> int:
    """How many trailing characters of `text` may be the start of the closing tag."""
    for size in range(min(len(text), len(CLOSE) - 1), 0, -1):
        if CLOSE.startswith(text[-size:]):
            return size
    return 0
