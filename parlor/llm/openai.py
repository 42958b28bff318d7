"""A provider for any OpenAI-compatible chat completions endpoint (OpenAI, vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx
import orjson

from parlor.llm.types import (
    CompletionRequest,
    Delta,
    FinishDelta,
    FinishReason,
    LLMMessage,
    ProviderError,
    TextDelta,
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
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # One pooled client for the provider's whole life: connections are reused across turns.
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        body = orjson.dumps(self._payload(request))
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if request.request_id:
            headers["X-Request-ID"] = request.request_id
        try:
            async with self._client.stream("POST", "/chat/completions", content=body, headers=headers) as resp:
                if request.sent is not None:
                    request.sent.set()
                if resp.status_code != 200:
                    await resp.aread()
                    raise self._status_error(resp)
                if not resp.headers.get("content-type", "").startswith("text/event-stream"):
                    raise ProviderError(self.name, "broken_stream", "the answer is not an event stream")
                finished = False
                async for data in sse_data(resp):
                    if data == b"[DONE]":
                        finished = True
                        break
                    for delta in self._parse(data):
                        finished = finished or isinstance(delta, FinishDelta)
                        yield delta
                if not finished:
                    raise ProviderError(self.name, "broken_stream", "the stream ended before it finished")
        except httpx.TimeoutException as exc:
            raise ProviderError(self.name, "timeout", f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:  # connection, protocol and SSE framing errors alike
            raise ProviderError(self.name, "broken_stream" if _mid_stream(exc) else "unavailable",
                                f"connection failed ({type(exc).__name__})") from exc

    def _payload(self, request: CompletionRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [_wire_message(m) for m in request.messages],
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

    def _parse(self, data: bytes) -> list[Delta]:
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ProviderError(self.name, "broken_stream", "the stream sent malformed JSON") from exc
        deltas: list[Delta] = []
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if content := delta.get("content"):
                deltas.append(TextDelta(content))
            for call in delta.get("tool_calls") or []:
                function = call.get("function") or {}
                deltas.append(ToolCallDelta(index=call.get("index", 0), id=call.get("id"),
                                            name=function.get("name"), arguments=function.get("arguments") or ""))
            if reason := choice.get("finish_reason"):
                deltas.append(FinishDelta(FINISH_REASONS.get(reason, "other")))
        if usage := chunk.get("usage"):
            deltas.append(UsageDelta(Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)))
        return deltas

    def _status_error(self, resp: httpx.Response) -> ProviderError:
        retry_after = _retry_after(resp.headers.get("retry-after"))
        message = f"upstream answered {resp.status_code}"
        if resp.status_code == 429:
            return ProviderError(self.name, "rate_limited", message, retry_after)
        if resp.status_code >= 500 or resp.status_code in (401, 403, 404, 408):
            return ProviderError(self.name, "unavailable", message, retry_after)
        return ProviderError(self.name, "rejected", message)

    async def aclose(self) -> None:
        await self._client.aclose()


EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


async def sse_data(resp: httpx.Response) -> AsyncIterator[bytes]:
    """The `data` of each server-sent event, as bytes for orjson. Framed on raw bytes: httpx-sse's decode
    to text, then lines, then event objects was a third of the CPU a relayed token cost (bench/load.py)."""
    buffer = b""
    async for raw in resp.aiter_bytes():
        *events, buffer = EVENT_END.split(buffer + raw)
        for event in events:
            lines = [line[5:].removeprefix(b" ") for line in event.splitlines() if line.startswith(b"data:")]
            if lines:
                yield b"\n".join(lines)


def _wire_message(message: LLMMessage) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id:
        wire["tool_call_id"] = message.tool_call_id
    return wire


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _mid_stream(exc: Exception) -> bool:
    return isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError)
