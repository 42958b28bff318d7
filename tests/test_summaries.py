"""Rolling summaries on SQLite and PostgreSQL: incremental, one at a time per thread, failure-tolerant,
and still there after a restart."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from parlor.agent.transcript import render_stored
from parlor.db import create_engine, session_factory
from parlor.llm.types import LLMMessage
from parlor.memory import ContextReader, StoredMessage, Summariser, SummaryPolicy, SummaryStore
from parlor.messages import MessageStatus
from tests.test_context import COUNTER, Sessions, conversation, engine, fill, sessions, users

__all__ = ["engine", "sessions"]  # fixtures, shared with tests/test_context.py

POLICY = SummaryPolicy(trigger_tokens=60, keep_tokens=24, trigger_messages=1000, keep_messages=1000,
                       max_tokens=64, input_tokens=10_000, prompt="SUMMARISE-TEST", lease_seconds=30,
                       retry_seconds=0.3)


class FakeModel:
    """The summariser model: answers after `delay`, or fails while `failing`."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.failing = False
        self.calls: list[str] = []

    async def __call__(self, messages: list[LLMMessage], max_tokens: int, request_id: str) -> str:
        self.calls.append(messages[-1].content)
        await asyncio.sleep(self.delay)
        if self.failing:
            raise RuntimeError("summariser down")
        return f"summary #{len(self.calls)}"


def summariser(sessions: Sessions, model: FakeModel, policy: SummaryPolicy = POLICY) -> Summariser:
    return Summariser(SummaryStore(sessions), model, COUNTER, render_stored, policy)


# ---- what gets folded (pure) ----
def test_nothing_is_folded_until_the_trigger() -> None:
    fake = summariser(None, FakeModel())  # type: ignore[arg-type]
    assert fake.to_fold(conversation(1, words=2)) == []


def test_the_oldest_are_folded_and_the_last_exchange_kept() -> None:
    fake = summariser(None, FakeModel())  # type: ignore[arg-type]
    history = conversation(10)
    fold = fake.to_fold(history)
    assert fold == history[:len(fold)] and len(fold) <= len(history) - 2


def test_a_turn_still_streaming_is_never_folded() -> None:
    fake = summariser(None, FakeModel())  # type: ignore[arg-type]
    history = conversation(10)
    history[6] = replace(history[6], status="streaming")
    assert all(m in history[:6] for m in fake.to_fold(history))


def test_the_prompt_folds_the_previous_summary_and_the_new_messages() -> None:
    fake = summariser(None, FakeModel())  # type: ignore[arg-type]
    from parlor.memory.context import SummaryRecord

    previous = SummaryRecord("The user is called Ada.", 6, "x", conversation(1)[0].created_at)
    text = fake.prompt(previous, conversation(4)[:4])[0].content
    assert text.startswith("SUMMARISE-TEST") and "The user is called Ada." in text
    assert "User: question 0" in text and "Assistant called calculator(" in text


# ---- on the databases ----
async def test_a_summary_covers_the_folded_range_and_the_window_uses_it(engine: AsyncEngine,
                                                                        sessions: Sessions) -> None:
    alice, _ = await users(sessions)
    messages = await fill(sessions, alice, "t1", 10)  # 20 messages of 6 tokens: 120 > 60
    model = FakeModel()
    assert await summariser(sessions, model).refresh("t1") == 1
    summary = await SummaryStore(sessions).latest("t1")
    assert summary is not None and summary.text == "summary #1"
    window = await ContextReader(engine).read(alice, "t1", 100)
    left = window.unsummarised()
    assert sum(m.tokens or 0 for m in left) <= POLICY.keep_tokens and left[-1].id == messages[-1].id
    assert summary.covers_through_message_id == messages[len(messages) - len(left) - 1].id
    assert "User: q0" in model.calls[0] and "a9" not in model.calls[0]

    await fill_more(sessions, alice, 10, 20)
    assert await summariser(sessions, model).refresh("t1") == 1  # incremental: the previous summary, folded in
    assert "summary #1" in model.calls[1] and "User: q0" not in model.calls[1]
    assert await SummaryStore(sessions).count("t1") == 2


