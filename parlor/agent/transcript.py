"""What a turn produced, kept as AI SDK UI message parts (so a reloaded thread shows the same tool
cards) and turned back into model messages when the thread continues (calls and results paired)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from parlor.agent.events import SourceDocument
from parlor.agent.generation import Generation
from parlor.agent.tools import ToolResult, fence
from parlor.llm import LLMMessage, ToolCall, Usage
from parlor.llm.types import FinishReason


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

    def start_step(self) -> None:
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
        messages.extend(LLMMessage("tool", _result(c), tool_call_id=c["toolCallId"]) for c in calls)
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


def _result(part: dict[str, Any]) -> str:
    name = str(part.get("type", "")).removeprefix("tool-")
    if part.get("state") == "output-error":
        return fence(name, f"Error: {part.get('errorText', '')}", ok=False)
    output = part.get("output")
    return fence(name, output if isinstance(output, str) else _json(output))
