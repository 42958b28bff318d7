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
    ToolApprovalRequested,
    ToolDenied,
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
    ApprovalPart,
    ApprovalState,
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


async def replay(message: StoredMessage, thread_id: str, request_id: str,
                 after: frozenset[str] = frozenset()) -> AsyncIterator[ChatEvent]:
    """`after`: the approvals a retried answer carried (ids): only what followed them is replayed, as their
    answer's stream first sent it (the client already holds the rest)."""
    yield TurnStarted(message.id, thread_id, request_id)
    parts: list[Part] = list(message.parts) or ([TextPart(message.text)] if message.text else [])
    if after:
        parts = continuation(parts, after)
    elif not parts or not isinstance(parts[0], StepStartPart):
        parts.insert(0, StepStartPart())
    denied = {p.call_id for p in parts if isinstance(p, ApprovalPart) and p.state is ApprovalState.DENIED}
    stepping = False
    for part in parts:
        if isinstance(part, StepStartPart):
            if stepping:
                yield StepFinished()
            stepping = True
            yield StepStarted()
        elif isinstance(part, TextPart):
            yield TextChunk(part.text)
        elif isinstance(part, ReasoningPart):
            yield ReasoningChunk(part.text)
            if part.duration_ms is not None:
                yield ReasoningEnded(part.duration_ms)
        elif isinstance(part, ToolCallPart):
            yield ToolInputReady(part.call_id, part.name, part.input)
        elif isinstance(part, ApprovalPart):
            if part.state is ApprovalState.PENDING:
                yield ToolApprovalRequested(part.call_id, part.approval_id)
            elif part.state is ApprovalState.DENIED:
                yield ToolDenied(part.call_id, part.reason)
        elif isinstance(part, ToolResultPart) and part.call_id not in denied:
            yield (ToolOutput(part.call_id, part.output, part.duration_ms) if part.ok
                   else ToolFailed(part.call_id, part.error or "", part.duration_ms))
        elif isinstance(part, SourcePart):  # the answer's citations, as they first streamed
            yield SourceFound(part)
    if message.status is MessageStatus.ERROR:
        yield TurnFailed(message.meta.get("error") or "provider_error", "This answer failed. You can retry.")
    elif message.status is MessageStatus.ABORTED:
        yield TurnAborted()
    else:
        if stepping:
            yield StepFinished()
        yield TurnFinished("stop", stored_report(message, request_id))


def continuation(parts: list[Part], approvals: frozenset[str]) -> list[Part]:
    """What the answer to `approvals` added: the outcomes of their calls (stored at the end of the step that
    asked), then the steps after it. (A denied call's outcome is its approval part.)"""
    asked = [i for i, p in enumerate(parts) if isinstance(p, ApprovalPart) and p.approval_id in approvals]
    if not asked:
        return []
    calls = {p.call_id for p in parts if isinstance(p, ApprovalPart) and p.approval_id in approvals}
    later = next((i for i in range(asked[-1], len(parts)) if isinstance(parts[i], StepStartPart)), len(parts))
    outcomes = [p for p in parts[asked[0]:later]
                if isinstance(p, ToolResultPart | ApprovalPart) and p.call_id in calls]
    return [*outcomes, *parts[later:]]


def stored_report(message: StoredMessage, request_id: str) -> TurnReport:
    meta = message.meta
    return TurnReport(request_id, meta.get("provider"), meta.get("model"), meta.get("tokens_in") or 0,
                      meta.get("tokens_out") or 0)
