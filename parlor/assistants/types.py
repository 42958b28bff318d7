"""Assistants and groups as the rest of Parlor sees them: typed values, no database rows, no wire dicts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Visibility(StrEnum):
    PRIVATE = "private"  # its owner only
    PUBLIC = "public"  # every user of the server
    GROUPS = "groups"  # its owner and the members of its groups


@dataclass(frozen=True, slots=True)
class Ref:
    """Something named: a user, a group."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class GroupView:
    id: str
    name: str
    tier: str | None
    members: tuple[Ref, ...]


@dataclass(frozen=True, slots=True)
class AssistantFields:
    """What an assistant's owner sets (checked by the edge's bounds and the service's rules)."""

    name: str
    description: str = ""
    instructions: str = ""
    model: str | None = None  # None: the chatting user's tier default
    tools: tuple[str, ...] | None = None  # the tools offered in its chats; None: all the server offers
    approval_tools: tuple[str, ...] = ()  # tools that wait for the user's approval in its chats
    starters: tuple[str, ...] = ()
    avatar: str = ""
    color: str = ""
    visibility: Visibility = Visibility.PRIVATE
    groups: tuple[str, ...] = ()  # group ids, for visibility `groups`


@dataclass(frozen=True, slots=True)
class DocumentRef:
    id: str
    filename: str
    status: str


@dataclass(frozen=True, slots=True)
class AssistantView:
    id: str
    owner: Ref
    fields: AssistantFields
    groups: tuple[Ref, ...]
    documents: tuple[DocumentRef, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Badge:
    """How a thread shows its assistant."""

    id: str
    name: str
    avatar: str
    color: str


@dataclass(frozen=True, slots=True)
class TurnAssistant:
    """What a chat turn (or a `/v1` call) takes from its assistant."""

    id: str
    owner_id: str
    instructions: str
    model: str | None
    tools: frozenset[str] | None  # None: all
    approval_tools: frozenset[str]

    @property
    def knowledge_owner(self) -> str:
        return knowledge_owner(self.id)


def knowledge_owner(assistant_id: str) -> str:
    """Whose chunks an assistant's documents are in the vector store: a namespace of their own, so its
    owner's searches never see them and its chats see them whoever chats."""
    return f"assistant:{assistant_id}"


class AssistantNotFound(Exception):
    """No such assistant, or one the caller may not see."""


class NotAssistantOwner(Exception):
    """The caller sees the assistant but does not own it: they may not change it."""


class AssistantUnavailable(Exception):
    """A thread's assistant that the user may no longer see (unshared or deleted)."""


class InvalidAssistant(Exception):
    """A rule of the server refuses the assistant: `code` says which (unknown_model, unknown_tool, unknown_group)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class GroupExists(Exception):
    pass


class GroupNotFound(Exception):
    pass


class UnknownUser(Exception):
    def __init__(self, ids: list[str]):
        super().__init__(f"no such user(s): {', '.join(ids)}")
        self.ids = ids
