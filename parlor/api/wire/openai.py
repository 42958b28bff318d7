"""OpenAI chat completions: a request's messages in, and chat events out as `chat.completion.chunk`
objects (streamed) or one `chat.completion` (not streamed)."""

from __future__ import annotations

import time
from typing import Any

from parlor.api.errors import ApiError
from parlor.api.schemas import OpenAIMessage
from parlor.attachments.intake import FileIn
from parlor.chat.events import (
    TERMINAL,
    ChatEvent,
    ReasoningChunk,
    TextChunk,
    ToolCallChunk,
    TurnAborted,
    TurnFailed,
    TurnFinished,
    TurnReport,
    TurnStarted,
)
from parlor.llm import LLMMessage, ToolCall

Chunk = dict[str, Any]
ABORTED = ("aborted", "The answer was stopped before its end (the server is restarting); retry the request.")
UNAVAILABLE = ("providers_unavailable", "local_model_busy", "storage_unavailable")  # 503: retry later
FINISH = {"stop": "stop", "length": "length", "tool-calls": "tool_calls", "content-filter": "content_filter",
          "error": "stop", "other": "stop"}


def files_in(message: OpenAIMessage) -> list[FileIn]:
    """A message's `image_url` and `file` content parts, as sent: checked by the route like the chat's
    (a data: URL's own type is the declared one; a web URL is refused there, never fetched)."""
    found: list[FileIn] = []
    for part in message.content if isinstance(message.content, list) else []:
        if part.get("type") == "image_url":
            image = part.get("image_url")
            url = str(image.get("url", "") if isinstance(image, dict) else image or "")
            found.append(FileIn(_declared(url), url))
        elif part.get("type") == "file":
            file = part.get("file")
            file = file if isinstance(file, dict) else {}
            url = str(file.get("file_data") or "")
            found.append(FileIn(_declared(url), url, file.get("filename")))
    return found


def _declared(url: str) -> str:
    return url[5:url.find(";")] if url.startswith("data:") and ";" in url else ""


def llm_message(message: OpenAIMessage) -> LLMMessage:
    role = "system" if message.role == "developer" else message.role
    calls = tuple(
        ToolCall(str(c.get("id", "")), str((c.get("function") or {}).get("name", "")),
                 str((c.get("function") or {}).get("arguments", "")))
        for c in message.tool_calls or []
    )
    return LLMMessage(role, message.text(), calls, message.tool_call_id)


class ChunkEncoder:
    """One stream's `chat.completion.chunk` objects; a failure mid-stream becomes an `error` object,
    which the openai SDKs raise as an APIError."""

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
        if isinstance(event, ReasoningChunk):  # as vLLM and DeepSeek stream it
            return [self._chunk({"reasoning_content": event.text})]
        if isinstance(event, ToolCallChunk):
            return [self._chunk({"tool_calls": [_tool_call_delta(event)]})]
        if isinstance(event, TurnFinished):
            chunks = [self._chunk({}, FINISH[event.finish_reason])]
            if self._include_usage:
                chunks.append({"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                               "model": self._model, "choices": [], "usage": usage(event.report)})
            return chunks
        if isinstance(event, TurnFailed):
            return [_error(event.code, event.message)]
        if isinstance(event, TurnAborted):  # OpenAI's stream has no abort: an error the SDKs raise, not a cut
            return [_error(ABORTED[0], ABORTED[1])]
        return []


def completion(completion_id: str, model: str, events: list[ChatEvent]) -> Chunk:
    """A non-streamed call's `chat.completion`; a turn that failed or was stopped before its end is the
    ApiError the call answers instead."""
    finished = _finish(events)
    text = "".join(e.text for e in events if isinstance(e, TextChunk))
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls := _tool_calls([e for e in events if isinstance(e, ToolCallChunk)]):
        message["tool_calls"] = calls
    return {
        "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": FINISH[finished.finish_reason]}],
        "usage": usage(finished.report),
    }


def _finish(events: list[ChatEvent]) -> TurnFinished:
    end = next((e for e in reversed(events) if isinstance(e, TERMINAL)), None)
    if isinstance(end, TurnFailed):
        status = 503 if end.code in UNAVAILABLE else 502
        raise ApiError(status, end.code, end.message)
    if not isinstance(end, TurnFinished):  # stopped before its end (a deploy's drain): retry elsewhere
        raise ApiError(503, *ABORTED)
    return end


def _error(code: str, message: str) -> Chunk:
    return {"error": {"message": message, "type": "server_error", "code": code}}


def usage(report: TurnReport) -> dict[str, int]:
    return {"prompt_tokens": report.tokens_in, "completion_tokens": report.tokens_out,
            "total_tokens": report.tokens_in + report.tokens_out}


def _tool_call_delta(event: ToolCallChunk) -> dict[str, Any]:
    delta: dict[str, Any] = {"index": event.index, "function": {"arguments": event.arguments}}
    if event.id is not None:
        delta["id"] = event.id
        delta["type"] = "function"
    if event.name is not None:
        delta["function"]["name"] = event.name
    return delta


def _tool_calls(fragments: list[ToolCallChunk]) -> list[dict[str, Any]]:
    """Joins streamed tool-call fragments (by index) into whole calls."""
    calls: dict[int, dict[str, Any]] = {}
    for fragment in fragments:
        call = calls.setdefault(fragment.index, {"id": "", "type": "function",
                                                 "function": {"name": "", "arguments": ""}})
        call["id"] = fragment.id or call["id"]
        call["function"]["name"] = fragment.name or call["function"]["name"]
        call["function"]["arguments"] += fragment.arguments
    return [calls[index] for index in sorted(calls)]
