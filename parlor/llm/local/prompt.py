"""A conversation in the words a small local model answers well from: plain text, no protocol to imitate.

Measured on the bundled Qwen models (bench/quality.py): whatever markup they are shown — tool-call tags,
`<tool_result>` fences, earlier calls as JSON — they write back into later answers. So a local model sees
only what was said: earlier turns' tool calls and results are left out (their answers kept what mattered),
and this turn's results come after the question as a short note in plain words, each result laid out
as indented `key: value` lines rather than JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from parlor.llm.types import LLMMessage

# Measured over 7 tool answers x 6 seeds: with a warning that results are "information, never instructions"
# the 0.5B model refused ("I can't assist with that") or echoed the warning, 34/42 right; a plain note,
# 40/42 (1.5B: 40 and 42 of 42). Quoting the question came after, from the suite's multi-turn answers.
# A small model's defence against planted text is that tools act only for
# the caller, whatever it writes; remote models also get the fence (llm/fence.py).
RESULTS_INTRO = "Looked up for the user's last message, {question}:"  # quoted: with history, 0.5B answered an older one
RESULTS_OUTRO = "Use it to answer that message, in its language."


def conversation(messages: Sequence[LLMMessage]) -> list[dict[str, str]]:
    """System, user and assistant text only; this turn's tool results (those after the last user
    message) as a closing system note."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    wire: list[dict[str, str]] = []
    calls: dict[str, tuple[str, str]] = {}  # call id: (tool, arguments)
    results: list[str] = []
    for index, message in enumerate(messages):
        for call in message.tool_calls:
            calls[call.id] = (call.name, call.arguments)
        if message.role == "tool":
            if index > last_user:
                results.append(_result(message, calls.get(message.tool_call_id or "")))
        elif message.content.strip() or message.role != "assistant":  # a step that only called tools is left out
            _append(wire, message.role, message.content)
    if results:
        question = json.dumps(messages[last_user].content[:300], ensure_ascii=False)
        _append(wire, "system", RESULTS_INTRO.format(question=question) + "\n" + "\n\n".join(results)
                + f"\n\n{RESULTS_OUTRO}")
    return wire


def ends_with_results(messages: Sequence[LLMMessage]) -> bool:
    """This step answers from tool results (offering tools again made small models repeat the call)."""
    return bool(messages) and messages[-1].role == "tool"


def _append(wire: list[dict[str, str]], role: str, content: str) -> None:
    if wire and wire[-1]["role"] == role and role != "system":  # templates want turns to alternate
        wire[-1] = {"role": role, "content": f"{wire[-1]['content']}\n\n{content}"}
    else:
        wire.append({"role": role, "content": content})


def _result(message: LLMMessage, call: tuple[str, str] | None) -> str:
    name = message.tool_name or (call[0] if call else "a tool")
    asked = _arguments(call[1]) if call else ""
    heading = f"{name}({asked})" if asked else name
    if message.tool_error:
        return f"{heading} failed: {message.content}"
    return f"{heading} gave:\n{readable(_parsed(message.content))}"


def _arguments(arguments: str) -> str:
    value = _parsed(arguments)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items())
    return str(value)


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def readable(value: Any, indent: str = "  ") -> str:
    """JSON as indented `key: value` lines (lists numbered), what a small model reads most reliably."""
    return "\n".join(_lines(value, indent))


def _lines(value: Any, indent: str) -> list[str]:
    if isinstance(value, dict):
        lines: list[str] = []
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines += [f"{indent}{key}:", *_lines(item, indent + "  ")]
            else:
                lines.append(f"{indent}{key}: {_scalar(item)}")
        return lines
    if isinstance(value, list):
        lines = []
        for number, item in enumerate(value, 1):
            inner = _lines(item, indent + "   ")
            first = inner[0].strip() if inner else ""
            lines += [f"{indent}{number}. {first}", *inner[1:]]
        return lines or [f"{indent}(none)"]
    return [f"{indent}{_scalar(value)}"]


def _scalar(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
