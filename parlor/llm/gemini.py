"""A provider for the Gemini API (`kind: "gemini"`), spoken natively: `streamGenerateContent` as
server-sent events, function calling, and the system prompt as Gemini's `systemInstruction`.

Gemini sends each function call whole (name and arguments in one part), and ends a stream by closing it
after a chunk with a `finishReason`: there is no `[DONE]`. A thought part (`"thought": true`) is
reasoning; its tokens are counted as output. `thinking_budget` asks for thinking of that many tokens, its
thoughts included in the stream (`thinkingConfig`)."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import quote

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
    ThoughtfulMessage,
    ToolCallDelta,
    Usage,
    UsageDelta,
)

FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content-filter",
    "RECITATION": "content-filter",
    "BLOCKLIST": "content-filter",
    "PROHIBITED_CONTENT": "content-filter",
    "SPII": "content-filter",
}
VERSIONED = re.compile(r"/v1(alpha|beta)?$")
MADE_UP = "parlor_call_"  # the prefix of a tool call id Parlor made, never sent back
TOOL_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}


class GeminiProvider:
    def __init__(self, name: str, model: str, base_url: str = "https://generativelanguage.googleapis.com",
                 api_key: str | None = None, connect_timeout: float = 5.0, read_timeout: float = 60.0,
                 max_connections: int = 1000, thinking_budget: int | None = None):
        self.name = name
        self.model = model
        self._thinking_budget = thinking_budget
        base = base_url.rstrip("/")
        if not VERSIONED.search(base):  # the official SDK's default version; a base_url may name another
            base += "/v1"
        self._url = f"{base}/models/{quote(model, safe='')}:streamGenerateContent?alt=sse"
        headers = {"x-goog-api-key": api_key} if api_key else {}
        self._http = HttpClient(name, headers, connect_timeout, read_timeout, max_connections)

    def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        return self._http.stream(self._url, orjson.dumps(payload(request, self._thinking_budget)), request.request_id,
                                 ContentChunks(self.name))

    async def aclose(self) -> None:
        await self._http.aclose()


class ContentChunks:
    """`GenerateContentResponse` chunks to deltas: each function call is one whole tool-call delta,
    numbered in order; the answer is whole once a finish reason came."""

    def __init__(self, provider: str):
        self._provider = provider
        self._calls = 0
        self.done = False  # Gemini closes the stream itself
        self.complete = False

    def read(self, data: bytes) -> list[Delta]:
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ProviderError(self._provider, "broken_stream", "the stream sent malformed JSON") from exc
        if error := chunk.get("error"):
            raise ProviderError(self._provider, "broken_stream", f"{error.get('status')}: {error.get('message')}")
        deltas: list[Delta] = []
        for candidate in (chunk.get("candidates") or [])[:1]:  # one candidate is asked for
            for part in (candidate.get("content") or {}).get("parts") or []:
                deltas += self._part(part)
            if reason := candidate.get("finishReason"):
                called = self._calls > 0 and reason == "STOP"
                deltas.append(FinishDelta("tool-calls" if called else FINISH_REASONS.get(reason, "other")))
                self.complete = True
        if self.complete and (usage := chunk.get("usageMetadata")):
            deltas.append(UsageDelta(usage_of(usage)))
        return deltas

    def _part(self, part: dict[str, Any]) -> list[Delta]:
        # A thinking model's step is sealed with a signature on one of its parts (the first call's): kept as
        # a thought, for the tool loop to send back on that call (see _parts)
        sealed: list[Delta] = [ReasoningDelta("", signature=sig)] if (sig := part.get("thoughtSignature")) else []
        if part.get("thought"):
            return [*([ReasoningDelta(part["text"])] if part.get("text") else []), *sealed]
        if call := part.get("functionCall"):
            index, self._calls = self._calls, self._calls + 1
            arguments = orjson.dumps(call.get("args") or {}).decode()
            made_up = f"{MADE_UP}{uuid.uuid4().hex[:24]}"  # older Gemini models give calls no id
            return [*sealed, ToolCallDelta(index=index, id=call.get("id") or made_up, name=call.get("name"),
                                           arguments=arguments)]
        return [*([TextDelta(part["text"])] if part.get("text") else []), *sealed]


def usage_of(usage: dict[str, Any]) -> Usage:
    """`promptTokenCount` includes the cached part; `candidatesTokenCount` leaves out the thoughts."""
    thoughts = usage.get("thoughtsTokenCount") or 0
    return Usage(usage.get("promptTokenCount") or 0, (usage.get("candidatesTokenCount") or 0) + thoughts,
                 cached_in=usage.get("cachedContentTokenCount") or 0, reasoning_out=thoughts)


def payload(request: CompletionRequest, thinking_budget: int | None = None) -> dict[str, Any]:
    messages = fence_tool_results(request.messages) if request.untrusted_tool_results else request.messages
    system = [m.content for m in messages if m.role == "system" and m.content]
    body: dict[str, Any] = {"contents": contents([m for m in messages if m.role != "system"])}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [
            {"name": t.name, "description": t.description, "parameters": t.parameters} for t in request.tools]}]
        if (config := _tool_config(request.tool_choice)) is not None:
            body["toolConfig"] = {"functionCallingConfig": config}
    generation: dict[str, Any] = {"candidateCount": 1}
    if request.temperature is not None:
        generation["temperature"] = request.temperature
    if request.max_tokens is not None:
        generation["maxOutputTokens"] = request.max_tokens
    if request.stop:
        generation["stopSequences"] = request.stop
    if thinking_budget is not None:
        generation["thinkingConfig"] = {"thinkingBudget": thinking_budget, "includeThoughts": True}
    body["generationConfig"] = generation
    return body


def contents(messages: list[LLMMessage]) -> list[dict[str, Any]]:
    """Parlor's messages as Gemini's: the assistant is "model", a tool result is a user turn's
    `functionResponse` (named, as Gemini matches them by name), adjacent turns of one role are one."""
    wire: list[dict[str, Any]] = []
    for message in messages:
        role = "model" if message.role == "assistant" else "user"
        if wire and wire[-1]["role"] == role:
            wire[-1]["parts"].extend(_parts(message))
        else:
            wire.append({"role": role, "parts": _parts(message)})
    return [turn for turn in wire if turn["parts"]]


def _parts(message: LLMMessage) -> list[dict[str, Any]]:
    if message.role == "tool":
        outcome = "error" if message.tool_error else "result"
        response: dict[str, Any] = {"name": message.tool_name or "", "response": {outcome: message.content}}
        if message.tool_call_id and not message.tool_call_id.startswith(MADE_UP):
            response["id"] = message.tool_call_id  # an id Gemini gave, not one made up
        return [{"functionResponse": response}]
    parts: list[dict[str, Any]] = [{"text": message.content}] if message.content else []
    for file in message.files:  # images and PDFs alike: inline data (`inline_data`, in the JSON's camelCase)
        if file.data is not None:
            parts.append({"inlineData": {"mimeType": file.media_type, "data": base64.b64encode(file.data).decode()}})
    calls: list[dict[str, Any]] = [{"functionCall": {"name": call.name, "args": call.input()}}
                                   for call in message.tool_calls]
    if calls and (signature := _signature(message)) is not None:
        calls[0]["thoughtSignature"] = signature  # where it came: Gemini refuses the loop without it
    return parts + calls


def _signature(message: LLMMessage) -> str | None:
    """The signature this turn's step came sealed with (a step of an earlier turn has none: not needed)."""
    thoughts = message.thoughts if isinstance(message, ThoughtfulMessage) else ()
    return next((t.signature for t in reversed(thoughts) if t.signature), None)


def _tool_config(choice: str | dict[str, Any] | None) -> dict[str, Any] | None:
    if isinstance(choice, str) and choice in TOOL_MODES:
        return {"mode": TOOL_MODES[choice]}
    if isinstance(choice, dict) and (name := (choice.get("function") or {}).get("name")):
        return {"mode": "ANY", "allowedFunctionNames": [name]}
    return None
