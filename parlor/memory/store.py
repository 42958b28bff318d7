"""Threads and messages. Every read of a user's data filters by that user: a thread id alone
never grants access, and another user's thread is simply not found."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, exists, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from parlor.db import Message, Thread, utcnow
from parlor.memory.tree import newest_leaf, path
from parlor.message_json import load_parts
from parlor.messages import MessageStatus, StoredMessage

TITLE_CHARS = 80  # a thread's title from its first message: that many characters of it


class ThreadNotFound(Exception):
    pass


class MessageNotFound(Exception):
    """No such message in the thread."""


class _Leaf:
    """`begin_turn`'s default parent: the thread's current leaf."""


LEAF = _Leaf()


@dataclass(frozen=True, slots=True)
class ThreadState:
    """What a turn needs to know of its thread, read in one go before the model call."""

    exists: bool
    recent: list[StoredMessage]  # oldest first


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    id: str
    title: str | None
    created_at: datetime
    updated_at: datetime
    model: str | None = None  # the one chosen for it (None: the default)
    assistant_id: str | None = None  # the assistant it started with


@dataclass(frozen=True, slots=True)
class ThreadPage:
    threads: list[ThreadSummary]
    next_cursor: str | None


def _stored(m: Message) -> StoredMessage:
    meta = {k: v for k, v in (("provider", m.provider), ("model", m.model), ("tokens_in", m.tokens_in),
                              ("tokens_out", m.tokens_out), ("error", m.error)) if v is not None}
    return StoredMessage(m.id, m.client_id, m.role, m.text, load_parts(m.parts), MessageStatus(m.status),
                         m.created_at, meta, m.tokens, m.parent_id)


def _summary(t: Thread) -> ThreadSummary:
    return ThreadSummary(t.id, t.title, t.created_at, t.updated_at, t.model, t.assistant_id)


class MessageStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def thread_state(self, user_id: str, thread_id: str, history: int) -> ThreadState:
        """One round trip: the thread's owner joined to its newest messages."""
        newest = (
            select(Message).where(Message.thread_id == thread_id)
            .order_by(Message.created_at.desc(), Message.id.desc()).limit(history).subquery()
        )
        query = (
            select(Thread.user_id, aliased(Message, newest))
            .outerjoin(newest, newest.c.thread_id == Thread.id)
            .where(Thread.id == thread_id)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        if not rows:
            return ThreadState(exists=False, recent=[])
        if rows[0][0] != user_id:
            raise ThreadNotFound(thread_id)
        messages = sorted((m for _, m in rows if m is not None), key=lambda m: (m.created_at, m.id))
        return ThreadState(exists=True, recent=[_stored(m) for m in messages])

    async def begin_turn(
        self, *, user_id: str, thread_id: str, title: str, user_message: Message | None,
        assistant_message: Message, parent: str | _Leaf | None = LEAF, replaces: Sequence[str] = (),
        arm: tuple[str, str | None] | None = None, retitle_from: str | None = None, model: str | None = None,
        assistant: str | None = None,
    ) -> None:
        """One transaction: the thread (created on first use), the user message (once per client id)
        and the assistant message that will stream. `replaces`: the message(s) this turn supersedes
        (a regenerated answer; an edited question and what followed it), deleted first. `arm`: the
        experiment arm to keep with a thread that has none yet (the first arm stored wins).
        `retitle_from`: a thread still titled so (from the first message, which an edit replaces; not
        renamed since) takes `title`. `model`: the one the user chose, kept for the thread's next turns.
        `assistant`: the one the chat is with, kept by a thread that has none yet (the first one wins).
        `parent`: where the first new message hangs (None: a new root; by default the thread's leaf); the
        answer follows the user message, and becomes the thread's leaf."""
        now = utcnow()
        values: dict[str, Any] = {"leaf_id": assistant_message.id}
        if arm is not None:
            values.update(experiment=func.coalesce(Thread.experiment, arm[0]),
                          variant=case((Thread.experiment.is_(None), arm[1]), else_=Thread.variant))
        if retitle_from is not None:
            values.update(title=case((Thread.title == retitle_from, title), else_=Thread.title))
        if model is not None:
            values.update(model=model)
        if assistant is not None:
            values.update(assistant_id=func.coalesce(Thread.assistant_id, assistant))
        async with self._sessions.begin() as session:
            leaf = await _claim_thread(session, user_id, thread_id, title, now, values)
            first = user_message if user_message is not None else assistant_message
            first.parent_id = leaf if isinstance(parent, _Leaf) else parent
            if first.parent_id in replaces:  # a lost answer is replaced beside it, never under it
                first.parent_id = (await session.execute(
                    select(Message.parent_id).where(Message.id == first.parent_id))).scalar()
            if user_message is not None:
                assistant_message.parent_id = user_message.id
            if user_message is not None and not await _insert_ignoring_duplicate(session, user_message):
                # stored already (a concurrent retry of the same POST): the answer follows the stored one
                assistant_message.parent_id = (await session.execute(select(Message.id).where(
                    Message.thread_id == thread_id, Message.client_id == user_message.client_id))).scalar_one()
            await session.execute(_insert(session, Message).values(**_values(assistant_message))
                                  .on_conflict_do_nothing(index_elements=["id"]))  # a retried write adds nothing
            if replaces:  # an answer lost with its replica, answered again in its place: what followed it stays
                dead = list(replaces)
                await session.execute(update(Message).where(Message.thread_id == thread_id,
                                                            Message.parent_id.in_(dead),
                                                            Message.id != assistant_message.id)
                                      .values(parent_id=assistant_message.id))
                await session.execute(delete(Message).where(Message.id.in_(dead), Message.thread_id == thread_id))

    async def add_message(self, *, user_id: str, thread_id: str, title: str, message: Message) -> str:
        """One message outside a turn (a document attached to the thread), in the thread (created on
        first use; ThreadNotFound if it is another user's). Once per client id: returns the stored id.
        It follows the thread's leaf, and becomes the leaf."""
        now = utcnow()
        async with self._sessions.begin() as session:
            message.parent_id = await _claim_thread(session, user_id, thread_id, title, now)
            if await _insert_ignoring_duplicate(session, message):
                await session.execute(update(Thread).where(Thread.id == thread_id).values(leaf_id=message.id))
            return str((await session.execute(select(Message.id).where(
                Message.thread_id == thread_id, Message.client_id == message.client_id))).scalar_one())

    async def finish_message(self, message_id: str, **values: Any) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(Message).where(Message.id == message_id).values(**values))

    async def claim_awaiting(self, message_id: str) -> bool:
        """An answer paused for approval, taken to resume (`awaiting` to `streaming`): False when another
        request took it first."""
        async with self._sessions.begin() as session:
            taken = await session.execute(
                update(Message).where(Message.id == message_id, Message.status == MessageStatus.AWAITING)
                .values(status=MessageStatus.STREAMING))
            return bool(getattr(taken, "rowcount", 0))

    async def streaming_answers(self, before: datetime, limit: int = 500) -> list[tuple[str, str, str]]:
        """Answers still `streaming` that began before `before`, oldest first: (message, user, thread) ids."""
        query = (select(Message.id, Thread.user_id, Message.thread_id).join(Thread, Thread.id == Message.thread_id)
                 .where(Message.status == MessageStatus.STREAMING, Message.created_at < before)
                 .order_by(Message.created_at).limit(limit))
        async with self._sessions() as session:
            return [(str(m), str(u), str(t)) for m, u, t in (await session.execute(query)).all()]

    async def lose_answer(self, message_id: str, text: str, parts: list[dict[str, Any]]) -> bool:
        """Ends an answer whose run died with its replica: `error` (code `run_lost`), keeping what it had
        said. False when it ended meanwhile (its run was alive after all: nothing is overwritten)."""
        async with self._sessions.begin() as session:
            ended = await session.execute(
                update(Message).where(Message.id == message_id, Message.status == MessageStatus.STREAMING)
                .values(status=MessageStatus.ERROR, error="run_lost", text=text, parts=parts))
            return bool(getattr(ended, "rowcount", 0))

    async def list_threads(self, user_id: str, limit: int, cursor: str | None = None,
                           search: str | None = None) -> ThreadPage:
        """Newest first; `search`: only threads whose title or any message contains it (any case)."""
        query = select(Thread).where(Thread.user_id == user_id)
        if search:
            in_messages = select(Message.id).where(Message.thread_id == Thread.id,
                                                   Message.text.icontains(search, autoescape=True))
            query = query.where(or_(Thread.title.icontains(search, autoescape=True), exists(in_messages)))
        if cursor:
            updated_at, thread_id = _decode_cursor(cursor)
            query = query.where(tuple_(Thread.updated_at, Thread.id) < tuple_(updated_at, thread_id))
        query = query.order_by(Thread.updated_at.desc(), Thread.id.desc()).limit(limit + 1)
        async with self._sessions() as session:
            threads = list((await session.execute(query)).scalars())
        more = len(threads) > limit
        threads = threads[:limit]
        next_cursor = _encode_cursor(threads[-1]) if more else None
        return ThreadPage([_summary(t) for t in threads], next_cursor)

    async def get_thread(self, user_id: str, thread_id: str) -> tuple[ThreadSummary, list[StoredMessage]]:
        """The thread and its current path (root to leaf), each message with its `versions`."""
        async with self._sessions() as session:
            thread = await self._owned(session, user_id, thread_id)
            return _summary(thread), path(await _messages(session, thread_id), thread.leaf_id)

    async def set_leaf(self, user_id: str, thread_id: str,
                       message_id: str) -> tuple[ThreadSummary, list[StoredMessage]]:
        """Switches the thread to the branch through `message_id` (its newest descendant, following the
        newest child at each step, becomes the leaf); returns the thread and its new path. Raises
        ThreadNotFound, MessageNotFound."""
        async with self._sessions.begin() as session:
            thread = await self._owned(session, user_id, thread_id)
            messages = await _messages(session, thread_id)
            if not any(m.id == message_id for m in messages):
                raise MessageNotFound(message_id)
            before = path(messages, thread.leaf_id)
            thread.leaf_id = newest_leaf(messages, message_id)
            after = path(messages, thread.leaf_id)
            first, now_first = before[0] if before else None, after[0]
            if first is not None and now_first.id != first.id and thread.title == first.text[:TITLE_CHARS]:
                thread.title = now_first.text[:TITLE_CHARS] or thread.title  # titled from the branch's first
            return _summary(thread), after

    async def rename_thread(self, user_id: str, thread_id: str, title: str) -> ThreadSummary:
        async with self._sessions.begin() as session:
            thread = await self._owned(session, user_id, thread_id)
            thread.title = title
        return _summary(thread)

    async def delete_thread(self, user_id: str, thread_id: str) -> None:
        async with self._sessions.begin() as session:
            await self._owned(session, user_id, thread_id)
            await session.execute(delete(Message).where(Message.thread_id == thread_id))
            await session.execute(delete(Thread).where(Thread.id == thread_id))

    @staticmethod
    async def _owned(session: AsyncSession, user_id: str, thread_id: str) -> Thread:
        thread = (await session.execute(
            select(Thread).where(Thread.id == thread_id, Thread.user_id == user_id)
        )).scalar_one_or_none()
        if thread is None:
            raise ThreadNotFound(thread_id)
        return thread


