"""What a turn produced, as typed message parts (stored with the answer, so a reloaded thread shows the
same tool cards), turned back into model messages when the thread continues (calls and results paired)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from parlor.agent.generation import Generation
from parlor.agent.tools import ToolResult, tool_message
from parlor.attachments.store import file_of
from parlor.attachments.tokens import file_tokens
from parlor.llm import LLMMessage, ToolCall, Usage
from parlor.llm.types import FinishReason, MessageFile
from parlor.memory.attachments import attachment_text
from parlor.messages import (
    ApprovalPart,
    ApprovalState,
    FilePart,
    Part,
    Parts,
    ReasoningPart,
    StepStartPart,
    StoredMessage,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    text_of,
)
from parlor.observability.probe import ModelCall


@dataclass
class Transcript:
    provider: str | None = None
    model: str | None = None
    ttft_ms: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    details: Usage = field(default_factory=Usage)  # the cached, cache-written and reasoning part of those
    model_calls: int = 0
    finish_reason: FinishReason = "stop"
    error_code: str | None = None
    error_message: str | None = None
    _parts: list[Part] = field(default_factory=list, init=False)
    _text: list[str] = field(default_factory=list, init=False)  # the part being streamed, in chunks...
    _reasoning: bool = field(default=False, init=False)  # ...and whether it is reasoning, not text
    _thinking_since: float = field(default=0.0, init=False)  # when the reasoning under way began
    _calls_started: int = field(default=0, init=False)  # one per step: each step makes one model call
    _metered: int = field(default=0, init=False)  # characters of output the absorbed calls' usage covers

    def start_step(self) -> None:
        self._calls_started += 1
        self._close_text()
        self._parts.append(StepStartPart())

    def add_text(self, text: str) -> None:
        if self._reasoning:
            self._close_text()
        self._text.append(text)

    def add_reasoning(self, text: str) -> None:
        if not self._reasoning:
            self._close_text()
            self._reasoning, self._thinking_since = True, time.perf_counter()
        self._text.append(text)

    def end_reasoning(self) -> float | None:
        """Closes the reasoning under way (the answer's text or a tool call came, or the call ended) and
        returns how long it took in milliseconds; None when none was under way."""
        if not self._reasoning:
            return None
        self._close_text()
        part = self._parts[-1]
        return part.duration_ms if isinstance(part, ReasoningPart) else None

    def add_tool(self, call_id: str, name: str, raw_input: Any, result: ToolResult) -> None:
        self._close_text()
        error = None if result.ok else str(result.output)
        self._parts += [ToolCallPart(call_id, name, raw_input),
                        ToolResultPart(call_id, name, result.output if result.ok else None, error, result.duration_ms),
                        *result.sources]  # the citations, where the answer cites them

    def add_pending(self, call_id: str, name: str, raw_input: Any, approval: ApprovalPart) -> None:
        """A call that waits for the user's approval: the turn pauses after this step."""
        self._close_text()
        self._parts += [ToolCallPart(call_id, name, raw_input), approval]

    def add_result(self, call_id: str, name: str, result: ToolResult) -> None:
        """A paused call's outcome, once the user answered (its call is already in the parts)."""
        self._close_text()
        error = None if result.ok else str(result.output)
        self._parts += [ToolResultPart(call_id, name, result.output if result.ok else None, error, result.duration_ms),
                        *result.sources]

    def resume(self, parts: Parts) -> None:
        """Goes on from a paused answer's parts (stored as they are: this turn adds to them)."""
        self._parts = list(parts)
        self._metered = len(self._output)

    @property
    def awaiting(self) -> bool:
        """Whether a call waits for the user's approval (the answer is stored as `awaiting`)."""
        return any(isinstance(p, ApprovalPart) and p.state is ApprovalState.PENDING for p in self._parts)

    def _close_text(self) -> None:
        if self._text:
            self._parts.append(self._open_part())
            self._text.clear()
        self._reasoning = False

    def _open_part(self) -> TextPart | ReasoningPart:
        text = "".join(self._text)
        if not self._reasoning:
            return TextPart(text)
        return ReasoningPart(text, round((time.perf_counter() - self._thinking_since) * 1000, 1))

    @property
    def parts(self) -> Parts:
        return (*self._parts, self._open_part()) if self._text else tuple(self._parts)

    def absorb(self, generation: Generation) -> None:
        """Adds one model call's provider, timing, usage and outcome."""
        usage = generation.tokens()
        self.model_calls += 1
        self.tokens_in += usage.tokens_in
        self.tokens_out += usage.tokens_out
        self.details += usage
        self.provider = generation.provider or self.provider
        self.model = generation.model or self.model
        if self.ttft_ms is None:
            self.ttft_ms = generation.ttft_ms
        self.finish_reason = generation.finish_reason
        self.error_code, self.error_message = generation.error_code, generation.error_message
        self._metered = len(self._output)

    def meter_stop(self, prompt_tokens: int, count: Callable[[str], int], call: ModelCall | None = None) -> None:
        """A stop cut the model call under way short, so its usage never arrives: counts what was sent
        (`prompt_tokens`, the context's count: a lower bound for a later step, whose prompt also holds the
        earlier ones) and what streamed of it. `call`: that call as observed (its provider is the one that
        was answering, or about to), which gets the same counts. Nothing when no call was under way."""
        if self._calls_started <= self.model_calls:
            return
        tokens_out = count(self._output[self._metered:])  # reasoning is output too: it is paid for
        self.model_calls += 1
        self.tokens_in += prompt_tokens
        self.tokens_out += tokens_out
        self._metered = len(self._output)
        if call is not None:
            call.tokens_in, call.tokens_out = prompt_tokens, tokens_out
            self.provider, self.model = call.provider, call.model
            self.ttft_ms = self.ttft_ms if self.ttft_ms is not None else call.ttft_ms

    @property
    def text(self) -> str:
        return text_of(self.parts)

    @property
    def _output(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart | ReasoningPart))

    @property
    def usage(self) -> Usage:
        """The turn's tokens (a stopped call's counted too) with what the providers said of their parts."""
        d = self.details
        return Usage(self.tokens_in, self.tokens_out, d.cached_in, d.cache_write_in, d.reasoning_out)


