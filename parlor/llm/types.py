"""What every provider speaks: typed messages in, typed deltas out."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool-calls", "content-filter", "error", "other"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it

    def input(self) -> dict[str, Any]:
        """The arguments as an object, as Anthropic and Gemini take them (unparsable JSON: {})."""
        try:
            value = json.loads(self.arguments or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class MessageFile:
    """An image or PDF in a user message. `data` is filled from storage just before the model call (None:
    not loaded, or gone)."""

    media_type: str
    filename: str | None = None
    data: bytes | None = None
    width: int = 0
    height: int = 0
    pages: int = 0
    key: str = ""  # where storage keeps it
    tokens: int = 0  # what it costs in a prompt, estimated when the message is rendered

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")


@dataclass(frozen=True, slots=True)
class LLMMessage:
    role: Role
    content: str = ""  # a tool message's: the result as text (an error's message when `tool_error`)
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    tool_name: str | None = None  # a tool message's tool
    tool_error: bool = False
    files: tuple[MessageFile, ...] = ()  # a user message's images and PDFs


@dataclass(frozen=True, slots=True)
class ToolHint:
    """Help for a model that chooses tools poorly (the bundled local ones): when the tool may be needed and
    how a call looks. Other providers ignore it; it never reaches a prompt a remote model reads."""

    when: str | None = None  # a regex (any case) on the user's last message; None: always a candidate
    anywhere: bool = False  # match any of the thread's user messages instead (a document attached earlier)
    examples: tuple[tuple[str, dict[str, Any]], ...] = ()  # (a user message, the arguments it calls for)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]
    hint: ToolHint | None = None


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    messages: list[LLMMessage]
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: str | dict[str, Any] | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    request_id: str | None = None
    untrusted_tool_results: bool = False  # Parlor's tools ran: their results are outside text (see llm/fence.py)


@dataclass(frozen=True, slots=True)
class Usage:
    """A call's tokens. `tokens_in` is the whole prompt (its cached part included) and `tokens_out` the whole
    output (reasoning included): budgets count those. The rest say what part of each was what, for pricing."""

    tokens_in: int = 0
    tokens_out: int = 0
    cached_in: int = 0  # read from the provider's prompt cache (cheaper)
    cache_write_in: int = 0  # written to it (Anthropic charges more for these)
    reasoning_out: int = 0  # thinking, before or between the answer's text

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.tokens_in + other.tokens_in, self.tokens_out + other.tokens_out,
                     self.cached_in + other.cached_in, self.cache_write_in + other.cache_write_in,
                     self.reasoning_out + other.reasoning_out)


class TokenCounts(Protocol):
    """What a price is computed from: a `Usage`, or a record that keeps one's counts (a model call, a turn)."""

    @property
    def tokens_in(self) -> int: ...
    @property
    def tokens_out(self) -> int: ...
    @property
    def cached_in(self) -> int: ...
    @property
    def cache_write_in(self) -> int: ...
    @property
    def reasoning_out(self) -> int: ...


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """What a reasoning model thinks before (or between) its answer's text: shown apart, stored with the
    answer, never sent back to a model as if it had said it. Anthropic seals a thinking block with a
    `signature` (a delta of its own, after the block's text) and may send a whole block encrypted instead
    (`redacted`): within a turn's tool loop both must go back to it unchanged (see `Thought`)."""

    text: str
    signature: str | None = None
    redacted: str | None = None


@dataclass(frozen=True, slots=True)
class Thought:
    """One reasoning block as its provider sealed it, kept for the rest of a turn's tool loop only."""

    text: str = ""
    signature: str | None = None
    redacted: str | None = None  # an encrypted block's data: no text to show


@dataclass(frozen=True, slots=True)
class ThoughtfulMessage(LLMMessage):
    """An assistant step of this turn's tool loop with the reasoning blocks it began with: Anthropic, with
    thinking on, wants them back, signed, before the tool calls; other providers read it as its base."""

    thoughts: tuple[Thought, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call: `id` and `name` come on the first fragment of an index."""

    index: int
    arguments: str = ""
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class RequestSent:
    """The request is out (the upstream answered its headers): yielded by providers that can tell, before
    any other delta. Work that must not delay the call (saving the turn) waits for it."""


@dataclass(frozen=True, slots=True)
class UsageDelta:
    usage: Usage


@dataclass(frozen=True, slots=True)
class FinishDelta:
    reason: FinishReason


Delta = RequestSent | TextDelta | ReasoningDelta | ToolCallDelta | UsageDelta | FinishDelta

ErrorKind = Literal["timeout", "unavailable", "rate_limited", "rejected", "broken_stream", "busy"]  # busy: queue full


class ProviderError(Exception):
    """A provider failed; `kind` says how, so the router can decide to fall back or give up."""

    def __init__(self, provider: str, kind: ErrorKind, message: str, retry_after: float | None = None):
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.kind = kind
        self.retry_after = retry_after


class Provider(Protocol):
    name: str
    model: str

    def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]: ...

    async def aclose(self) -> None: ...
