"""A stored answer as the events that produced it: what a retried POST of an answered question gets."""

from __future__ import annotations

from collections.abc import AsyncIterator

from parlor.agent.events import SourceDocument
from parlor.chat.events import (
    ChatEvent,
    StepFinished,
    StepStarted,
    TextChunk,
    ToolFailed,
    ToolInputReady,
    ToolOutput,
    TurnAborted,
    TurnFailed,
    TurnFinished,
    TurnStarted,
)
from parlor.memory import StoredMessage


async def replay(message: StoredMessage, thread_id: str, request_id: str) -> AsyncIterator[ChatEvent]:
    yield TurnStarted(message.id, thread_id, request_id)
    parts = message.parts or ([{"type": "text", "text": message.text}] if message.text else [])
    in_step = False
    for part in [{"type": "step-start"}] * (not parts or parts[0].get("type") != "step-start") + parts:
        kind = part.get("type", "")
        if kind == "step-start":
            if in_step:
                yield StepFinished()
            in_step = True
            yield StepStarted()
        elif kind == "text":
            yield TextChunk(part.get("text", ""))
        elif kind.startswith("tool-"):
            call_id = part.get("toolCallId", "")
            yield ToolInputReady(call_id, kind.removeprefix("tool-"), part.get("input"))
            if part.get("state") == "output-available":
                yield ToolOutput(call_id, part.get("output"), part.get("durationMs", 0.0))
            else:
                yield ToolFailed(call_id, part.get("errorText", ""), part.get("durationMs", 0.0))
        elif kind == "source-document":  # the answer's citations, as they first streamed
            yield SourceDocument.from_part(part)
    if message.status == "error":
        yield TurnFailed(message.meta.get("error") or "provider_error", "This answer failed. You can retry.")
    elif message.status == "aborted":
        yield TurnAborted()
    else:
        yield StepFinished()
        yield TurnFinished("stop", {**message.meta, "requestId": request_id})
