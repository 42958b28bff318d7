"""Rolling summaries: the part of a thread that leaves the window, folded into a running summary.

After a turn has finished streaming, if the thread's unsummarised messages exceed the trigger, a
tracked background job takes the thread's lease (a row in `summary_leases`: one summariser per
thread across every process, taken atomically with INSERT ... ON CONFLICT DO UPDATE ... WHERE
expired), folds the oldest unsummarised messages into the previous summary with the summariser
model, and stores the new summary (covering through a message id; a unique constraint makes a
repeat of the same range a no-op). Turns always read the newest finished summary, so none waits
for this. A failure is logged and the lease kept as a back-off until `retry_seconds` have passed;
a later turn then tries again. Everything lives in the database, so it survives restarts (a lease
left by a dead process simply expires).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.db import Message, Summary, SummaryLease, Thread, new_id, utcnow
from parlor.llm.router import Router
from parlor.llm.types import CompletionRequest, LLMMessage, TextDelta
from parlor.memory.context import Render, SummaryRecord
from parlor.memory.facts import rowcount
from parlor.memory.store import _stored
from parlor.memory.tokens import TokenCounter, count_messages, truncate_to
from parlor.memory.tree import path
from parlor.messages import StoredMessage

log = logging.getLogger(__name__)
LINE_CHARS = 4000  # one message's share of the summariser's input, at most
MAX_ROUNDS = 8  # folds per job (a thread far behind catches up over a few turns)

Complete = Callable[[list[LLMMessage], int, str], Awaitable[str]]  # (messages, max_tokens, request_id) -> text


@dataclass(frozen=True, slots=True)
class SummaryPolicy:
    trigger_tokens: int  # summarise when the unsummarised messages take more than this
    keep_tokens: int  # ... down to the newest messages that fit in this
    trigger_messages: int  # ... or are more than this many (the window's cap)
    keep_messages: int  # ... down to at most this many
    max_tokens: int  # a summary's length, at most
    input_tokens: int  # the most of the conversation sent to the summariser in one call
    prompt: str
    lease_seconds: float = 300.0
    retry_seconds: float = 60.0


class SummaryStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def acquire(self, thread_id: str, holder: str, seconds: float) -> bool:
        """Takes the thread's lease unless someone holds an unexpired one (atomic on both databases)."""
        now = utcnow()
        async with self._sessions.begin() as session:
            insert = _dialect(session).insert(SummaryLease).values(
                thread_id=thread_id, holder=holder, expires_at=now + timedelta(seconds=seconds))
            taken = await session.execute(insert.on_conflict_do_update(
                index_elements=["thread_id"],
                set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
                where=SummaryLease.expires_at < now,
            ).returning(SummaryLease.holder))
            return taken.scalar() == holder

    async def release(self, thread_id: str, holder: str, retry_seconds: float = 0.0) -> None:
        """Gives the lease back; with `retry_seconds`, keeps it that long (a back-off after a failure)."""
        async with self._sessions.begin() as session:
            mine = (SummaryLease.thread_id == thread_id, SummaryLease.holder == holder)
            if retry_seconds > 0:
                await session.execute(update(SummaryLease).where(*mine).values(
                    expires_at=utcnow() + timedelta(seconds=retry_seconds)))
            else:
                await session.execute(delete(SummaryLease).where(*mine))

    async def latest(self, thread_id: str) -> SummaryRecord | None:
        async with self._sessions() as session:
            return await self._latest(session, thread_id)

    async def pending(self, thread_id: str) -> tuple[SummaryRecord | None, list[StoredMessage]]:
        """The current branch's newest summary and the branch's messages after what it covers, oldest first
        (a summary of another branch is no part of this one's)."""
        async with self._sessions() as session:
            leaf = (await session.execute(select(Thread.leaf_id).where(Thread.id == thread_id))).scalar()
            rows = (await session.execute(select(Message).where(Message.thread_id == thread_id)
                                          .order_by(Message.created_at, Message.id))).scalars()
            branch = path([_stored(m) for m in rows], leaf)
            on_branch = [m.id for m in branch]
            summary = await self._latest(session, thread_id, on_branch)
        if summary is None:
            return None, branch
        return summary, [m for m in branch if not summary.covers(m)]

    async def save(self, thread_id: str, through: StoredMessage, text: str, tokens: int) -> bool:
        """Stores a summary covering through `through`; False if that range was summarised already."""
        async with self._sessions.begin() as session:
            inserted = await session.execute(_dialect(session).insert(Summary).values(
                id=new_id(), thread_id=thread_id, covers_through_message_id=through.id,
                covers_through_at=through.created_at, text=text, tokens=tokens, created_at=utcnow(),
            ).on_conflict_do_nothing(index_elements=["thread_id", "covers_through_message_id"]))
            return bool(rowcount(inserted))

    async def count(self, thread_id: str) -> int:
        async with self._sessions() as session:
            return len((await session.execute(select(Summary.id).where(Summary.thread_id == thread_id))).all())

    @staticmethod
    async def _latest(session: AsyncSession, thread_id: str, through: list[str] | None = None) -> SummaryRecord | None:
        """The newest summary; with `through`, the newest covering through one of those messages."""
        query = select(Summary).where(Summary.thread_id == thread_id)
        if through is not None:
            query = query.where(Summary.covers_through_message_id.in_(through))
        row = (await session.execute(
            query
            .order_by(Summary.covers_through_at.desc(), Summary.covers_through_message_id.desc()).limit(1)
        )).scalar_one_or_none()
        if row is None:
            return None
        return SummaryRecord(row.text, row.tokens, row.covers_through_message_id, row.covers_through_at)


