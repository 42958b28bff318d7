"""The message model: what a thread's messages are made of inside Parlor, and the states of the things
a turn touches. Parts are frozen dataclasses told apart by `kind` (one discriminated union, `Part`);
storage keeps them as JSON (`parlor/message_json.py`), and each wire format is made from them at the
edge (`parlor/api/wire/`). Nothing here knows a wire format."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field


class MessageStatus(StrEnum):
    STREAMING = "streaming"  # the assistant message of a turn under way
    COMPLETE = "complete"
    ERROR = "error"
    ABORTED = "aborted"  # stopped: what streamed before the stop is kept
    AWAITING = "awaiting"  # paused before a tool that needs the user's approval (see ApprovalPart)


class ApprovalState(StrEnum):
    PENDING = "pending"  # asked; the turn waits for the user's answer
    APPROVED = "approved"  # the tool ran
    DENIED = "denied"  # the tool did not run; the model was told why
    EXPIRED = "expired"  # answered after its expiry: the tool did not run


class RunStatus(StrEnum):
    """How a turn (or a `/v1` call) ended: its run record's, usage row's and answer's status."""

    COMPLETE = "complete"
    ERROR = "error"
    ABORTED = "aborted"


class DocumentStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in (DocumentStatus.READY, DocumentStatus.FAILED)


class JobOutcome(StrEnum):
    """How one try of a background job ended."""

    OK = "ok"
    RETRY = "retry"  # failed, and will be tried again
    FAILED = "failed"  # failed for good


@dataclass(frozen=True, slots=True)
class StepStartPart:
    """Where a step (one model call, and the tools it asked for) begins."""

    kind: Literal["step-start"] = "step-start"


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ReasoningPart:
    """What a reasoning model thought before it answered (shown apart, never fed back as the answer), and
    for how long: from its first thought to the answer's first text (None: stored before it was measured)."""

    text: str
    duration_ms: float | None = None
    kind: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True, slots=True)
class ToolCallPart:
    call_id: str
    name: str
    input: Any  # the arguments as parsed, or the model's raw text when they did not parse
    kind: Literal["tool-call"] = "tool-call"


@dataclass(frozen=True, slots=True)
class ToolResultPart:
    """A tool call's outcome: its output, or (`error` set) why it failed."""

    call_id: str
    name: str
    output: Any = None
    error: str | None = None
    duration_ms: float = 0.0
    kind: Literal["tool-result"] = "tool-result"

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class ApprovalPart:
    """A tool call that needs the user's yes or no before it runs: asked (the turn paused, stored as
    `awaiting`), then answered. Kept beside the call's part; everything a resumed turn needs is stored."""

    approval_id: str
    call_id: str
    expires_at: datetime
    state: ApprovalState = ApprovalState.PENDING
    reason: str | None = None  # the user's, with a denial (the model reads it)
    kind: Literal["approval"] = "approval"


@dataclass(frozen=True, slots=True)
class SourcePart:
    """A document an answer cites (a retrieved passage's file and where in it)."""

    source_id: str
    media_type: str
    title: str
    filename: str | None = None
    location: dict[str, Any] | None = None  # e.g. {"documentId": …, "page": 3, "chunk": 7}, for links
    kind: Literal["source"] = "source"


@dataclass(frozen=True, slots=True)
class FilePart:
    """A file in a message: an image, a PDF… by URL (a `data:` URL when inline; an attachment Parlor
    stores: its owner's route, parlor/attachments/store.py). The sizes estimate its tokens."""

    media_type: str
    url: str
    filename: str | None = None
    width: int | None = None  # an image's, in pixels
    height: int | None = None
    pages: int | None = None  # a PDF's
    kind: Literal["file"] = "file"


@dataclass(frozen=True, slots=True)
class DocumentPart:
    """A document uploaded into the thread (its status and progress: a snapshot; clients refresh them)."""

    document_id: str
    name: str
    media_type: str
    status: DocumentStatus
    progress: int = 0
    stage: str = ""
    error: str | None = None
    kind: Literal["document"] = "document"


@dataclass(frozen=True, slots=True)
class DataPart:
    """Application data a client shows its own way (`name` says which kind)."""

    name: str
    data: dict[str, Any]
    id: str | None = None
    kind: Literal["data"] = "data"


Part = Annotated[
    StepStartPart | TextPart | ReasoningPart | ToolCallPart | ToolResultPart | SourcePart | FilePart | DocumentPart
    | DataPart | ApprovalPart,
    Field(discriminator="kind"),
]
Parts = tuple[Part, ...]


def text_of(parts: Sequence[Part]) -> str:
    """The message's answer text (reasoning and tool traffic left out)."""
    return "".join(p.text for p in parts if isinstance(p, TextPart))


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A thread's message as read from storage."""

    id: str
    client_id: str | None
    role: str  # "user" | "assistant"
    text: str
    parts: Parts
    status: MessageStatus
    created_at: datetime
    meta: dict[str, Any] = field(default_factory=dict)  # provider, model, tokens_in, tokens_out, error
    tokens: int | None = None  # its size in a prompt, counted when it was stored
    parent_id: str | None = None  # the message before it on its branch (None: a first message)
    versions: tuple[str, ...] = ()  # it and its siblings (same parent), oldest first; () when not read
