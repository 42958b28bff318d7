"""A provider for Anthropic's Messages API (`kind: "anthropic"`), spoken natively: its streaming events,
tool use, a system prompt of its own, and prompt caching.

Over Parlor's own aiohttp client (parlor/llm/http.py), as the OpenAI provider is, not the official SDK:
a relayed token is the hot path, and the SDK builds a pydantic event model per chunk on httpx's
pure-Python stack (bench/provider_chunks.py measures both). The SDK is used in the tests, once, to prove
the fake upstream faithful.

Prompt caching: the system prompt, the tools and the history before the newest user message are the part of
a prompt that repeats from one turn to the next, so each ends with a `cache_control` breakpoint (three of the
four Anthropic allows); the newest message is not marked, it changes every turn.

Extended thinking (`thinking_budget`): asked for with `thinking`, which takes no temperature and a
`max_tokens` above the budget. Within a turn's tool loop, each step's thinking blocks go back to it as they
came (signed, or redacted) before that step's tool calls, as Anthropic requires (`ThoughtfulMessage`);
a later turn's history leaves them out, which Anthropic allows."""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator
from typing import Any

import orjson

from parlor.llm.fence import fence_tool_results
from parlor.llm.http import HttpClient
from parlor.llm.types import (
    CompletionRequest,
    Delta,
    FinishDelta,
    FinishReason,
    LLMMessage,
    ProviderError,
    ReasoningDelta,
    TextDelta,
    Thought,
    ThoughtfulMessage,
    ToolCallDelta,
    Usage,
    UsageDelta,
)

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; a turn without a cap of its own gets this one
MIN_THINKING = 1024  # the smallest budget Anthropic takes
CACHED = {"type": "ephemeral"}
STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool-calls",
    "refusal": "content-filter",
}
# an error event after the 200 (Anthropic sends overload so): before any content, another provider may
# answer instead (the router falls back on "unavailable"); after it, the answer is broken
OVERLOADED = ("overloaded_error", "api_error")


class AnthropicProvider:
    def __init__(self, name: str, model: str, base_url: str = "https://api.anthropic.com",
                 api_key: str | None = None, connect_timeout: float = 5.0, read_timeout: float = 60.0,
                 max_connections: int = 1000, thinking_budget: int | None = None):
        self.name = name
        self.model = model
        self._thinking_budget = thinking_budget
        self._url = base_url.rstrip("/").removesuffix("/v1") + "/v1/messages"
        headers = {"anthropic-version": API_VERSION, **({"x-api-key": api_key} if api_key else {})}
        self._http = HttpClient(name, headers, connect_timeout, read_timeout, max_connections)

    def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        body = payload(self.model, request, self._thinking_budget)
        return self._http.stream(self._url, orjson.dumps(body), request.request_id, MessageEvents(self.name))

    async def aclose(self) -> None:
        await self._http.aclose()


class MessageEvents:
    """One stream's events to deltas. Tool-use blocks are numbered in their order (Parlor's tool-call
    index); a thinking block's text is reasoning."""

    def __init__(self, provider: str):
        self._provider = provider
        self._tools: dict[int, int] = {}  # content block index → tool call index
        self._usage = Usage()  # the prompt's, from message_start
        self._answered = False  # whether any text or tool call came yet
        self.done = self.complete = False

    def read(self, data: bytes) -> list[Delta]:
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ProviderError(self._provider, "broken_stream", "the stream sent malformed JSON") from exc
        kind = event.get("type")
        if kind in ("content_block_delta", "content_block_start"):
            deltas = self._delta(event) if kind == "content_block_delta" else self._start(event)
            self._answered = self._answered or bool(deltas)
            return deltas
        if kind == "message_start":
            self._usage = prompt_usage((event.get("message") or {}).get("usage") or {})
            return []
        if kind == "message_delta":
            return self._message_delta(event)
        if kind == "message_stop":
            self.done = self.complete = True
        elif kind == "error":
            error = event.get("error") or {}
            early = error.get("type") in OVERLOADED and not self._answered
            raise ProviderError(self._provider, "unavailable" if early else "broken_stream",
                                f"{error.get('type')}: {error.get('message')}")
        return []  # ping, content_block_stop

    def _start(self, event: dict[str, Any]) -> list[Delta]:
        block = event.get("content_block") or {}
        if block.get("type") == "redacted_thinking":  # encrypted: nothing to show, but it must go back
            return [ReasoningDelta("", redacted=block.get("data") or "")]
        if block.get("type") != "tool_use":
            return []
        index = self._tools[event.get("index", 0)] = len(self._tools)
        return [ToolCallDelta(index=index, id=block.get("id"), name=block.get("name"))]

    def _delta(self, event: dict[str, Any]) -> list[Delta]:
        delta = event.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [TextDelta(delta["text"])]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [ReasoningDelta(delta["thinking"])]
        if kind == "signature_delta" and delta.get("signature"):  # seals the thinking block: not shown
            return [ReasoningDelta("", signature=delta["signature"])]
        if kind == "input_json_delta" and (index := self._tools.get(event.get("index", 0))) is not None:
            return [ToolCallDelta(index=index, arguments=delta.get("partial_json") or "")]
        return []

    def _message_delta(self, event: dict[str, Any]) -> list[Delta]:
        deltas: list[Delta] = []
        if reason := (event.get("delta") or {}).get("stop_reason"):
            deltas.append(FinishDelta(STOP_REASONS.get(reason, "other")))
        if usage := event.get("usage"):
            # output_tokens counts the thinking too; Anthropic does not say how much of it was thinking
            u = self._usage
            deltas.append(UsageDelta(Usage(u.tokens_in, usage.get("output_tokens") or 0, u.cached_in,
                                           u.cache_write_in)))
        return deltas