async def _messages(session: AsyncSession, thread_id: str) -> list[StoredMessage]:
    """Every message of the thread, every branch, oldest first."""
    rows = (await session.execute(
        select(Message).where(Message.thread_id == thread_id).order_by(Message.created_at, Message.id))).scalars()
    return [_stored(m) for m in rows]


def _insert(session: AsyncSession, model: type[Thread] | type[Message]) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING on both databases."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


async def _claim_thread(session: AsyncSession, user_id: str, thread_id: str, title: str, now: datetime,
                        values: dict[str, Any] | None = None) -> str | None:
    """The user's thread, created on first use and touched (with `values`); ThreadNotFound if another
    user's. Insert-or-nothing, then read the owner: concurrent first turns (or two users picking the
    same new id) never race into an integrity error. Returns its leaf as it was."""
    await session.execute(_insert(session, Thread).values(
        id=thread_id, user_id=user_id, title=title, created_at=now, updated_at=now, meta={},
    ).on_conflict_do_nothing(index_elements=["id"]))
    owner, leaf = (await session.execute(select(Thread.user_id, Thread.leaf_id).where(Thread.id == thread_id))).one()
    if owner != user_id:
        raise ThreadNotFound(thread_id)
    await session.execute(update(Thread).where(Thread.id == thread_id).values(updated_at=now, **(values or {})))
    if leaf is None:  # a thread a release before this one wrote (no leaf kept): its newest message
        leaf = (await session.execute(select(Message.id).where(Message.thread_id == thread_id)
                                      .order_by(Message.created_at.desc(), Message.id.desc()).limit(1))).scalar()
    return str(leaf) if leaf is not None else None


async def _insert_ignoring_duplicate(session: AsyncSession, message: Message) -> bool:
    """Insert a message unless its (thread, client id) is already stored: a retried POST adds nothing.
    False when it was stored already."""
    inserted = await session.execute(
        _insert(session, Message).values(**_values(message))
        .on_conflict_do_nothing(index_elements=["thread_id", "client_id"])
    )
    return bool(getattr(inserted, "rowcount", 1))


def _values(message: Message) -> dict[str, Any]:
    """A message's set columns, for a Core INSERT (cheaper than an ORM flush on the hot path)."""
    return {c.key: getattr(message, c.key) for c in Message.__table__.columns if getattr(message, c.key) is not None}


def _encode_cursor(thread: Thread) -> str:
    raw = f"{thread.updated_at.isoformat()}|{thread.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, thread_id = raw.split("|", 1)
        return datetime.fromisoformat(stamp), thread_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("invalid cursor") from exc
