"""Ratings of answers: thumbs up or down and an optional comment, by the user whose answer it is,
changeable, cleared by a null rating."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.db import Message, Thread, utcnow
from parlor.db.models import Feedback


class MessageNotFound(Exception):
    """Not an assistant message of this user's (another user's message is simply not found)."""


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    message_id: str
    rating: str | None
    comment: str | None
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "rating": self.rating, "comment": self.comment,
                "updated_at": self.updated_at.isoformat()}


class FeedbackStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def rate(self, user_id: str, message_id: str, rating: str | None, comment: str | None) -> FeedbackRecord:
        """Sets (or with neither a rating nor a comment, removes) the user's feedback on the answer."""
        now = utcnow()
        async with self._sessions.begin() as session:
            found = (await session.execute(
                select(Message.thread_id, Message.request_id).join(Thread, Thread.id == Message.thread_id)
                .where(Message.id == message_id, Message.role == "assistant", Thread.user_id == user_id)
            )).first()
            if found is None:
                raise MessageNotFound(message_id)
            if rating is None and not comment:
                await session.execute(delete(Feedback).where(Feedback.message_id == message_id))
                return FeedbackRecord(message_id, None, None, now)
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            values = {"rating": rating, "comment": comment or None, "updated_at": now}
            await session.execute(dialect.insert(Feedback).values(
                message_id=message_id, user_id=user_id, thread_id=found.thread_id, request_id=found.request_id,
                created_at=now, **values).on_conflict_do_update(index_elements=["message_id"], set_=values))
        return FeedbackRecord(message_id, rating, comment or None, now)

    async def for_thread(self, user_id: str, thread_id: str) -> dict[str, dict[str, Any]]:
        """message id -> {"rating", "comment"}, for the thread's rated answers."""
        async with self._sessions() as session:
            rows = (await session.execute(
                select(Feedback.message_id, Feedback.rating, Feedback.comment)
                .where(Feedback.thread_id == thread_id, Feedback.user_id == user_id)
            )).all()
        return {row.message_id: {"rating": row.rating, "comment": row.comment} for row in rows}