def _dialect(session: AsyncSession) -> Any:
    """The dialect module whose INSERT knows ON CONFLICT (both databases)."""
    return postgresql if session.get_bind().dialect.name == "postgresql" else sqlite


class Summariser:
    def __init__(self, store: SummaryStore, complete: Complete, counter: TokenCounter, render: Render,
                 policy: SummaryPolicy):
        self.store = store
        self._complete = complete
        self._counter = counter
        self._render = render
        self.policy = policy

    def due(self, unsummarised_tokens: int, unsummarised_messages: int) -> bool:
        return (unsummarised_tokens > self.policy.trigger_tokens
                or unsummarised_messages > self.policy.trigger_messages)

    async def refresh(self, thread_id: str, request_id: str = "-") -> int:
        """Folds what is due into the summary; returns how many summaries it wrote. Never raises:
        a failure is logged, and the lease kept until `retry_seconds` have passed."""
        holder = uuid.uuid4().hex
        try:
            if not await self.store.acquire(thread_id, holder, self.policy.lease_seconds):
                return 0  # another process (or task) is on it, or backing off after a failure
        except Exception:
            log.exception("summary of thread %s (request %s): could not take the lease", thread_id, request_id)
            return 0
        written = 0
        try:
            for _ in range(MAX_ROUNDS):
                if not await self._fold_once(thread_id, request_id):
                    break
                written += 1
        except Exception:
            log.exception("summary of thread %s (request %s) failed; retrying in %g s on a later turn",
                          thread_id, request_id, self.policy.retry_seconds)
            await self._release(thread_id, holder, self.policy.retry_seconds)
            return written
        await self._release(thread_id, holder, 0.0)
        return written

    async def _release(self, thread_id: str, holder: str, retry_seconds: float) -> None:
        try:
            await self.store.release(thread_id, holder, retry_seconds)
        except Exception:  # the lease then just expires
            log.exception("summary of thread %s: could not release the lease", thread_id)

    async def _fold_once(self, thread_id: str, request_id: str) -> bool:
        summary, pending = await self.store.pending(thread_id)
        fold = self.to_fold(pending)
        if not fold:
            return False
        text = (await self._complete(self.prompt(summary, fold), self.policy.max_tokens, request_id)).strip()
        if not text:
            raise ValueError("the summariser answered with nothing")
        tokens = self._counter.count_tokens(text)
        if tokens > self.policy.max_tokens:
            text = truncate_to(self._counter, text, self.policy.max_tokens, " …")
            tokens = self._counter.count_tokens(text)
        await self.store.save(thread_id, fold[-1], text, tokens)
        return True

    def to_fold(self, pending: list[StoredMessage]) -> list[StoredMessage]:
        """The oldest finished messages beyond the newest `keep_tokens`/`keep_messages` (the last
        exchange is always kept), at most `input_tokens` of them; nothing while it is not due."""
        settled: list[StoredMessage] = []
        for message in pending:
            if message.status == "streaming":
                break  # a turn still answering: never fold past it
            settled.append(message)
        sizes = [m.tokens if m.tokens is not None else count_messages(self._counter, self._render(m))
                 for m in settled]
        if not self.due(sum(sizes), len(settled)):
            return []
        keep, kept = 0, 0
        while keep < len(settled) and (keep < 2 or (kept + sizes[-1 - keep] <= self.policy.keep_tokens
                                                    and keep < self.policy.keep_messages)):
            kept += sizes[-1 - keep]
            keep += 1
        fold: list[StoredMessage] = []
        total = 0
        for message, size in zip(settled[:len(settled) - keep], sizes, strict=False):
            if fold and total + size > self.policy.input_tokens:
                break
            fold.append(message)
            total += size
        return fold

    def prompt(self, summary: SummaryRecord | None, fold: list[StoredMessage]) -> list[LLMMessage]:
        lines: list[str] = []
        for message in fold:
            for part in self._render(message):
                lines += _lines(part)
        previous = f"Summary so far:\n{summary.text}\n\n" if summary else ""
        return [LLMMessage("user", f"{self.policy.prompt}\n\n{previous}New messages:\n" + "\n".join(lines))]


def _lines(message: LLMMessage) -> list[str]:
    def clip(text: str) -> str:
        return text if len(text) <= LINE_CHARS else text[:LINE_CHARS] + " …"

    label = {"user": "User", "assistant": "Assistant", "tool": "Tool result", "system": "System"}[message.role]
    lines = [f"{label}: {clip(message.content)}"] if message.content else []
    lines += [f"Assistant called {c.name}({clip(c.arguments)})" for c in message.tool_calls]
    return lines


def router_completion(router: Router, provider: str | None = None) -> Complete:
    """The summariser model: the router (with its fallbacks), starting at `provider` if named."""

    async def complete(messages: list[LLMMessage], max_tokens: int, request_id: str) -> str:
        first = router.find(provider) if provider else None
        chunks: list[str] = []
        request = CompletionRequest(messages, max_tokens=max_tokens, temperature=0.2, request_id=request_id)
        async for item in router.stream(request, first):
            if isinstance(item, TextDelta):
                chunks.append(item.text)
        return "".join(chunks)

    return complete
