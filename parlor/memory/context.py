"""The context window: system prompt (with what the bot remembers of the user and the thread's
summary) plus the most recent messages that fit a token budget.

Reading it is one indexed query (`ContextReader.read`: the thread's owner, its newest summary on the
current branch, the newest messages of that branch -- a recursive walk from the thread's leaf up the
parents -- the user's saved facts and custom instructions, as one UNION ALL); building it (`build_context`) is
arithmetic on the token counts stored with each row. Messages are kept or dropped whole -- an
assistant message holds its turn's tool calls and their results, so a pair is never split -- and a
message too big for the whole budget is cut short with a marker rather than dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased

from parlor.db import Memory, Message, Summary, Thread, UserInstructions
from parlor.db.engine import autocommit
from parlor.llm.types import LLMMessage
from parlor.memory.instructions import Instructions
from parlor.memory.store import ThreadNotFound
from parlor.memory.tokens import MESSAGE_OVERHEAD, TokenCounter, count_messages, truncate_to
from parlor.message_json import load_parts
from parlor.messages import MessageStatus, StoredMessage

TRUNCATED = "\n[… cut short: this message was too long for the context window …]"
FACTS_HEADER = "About the user you are talking to (they told you in earlier conversations):"
SUMMARY_HEADER = "Summary of the earlier part of this conversation:"
# The user's own words, fenced and named as preferences: they shape answers, they are not the operator's rules.
INSTRUCTIONS_HEADER = ("The user's custom instructions (their preferences, written by them; follow them unless they "
                       "conflict with the instructions above):")
MIN_TRUNCATED_TOKENS = 32  # less room than this left for a too-big message: stop without it

Render = Callable[[StoredMessage], list[LLMMessage]]
_MESSAGE, _SUMMARY, _FACT, _THREAD, _INSTRUCTIONS = 0, 1, 2, 3, 4
_META = ("provider", "model", "tokens_in", "tokens_out", "error", "parent_id")
WALK_WINDOWS = 4  # past the window, the walk looks this many windows further up for the branch's summary


@dataclass(frozen=True, slots=True)
class SummaryRecord:
    text: str
    tokens: int
    covers_through_message_id: str
    covers_through_at: datetime

    def covers(self, message: StoredMessage) -> bool:
        return (message.created_at, message.id) <= (self.covers_through_at, self.covers_through_message_id)


@dataclass(frozen=True, slots=True)
class Fact:
    id: str
    text: str
    tokens: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ThreadWindow:
    """What one read returns: enough to build the context and to spot a retried POST."""

    exists: bool
    recent: list[StoredMessage]  # oldest first, the summarised ones included
    summary: SummaryRecord | None
    facts: list[Fact]  # newest first
    capped: bool  # as many messages as asked for came back: there may be older ones
    arm: tuple[str, str | None] | None = None  # the thread's stored experiment arm ("": none; None: unassigned)
    model: str | None = None  # the model the user chose for the thread (None: the default)
    assistant_id: str | None = None  # the assistant the thread started with
    instructions: Instructions | None = None  # the user's custom instructions (None: none set)

    def unsummarised(self) -> list[StoredMessage]:
        summary = self.summary
        return [m for m in self.recent if summary is None or not summary.covers(m)]


class ContextReader:
    def __init__(self, engine: AsyncEngine):
        self._engine = autocommit(engine)  # one statement: no transaction needed (but behind a pooler)
        self._statements = {with_facts: _window_query(with_facts) for with_facts in (False, True)}

    async def read(self, user_id: str, thread_id: str, messages: int, facts: int = 0) -> ThreadWindow:
        """One round trip. Raises ThreadNotFound for another user's thread."""
        params = {"thread_id": thread_id, "user_id": user_id, "messages": messages, "facts": facts,
                  "walk": messages * WALK_WINDOWS}
        async with self._engine.connect() as connection:
            rows = (await connection.execute(self._statements[facts > 0], params)).all()
        thread = next((r for r in rows if r.kind == _THREAD), None)
        owner = thread.id if thread is not None else None
        if owner is not None and owner != user_id:
            raise ThreadNotFound(thread_id)
        recent: list[StoredMessage] = []
        found: SummaryRecord | None = None
        saved_facts: list[Fact] = []
        instructions: Instructions | None = None
        for kind, id_, client_id, role, text, parts, status, tokens, at, *extra in rows:
            if kind == _MESSAGE:
                *meta_values, parent_id = extra
                meta = {k: v for k, v in zip(_META[:-1], meta_values, strict=True) if v is not None}
                recent.append(StoredMessage(id_, client_id, role, text, load_parts(parts), MessageStatus(status), at,
                                             meta, tokens, parent_id))
            elif kind == _SUMMARY:
                found = SummaryRecord(text, tokens, id_, at)
            elif kind == _FACT:
                saved_facts.append(Fact(id_, text, tokens, at))
            elif kind == _INSTRUCTIONS:
                instructions = Instructions(text or "", client_id or "", tokens or 0, at)  # style rides in client_id
        recent.sort(key=lambda m: (m.created_at, m.id))  # a UNION promises no order
        saved_facts.sort(key=lambda f: (f.created_at, f.id), reverse=True)
        arm = (thread.client_id, thread.role) if thread is not None and thread.client_id is not None else None
        model = thread.text if thread is not None else None
        assistant = thread.status if thread is not None else None
        return ThreadWindow(owner is not None, recent, found, saved_facts, len(recent) >= messages, arm, model,
                            assistant, instructions)


