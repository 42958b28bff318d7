"""A stored answer as the events that produced it: what a retried POST of an answered question gets."""

from __future__ import annotations

from collections.abc import AsyncIterator

from parlor.chat.events import (
    ChatEvent,
    ReasoningChunk,
    ReasoningEnded,
    SourceFound,
    StepFinished,
    StepStarted,
    TextChunk,
    ToolFailed,
    ToolInputReady,
    ToolOutput,
    TurnAborted,
    TurnFailed,
    TurnFinished,
    TurnReport,
    TurnStarted,
)
from parlor.messages import (
    MessageStatus,
    Part,
    ReasoningPart,
    SourcePart,
    StepStartPart,
    StoredMessage,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)


async def replay(message: StoredMessage, thread_id: str, request_id: str) -> AsyncIterator[ChatEvent]:
    yield TurnStarted(message.id, thread_id, request_id)
    parts: list[Part] = list(message.parts) or ([TextPart(message.text)] if message.text else [])
    if not parts or not isinstance(parts[0], StepStartPart):
        parts.insert(0, StepStartPart())
    for index, part in enumerate(parts):
        if isinstance(part, StepStartPart):
            if index:
                yield StepFinished()
            yield StepStarted()
        elif isinstance(part, TextPart):
            yield TextChunk(part.text)
        elif isinstance(part, ReasoningPart):
            yield ReasoningChunk(part.text)
            if part.duration_ms is not None:
                yield ReasoningEnded(part.duration_ms)
        elif isinstance(part, ToolCallPart):
            yield ToolInputReady(part.call_id, part.name, part.input)
        elif isinstance(part, ToolResultPart):
            yield (ToolOutput(part.call_id, part.output, part.duration_ms) if part.ok
                   else ToolFailed(part.call_id, part.error or "", part.duration_ms))
        elif isinstance(part, SourcePart):  # the answer's citations, as they first streamed
            yield SourceFound(part)
    if message.status is MessageStatus.ERROR:
        yield TurnFailed(message.meta.get("error") or "provider_error", "This answer failed. You can retry.")
    elif message.status is MessageStatus.ABORTED:
        yield TurnAborted()
    else:
        yield StepFinished()
        yield TurnFinished("stop", stored_report(message, request_id))


def stored_report(message: StoredMessage, request_id: str) -> TurnReport:
    meta = message.meta
    return TurnReport(request_id, meta.get("provider"), meta.get("model"), meta.get("tokens_in") or 0,
                      meta.get("tokens_out") or 0)
