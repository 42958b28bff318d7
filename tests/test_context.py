"""The context window: the budget arithmetic (pure), and its one query on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from parlor.accounts.store import AccountStore
from parlor.agent.transcript import render_stored
from parlor.db import Message, create_engine, migrate, new_id, session_factory, utcnow
from parlor.memory import Budget, ContextReader, FactStore, MessageStore, StoredMessage, SummaryStore, ThreadNotFound
from parlor.memory.context import TRUNCATED, Fact, SummaryRecord, ThreadWindow, build_context
from parlor.memory.instructions import Instructions, InstructionStore
from parlor.memory.tokens import EstimateCounter, count_messages
from parlor.message_json import load_parts
from parlor.messages import MessageStatus
from tests import pg

COUNTER = EstimateCounter()
BASE = datetime(2026, 1, 1, tzinfo=utcnow().tzinfo)
Sessions = async_sessionmaker[AsyncSession]


def stored(role: str, text: str = "", parts: list[dict[str, Any]] | None = None, at: int = 0,
           id_: str | None = None) -> StoredMessage:
    typed = load_parts(parts or ([{"type": "text", "text": text}] if text else []))  # written as UI parts
    message = StoredMessage(id_ or new_id(), None, role, text, typed, MessageStatus.COMPLETE,
                            BASE + timedelta(seconds=at), {})
    return StoredMessage(message.id, None, role, text, message.parts, MessageStatus.COMPLETE, message.created_at,
                         {},
                         count_messages(COUNTER, render_stored(message)))


def tool_turn(call_id: str, result: str, at: int) -> StoredMessage:
    parts = [{"type": "step-start"},
             {"type": "tool-calculator", "toolCallId": call_id, "input": {"expression": "6*7"},
              "state": "output-available", "output": result},
             {"type": "step-start"}, {"type": "text", "text": f"The answer is {result}."}]
    return stored("assistant", f"The answer is {result}.", parts, at)


def conversation(turns: int, words: int = 30) -> list[StoredMessage]:
    out: list[StoredMessage] = []
    for i in range(turns):
        out.append(stored("user", f"question {i} " + "lorem ipsum " * words, at=2 * i))
        out.append(tool_turn(f"call_{i}", str(i) * 40, 2 * i + 1) if i % 3 == 0
                   else stored("assistant", f"answer {i} " + "dolor sit " * words, at=2 * i + 1))
    return out


def window(history: list[StoredMessage], summary: SummaryRecord | None = None,
           facts: list[Fact] | None = None) -> ThreadWindow:
    return ThreadWindow(True, history, summary, facts or [], False)


def build(history: list[StoredMessage], budget: Budget, summary: SummaryRecord | None = None,
          facts: list[Fact] | None = None, prompt: str = "You are a test.") -> Any:
    return build_context(prompt, COUNTER.count_tokens(prompt), window(history, summary, facts), history,
                         render_stored, COUNTER, budget)


def prompt_tokens(messages: list[Any]) -> int:
    return count_messages(COUNTER, messages)


# ---- the arithmetic ----
@pytest.mark.parametrize("context_tokens", [300, 700, 1500, 4000])
def test_the_window_is_the_newest_messages_that_fit(context_tokens: int) -> None:
    history = conversation(40)
    budget = Budget(context_tokens, 100, 1000, 0)
    context = build(history, budget)
    assert context.tokens <= context_tokens - 100
    assert prompt_tokens(context.messages) <= context_tokens - 100 + 8  # stored counts agree with a recount
    kept = history[len(history) - context.window:]
    expected = [m for message in kept for m in render_stored(message)]
    assert context.messages[1:] == expected  # a contiguous run ending with the newest message
    older = history[len(history) - context.window - 1]
    assert context.tokens + older.tokens > context_tokens - 100  # ... and the next older one would not fit


def test_tool_calls_and_results_are_never_split() -> None:
    history = conversation(30)
    for context_tokens in range(200, 3000, 37):
        messages = build(history, Budget(context_tokens, 50, 1000, 0)).messages
        calls = {c.id for m in messages for c in m.tool_calls}
        results = [m.tool_call_id for m in messages if m.role == "tool"]
        assert set(results) == calls and len(results) == len(calls)
        for index, message in enumerate(messages):
            if message.role == "tool":  # right after its call (or after a sibling result)
                assert messages[index - 1].role == "tool" or message.tool_call_id in {
                    c.id for c in messages[index - 1].tool_calls}


def test_the_message_cap_applies() -> None:
    context = build(conversation(40), Budget(100_000, 100, 7, 0))
    assert context.window == 7


def test_a_message_too_big_for_the_budget_is_cut_with_a_marker() -> None:
    huge = stored("user", "word " * 5000, at=100)
    context = build([*conversation(3), huge], Budget(1000, 200, 100, 0))
    assert context.truncated and context.window == 1
    assert context.messages[-1].role == "user" and context.messages[-1].content.endswith(TRUNCATED)
    assert prompt_tokens(context.messages) <= 800


def test_an_older_giant_message_is_cut_not_silently_dropped() -> None:
    giant = stored("assistant", "data " * 5000, at=10)
    question = stored("user", "and what does that mean?", at=11)
    context = build([stored("user", "dump it", at=9), giant, question], Budget(1200, 200, 100, 0))
    assert context.truncated
    assert [m.role for m in context.messages] == ["system", "assistant", "user"]
    assert TRUNCATED in context.messages[1].content
    assert prompt_tokens(context.messages) <= 1000


def test_the_summary_replaces_what_it_covers() -> None:
    history = conversation(10)
    cover = history[9]
    summary = SummaryRecord("The user's name is Ada.", 8, cover.id, cover.created_at)
    context = build(history, Budget(100_000, 100, 1000, 0), summary)
    assert "The user's name is Ada." in context.messages[0].content
    assert context.window == len(history) - 10
    assert context.unsummarised_messages == len(history) - 10


def test_saved_facts_fit_their_budget_newest_first() -> None:
    facts = [Fact(f"f{i}", f"fact number {i}", 5, BASE - timedelta(seconds=i)) for i in range(20)]
    context = build(conversation(2), Budget(100_000, 100, 1000, 30), facts=facts)
    system = context.messages[0].content
    assert "fact number 0" in system and "fact number 3" in system and "fact number 4" not in system


PROMPT = "You are a test."


def test_custom_instructions_come_after_the_prompt_and_count_in_the_budget() -> None:
    history = conversation(30)
    texts = ("I keep bees.", "Answer briefly.")
    mine = Instructions(*texts, sum(map(COUNTER.count_tokens, texts)))
    told_window = replace(window(history), instructions=mine)
    plain = build_context(PROMPT, COUNTER.count_tokens(PROMPT), window(history), history, render_stored, COUNTER,
                          Budget(3000, 100, 1000, 0, 400))
    told = build_context(PROMPT, COUNTER.count_tokens(PROMPT), told_window, history, render_stored,
                         COUNTER, Budget(3000, 100, 1000, 0, 400))
    system = told.messages[0].content
    assert system.startswith("You are a test.\n\nThe user's custom instructions")
    assert ("<about_the_user>\nI keep bees.\n</about_the_user>\n<how_to_answer>\nAnswer briefly.\n</how_to_answer>"
            in system)
    assert told.tokens <= 3000 - 100 and told.window < plain.window  # the room they take is the messages'
    counted_system = told.tokens - sum(m.tokens or 0 for m in history[-told.window:])
    assert prompt_tokens(told.messages[:1]) <= counted_system  # the block is never under-counted
    over = build_context(PROMPT, COUNTER.count_tokens(PROMPT), told_window, history, render_stored, COUNTER,
                         Budget(3000, 100, 1000, 0, mine.tokens - 1))  # saved under a higher bound
    assert "custom instructions" not in over.messages[0].content


# ---- the query, on both databases ----
@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'parlor.db'}"
        await migrate(url)
        created = create_engine(url)
        yield created
        await created.dispose()
        return
    async with pg.fresh_database() as url:
        await migrate(url)
        created = create_engine(url)
        yield created
        await created.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> Sessions:
    return session_factory(engine)


async def users(sessions: Sessions) -> tuple[str, str]:
    accounts = AccountStore(sessions)
    return ((await accounts.create_user(f"alice-{new_id()}", "free")).principal.id,
            (await accounts.create_user(f"bob-{new_id()}", "free")).principal.id)


async def fill(sessions: Sessions, user: str, thread: str, turns: int) -> list[Message]:
    """Stores `turns` exchanges with their token counts, as the turn pipeline does."""
    store = MessageStore(sessions)
    messages: list[Message] = []
    for i in range(turns):
        at = BASE + timedelta(seconds=2 * i)
        user_message = Message(id=new_id(), thread_id=thread, client_id=f"c{i}", role="user", text=f"q{i}",
                               parts=[{"type": "text", "text": f"q{i}"}], status="complete", created_at=at, tokens=6)
        answer = Message(id=new_id(), thread_id=thread, role="assistant", parts=[{"type": "text", "text": f"a{i}"}],
                         text=f"a{i}", status="complete", created_at=at + timedelta(seconds=1), tokens=6)
        await store.begin_turn(user_id=user, thread_id=thread, title="t", user_message=user_message,
                               assistant_message=answer)
        messages += [user_message, answer]
    return messages


async def test_the_window_is_read_in_one_statement(engine: AsyncEngine, sessions: Sessions) -> None:
    alice, bob = await users(sessions)
    stored_messages = await fill(sessions, alice, "t1", 30)
    facts = FactStore(sessions, COUNTER, 10)
    await facts.add(alice, "Alice's cat is called Miso.")
    await facts.add(bob, "Bob is allergic to nuts.")
    instructions = InstructionStore(sessions, COUNTER, 400)
    await instructions.put(alice, "I draft.", "Long answers.")
    await instructions.put(alice, "I teach chemistry.", "Short answers.")  # the second save replaces the first
    await instructions.put(bob, "Bob's own.", "")
    cover = stored_messages[39]
    await SummaryStore(sessions).save("t1", StoredMessage(cover.id, None, "assistant", "", (), MessageStatus.COMPLETE,
                                                          cover.created_at, {}), "Alice likes tea.", 5)
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    read = await ContextReader(engine).read(alice, "t1", 12, facts=10)
    assert len(statements) == 1
    assert read.exists and read.capped
    assert [m.id for m in read.recent] == [m.id for m in stored_messages[-12:]]
    assert all(m.tokens == 6 for m in read.recent)
    assert read.summary is not None and read.summary.text == "Alice likes tea."
    assert read.summary.covers_through_message_id == cover.id
    assert [f.text for f in read.facts] == ["Alice's cat is called Miso."]  # never Bob's
    assert read.instructions is not None and read.instructions.about == "I teach chemistry."
    assert read.instructions.style == "Short answers." and read.instructions.tokens > 0
    assert len(read.unsummarised()) == 12


async def test_the_newest_summary_wins_and_others_threads_are_not_found(engine: AsyncEngine,
                                                                         sessions: Sessions) -> None:
    alice, bob = await users(sessions)
    messages = await fill(sessions, alice, "t1", 5)
    summaries = SummaryStore(sessions)
    for index, text in ((3, "older"), (7, "newer")):
        m = messages[index]
        through = StoredMessage(m.id, None, m.role, "", (), MessageStatus.COMPLETE, m.created_at, {})
        await summaries.save("t1", through, text, 1)
    read = await ContextReader(engine).read(alice, "t1", 100)
    assert read.summary is not None and read.summary.text == "newer" and not read.capped
    assert [m.id for m in read.unsummarised()] == [m.id for m in messages[8:]]
    assert (await ContextReader(engine).read(alice, "nope", 10)).exists is False
    await FactStore(sessions, COUNTER, 10).add(alice, "Alice likes tea.")
    new_thread = await ContextReader(engine).read(alice, "new", 10, facts=10)  # a first turn knows the user too
    assert not new_thread.exists and [f.text for f in new_thread.facts] == ["Alice likes tea."]
    with pytest.raises(ThreadNotFound):
        await ContextReader(engine).read(bob, "t1", 10)
