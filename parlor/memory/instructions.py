"""A user's custom instructions: what they want the model to know about them, and how they want it to
answer. Set on the account page (`PUT /api/me/instructions`), put in every one of their system prompts.

The pair is bounded in tokens (PARLOR_INSTRUCTION_TOKENS), counted once when saved: the prompt builder
adds the stored count, as it does for messages and facts. Every read and write is by the user's id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.db import UserInstructions, utcnow
from parlor.memory.tokens import TokenCounter

MAX_INSTRUCTION_CHARS = 1500  # each of the two texts


class InstructionsTooLong(Exception):
    def __init__(self, tokens: int, limit: int):
        super().__init__(f"the instructions are {tokens} tokens; at most {limit} fit")
        self.tokens = tokens
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Instructions:
    about: str  # about the user
    style: str  # how they want answers
    tokens: int  # both texts, by the server's counter
    updated_at: datetime | None = None

    @property
    def empty(self) -> bool:
        return not (self.about or self.style)


NONE = Instructions("", "", 0)


class InstructionStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], counter: TokenCounter, max_tokens: int):
        self._sessions = sessions
        self._counter = counter
        self.max_tokens = max_tokens

    def measure(self, about: str, style: str) -> Instructions:
        """The pair, trimmed and counted; raises InstructionsTooLong over the bound."""
        about, style = about.strip(), style.strip()
        tokens = sum(self._counter.count_tokens(text) for text in (about, style) if text)
        if tokens > self.max_tokens:
            raise InstructionsTooLong(tokens, self.max_tokens)
        return Instructions(about, style, tokens)

    async def get(self, user_id: str) -> Instructions:
        async with self._sessions() as session:
            row = await session.get(UserInstructions, user_id)
        return NONE if row is None else Instructions(row.about, row.style, row.tokens, row.updated_at)

    async def put(self, user_id: str, about: str, style: str) -> Instructions:
        """Saves the pair (both empty: clears them). Raises InstructionsTooLong. One upsert: two saves at
        once never race into an integrity error; the later one wins."""
        wanted = self.measure(about, style)
        now = utcnow()
        async with self._sessions.begin() as session:
            if wanted.empty:
                await session.execute(delete(UserInstructions).where(UserInstructions.user_id == user_id))
                return NONE
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            values = {"about": wanted.about, "style": wanted.style, "tokens": wanted.tokens, "updated_at": now}
            await session.execute(dialect.insert(UserInstructions).values(user_id=user_id, created_at=now, **values)
                                  .on_conflict_do_update(index_elements=["user_id"], set_=values))
        return Instructions(wanted.about, wanted.style, wanted.tokens, now)
