"""Tool calls for local models that write them as text.

The Qwen models pick tools and arguments well but write the call as plain text: bare JSON, JSON in a
```json fence, or inside <tool_call> tags. `parse_tool_calls` turns all three into calls (pure, no I/O);
`tool_prompt` and `prompt_messages` shape the conversation the way these models answer from: the tools
listed in the system message, earlier calls as <tool_call> text, and a tool's result as a user message
stating it and asking for the answer (the chat template's `tool` role made them repeat the call).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from parlor.llm.types import LLMMessage, ToolSpec

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)
_FENCED = re.compile(r"```[ \t]*(?:json|JSON|tool_call)?[ \t]*\n?(.*?)(?:```|$)", re.S)
# where a tool call may begin in streamed text
_CANDIDATE = re.compile(r"<tool_call>|```|^[ \t]*[\[{]", re.M)
_OPENING = re.compile(r'\[?\s*\{\s*"(?:name|function|type|tool)"')
_OPENING_CHARS = re.compile(r'[\[{\s"a-z]*')
_MARKERS = ("<tool_call>", "```")


@dataclass(frozen=True, slots=True)
class ParsedCall:
    name: str
    arguments: str  # JSON text of an object


@dataclass(frozen=True, slots=True)
class Parsed:
    text: str  # what is left for the user (the prose around the calls)
    calls: list[ParsedCall]


def parse_tool_calls(output: str, tool_names: Iterable[str]) -> Parsed:
    """The tool calls written in `output`, for tools named in `tool_names` (anything else stays text).

    Tried in order: <tool_call> tags (closing tag optional), ```json fences, then bare JSON objects or
    arrays anywhere in the text. A call is `{"name": ..., "arguments": {...}}` (also `parameters`, or an
    OpenAI-style `{"function": {...}}`), arguments given as an object or as a JSON string."""
    names = set(tool_names)
    if not names or not output.strip():
        return Parsed(output, [])
    for pattern in (_TAGGED, _FENCED):
        calls: list[ParsedCall] = []
        spans: list[tuple[int, int]] = []
        for match in pattern.finditer(output):
            found = _calls_in(match.group(1), names)
            if found:
                calls.extend(found)
                spans.append(match.span())
        if calls:
            return Parsed(_without(output, spans), calls)
    calls, spans = _bare_calls(output, names)
    return Parsed(_without(output, spans), calls) if calls else Parsed(output, [])


def _calls_in(text: str, names: set[str]) -> list[ParsedCall]:
    text = text.strip()
    try:
        value = json.loads(text)
    except ValueError:
        found, _ = _bare_calls(text, names)
        return found
    return _as_calls(value, names)


def _bare_calls(text: str, names: set[str]) -> tuple[list[ParsedCall], list[tuple[int, int]]]:
    decoder = json.JSONDecoder()
    calls: list[ParsedCall] = []
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(text):
        start = min((i for i in (text.find("{", index), text.find("[", index)) if i >= 0), default=-1)
        if start < 0:
            break
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            index = start + 1
            continue
        found = _as_calls(value, names)
        if found:
            calls.extend(found)
            spans.append((start, end))
            index = end
        else:
            index = start + 1
    return calls, spans


def _as_calls(value: Any, names: set[str]) -> list[ParsedCall]:
    items = value if isinstance(value, list) else [value]
    calls = [call for item in items if (call := _as_call(item, names)) is not None]
    return calls if len(calls) == len(items) else []


def _as_call(item: Any, names: set[str]) -> ParsedCall | None:
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("function"), dict):
        item = item["function"]
    name = item.get("name") or item.get("tool") or item.get("tool_name")
    if not isinstance(name, str) or name not in names:
        return None
    arguments = item.get("arguments", item.get("parameters", item.get("args", {})))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None
    return ParsedCall(name, json.dumps(arguments, ensure_ascii=False))


def _without(text: str, spans: Sequence[tuple[int, int]]) -> str:
    kept, last = [], 0
    for start, end in spans:
        kept.append(text[last:start])
        last = end
    kept.append(text[last:])
    return re.sub(r"\n{3,}", "\n\n", "".join(kept)).strip()


def tool_prompt(tools: Sequence[ToolSpec]) -> str:
    """The tool list for the system message, in the words of the Qwen2.5 chat template."""
    listed = "\n".join(json.dumps({"type": "function", "function": {
        "name": t.name, "description": t.description, "parameters": t.parameters}}, ensure_ascii=False)
        for t in tools)
    return ("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
            f"{listed}\n</tools>\n\nFor each function call, return a json object with function name and "
            "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
            '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>\n\n'
            "Call a tool only when it is needed; otherwise answer directly.")


def prompt_messages(messages: Sequence[LLMMessage], tools: Sequence[ToolSpec]) -> list[dict[str, str]]:
    """The conversation as plain system/user/assistant messages for a model that calls tools in text.

    Right after tool results the tool list is left out and the question is asked again with the results:
    small models then answer from them (with the list, or with the template's `tool` role, they call the
    same tool again)."""
    wire: list[dict[str, str]] = []
    names: dict[str, str] = {}
    question = ""
    for message in messages:
        if message.role == "assistant" and message.tool_calls:
            calls = "\n".join(f'<tool_call>\n{{"name": {json.dumps(c.name)}, "arguments": {c.arguments or "{}"}}}'
                              f"\n</tool_call>" for c in message.tool_calls)
            names.update({c.id: c.name for c in message.tool_calls})
            wire.append({"role": "assistant", "content": f"{message.content}\n{calls}".strip()})
        elif message.role == "tool":
            name = names.get(message.tool_call_id or "", "the")
            wire.append({"role": "user", "content": f"The {name} tool returned: {message.content}"})
        else:
            if message.role == "user":
                question = message.content
            wire.append({"role": message.role, "content": message.content})
    answering = bool(messages) and messages[-1].role == "tool"
    if answering:
        wire.append({"role": "user", "content": f"Using this result, answer my question: {question}"})
    if tools and not answering:
        prompt = tool_prompt(tools)
        if wire and wire[0]["role"] == "system":
            wire[0] = {"role": "system", "content": f"{wire[0]['content']}\n\n{prompt}"}
        else:
            wire.insert(0, {"role": "system", "content": prompt})
    return _merge_same_role(wire)


def _merge_same_role(wire: list[dict[str, str]]) -> list[dict[str, str]]:
    merged: list[dict[str, str]] = []
    for message in wire:
        if merged and merged[-1]["role"] == message["role"] == "user":
            merged[-1] = {"role": "user", "content": f"{merged[-1]['content']}\n\n{message['content']}"}
        else:
            merged.append(message)
    return merged


def _opening(body: str) -> bool | None:
    """Whether text starting with `{` or `[` opens a tool call: True, False, or None (cannot tell yet)."""
    if _OPENING.match(body):
        return True
    if len(body) < 32 and _OPENING_CHARS.fullmatch(body):
        return None
    return False


def scan_stream(text: str, start: int = 0) -> tuple[int | None, int]:
    """For text being streamed from `start` on: (where a tool call begins, or None; how far the text can
    be sent now). Text from a call's beginning is held back for `parse_tool_calls` at the end; text that
    may still turn out to begin one (a fence whose first line has not come yet, a partial marker) waits."""
    pos = start
    while match := _CANDIDATE.search(text, pos):
        found = match.group()
        if found == "<tool_call>":
            return match.start(), match.start()
        if found == "```":
            rest = text[match.end():]
            newline = rest.find("\n")
            if newline < 0:
                if len(rest) <= 12:
                    return None, match.start()  # the fence's language is still coming
                pos = match.end()
                continue
            if rest[:newline].strip().lower() not in ("", "json", "tool_call"):
                pos = match.end()  # a code block in some language: plain text
                continue
            body = rest[newline + 1:].lstrip()
            opening = _opening(body) if body[:1] in ("{", "[") else (None if not body else False)
        else:  # a line starting with { or [
            opening = _opening(text[match.end() - 1:])
        if opening is True:
            return match.start(), match.start()
        if opening is None:
            return None, match.start()
        pos = match.end()
    if not text[start:].strip():
        return None, start  # only whitespace so far: a bare call may follow
    for size in range(min(len(text) - start, 11), 0, -1):  # a marker may be arriving in pieces
        if any(marker.startswith(text[-size:]) for marker in _MARKERS):
            return None, len(text) - size
    return None, len(text)
