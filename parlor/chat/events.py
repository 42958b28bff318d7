"""Protocol-neutral chat events: the agent loop's step, text and tool events, plus a turn's start and
end. A run's log is a list of these; every codec at the edge encodes them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from parlor.agent.events import (
    AgentEvent,
    ReasoningChunk,
    ReasoningEnded,
    SourceFound,
    StepFinished,
    StepStarted,
    TextChunk,
    ToolApprovalRequested,
    ToolCallChunk,
    ToolDenied,
    ToolFailed,
    ToolInputDelta,
    ToolInputInvalid,
    ToolInputReady,
    ToolInputStarted,
    ToolOutput,
)
from parlor.llm.types import FinishReason


@dataclass(frozen=True, slots=True)
class TurnStarted:
    message_id: str
    thread_id: str | None
    request_id: str
    kind: Literal["turn-started"] = "turn-started"


@dataclass(frozen=True, slots=True)
class TurnReport:
    """Who answered and what it took: sent with a turn's end (and kept with the stored answer)."""

    request_id: str | None = None
    provider: str | None = None
    model: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    ttft_ms: float | None = None
    model_calls: int = 0


@dataclass(frozen=True, slots=True)
class TurnFinished:
    finish_reason: FinishReason
    report: TurnReport = field(default_factory=TurnReport)
    kind: Literal["turn-finished"] = "turn-finished"


@dataclass(frozen=True, slots=True)
class TurnFailed:
    code: str
    message: str
    report: TurnReport = field(default_factory=TurnReport)
    kind: Literal["turn-failed"] = "turn-failed"


@dataclass(frozen=True, slots=True)
class TurnAborted:
    reason: str = "stopped"
    kind: Literal["turn-aborted"] = "turn-aborted"


ChatEvent = AgentEvent | TurnStarted | TurnFinished | TurnFailed | TurnAborted
TERMINAL = (TurnFinished, TurnFailed, TurnAborted)


def coalesce(events: Iterable[ChatEvent]) -> list[ChatEvent]:
    """Merges adjacent text chunks: one write instead of many when the reader fell behind."""
    merged: list[ChatEvent] = []
    for event in events:
        if isinstance(event, TextChunk | ReasoningChunk) and merged and type(merged[-1]) is type(event):
            merged[-1] = type(event)(merged[-1].text + event.text)
        else:
            merged.append(event)
    return merged


__all__ = [
    "TERMINAL", "ChatEvent", "ReasoningChunk", "ReasoningEnded", "SourceFound", "StepFinished", "StepStarted",
    "TextChunk", "ToolApprovalRequested", "ToolCallChunk", "ToolDenied", "ToolFailed", "ToolInputDelta",
    "ToolInputInvalid", "ToolInputReady", "ToolInputStarted", "ToolOutput", "TurnAborted", "TurnFailed",
    "TurnFinished", "TurnReport", "TurnStarted",
    "coalesce",
]
