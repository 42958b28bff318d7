"""Decide, then call: how a small local model uses tools.

Left to write tool calls as text, the bundled models called tools on greetings, wrote calls as prose and
copied the tools' schemas into arguments (bench/quality.py). So, when a message may need a tool, the model
is first asked one question — which tool does the user's last message need, if any? — and its reply is
held to a JSON schema by llama.cpp's grammar-constrained sampling: `{"tool": "none"}` or one tool with
arguments valid for it. Only a "none" goes on to a free answer, which is written with no tools in sight.

A message none of whose candidate tools could apply (by their hints: a greeting has no digits for the
calculator) skips the question and costs no time. The question's prompt starts with the tool list, the
same for every thread, so the runtime keeps it cached: asking costs the new message and a few tokens."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, zip_longest
from typing import Any

from parlor.llm.types import LLMMessage, ToolSpec

MAX_DECISION_TOKENS = 256  # a call's arguments; a reply cut off here is taken as "none"
HEADER = "Tools you can use (the tool list of this service, not the user's words):"
NONE = "- none: no tool; answer directly (greetings, small talk, writing, code, explanations, general knowledge)"
NONE_EXAMPLES = ("Good morning!", "What do you remember about me?", "Write a limerick about cats.",
                 "Who painted the Mona Lisa?")
QUESTION = "Which tool does the user's last message need, if any? Your decision, as JSON:"
# When a tool's hint matched the message, "none" is made less likely by this much (a logit, in nats): the 0.5B
# model otherwise answered "none" to all five sums of the quality suite (P(none) 0.8, P(calculator) 0.15),
# and the 1.5B model decided as before (20 decisions probed with and without it).
NONE_BIAS = -1.0


@dataclass(frozen=True, slots=True)
class Decision:
    tool: str
    arguments: str  # JSON text of an object


def candidates(tools: Sequence[ToolSpec], messages: Sequence[LLMMessage]) -> list[ToolSpec]:
    """The tools the last user message may need, by their hints (a tool without one always may)."""
    said = [m.content for m in messages if m.role == "user"]
    last = said[-1] if said else ""
    return [t for t in tools if t.hint is None or t.hint.when is None
            or re.search(t.hint.when, "\n".join(said) if t.hint.anywhere else last, re.I | re.S)]


def hinted(candidates: Sequence[ToolSpec]) -> bool:
    """Whether a candidate is one because its hint matched (not just because it has none)."""
    return any(t.hint is not None and t.hint.when is not None for t in candidates)


def tool_list(tools: Sequence[ToolSpec]) -> str:
    """The system message the question's prompt opens with: every tool offered, and examples of decisions."""
    lines = [HEADER, NONE, *(_tool_lines(t) for t in tools), "", "Examples of decisions:"]
    groups: list[list[tuple[str, dict[str, Any]]]] = [[(q, {"tool": "none"}) for q in NONE_EXAMPLES]]
    groups += [[(q, {"tool": t.name, "arguments": a}) for q, a in t.hint.examples] for t in tools if t.hint]
    for example in chain.from_iterable(zip_longest(*groups)):  # taking turns, so no tool looks the usual one
        if example is not None:
            lines.append(f"User: {example[0]}\nDecision: {json.dumps(example[1], ensure_ascii=False)}")
    return "\n".join(lines)


def question(tools: Sequence[ToolSpec], conversation: list[dict[str, str]]) -> list[dict[str, str]]:
    """The question's prompt: the tool list, then the conversation as the answer would see it, then the ask."""
    return [{"role": "system", "content": tool_list(tools)}, *conversation, {"role": "system", "content": QUESTION}]


def _tool_lines(tool: ToolSpec) -> str:
    properties: dict[str, Any] = tool.parameters.get("properties") or {}
    required = set(tool.parameters.get("required") or ())
    lines = [f"- {tool.name}: {tool.description}"]
    for name, schema in properties.items():
        kind = schema.get("type", "value") if isinstance(schema, dict) else "value"
        note = schema.get("description", "") if isinstance(schema, dict) else ""
        optional = "" if name in required else ", optional"
        lines.append(f"    {name} ({kind}{optional}){': ' + note if note else ''}")
    return "\n".join(lines)


def schema(tools: Sequence[ToolSpec], required: bool = False, only: str | None = None) -> dict[str, Any]:
    """What the reply may be: "none" (unless a call is `required`) or a call of one of `tools` (`only`)."""
    choices: list[dict[str, Any]] = [] if required or only else [
        {"type": "object", "properties": {"tool": {"const": "none"}}, "required": ["tool"],
         "additionalProperties": False}]
    if only is not None and all(t.name != only for t in tools):
        only = None  # a tool_choice naming a tool not offered: any of those offered
    for tool in tools:
        if only is None or tool.name == only:
            choices.append({"type": "object", "properties": {"tool": {"const": tool.name},
                                                             "arguments": _arguments_schema(tool)},
                            "required": ["tool", "arguments"], "additionalProperties": False})
    return choices[0] if len(choices) == 1 else {"anyOf": choices}


def loose_schema(tools: Sequence[ToolSpec]) -> dict[str, Any]:
    """The same choice with any object as arguments (the tool's own validation then answers)."""
    names = [t.name for t in tools]
    return {"anyOf": [{"type": "object", "properties": {"tool": {"const": "none"}}, "required": ["tool"]},
                      {"type": "object", "properties": {"tool": {"enum": names}, "arguments": {"type": "object"}},
                       "required": ["tool", "arguments"]}]}


def _arguments_schema(tool: ToolSpec) -> dict[str, Any]:
    # titles and descriptions are for people: the grammar needs only the shape
    return _shape(tool.parameters) if tool.parameters.get("properties") else {"type": "object", "properties": {}}


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k not in ("title", "description", "examples")}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return value


def parse(reply: str, tools: Sequence[ToolSpec]) -> Decision | None:
    """The call the reply asks for, or None ("none", or a reply that is not a whole decision)."""
    try:
        value = json.loads(reply)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("tool") not in {t.name for t in tools}:
        return None
    arguments = value.get("arguments")
    return Decision(value["tool"], json.dumps(arguments if isinstance(arguments, dict) else {}, ensure_ascii=False))


def tool_choice(choice: str | dict[str, Any] | None) -> tuple[bool, str | None] | None:
    """An OpenAI `tool_choice` as (a call is required, the one tool allowed); None: no tools at all."""
    if choice == "none":
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return True, name if isinstance(name, str) else None
    return choice == "required", None
