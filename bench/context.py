"""Context building on a long thread: p50/p95 of what a turn does before its model call.

Fills a fresh database with one 10,000-message thread (stored token counts, tool-call turns every
few messages, a rolling summary, saved facts), then times `ConversationMemory.read` (the one query)
plus `ConversationMemory.context` (the budget arithmetic), as `ChatService.prepare` runs them, with
the default settings (8,192-token window, at most 100 messages). Target: p95 < 5 ms on PostgreSQL.

    python -m bench.context                      # PostgreSQL from PARLOR_TEST_PG (default 127.0.0.1:5432)
    python -m bench.context --messages 10000 --runs 2000 --sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from parlor.accounts.store import AccountStore
from parlor.chat.service import render_stored
from parlor.config import load_settings
from parlor.db import Memory, Message, Summary, Thread, create_engine, migrate, new_id, session_factory, utcnow
from parlor.llm import Router, ScriptedProvider
from parlor.memory import ConversationMemory, EstimateCounter, StoredMessage
from parlor.memory.tokens import count_messages
from parlor.tasks import TaskTracker
from parlor.wiring.parts import conversation_memory
from tests import pg

SENTENCE = "Here is a sentence of ordinary chat text, about as long as people write them. "


def rows(thread_id: str, count: int) -> list[dict[str, Any]]:
    counter = EstimateCounter()
    start = utcnow() - timedelta(days=30)
    out: list[dict[str, Any]] = []
    for i in range(count):
        user = i % 2 == 0
        body = SENTENCE * (1 + i % 4) + f"(message {i})"
        parts: list[dict[str, Any]] = [{"type": "text", "text": body}]
        if not user and i % 10 == 1:
            parts = [{"type": "step-start"},
                     {"type": "tool-calculator", "toolCallId": f"call_{i}", "input": {"expression": "6*7"},
                      "state": "output-available", "output": {"result": "42"}},
                     {"type": "step-start"}, {"type": "text", "text": body}]
        stored = StoredMessage("", None, "user" if user else "assistant", body, parts, "complete", start, {})
        out.append({"id": new_id(), "thread_id": thread_id, "client_id": f"c{i}" if user else None,
                    "role": stored.role, "parts": parts, "text": body, "status": "complete",
                    "created_at": start + timedelta(seconds=i),
                    "tokens": count_messages(counter, render_stored(stored))})
    return out


async def fill(url: str, messages: int) -> tuple[str, str]:
    await migrate(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    user = (await AccountStore(sessions).create_user(f"bench-{new_id()}", "free")).principal.id
    thread = f"bench-{new_id()}"
    data = rows(thread, messages)
    async with sessions.begin() as session:
        now = utcnow()
        await session.execute(insert(Thread).values(id=thread, user_id=user, title="bench", created_at=now,
                                                    updated_at=now, meta={}))
        for start in range(0, len(data), 1000):
            await session.execute(insert(Message), data[start:start + 1000])
        for i in range(0, messages - 150, 300):  # a summary every 300 messages, the newest near the end
            await session.execute(insert(Summary).values(
                id=new_id(), thread_id=thread, covers_through_message_id=data[i]["id"],
                covers_through_at=data[i]["created_at"], text="The user is benchmarking. " * 40, tokens=240,
                created_at=now))
        for i in range(20):
            await session.execute(insert(Memory).values(id=new_id(), user_id=user, text=f"Fact {i} about the user.",
                                                        tokens=8, created_at=now))
    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    await engine.dispose()
    return user, thread


async def measure(url: str, messages: int, runs: int) -> dict[str, float]:
    user, thread = await fill(url, messages)
    settings = load_settings(database_url=url)
    engine = create_engine(url)
    router = Router([ScriptedProvider("bench", "bench", None, 0.0)])
    memory: ConversationMemory = conversation_memory(settings, engine, router, TaskTracker(), EstimateCounter(),
                                                     render_stored)
    pending = memory.user_message("next", "And what about the next question?")
    read_ms: list[float] = []
    total_ms: list[float] = []
    try:
        for i in range(runs + 50):
            started = time.perf_counter()
            window = await memory.read(user, thread)
            read = time.perf_counter()
            context = memory.context(window, [*window.recent, pending])
            done = time.perf_counter()
            if i >= 50:  # warm-up: connections, statement caches
                read_ms.append((read - started) * 1000)
                total_ms.append((done - started) * 1000)
        assert context.window > 10 and window.summary is not None
    finally:
        await engine.dispose()
    return {"read_p50": pct(read_ms, 50), "read_p95": pct(read_ms, 95), "p50": pct(total_ms, 50),
            "p95": pct(total_ms, 95), "p99": pct(total_ms, 99), "mean": statistics.fmean(total_ms),
            "window": context.window, "prompt_tokens": context.tokens}


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, figures: dict[str, float], messages: int) -> None:
    print(f"{name}: {messages} messages, context of {int(figures['window'])} messages / "
          f"{int(figures['prompt_tokens'])} tokens -- read+build p50 {figures['p50']:.2f} ms, "
          f"p95 {figures['p95']:.2f} ms, p99 {figures['p99']:.2f} ms (query alone p50 {figures['read_p50']:.2f} ms, "
          f"p95 {figures['read_p95']:.2f} ms)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--sqlite", action="store_true", help="also measure the embedded SQLite database")
    args = parser.parse_args()
    async with pg.fresh_database() as url:
        report("PostgreSQL", await measure(url, args.messages, args.runs), args.messages)
    if args.sqlite:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            report("SQLite", await measure(url, args.messages, args.runs), args.messages)


if __name__ == "__main__":
    asyncio.run(main())