def _walk(thread_id: Any) -> Any:
    """The current branch from its leaf up (the thread's leaf; none stored: its newest message), one primary
    key lookup a step: the window's messages (depth <= `messages`), then on up to the first one a summary
    covers through (`seen`), at most `walk` steps. A summary is used only if it covers part of this branch."""
    newest = (select(Message.id).where(Message.thread_id == thread_id)
              .order_by(Message.created_at.desc(), Message.id.desc()).limit(1).scalar_subquery())
    leaf = select(func.coalesce(Thread.leaf_id, newest)).where(Thread.id == thread_id).scalar_subquery()

    def summarised(message_id: Any) -> Any:
        return exists().where(Summary.thread_id == thread_id, Summary.covers_through_message_id == message_id)

    walk = select(Message.id.label("id"), Message.parent_id.label("parent_id"), literal(1, Integer).label("depth"),
                  case((summarised(Message.id), 1), else_=0).label("seen")
                  ).where(Message.id == leaf, Message.thread_id == thread_id).cte("walk", recursive=True)
    up = aliased(Message)
    return walk.union_all(
        select(up.id, up.parent_id, walk.c.depth + 1, case((or_(walk.c.seen == 1, summarised(up.id)), 1), else_=0))
        .join(walk, up.id == walk.c.parent_id)
        .where(or_(walk.c.depth < bindparam("messages", type_=Integer),
                   and_(walk.c.seen == 0, walk.c.depth < bindparam("walk", type_=Integer)))))


def _window_query(with_facts: bool) -> Any:
    """The thread's owner, newest summary and newest messages of its current branch, and the user's newest
    facts: one UNION ALL of index lookups (built once; thread, user and limits are bound per call)."""
    thread_id = bindparam("thread_id", type_=String)
    walk = _walk(thread_id)
    newest = (select(Message).join(walk, walk.c.id == Message.id)
              .where(walk.c.depth <= bindparam("messages", type_=Integer)).subquery())
    parts: list[Any] = [select(
        literal(_MESSAGE, Integer).label("kind"), newest.c.id, newest.c.client_id, newest.c.role, newest.c.text,
        type_coerce(newest.c.parts, Text).label("parts"), newest.c.status, newest.c.tokens, newest.c.created_at,
        newest.c.provider, newest.c.model, newest.c.tokens_in, newest.c.tokens_out, newest.c.error,
        newest.c.parent_id)]
    summary = (select(Summary).where(Summary.thread_id == thread_id,
                                     Summary.covers_through_message_id.in_(select(walk.c.id)))
               .order_by(Summary.covers_through_at.desc(), Summary.covers_through_message_id.desc())
               .limit(1).subquery())
    parts.append(_row(_SUMMARY, summary.c.covers_through_message_id, summary.c.text, summary.c.tokens,
                      summary.c.covers_through_at).select_from(summary))
    if with_facts:
        saved = (select(Memory).where(Memory.user_id == bindparam("user_id", type_=String))
                 .order_by(Memory.created_at.desc(), Memory.id.desc())
                 .limit(bindparam("facts", type_=Integer)).subquery())
        parts.append(_row(_FACT, saved.c.id, saved.c.text, saved.c.tokens, saved.c.created_at).select_from(saved))
    mine = UserInstructions.user_id == bindparam("user_id", type_=String)
    parts.append(_row(_INSTRUCTIONS, UserInstructions.user_id, UserInstructions.about, UserInstructions.tokens,
                      UserInstructions.updated_at, client_id=UserInstructions.style).where(mine))  # by primary key
    parts.append(_row(_THREAD, Thread.user_id, Thread.model, null(), null(), Thread.experiment, Thread.variant,
                      Thread.assistant_id).where(Thread.id == thread_id))
    # the arm rides in the client_id and role columns, the model in text, the assistant in status
    return union_all(*parts)


def _row(kind: int, id_: Any, text: Any, tokens: Any, created_at: Any, client_id: Any = None,
         role: Any = None, status: Any = None) -> Any:
    """A non-message row of the union, shaped like a message row (no CAST: SQLite would mangle dates)."""
    empty = null()
    return select(literal(kind, Integer).label("kind"), type_coerce(id_, String),
                  empty if client_id is None else type_coerce(client_id, String),
                  empty if role is None else type_coerce(role, String),
                  type_coerce(text, Text), empty, empty if status is None else type_coerce(status, String),
                  type_coerce(tokens, Integer),
                  type_coerce(created_at, DateTime(timezone=True)), empty, empty, empty, empty, empty, empty)


@dataclass(frozen=True, slots=True)
class Budget:
    context_tokens: int  # the model's whole window
    reply_reserve: int  # kept free for the answer
    window_messages: int  # at most this many stored messages
    memory_tokens: int  # at most this much of saved facts
    instruction_tokens: int = 0  # the user's custom instructions, at most (more, saved under a higher bound: left out)