def render_answer(parts: Sequence[Part], text: str) -> list[LLMMessage]:
    """An assistant message as model messages: tool calls and their results paired, as the model made them."""
    return parts_to_messages(parts) or ([LLMMessage("assistant", text)] if text else [])


def render_stored(message: StoredMessage, image_rule: str = "openai") -> list[LLMMessage]:
    """A stored message as the model sees it in a prompt (the memory's `render`). `image_rule`: the provider
    kind whose rule estimates its images' and PDFs' tokens (parlor/attachments/tokens.py)."""
    if message.role == "user":  # an attached document: a plain-text note, never its part
        return [LLMMessage("user", attachment_text(message.parts) or message.text, files=_files(message, image_rule))]
    return render_answer(message.parts, message.text)


def _files(message: StoredMessage, rule: str) -> tuple[MessageFile, ...]:
    """The message's stored images and PDFs, their bytes not loaded yet (the planner loads them)."""
    files = (file_of(part) for part in message.parts if isinstance(part, FilePart))
    return tuple(replace(file, tokens=file_tokens(file, rule)) for file in files if file is not None)


def parts_to_messages(parts: Sequence[Part]) -> list[LLMMessage]:
    """A stored assistant message as model messages: each step's tool calls followed by their results
    (a call without a result, cut short by a stop, is left out with it)."""
    messages: list[LLMMessage] = []
    text = ""
    calls: list[ToolCallPart] = []
    results: dict[str, ToolResultPart] = {}

    def flush_calls() -> None:
        nonlocal text
        answered = [(call, results[call.call_id]) for call in calls if call.call_id in results]
        if answered:
            messages.append(LLMMessage("assistant", text, tuple(
                ToolCall(call.call_id, call.name, _json(call.input)) for call, _ in answered)))
            messages.extend(tool_message(r.call_id, r.name, r.output if r.ok else r.error, r.ok) for _, r in answered)
            text = ""
        calls.clear()
        results.clear()

    for part in parts:
        if isinstance(part, StepStartPart):
            flush_calls()
        elif isinstance(part, TextPart):
            text += part.text
        elif isinstance(part, ToolCallPart):
            calls.append(part)
        elif isinstance(part, ToolResultPart):
            results[part.call_id] = part
    flush_calls()
    if text:
        messages.append(LLMMessage("assistant", text))
    return messages


def _json(value: Any) -> str:
    return orjson.dumps(value if value is not None else {}, default=str).decode()
