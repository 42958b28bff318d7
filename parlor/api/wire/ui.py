"""The AI SDK UI message stream (v1): chat events as its chunks, and stored messages as its UI messages
(what `GET /api/threads/{id}` returns to seed `useChat`). The same part looks the same either way: a
reloaded thread shows what streamed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
    ToolInputDelta,
    ToolInputInvalid,
    ToolInputReady,
    ToolInputStarted,
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
    DataPart,
    DocumentPart,
    FilePart,
    Part,
    ReasoningPart,
    SourcePart,
    StepStartPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

Chunk = dict[str, Any]


class UIStreamEncoder:
    """One stream's chunks; text and reasoning parts are opened and closed as they come and go."""

    def __init__(self) -> None:
        self._open: tuple[str, str] | None = None  # the streaming part's type ("text", "reasoning") and id
        self._parts = 0

    def encode(self, event: ChatEvent) -> list[Chunk]:
        if isinstance(event, TextChunk | ReasoningChunk):
            kind = "text" if isinstance(event, TextChunk) else "reasoning"
            chunks = [] if self._open is not None and self._open[0] == kind else [*self._close(), self._start(kind)]
            return [*chunks, {"type": f"{kind}-delta", "id": self._parts_id, "delta": event.text}]
        if isinstance(event, ReasoningEnded):
            return self._close(reasoning_metadata(event.duration_ms))
        chunks = self._close()
        if isinstance(event, TurnStarted):
            metadata = {"requestId": event.request_id, "threadId": event.thread_id}
            chunks.append({"type": "start", "messageId": event.message_id, "messageMetadata": metadata})
        elif isinstance(event, StepStarted):
            chunks.append({"type": "start-step"})
        elif isinstance(event, StepFinished):
            chunks.append({"type": "finish-step"})
        elif isinstance(event, TurnFinished):
            chunks.append({"type": "finish", "finishReason": event.finish_reason,
                           "messageMetadata": report_metadata(event.report)})
        elif isinstance(event, TurnFailed):
            chunks.append({"type": "error", "errorText": event.message})
        elif isinstance(event, TurnAborted):
            chunks.append({"type": "abort"})
        else:
            chunks += _tool_chunks(event)
        return chunks

    @property
    def _parts_id(self) -> str:
        assert self._open is not None
        return self._open[1]

    def _start(self, kind: str) -> Chunk:
        self._parts += 1
        self._open = (kind, f"{kind}-{self._parts}")
        return {"type": f"{kind}-start", "id": self._open[1]}

    def _close(self, metadata: Chunk | None = None) -> list[Chunk]:
        if self._open is None:
            return []
        kind, part_id = self._open
        self._open = None
        end: Chunk = {"type": f"{kind}-end", "id": part_id}
        return [{**end, "providerMetadata": metadata} if metadata and kind == "reasoning" else end]


def reasoning_metadata(duration_ms: float | None) -> Chunk | None:
    """How long the model thought, where the SDK keeps it on the reasoning part ("Thought for 4 s")."""
    return {"parlor": {"durationMs": duration_ms}} if duration_ms is not None else None


def report_metadata(report: TurnReport) -> dict[str, Any]:
    """The finished message's metadata: who answered, what it took."""
    return {"requestId": report.request_id, "provider": report.provider, "model": report.model,
            "usage": {"inputTokens": report.tokens_in, "outputTokens": report.tokens_out},
            "ttftMs": round(report.ttft_ms, 1) if report.ttft_ms is not None else None,
            "modelCalls": report.model_calls}


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
    if isinstance(event, ToolApprovalRequested):
        return [{"type": "tool-approval-request", "approvalId": event.approval_id, "toolCallId": event.call_id}]
    if isinstance(event, ToolDenied):
        return [{"type": "tool-output-denied", "toolCallId": event.call_id}]
    if isinstance(event, SourceFound):
        return [source_part(event.source)]
    return []  # ToolCallChunk: a client's own tool calls belong to /v1


def ui_parts(parts: Sequence[Part]) -> list[Chunk]:
    """A stored message's parts as UI message parts: a tool call and its result make one `tool-*` part."""
    results = {p.call_id: p for p in parts if isinstance(p, ToolResultPart)}
    approvals = {p.call_id: p for p in parts if isinstance(p, ApprovalPart)}
    out: list[Chunk] = []
    for part in parts:
        if isinstance(part, ToolCallPart):
            out.append(_tool_part(part, results.get(part.call_id), approvals.get(part.call_id)))
        elif not isinstance(part, ToolResultPart | ApprovalPart):
            out.append(_part(part))
    return out


def _part(part: Part) -> Chunk:
    if isinstance(part, StepStartPart):
        return {"type": "step-start"}
    if isinstance(part, ReasoningPart) and (metadata := reasoning_metadata(part.duration_ms)):
        return {"type": "reasoning", "text": part.text, "providerMetadata": metadata}
    if isinstance(part, TextPart | ReasoningPart):
        return {"type": part.kind, "text": part.text}
    if isinstance(part, SourcePart):
        return source_part(part)
    if isinstance(part, FilePart):
        return {"type": "file", "mediaType": part.media_type, "url": part.url,
                **({"filename": part.filename} if part.filename else {})}
    if isinstance(part, DocumentPart):
        return {"type": "data-document", "id": part.document_id,
                "data": {"documentId": part.document_id, "name": part.name, "mediaType": part.media_type,
                         "status": part.status.value, "progress": part.progress, "stage": part.stage,
                         "error": part.error}}
    assert isinstance(part, DataPart)
    return {"type": f"data-{part.name}", **({"id": part.id} if part.id else {}), "data": part.data}


def _tool_part(call: ToolCallPart, result: ToolResultPart | None, approval: ApprovalPart | None = None) -> Chunk:
    part: Chunk = {"type": f"tool-{call.name}", "toolCallId": call.call_id, "input": call.input}
    if approval is not None and approval.state is not ApprovalState.EXPIRED:  # an expired one: its error says so
        asked: Chunk = {"id": approval.approval_id}
        if approval.state is ApprovalState.PENDING:
            return {**part, "state": "approval-requested", "approval": asked}
        approved = approval.state is ApprovalState.APPROVED
        part["approval"] = {**asked, "approved": approved, **({"reason": approval.reason} if approval.reason else {})}
        if not approved:
            return {**part, "state": "output-denied"}
        if result is None:  # approved, and its turn stopped before the tool's result
            return {**part, "state": "approval-responded"}
    if result is None:
        return {**part, "state": "input-available"}
    part["durationMs"] = result.duration_ms
    if result.ok:
        return {**part, "state": "output-available", "output": result.output}
    return {**part, "state": "output-error", "errorText": result.error}


def source_part(source: SourcePart) -> Chunk:
    """A citation: the stream's `source-document` chunk and the stored part are the same object."""
    part: Chunk = {"type": "source-document", "sourceId": source.source_id, "mediaType": source.media_type,
                   "title": source.title}
    if source.filename:
        part["filename"] = source.filename
    if source.location:
        part["providerMetadata"] = {"parlor": source.location}
    return part
