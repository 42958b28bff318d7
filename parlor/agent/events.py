"""What the agent loop emits: steps, text, and tool calls with their results (no wire format)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    """A raw fragment of a model's tool call (passed through to clients that run their own tools)."""

    index: int
    arguments: str
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ToolInputStarted:
    call_id: str
    name: str


@dataclass(frozen=True, slots=True)
class ToolInputDelta:
    call_id: str
    delta: str


@dataclass(frozen=True, slots=True)
class ToolInputReady:
    call_id: str
    name: str
    input: Any


@dataclass(frozen=True, slots=True)
class ToolInputInvalid:
    call_id: str
    name: str
    input: Any
    error: str


@dataclass(frozen=True, slots=True)
class ToolOutput:
    call_id: str
    output: Any
    duration_ms: float


@dataclass(frozen=True, slots=True)
class ToolFailed:
    call_id: str
    error: str
    duration_ms: float


@dataclass(frozen=True, slots=True)
class SourceDocument:
    """A document a tool's result cites (e.g. a retrieved passage's file and page)."""

    source_id: str
    media_type: str
    title: str
    filename: str | None = None


AgentEvent = (
    StepStarted | StepFinished | TextChunk | ToolCallChunk | ToolInputStarted | ToolInputDelta | ToolInputReady
    | ToolInputInvalid | ToolOutput | ToolFailed | SourceDocument
)
