"""Protocol-neutral chat events: the agent loop's step, text and tool events, plus a turn's start and end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from parlor.agent.events import (
    AgentEvent,
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
)
from parlor.llm.types import FinishReason


@dataclass(frozen=True, slots=True)
class TurnStarted:
    message_id: str
    thread_id: str | None
    request_id: str


@dataclass(frozen=True, slots=True)
class TurnFinished:
    finish_reason: FinishReason
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TurnFailed:
    code: str
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TurnAborted:
    reason: str = "stopped"


ChatEvent = AgentEvent | TurnStarted | TurnFinished | TurnFailed | TurnAborted
TERMINAL = (TurnFinished, TurnFailed, TurnAborted)

__all__ = [
    "TERMINAL", "ChatEvent", "StepFinished", "StepStarted", "TextChunk", "ToolCallChunk", "ToolFailed",
    "ToolInputDelta", "ToolInputInvalid", "ToolInputReady", "ToolInputStarted", "ToolOutput", "TurnAborted",
    "TurnFailed", "TurnFinished", "TurnStarted",
]
