"""Tools as data: a name, a description, an argument schema and an async function.

A tool gets the caller from its `ToolContext`, never from the model: whatever the model writes,
a tool acts for the user whose turn it is."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from parlor.accounts import Principal
from parlor.llm.types import LLMMessage, ToolHint, ToolSpec
from parlor.messages import SourcePart

DEFAULT_TIMEOUT = 10.0
# A dict result's entry for the client only (the chat's own buttons: an id to undo with), never shown to the
# model: the 0.5B local model echoed a memory's id from its result note into an answer (bench/quality.py).
CLIENT_KEY = "client"


class ToolError(Exception):
    """A failure the model should see as the tool's result (bad input it can fix, an upstream error...)."""


@dataclass(frozen=True, slots=True)
class ToolContext:
    principal: Principal
    thread_id: str | None
    request_id: str
    requests_left: dict[str, int] = field(default_factory=dict)  # per request window, after this turn
    assistant_id: str | None = None  # the chat's assistant: its documents are searched too


Validator = Callable[[dict[str, Any]], Any]
Runner = Callable[[ToolContext, Any], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments
    validate: Validator  # raises ToolError with a message the model can act on
    run: Runner
    timeout: float = DEFAULT_TIMEOUT
    title: str | None = None
    hint: ToolHint | None = None  # when it may be needed, for models that choose poorly (see ToolHint)
    needs_approval: bool = False  # the user says yes or no before each call runs (README "Tool approval")

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters, self.hint)


def pydantic_tool(name: str, description: str, arguments: type[BaseModel], run: Runner,
                  timeout: float = DEFAULT_TIMEOUT, title: str | None = None, hint: ToolHint | None = None) -> Tool:
    """A tool whose arguments are a pydantic model: its JSON schema is generated, its validation reused."""

    def validate(raw: dict[str, Any]) -> BaseModel:
        try:
            return arguments.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
            raise ToolError(f"invalid arguments: {problems}") from None

    schema = arguments.model_json_schema()
    schema.pop("title", None)
    return Tool(name, description, schema, validate, run, timeout, title, hint)


@dataclass(frozen=True, slots=True)
class Cited:
    """What a tool returns to cite sources: its output (for the model) and the sources (for the client)."""

    output: Any
    sources: tuple[SourcePart, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolResult:
    ok: bool
    output: Any  # the result, or the error message when not ok
    duration_ms: float
    sources: tuple[SourcePart, ...] = ()

    def for_model(self, call_id: str, name: str) -> LLMMessage:
        """What the model reads back: the result as text (JSON unless a string), or the error's message.
        Each provider presents it to its model (remote ones fenced as data: see llm/fence.py)."""
        return tool_message(call_id, name, self.output, self.ok)


def tool_message(call_id: str, name: str, output: Any, ok: bool = True) -> LLMMessage:
    """A result as the model reads it: this turn's (the loop) and a stored turn's (the transcript) alike."""
    if isinstance(output, dict) and CLIENT_KEY in output:
        output = {k: v for k, v in output.items() if k != CLIENT_KEY}
    text = output if isinstance(output, str) else orjson.dumps(output, default=str).decode()
    return LLMMessage("tool", text, tool_call_id=call_id, tool_name=name, tool_error=not ok)


@dataclass
class ToolRegistry:
    tools: dict[str, Tool] = field(default_factory=dict)

    def add(self, tool: Tool) -> None:
        if tool.name in self.tools:
            raise ValueError(f"two tools are named {tool.name!r}")
        self.tools[tool.name] = tool

    def extend(self, tools: Iterable[Tool]) -> None:
        for tool in tools:
            self.add(tool)

    def remove(self, names: Iterable[str]) -> None:
        for name in names:
            self.tools.pop(name, None)

    def specs(self) -> list[ToolSpec]:
        return [tool.spec() for tool in self.tools.values()]

    def title(self, name: str) -> str | None:
        tool = self.tools.get(name)
        return tool.title if tool else None

    def needs_approval(self, name: str) -> bool:
        tool = self.tools.get(name)
        return tool is not None and tool.needs_approval

    def parse(self, name: str, arguments: str) -> tuple[Any, Any]:
        """(raw input as the model wrote it, validated arguments); raises ToolError when unusable."""
        try:
            raw = orjson.loads(arguments) if arguments.strip() else {}
        except orjson.JSONDecodeError:
            raise ToolError(f"arguments are not valid JSON: {arguments[:200]!r}") from None
        tool = self.tools.get(name)
        if tool is None:
            raise ToolError(f"there is no tool named {name!r}; available: {', '.join(self.tools) or 'none'}")
        if not isinstance(raw, dict):
            raise ToolError("arguments must be a JSON object")
        return raw, tool.validate(raw)

    async def call(self, name: str, arguments: Any, context: ToolContext) -> ToolResult:
        """Runs a tool with its timeout; a raise or a timeout becomes an error result, never a crash."""
        tool = self.tools[name]
        started = time.perf_counter()
        try:
            output = await asyncio.wait_for(tool.run(context, arguments), tool.timeout)
            if isinstance(output, Cited):
                return ToolResult(True, output.output, _ms(started), output.sources)
            return ToolResult(True, output, _ms(started))
        except TimeoutError:
            return ToolResult(False, f"the tool timed out after {tool.timeout:g} s", _ms(started))
        except ToolError as exc:
            return ToolResult(False, str(exc), _ms(started))
        except Exception as exc:
            return ToolResult(False, f"the tool failed ({type(exc).__name__}: {exc})", _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
