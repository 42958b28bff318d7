"""A run's events as JSON, for the copy of its log that other replicas read (chat/mirror.py): typed
events on both sides, so a client of any protocol can resume a run that another replica generates."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from parlor.chat.events import ChatEvent

_EVENT: TypeAdapter[ChatEvent] = TypeAdapter(Annotated[ChatEvent, Field(discriminator="kind")])


def dump_event(event: ChatEvent) -> bytes:
    return _EVENT.dump_json(event, fallback=str)  # a tool's output is whatever it returned: never fail on it


def load_event(data: bytes | str) -> ChatEvent:
    return _EVENT.validate_json(data)
