"""The last line of defence: protocol markup never reaches a client as text.

A local model answering freely can still write what it has seen in training: `<tool_call>` blocks, a
call as bare JSON, `<tool_result>` tags, chat-template tokens. `MarkupFilter` streams text through,
holding back only what may be the start of such markup, and drops it once it is sure. Every drop is
counted, and the provider logs it: a leak the filter caught is still a failure of the prompt."""

from __future__ import annotations

import json
import re

_BLOCK = re.compile(r"<tool_(call|result|response)\b[^>]*>.*?</tool_\1\s*>", re.S | re.I)
_OPEN_BLOCK = re.compile(r"<tool_(call|result|response)\b", re.I)
_TAG = re.compile(r"</?\s*tool_(?:call|result|response)\b[^>]*>|</?tools>", re.I)
_TEMPLATE = re.compile(r"<\|im_start\|>(?:[a-z]+\n)?|<\|[a-z_]{2,20}\|>")  # with the role a turn opens with
_TEMPLATE_PART = re.compile(r"<\|[a-z_]{0,20}\|?|<\|im_start\|>[a-z]*")
_CALL_START = re.compile(r'(?:```(?:json)?\s*)?\{\s*"(?:name|function|tool)"\s*:\s*"([^"]*)"')
_FENCE_END = re.compile(r"\s*```")
MARKERS = ("<tool_call", "<tool_result", "<tool_response", "</tool_call", "</tool_result", "</tool_response",
            "<tools>", "</tools>", "<|", "```json", '{"name"', '{"function"', '{"tool"', '```{"name"',
           '```{"function"', '```{"tool"')
HOLD_LIMIT = 4000  # characters held for one possible call before they are let through as text


class MarkupFilter:
    def __init__(self) -> None:
        self._buffer = ""
        self._line_start = True  # whether the buffer starts a line (a call is looked for at line starts only)
        self.stripped = 0

    def feed(self, piece: str) -> str:
        """What of the text so far can go to the client now."""
        self._buffer += piece
        return self._release(final=False)

    def end(self) -> str:
        """The rest, once the model has finished (an unclosed block is dropped)."""
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        out: list[str] = []
        text = self._buffer
        while text:
            start = _next_candidate(text, self._line_start)
            if start is None:
                keep = 0 if final else _partial_marker(text)
                self._skip(out, text[:len(text) - keep])
                text = text[len(text) - keep:]
                break
            self._skip(out, text[:start])
            text = text[start:]
            consumed = self._markup_at(text, final)
            if consumed is None:  # cannot tell yet: hold from here
                break
            if consumed == 0:  # not markup after all: let one character through and look again
                self._skip(out, text[0])
                text = text[1:]
                continue
            self.stripped += 1
            self._skip([], text[:consumed])
            text = text[consumed:]
        self._buffer = text
        return "".join(out)

    def _skip(self, out: list[str], passed: str) -> None:
        """Moves past `passed` (kept when `out` is the output), minding where lines start."""
        if passed:
            out.append(passed)
            _, newline, tail = passed.rpartition("\n")
            self._line_start = not tail.strip(" \t") and bool(newline or self._line_start)

    def _markup_at(self, text: str, final: bool) -> int | None:
        """How much of `text` (which starts at a candidate) is markup: n > 0 to drop, 0 if none, None if
        it cannot be told until more text comes."""
        if text.startswith("<"):
            if block := _BLOCK.match(text):
                return block.end()
            if _OPEN_BLOCK.match(text):
                return len(text) if final else (None if len(text) < HOLD_LIMIT else 0)
            if tag := _TAG.match(text):
                return tag.end()
            if not final and _TEMPLATE_PART.fullmatch(text):
                return None
            if token := _TEMPLATE.match(text):
                return token.end()
            if not final and any(len(text) < len(m) and m.startswith(text) for m in MARKERS if m[0] == "<"):
                return None
            return 0
        return self._call_at(text, final)

    def _call_at(self, text: str, final: bool) -> int | None:
        """A tool call written as JSON, bare or in a ```json fence (any name: a model also calls tools it
        was never offered). Other JSON is text."""
        if _CALL_START.match(text) is None:
            prefix = re.sub(r"\s+", "", text)
            may_be = any(m.startswith(prefix) or prefix.startswith(m) for m in MARKERS if m[0] in "{`")
            return None if (not final and may_be and len(text) < 40) else 0
        brace = text.index("{")
        try:
            value, end = json.JSONDecoder().raw_decode(text, brace)
        except ValueError:
            return None if not final and len(text) < HOLD_LIMIT else 0
        if not _is_call(value):
            return 0
        if not text.startswith("```"):
            return end
        if fence := _FENCE_END.match(text, end):
            return fence.end()
        return None if not final and text[end:].strip() in ("", "`", "``") else end


def _is_call(value: object) -> bool:
    """`{"name": ..., "arguments": ...}`, also as `{"function": {...}}` or with "tool"/"parameters"."""
    if not isinstance(value, dict):
        return False
    inner = value["function"] if isinstance(value.get("function"), dict) else value
    name = inner.get("name") or inner.get("tool")
    return isinstance(name, str) and any(k in inner for k in ("arguments", "parameters"))


def _next_candidate(text: str, line_start: bool) -> int | None:
    found = [i for i in (text.find("<"), _call_candidate(text, line_start)) if i >= 0]
    return min(found) if found else None


def _call_candidate(text: str, line_start: bool) -> int:
    """Where a JSON call may begin: a `{` or a ``` fence at the start of a line."""
    match = (_LINE_START if line_start else _NEW_LINE).search(text)
    return match.start(1) if match else -1


_LINE_START = re.compile(r"(?:^|\n)[ \t]*(```|\{)")
_NEW_LINE = re.compile(r"\n[ \t]*(```|\{)")


def _partial_marker(text: str) -> int:
    """How many trailing characters may be the first part of a marker still arriving."""
    for size in range(min(len(text), 12), 0, -1):
        if any(m.startswith(text[-size:]) for m in ("<tool_", "</tool_", "<tools>", "<|", "```")):
            return size
    return 0
