"""Chat events to wire chunks: the AI SDK UI message stream, and OpenAI chat.completion.chunk."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from parlor.agent.events import SourceDocument
from parlor.chat.events import (
    ChatEvent,
    StepFinished,
    StepStarted,
    TextChunk,
    ToolCallChunk,
    ToolFailed,
    ToolInputDelta,
    ToolInputInvalid,
    ToolInputReady,
    ToolInputStarted,
    ToolOutput,
    TurnAborted,
    TurnFailed,
    TurnFinished,
    TurnStarted,
)
from parlor.llm import Usage

Chunk = dict[str, Any]


def coalesce(events: Iterable[ChatEvent]) -> list[ChatEvent]:
    """Merges adjacent text chunks: one write instead of many when the reader fell behind."""
    merged: list[ChatEvent] = []
    for event in events:
        if isinstance(event, TextChunk) and merged and isinstance(merged[-1], TextChunk):
            merged[-1] = TextChunk(merged[-1].text + event.text)
        else:
            merged.append(event)
    return merged


class UIStreamEncoder:
    """AI SDK UI message stream (v1) chunks; text parts are opened and closed as text comes and goes."""

    def __init__(self) -> None:
        self._open_text: str | None = None
        self._parts = 0

    def encode(self, event: ChatEvent) -> list[Chunk]:
        if isinstance(event, TextChunk):
            chunks = [] if self._open_text else [self._start_text()]
            return [*chunks, {"type": "text-delta", "id": self._open_text, "delta": event.text}]
        chunks = self._close_text()
        if isinstance(event, TurnStarted):
            metadata = {"requestId": event.request_id, "threadId": event.thread_id}
            chunks.append({"type": "start", "messageId": event.message_id, "messageMetadata": metadata})
        elif isinstance(event, StepStarted):
            chunks.append({"type": "start-step"})
        elif isinstance(event, StepFinished):
            chunks.append({"type": "finish-step"})
        elif isinstance(event, TurnFinished):
            chunks.append({"type": "finish", "finishReason": event.finish_reason,
                           "messageMetadata": event.metadata})
        elif isinstance(event, TurnFailed):
            chunks.append({"type": "error", "errorText": event.message})
        elif isinstance(event, TurnAborted):
            chunks.append({"type": "abort"})
        else:
            chunks += _tool_chunks(event)
        return chunks

    def _start_text(self) -> Chunk:
        self._parts += 1
        self._open_text = f"text-{self._parts}"
        return {"type": "text-start", "id": self._open_text}

    def _close_text(self) -> list[Chunk]:
        if self._open_text is None:
            return []
        chunk = {"type": "text-end", "id": self._open_text}
        self._open_text = None
        return [chunk]


def _tool_chunks(event: ChatEvent) -> list[Chunk]:
    if isinstance(event, ToolInputStarted):
        return [{"type": "tool-input-start", "toolCallId": event.call_id, "toolName": event.name}]
    if isinstance(event, ToolInputDelta):
        return [{"type": "tool-input-delta", "toolCallId": event.call_id, "inputTextDelta": event.delta}]
    if isinstance(event, ToolInputReady):
        return [{"type": "tool-input-available", "toolCallId": event.call_id, "toolName": event.name,
                 "input": event.input}]
    if isinstance(event, ToolInputInvalid):
        return [{"type": "tool-input-error", "toolCallId": event.call_id, "toolName": event.name,
                 "input": event.input, "errorText": event.error}]
    # the server's measure of the call, as stored with the message (the SDK keeps toolMetadata on the part)
    if isinstance(event, ToolOutput):
        return [{"type": "tool-output-available", "toolCallId": event.call_id, "output": event.output,
                 "toolMetadata": {"durationMs": event.duration_ms}}]
    if isinstance(event, ToolFailed):
        return [{"type": "tool-output-error", "toolCallId": event.call_id, "errorText": event.error,
                 "toolMetadata": {"durationMs": event.duration_ms}}]
    if isinstance(event, SourceDocument):
        return [event.part()]
    return []


OPENAI_FINISH = {"stop": "stop", "length": "length", "tool-calls": "tool_calls",
                 "content-filter": "content_filter", "error": "stop", "other": "stop"}


class OpenAIChunkEncoder:
    """`chat.completion.chunk` objects; a failure mid-stream becomes an `error` object, which the
    openai SDKs raise as an APIError."""

    def __init__(self, completion_id: str, model: str, include_usage: bool):
        self._id = completion_id
        self._model = model
        self._created = int(time.time())
        self._include_usage = include_usage

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> Chunk:
        return {"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                "model": self._model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

    def encode(self, event: ChatEvent) -> list[Chunk]:
        if isinstance(event, TurnStarted):
            return [self._chunk({"role": "assistant", "content": ""})]
        if isinstance(event, TextChunk):
            return [self._chunk({"content": event.text})]
        if isinstance(event, ToolCallChunk):
            return [self._chunk({"tool_calls": [tool_call_delta(event)]})]
        if isinstance(event, TurnFinished):
            chunks = [self._chunk({}, OPENAI_FINISH[event.finish_reason])]
            if self._include_usage:
                chunks.append({"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                               "model": self._model, "choices": [], "usage": usage_object(finished_usage(event))})
            return chunks
        if isinstance(event, TurnFailed):
            return [{"error": {"message": event.message, "type": "server_error", "code": event.code}}]
        return []


def tool_call_delta(event: ToolCallChunk) -> dict[str, Any]:
    delta: dict[str, Any] = {"index": event.index, "function": {"arguments": event.arguments}}
    if event.id is not None:
        delta["id"] = event.id
        delta["type"] = "function"
    if event.name is not None:
        delta["function"]["name"] = event.name
    return delta


def finished_usage(event: TurnFinished) -> Usage:
    return Usage(int(event.metadata.get("tokens_in", 0)), int(event.metadata.get("tokens_out", 0)))


def usage_object(usage: Usage) -> dict[str, int]:
    return {"prompt_tokens": usage.tokens_in, "completion_tokens": usage.tokens_out,
            "total_tokens": usage.tokens_in + usage.tokens_out}