async def fill_more(sessions: Sessions, user: str, start: int, end: int) -> None:
    from datetime import timedelta

    from parlor.db import Message, new_id
    from parlor.memory import MessageStore
    from tests.test_context import BASE

    store = MessageStore(sessions)
    for i in range(start, end):
        at = BASE + timedelta(seconds=2 * i)
        question = Message(id=new_id(), thread_id="t1", client_id=f"c{i}", role="user", text=f"q{i}",
                           parts=[{"type": "text", "text": f"q{i}"}], status="complete", created_at=at, tokens=6)
        answer = Message(id=new_id(), thread_id="t1", role="assistant", parts=[{"type": "text", "text": f"a{i}"}],
                         text=f"a{i}", status="complete", created_at=at + timedelta(seconds=1), tokens=6)
        await store.begin_turn(user_id=user, thread_id="t1", title="t", user_message=question,
                               assistant_message=answer)


async def test_two_concurrent_triggers_make_one_summary(engine: AsyncEngine, sessions: Sessions) -> None:
    """Two processes (two engines, two summarisers) triggered at once: one model call, one summary."""
    alice, _ = await users(sessions)
    await fill(sessions, alice, "t1", 10)
    other = create_engine(str(engine.url.render_as_string(hide_password=False)))
    try:
        model = FakeModel(delay=0.3)
        written = await asyncio.gather(summariser(sessions, model).refresh("t1"),
                                       summariser(session_factory(other), model).refresh("t1"),
                                       summariser(sessions, model).refresh("t1"))
    finally:
        await other.dispose()
    assert sorted(written) == [0, 0, 1] and len(model.calls) == 1
    assert await SummaryStore(sessions).count("t1") == 1


async def test_the_same_range_is_stored_once(sessions: Sessions) -> None:
    alice, _ = await users(sessions)
    messages = await fill(sessions, alice, "t1", 2)
    store = SummaryStore(sessions)
    through = StoredMessage(messages[1].id, None, "assistant", "", (), MessageStatus.COMPLETE,
                            messages[1].created_at, {})
    assert await store.save("t1", through, "one", 1) is True
    assert await store.save("t1", through, "two", 1) is False
    assert await store.count("t1") == 1


async def test_a_failing_summariser_is_logged_and_retried_later(sessions: Sessions,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    alice, _ = await users(sessions)
    await fill(sessions, alice, "t1", 10)
    model = FakeModel()
    model.failing = True
    with caplog.at_level(logging.ERROR, "parlor.memory.summaries"):
        assert await summariser(sessions, model).refresh("t1", "req-1") == 0
    assert any("req-1" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)
    model.failing = False
    assert await summariser(sessions, model).refresh("t1") == 0  # backing off: not even tried
    assert len(model.calls) == 1
    await asyncio.sleep(POLICY.retry_seconds + 0.1)
    assert await summariser(sessions, model).refresh("t1") == 1
    assert await SummaryStore(sessions).count("t1") == 1


async def test_summaries_and_leases_survive_a_restart(engine: AsyncEngine, sessions: Sessions) -> None:
    alice, _ = await users(sessions)
    await fill(sessions, alice, "t1", 10)
    store = SummaryStore(sessions)
    assert await store.acquire("t1", "a-process-that-died", 0.3)  # ... and never released its lease
    model = FakeModel()
    assert await summariser(sessions, model).refresh("t1") == 0
    await asyncio.sleep(0.4)
    restarted = create_engine(str(engine.url.render_as_string(hide_password=False)))
    try:
        assert await summariser(session_factory(restarted), model).refresh("t1") == 1
    finally:
        await restarted.dispose()
    latest = await SummaryStore(sessions).latest("t1")
    assert latest is not None and latest.text == "summary #1"