def prompt_usage(usage: dict[str, Any]) -> Usage:
    """Anthropic's `input_tokens` leaves out the cache's reads and writes: the prompt is all three."""
    read, written = usage.get("cache_read_input_tokens") or 0, usage.get("cache_creation_input_tokens") or 0
    return Usage((usage.get("input_tokens") or 0) + read + written, 0, read, written)


def payload(model: str, request: CompletionRequest, thinking_budget: int | None = None) -> dict[str, Any]:
    messages = fence_tool_results(request.messages) if request.untrusted_tool_results else request.messages
    system = [m.content for m in messages if m.role == "system" and m.content]
    body: dict[str, Any] = {"model": model, "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
                            "messages": wire_messages([m for m in messages if m.role != "system"]),
                            "stream": True}
    thinking = _thinking(thinking_budget, request.max_tokens) if may_think(request) else None
    if thinking is not None:
        body["thinking"] = thinking
        body["max_tokens"] = request.max_tokens or thinking["budget_tokens"] + DEFAULT_MAX_TOKENS
    if system:
        body["system"] = [{"type": "text", "text": "\n\n".join(system), "cache_control": CACHED}]
    if request.tools:
        body["tools"] = [{"name": t.name, "description": t.description, "input_schema": t.parameters}
                         for t in request.tools]
        body["tools"][-1]["cache_control"] = CACHED
        if (choice := _tool_choice(request.tool_choice)) is not None:
            body["tool_choice"] = choice
    if request.temperature is not None and thinking is None:  # Anthropic refuses a temperature with thinking
        body["temperature"] = request.temperature
    if request.stop:
        body["stop_sequences"] = request.stop
    return body


def may_think(request: CompletionRequest) -> bool:
    """Anthropic refuses thinking with a forced tool choice, and in a tool loop whose last step came without
    its thinking blocks (a `/v1` client's own loop, or a step the model took without thinking): such a
    request goes without."""
    if request.tools and _tool_choice(request.tool_choice) not in (None, {"type": "auto"}, {"type": "none"}):
        return False
    steps = [m for m in request.messages if m.role == "assistant"]
    last = steps[-1] if steps else None
    return last is None or not last.tool_calls or (isinstance(last, ThoughtfulMessage) and bool(last.thoughts))


def _thinking(budget: int | None, max_tokens: int | None) -> dict[str, Any] | None:
    """The `thinking` setting: the budget, within a reply cap (`max_tokens`, which counts the thinking and
    must exceed it); a cap too small to think within asks for none. No cap: room for an answer on top."""
    if budget is None:
        return None
    if max_tokens is not None:
        budget = min(budget, max_tokens - 1)
    return {"type": "enabled", "budget_tokens": budget} if budget >= MIN_THINKING else None


def wire_messages(messages: list[LLMMessage]) -> list[dict[str, Any]]:
    """Parlor's messages as Anthropic's: tool results are user content blocks, adjacent messages of one
    role are one message, and the history before the newest message ends with a cache breakpoint."""
    wire: list[dict[str, Any]] = []
    for message in messages:
        role = "assistant" if message.role == "assistant" else "user"
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"].extend(_blocks(message))
        else:
            wire.append({"role": role, "content": _blocks(message)})
    if len(wire) > 1 and wire[-2]["content"]:
        wire[-2]["content"][-1] = {**wire[-2]["content"][-1], "cache_control": CACHED}
    return wire


def _blocks(message: LLMMessage) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [{"type": "tool_result", "tool_use_id": message.tool_call_id or "", "is_error": message.tool_error,
                 "content": message.content}]
    blocks = [_thought_block(t) for t in message.thoughts] if isinstance(message, ThoughtfulMessage) else []
    blocks += _files(message)  # before the text, as Anthropic advises
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.input()})
    return blocks


def _thought_block(thought: Thought) -> dict[str, Any]:
    if thought.redacted is not None:
        return {"type": "redacted_thinking", "data": thought.redacted}
    return {"type": "thinking", "thinking": thought.text, "signature": thought.signature or ""}


def _files(message: LLMMessage) -> list[dict[str, Any]]:
    """Images as `image` blocks, PDFs as `document` blocks, both with a base64 source."""
    return [{"type": "image" if file.is_image else "document",
             "source": {"type": "base64", "media_type": file.media_type, "data": base64.b64encode(file.data).decode()}}
            for file in message.files if file.data is not None]


def _tool_choice(choice: str | dict[str, Any] | None) -> dict[str, Any] | None:
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict) and (name := (choice.get("function") or {}).get("name")):
        return {"type": "tool", "name": name}
    return None
