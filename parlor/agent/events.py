"""What the agent loop emits: steps, text, and tool calls with their results (no wire format). Each
event names its `kind`, so the run log can be kept outside the process (see chat/eventlog.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from parlor.messages import SourcePart


@dataclass(frozen=True, slots=True)
class StepStarted:
    kind: Literal["step-started"] = "step-started"


@dataclass(frozen=True, slots=True)
class StepFinished:
    kind: Literal["step-finished"] = "step-finished"


@dataclass(frozen=True, slots=True)
class CallSent:
    """A model call is out (from providers that can tell): work that must not delay it may start."""

    kind: Literal["call-sent"] = "call-sent"


@dataclass(frozen=True, slots=True)
class TextChunk:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ReasoningChunk:
    text: str
    kind: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True, slots=True)
class ReasoningEnded:
    """The reasoning part under way gave way to the answer (or the call ended): how long it thought."""

    duration_ms: float
    kind: Literal["reasoning-ended"] = "reasoning-ended"


@dataclass(frozen=True, slots=True)
class ToolCallChunk:
    """A raw fragment of a model's tool call (passed through to clients that run their own tools)."""

    index: int
    arguments: str
    id: str | None = None
    name: str | None = None
    kind: Literal["tool-call-chunk"] = "tool-call-chunk"


@dataclass(frozen=True, slots=True)
class ToolInputStarted:
    call_id: str
    name: str
    kind: Literal["tool-input-started"] = "tool-input-started"


@dataclass(frozen=True, slots=True)
class ToolInputDelta:
    call_id: str
    delta: str
    kind: Literal["tool-input-delta"] = "tool-input-delta"


@dataclass(frozen=True, slots=True)
class ToolInputReady:
    call_id: str
    name: str
    input: Any
    kind: Literal["tool-input-ready"] = "tool-input-ready"


@dataclass(frozen=True, slots=True)
class ToolInputInvalid:
    call_id: str
    name: str
    input: Any
    error: str
    kind: Literal["tool-input-invalid"] = "tool-input-invalid"


@dataclass(frozen=True, slots=True)
class ToolOutput:
    call_id: str
    output: Any
    duration_ms: float
    kind: Literal["tool-output"] = "tool-output"


@dataclass(frozen=True, slots=True)
class ToolFailed:
    call_id: str
    error: str
    duration_ms: float
    kind: Literal["tool-failed"] = "tool-failed"


@dataclass(frozen=True, slots=True)
class ToolApprovalRequested:
    """The call waits for the user's approval: the turn ends here, to resume once they answer."""

    call_id: str
    approval_id: str
    kind: Literal["tool-approval-requested"] = "tool-approval-requested"


@dataclass(frozen=True, slots=True)
class ToolDenied:
    """The user denied the call: it did not run (the model is told, with their reason)."""

    call_id: str
    reason: str | None = None
    kind: Literal["tool-denied"] = "tool-denied"


@dataclass(frozen=True, slots=True)
class SourceFound:
    """A document a tool's result cites (e.g. a retrieved passage's file and page)."""

    source: SourcePart
    kind: Literal["source-found"] = "source-found"


AgentEvent = (
    StepStarted | StepFinished | CallSent | TextChunk | ReasoningChunk | ReasoningEnded | ToolCallChunk
    | ToolInputStarted
    | ToolInputDelta
    | ToolInputReady | ToolInputInvalid | ToolOutput | ToolFailed | SourceFound | ToolApprovalRequested | ToolDenied
)
