"""A provider for any OpenAI-compatible chat completions endpoint (OpenAI, vLLM, Ollama, llama.cpp):
its request body and its `chat.completion.chunk` events (the HTTP side is parlor/llm/http.py)."""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator
from typing import Any

import orjson

from parlor.llm.fence import fence_tool_results
from parlor.llm.http import HttpClient
from parlor.llm.think import ThinkSplitter
from parlor.llm.types import (
    CompletionRequest,
    Delta,
    FinishDelta,
    FinishReason,
    LLMMessage,
    ProviderError,
    ReasoningDelta,
    ToolCallDelta,
    Usage,
    UsageDelta,
)

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool-calls",
    "function_call": "tool-calls",
    "content_filter": "content-filter",
}


class OpenAIProvider:
    def __init__(
        self,
        name: str,
        model: str,
        base_url: str,
        api_key: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_connections: int = 1000,
    ):
        self.name = name
        self.model = model
        self._url = base_url.rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = HttpClient(name, headers, connect_timeout, read_timeout, max_connections)

    def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        return self._http.stream(self._url, orjson.dumps(self._payload(request)), request.request_id,
                                 ChunkReader(self.name))

    def _payload(self, request: CompletionRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [_wire_message(m) for m in (fence_tool_results(request.messages)
                                                    if request.untrusted_tool_results else request.messages)],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            payload["tools"] = [
                {"type": "function", "function": {"name": t.name, "description": t.description,
                                                  "parameters": t.parameters}}
                for t in request.tools
            ]
        if request.tools and request.tool_choice is not None:
            payload["tool_choice"] = request.tool_choice
        if request.temperature is not None:
            payload["temperature"] = request.temperature
        if request.max_tokens is not None:
            payload["max_tokens"] = request.max_tokens
        if request.stop:
            payload["stop"] = request.stop
        return payload

    async def aclose(self) -> None:
        await self._http.aclose()


class ChunkReader:
    """`chat.completion.chunk` events to deltas. The stream ends at `[DONE]`; it is whole once a finish
    reason came (a server that then closes without `[DONE]` still gave the whole answer). A leading
    `<think>` block in the content is reasoning (parlor/llm/think.py)."""

    def __init__(self, provider: str):
        self.name = provider
        self.done = self.complete = False
        self._think = ThinkSplitter()

    def read(self, data: bytes) -> list[Delta]:
        if data == b"[DONE]":
            self.done = self.complete = True
            return [*self._think.end()]
        deltas = self._parse(data)
        self.complete = self.complete or any(isinstance(d, FinishDelta) for d in deltas)
        return deltas

    def _parse(self, data: bytes) -> list[Delta]:
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ProviderError(self.name, "broken_stream", "the stream sent malformed JSON") from exc
        deltas: list[Delta] = []
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            # vLLM, DeepSeek and llama.cpp's server send reasoning as `reasoning_content`; OpenRouter as `reasoning`
            if thought := delta.get("reasoning_content") or delta.get("reasoning"):
                deltas.append(ReasoningDelta(thought))
            if content := delta.get("content"):
                deltas += self._think.feed(content)
            for call in delta.get("tool_calls") or []:
                function = call.get("function") or {}
                deltas.append(ToolCallDelta(index=call.get("index", 0), id=call.get("id"),
                                            name=function.get("name"), arguments=function.get("arguments") or ""))
            if reason := choice.get("finish_reason"):
                deltas += self._think.end()  # what it held: the answer is over
                deltas.append(FinishDelta(FINISH_REASONS.get(reason, "other")))
        if usage := chunk.get("usage"):
            deltas.append(UsageDelta(usage_of(usage)))
        return deltas


def usage_of(usage: dict[str, Any]) -> Usage:
    """`prompt_tokens` includes the cached ones, `completion_tokens` the reasoning ones (their details say
    how many; a server that sends no details sends none of either)."""
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0, cached_in=cached,
                 reasoning_out=reasoning)


def _wire_message(message: LLMMessage) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role, "content": _content(message)}
    if message.tool_calls:
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id:
        wire["tool_call_id"] = message.tool_call_id
    return wire


def _content(message: LLMMessage) -> str | list[dict[str, Any]]:
    """The text, or with images and PDFs the content parts: `image_url` and `file`, as base64 data URLs."""
    files = [f for f in message.files if f.data is not None]
    if not files:
        return message.content
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
    for file in files:
        assert file.data is not None
        url = f"data:{file.media_type};base64,{base64.b64encode(file.data).decode()}"
        if file.is_image:
            parts.append({"type": "image_url", "image_url": {"url": url}})
        else:
            parts.append({"type": "file", "file": {"filename": file.filename or "document.pdf", "file_data": url}})
    return parts
