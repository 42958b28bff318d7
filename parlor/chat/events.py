"""Protocol-neutral chat events: what a turn produces, before any wire format is chosen."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from parlor.llm.types import FinishReason


@dataclass(frozen=True, slots=True)
class TurnStarted:
    message_id: str
    thread_id: str | None
    request_id: str


@dataclass(frozen=True, slots=True)
class StepStarted:
    pass


@dataclass(frozen=True, slots=True)
class StepFinished:
    pass


@dataclass(frozen=True, slots=True)
class TextChunk:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallChunk:
    """A fragment of a tool call's arguments (for clients that run their own tools)."""

    index: int
    arguments: str
    id: str | None = None
    name: str | None = None


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


ChatEvent = (
    TurnStarted | StepStarted | StepFinished | TextChunk | ToolCallChunk | TurnFinished | TurnFailed | TurnAborted
)
TERMINAL = (TurnFinished, TurnFailed, TurnAborted)