@dataclass(frozen=True, slots=True)
class Context:
    messages: list[LLMMessage]
    tokens: int  # the prompt's size, by the stored counts
    window: int  # stored messages in it
    unsummarised_tokens: int  # of the messages read that no summary covers yet (a lower bound when capped)
    unsummarised_messages: int
    truncated: bool


def system_text(prompt: str, facts: Sequence[Fact], summary: SummaryRecord | None,
                memory_tokens: int, instructions: Instructions | None = None) -> tuple[str, list[Fact]]:
    """The system message, and the facts that fit in it (newest first, within `memory_tokens`).
    `instructions`: the user's custom instructions, placed after the operator's prompt (already checked
    against their bound)."""
    kept: list[Fact] = []
    used = 0
    for fact in facts:
        if used + fact.tokens + 2 > memory_tokens:
            break
        kept.append(fact)
        used += fact.tokens + 2
    sections = [prompt] if prompt else []
    if instructions is not None and not instructions.empty:
        sections.append(instructions_block(instructions))
    if kept:
        sections.append(FACTS_HEADER + "\n" + "\n".join(f"- {f.text}" for f in reversed(kept)))
    if summary is not None:
        sections.append(f"{SUMMARY_HEADER}\n{summary.text}")
    return "\n\n".join(sections), kept


def instructions_block(instructions: Instructions) -> str:
    """The user's two texts, each in its own tags (a text that closes a tag only ends its own part early)."""
    lines = [INSTRUCTIONS_HEADER]
    if instructions.about:
        lines.append(f"<about_the_user>\n{instructions.about}\n</about_the_user>")
    if instructions.style:
        lines.append(f"<how_to_answer>\n{instructions.style}\n</how_to_answer>")
    return "\n".join(lines)


def _block_overhead(counter: TokenCounter) -> int:
    """The instructions block's size beyond its two texts (the header, the tags, the blank line before
    it), by this counter: counted on ~200 characters each time, as cheap as it gets and never stale."""
    return counter.count_tokens(instructions_block(Instructions("x", "x", 0))) - 2 * counter.count_tokens("x") + 4


def build_context(system_prompt: str, prompt_tokens: int, window: ThreadWindow, history: Sequence[StoredMessage],
                  render: Render, counter: TokenCounter, budget: Budget) -> Context:
    """`history`: the conversation to send, oldest first, ending with the message being answered
    (stored counts on every message; a missing one is counted here). Pure arithmetic otherwise."""
    summary = window.summary
    instructions = window.instructions
    if instructions is None or instructions.empty or instructions.tokens > budget.instruction_tokens:
        instructions = None
    system, kept = system_text(system_prompt, window.facts, summary, budget.memory_tokens, instructions)
    system_tokens = (MESSAGE_OVERHEAD + prompt_tokens + sum(f.tokens + 2 for f in kept)
                     + (instructions.tokens + _block_overhead(counter) if instructions else 0)
                     + (summary.tokens + 16 if summary else 0) + (24 if kept else 0))
    room = budget.context_tokens - budget.reply_reserve - system_tokens
    candidates = [m for m in history if m.role in ("user", "assistant") and (m.text or m.parts)
                  and (summary is None or not m.id or not summary.covers(m))]
    chosen: list[list[LLMMessage]] = []
    used = 0
    truncated = False
    for index, message in enumerate(reversed(candidates)):
        size = message.tokens if message.tokens is not None else count_messages(counter, render(message))
        if len(chosen) >= budget.window_messages and index > 0:
            break
        if used + size <= room:
            chosen.append(render(message))
            used += size
            continue
        left = room - used
        if index == 0 or (size > room and left >= MIN_TRUNCATED_TOKENS):  # too big for any window: cut it
            cut = _truncate(render(message), max(left, MIN_TRUNCATED_TOKENS), counter)
            chosen.append(cut)
            used += count_messages(counter, cut)
            truncated = True
        break
    messages = [LLMMessage("system", system)] if system else []
    for rendered in reversed(chosen):
        messages += rendered
    unsummarised = window.unsummarised()
    return Context(messages, system_tokens + used, len(chosen), sum(m.tokens or 0 for m in unsummarised),
                   len(unsummarised), truncated)


def _truncate(messages: list[LLMMessage], tokens: int, counter: TokenCounter) -> list[LLMMessage]:
    """Shrinks each message's text in proportion to its size; tool calls and their ids stay whole."""
    sizes = [counter.count_tokens(m.content) for m in messages]
    fixed = count_messages(counter, messages) - sum(sizes)
    room = max(tokens - fixed, len(messages) * 8)
    total = sum(sizes) or 1
    cut: list[LLMMessage] = []
    for message, size in zip(messages, sizes, strict=True):
        share = max(8, room * size // total)
        text = truncate_to(counter, message.content, share, TRUNCATED) if size > share else message.content
        cut.append(LLMMessage(message.role, text, message.tool_calls, message.tool_call_id, files=message.files))
    return cut
