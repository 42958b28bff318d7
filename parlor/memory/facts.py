"""Long-term user memory: short facts the model saved with the `remember` tool.

Every read and delete filters by the user: a fact id alone never reaches another user's fact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.db import Memory, Thread, new_id, utcnow
from parlor.memory.tokens import TokenCounter

MAX_FACT_CHARS = 300


class MemoryFull(Exception):
    pass


class DuplicateFact(Exception):
    """Another of the user's facts has that text already (a fact is saved once)."""


@dataclass(frozen=True, slots=True)
class SavedFact:
    id: str
    text: str
    tokens: int
    thread_id: str | None
    created_at: datetime
    thread_found: bool = False  # when listed: the thread it was learnt in is still there (deleted: False)
    thread_title: str | None = None  # ... and its title


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:MAX_FACT_CHARS]


class FactStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], counter: TokenCounter, max_facts: int):
        self._sessions = sessions
        self._counter = counter
        self._max_facts = max_facts

    async def add(self, user_id: str, text: str, thread_id: str | None = None) -> tuple[SavedFact, bool]:
        """Saves a fact (once: the same text again is not a second fact); returns it and whether it is new.
        Raises MemoryFull when the user has `max_facts` already."""
        text = normalise(text)
        async with self._sessions.begin() as session:
            existing = await self._find(session, user_id, text)
            if existing is not None:
                return existing, False
            count = (await session.execute(
                select(func.count()).select_from(Memory).where(Memory.user_id == user_id))).scalar_one()
            if count >= self._max_facts:
                raise MemoryFull(f"{count} facts are saved already, the most allowed")
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            fact = SavedFact(new_id(), text, self._counter.count_tokens(text), thread_id, utcnow())
            inserted = await session.execute(dialect.insert(Memory).values(
                id=fact.id, user_id=user_id, text=fact.text, tokens=fact.tokens, thread_id=thread_id,
                created_at=fact.created_at,
            ).on_conflict_do_nothing(index_elements=["user_id", "text"]))
            if rowcount(inserted) == 0:  # saved by a concurrent call meanwhile
                raced = await self._find(session, user_id, text)
                assert raced is not None
                return raced, False
        return fact, True

    async def saved(self, user_id: str) -> list[SavedFact]:
        """The user's facts, newest first, each with the title of the thread it came from (when it is
        still theirs: a deleted thread's id leads nowhere)."""
        query = (select(Memory, Thread.id, Thread.title).where(Memory.user_id == user_id)
                 .outerjoin(Thread, (Thread.id == Memory.thread_id) & (Thread.user_id == user_id))
                 .order_by(Memory.created_at.desc(), Memory.id.desc()))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [replace(_saved(m), thread_title=title, thread_found=found is not None) for m, found, title in rows]

    async def update(self, user_id: str, fact_id: str, text: str) -> SavedFact | None:
        """The fact's new text (normalised and recounted); None if the user has no such fact. Raises
        DuplicateFact when another of their facts says the same."""
        text = normalise(text)
        try:
            return await self._update(user_id, fact_id, text)
        except IntegrityError:  # a concurrent save or edit took the text meanwhile
            raise DuplicateFact(text) from None

    async def _update(self, user_id: str, fact_id: str, text: str) -> SavedFact | None:
        async with self._sessions.begin() as session:
            fact = (await session.execute(select(Memory).where(Memory.id == fact_id, Memory.user_id == user_id)
                                          .with_for_update())).scalar_one_or_none()
            if fact is None:
                return None
            if fact.text != text:
                other = await self._find(session, user_id, text)
                if other is not None:
                    raise DuplicateFact(other.id)
                fact.text, fact.tokens = text, self._counter.count_tokens(text)
            thread = (await session.execute(select(Thread.id, Thread.title).where(
                Thread.id == fact.thread_id, Thread.user_id == user_id))).first() if fact.thread_id else None
            title = thread.title if thread is not None else None
            saved = replace(_saved(fact), thread_found=thread is not None, thread_title=title)
        return saved

    async def delete(self, user_id: str, fact_id: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(delete(Memory).where(Memory.id == fact_id, Memory.user_id == user_id))
        return bool(rowcount(result))

    async def clear(self, user_id: str) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(delete(Memory).where(Memory.user_id == user_id))
        return rowcount(result)

    @staticmethod
    async def _find(session: AsyncSession, user_id: str, text: str) -> SavedFact | None:
        found = (await session.execute(
            select(Memory).where(Memory.user_id == user_id, Memory.text == text))).scalar_one_or_none()
        return _saved(found) if found is not None else None


def rowcount(result: Any) -> int:
    """Rows an INSERT/UPDATE/DELETE touched (a CursorResult's; typed loosely by SQLAlchemy)."""
    return int(result.rowcount or 0)


def _saved(m: Memory) -> SavedFact:
    return SavedFact(m.id, m.text, m.tokens, m.thread_id, m.created_at)
