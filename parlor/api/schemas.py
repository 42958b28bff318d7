"""Request bodies as the clients send them. Every string, list and integer has a bound; every body follows
the input rule of parlor/api/inputs.py (storable text, bounded nesting)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import ConfigDict, Field

from parlor.api.inputs import RequestBody

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
IdPath = Annotated[str, Path(pattern=ID_PATTERN)]  # a thread, document, memory… id in a route's path
MAX_TOKENS = 1_000_000  # of one reply: above any model's output window
NamePath = Annotated[str, Path(min_length=1, max_length=200)]  # a user's name or id (names may hold spaces)


class UIPart(RequestBody):
    model_config = ConfigDict(extra="allow")
    type: str = Field(max_length=64)
    text: str | None = None
    # a file part (an image or PDF): its `data:` URL is bounded by PARLOR_MAX_ATTACHMENT_BYTES once decoded
    mediaType: str | None = Field(default=None, max_length=200)
    url: str | None = None
    filename: str | None = Field(default=None, max_length=255)


class UIMessageIn(RequestBody):
    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1, max_length=128)
    role: Literal["system", "user", "assistant"]
    parts: list[UIPart] = Field(default_factory=list, max_length=500)
    metadata: Any = None

    def text(self) -> str:
        return "".join(p.text or "" for p in self.parts if p.type == "text")

    def files(self) -> list[UIPart]:
        return [p for p in self.parts if p.type == "file"]


class ChatBody(RequestBody):
    """What `useChat`'s default transport posts."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(pattern=ID_PATTERN)
    messages: list[UIMessageIn] = Field(min_length=1, max_length=10_000)
    trigger: Literal["submit-message", "regenerate-message"] = "submit-message"
    messageId: str | None = Field(default=None, max_length=128)
    model: str | None = Field(default=None, min_length=1, max_length=200)  # an id of GET /api/models
    assistant: str | None = Field(default=None, pattern=ID_PATTERN)  # a thread keeps the first one it got


class ThreadPatch(RequestBody):
    title: str = Field(min_length=1, max_length=200)


class LeafChoice(RequestBody):
    """`PUT /api/threads/{id}/leaf`: the message whose branch the thread switches to."""

    message_id: str = Field(pattern=ID_PATTERN)


class NewMemoryBody(RequestBody):
    text: str = Field(min_length=1, max_length=300, pattern=r"\S")  # MAX_FACT_CHARS; not only spaces


class NewUserBody(RequestBody):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")
    tier: str | None = Field(default=None, min_length=1, max_length=64)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)  # of the first key; None: never


class OpenAIMessage(RequestBody):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = Field(default=None, max_length=128)
    tool_call_id: str | None = Field(default=None, max_length=128)

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(str(p.get("text", "")) for p in self.content or [] if p.get("type") == "text")


class OpenAIFunction(RequestBody):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str = Field(default="", max_length=4000)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class OpenAITool(RequestBody):
    type: Literal["function"] = "function"
    function: OpenAIFunction


StopWord = Annotated[str, Field(max_length=200)]


class ChatCompletionBody(RequestBody):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=200)
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=10_000)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    stop: StopWord | Annotated[list[StopWord], Field(max_length=4)] | None = None  # OpenAI allows 4
    tools: list[OpenAITool] | None = Field(default=None, max_length=128)
    tool_choice: str | dict[str, Any] | None = None
