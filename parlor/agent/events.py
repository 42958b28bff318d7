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
    metadata: dict[str, dict[str, Any]] | None = None  # providerMetadata: where in the document, for links

    def part(self) -> dict[str, Any]:
        """The AI SDK `source-document` part (the same fields as the stream's chunk)."""
        part: dict[str, Any] = {"type": "source-document", "sourceId": self.source_id, "mediaType": self.media_type,
                                "title": self.title}
        if self.filename:
            part["filename"] = self.filename
        if self.metadata:
            part["providerMetadata"] = self.metadata
        return part

    @classmethod
    def from_part(cls, part: dict[str, Any]) -> SourceDocument:
        return cls(str(part.get("sourceId", "")), str(part.get("mediaType", "")), str(part.get("title", "")),
                   part.get("filename"), part.get("providerMetadata"))


AgentEvent = (
    StepStarted | StepFinished | TextChunk | ToolCallChunk | ToolInputStarted | ToolInputDelta | ToolInputReady
    | ToolInputInvalid | ToolOutput | ToolFailed | SourceDocument
)
