"""What a turn produced, kept as AI SDK UI message parts (so a reloaded thread shows the same tool
cards) and turned back into model messages when the thread continues (calls and results paired)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from parlor.agent.events import SourceDocument
from parlor.agent.generation import Generation
from parlor.agent.tools import ToolResult, tool_message
from parlor.llm import LLMMessage, ToolCall, Usage
from parlor.llm.types import FinishReason
from parlor.observability.probe import ModelCall


@dataclass
class Transcript:
    parts: list[dict[str, Any]] = field(default_factory=list)
    provider: str | None = None
    model: str | None = None
    ttft_ms: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    model_calls: int = 0
    finish_reason: FinishReason = "stop"
    error_code: str | None = None
    error_message: str | None = None
    _calls_started: int = field(default=0, init=False)  # one per step: each step makes one model call
    _metered: int = field(default=0, init=False)  # characters of text the absorbed calls' usage covers

    def start_step(self) -> None:
        self._calls_started += 1
        self.parts.append({"type": "step-start"})

    def add_text(self, text: str) -> None:
        if self.parts and self.parts[-1]["type"] == "text":
            self.parts[-1]["text"] += text
        else:
            self.parts.append({"type": "text", "text": text})

    def add_tool(self, call_id: str, name: str, raw_input: Any, result: ToolResult) -> None:
        part: dict[str, Any] = {"type": f"tool-{name}", "toolCallId": call_id, "input": raw_input,
                                "durationMs": result.duration_ms}
        if result.ok:
            part.update(state="output-available", output=result.output)
        else:
            part.update(state="output-error", errorText=str(result.output))
        self.parts.append(part)
        for source in result.sources:  # citations, as the AI SDK keeps them in a message
            self.parts.append(SourceDocument(source.id, source.media_type, source.title, source.filename,
                                             source.metadata).part())

    def absorb(self, generation: Generation) -> None:
        """Adds one model call's provider, timing, usage and outcome."""
        usage = generation.tokens()
        self.model_calls += 1
        self.tokens_in += usage.tokens_in
        self.tokens_out += usage.tokens_out
        self.provider = generation.provider or self.provider
        self.model = generation.model or self.model
        if self.ttft_ms is None:
            self.ttft_ms = generation.ttft_ms
        self.finish_reason = generation.finish_reason
        self.error_code, self.error_message = generation.error_code, generation.error_message
        self._metered = len(self.text)

    def meter_stop(self, prompt_tokens: int, count: Callable[[str], int], call: ModelCall | None = None) -> None:
        """A stop cut the model call under way short, so its usage never arrives: counts what was sent
        (`prompt_tokens`, the context's count: a lower bound for a later step, whose prompt also holds the
        earlier ones) and what streamed of it. `call`: that call as observed (its provider is the one that
        was answering, or about to), which gets the same counts. Nothing when no call was under way."""
        if self._calls_started <= self.model_calls:
            return
        tokens_out = count(self.text[self._metered:])
        self.model_calls += 1
        self.tokens_in += prompt_tokens
        self.tokens_out += tokens_out
        self._metered = len(self.text)
        if call is not None:
            call.tokens_in, call.tokens_out = prompt_tokens, tokens_out
            self.provider, self.model = call.provider, call.model
            self.ttft_ms = self.ttft_ms if self.ttft_ms is not None else call.ttft_ms

    @property
    def text(self) -> str:
        return "".join(p["text"] for p in self.parts if p["type"] == "text")

    @property
    def usage(self) -> Usage:
        return Usage(self.tokens_in, self.tokens_out)

    def metadata(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model,
                "usage": {"inputTokens": self.tokens_in, "outputTokens": self.tokens_out},
                "ttftMs": round(self.ttft_ms, 1) if self.ttft_ms is not None else None,
                "modelCalls": self.model_calls}


def parts_to_messages(parts: list[dict[str, Any]]) -> list[LLMMessage]:
    """A stored assistant message as model messages: each step's tool calls followed by their results."""
    messages: list[LLMMessage] = []
    text = ""
    calls: list[dict[str, Any]] = []

    def flush_calls() -> None:
        nonlocal text
        if not calls:
            return
        messages.append(LLMMessage("assistant", text, tuple(
            ToolCall(c["toolCallId"], c["type"].removeprefix("tool-"), _json(c.get("input"))) for c in calls)))
        messages.extend(_result(c) for c in calls)
        text = ""
        calls.clear()

    for part in parts:
        kind = part.get("type", "")
        if kind == "step-start":
            flush_calls()
        elif kind == "text":
            text += part.get("text", "")
        elif kind.startswith("tool-") and part.get("state") in ("output-available", "output-error"):
            calls.append(part)
    flush_calls()
    if text:
        messages.append(LLMMessage("assistant", text))
    return messages


def _json(value: Any) -> str:
    import orjson

    return orjson.dumps(value if value is not None else {}, default=str).decode()


def _result(part: dict[str, Any]) -> LLMMessage:
    name = str(part.get("type", "")).removeprefix("tool-")
    if part.get("state") == "output-error":
        return tool_message(part["toolCallId"], name, str(part.get("errorText", "")), ok=False)
    return tool_message(part["toolCallId"], name, part.get("output"))
