"""Threads stored by the release before the typed message model (its messages' parts are AI SDK UI
parts) load unchanged: `GET /api/threads/{id}` shows them as before, a retried question replays its
stored answer, and a follow-up sends the model the old answer's tool call paired with its result."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from parlor.db import Message, Thread
from tests.client import auth, chat
from tests.conftest import RunningServer
from tests.upstream import Upstream

OLD_ANSWER: list[dict[str, Any]] = [
    {"type": "step-start"},
    {"type": "tool-calculator", "toolCallId": "call_old1", "input": {"expression": "19*23"}, "durationMs": 1.5,
     "state": "output-available", "output": {"expression": "19*23", "result": 437}},
    {"type": "source-document", "sourceId": "d1:0", "mediaType": "text/plain", "title": "notes.txt",
     "filename": "notes.txt", "providerMetadata": {"parlor": {"documentId": "d1", "page": None, "chunk": 0}}},
    {"type": "step-start"}, {"type": "text", "text": "19 times 23 is 437."},
]


def store_old_turn(server: RunningServer, thread_id: str, question: str) -> None:
    """Writes a question and its tool-using answer as the previous release stored them."""
    engine = sa.create_engine(f"sqlite:///{server.process.data_dir}/parlor.db")
    now = datetime.now(UTC) + timedelta(seconds=1)
    rows = [
        {"id": str(uuid.uuid4()), "thread_id": thread_id, "client_id": "old-question", "role": "user",
         "parts": [{"type": "text", "text": question}], "text": question, "status": "complete", "created_at": now},
        {"id": str(uuid.uuid4()), "thread_id": thread_id, "role": "assistant", "parts": OLD_ANSWER,
         "text": "19 times 23 is 437.", "status": "complete", "provider": "up", "model": "test-model",
         "tokens_in": 30, "tokens_out": 9, "created_at": now + timedelta(milliseconds=1)},
    ]
    with engine.begin() as connection:
        # on the thread's branch, as migration 0013 links the rows of the release before
        leaf = connection.execute(sa.select(Thread.leaf_id).where(Thread.id == thread_id)).scalar_one()
        rows[0]["parent_id"], rows[1]["parent_id"] = leaf, rows[0]["id"]
        for row in rows:  # one by one: the rows set different columns
            connection.execute(sa.insert(Message).values(**row))
        connection.execute(sa.update(Thread).where(Thread.id == thread_id).values(leaf_id=rows[1]["id"]))
    engine.dispose()


def test_an_old_thread_loads_replays_and_continues(server: RunningServer, upstream: Upstream, marker: str) -> None:
    thread_id = uuid.uuid4().hex
    assert chat(server.url, server.api_key, thread_id, f"hello {marker}").status == 200  # the thread is the user's
    question = f"what is 19*23 {marker}?"
    store_old_turn(server, thread_id, question)

    thread = httpx.get(f"{server.url}/api/threads/{thread_id}", headers=auth(server.api_key), timeout=10).json()
    old = thread["messages"][-1]
    assert old["parts"] == OLD_ANSWER and old["metadata"]["status"] == "complete"
    assert thread["messages"][-2]["parts"] == [{"type": "text", "text": question}]

    replayed = chat(server.url, server.api_key, thread_id, question, message_id="old-question")
    assert replayed.status == 200 and replayed.text == "19 times 23 is 437."
    assert [c["output"] for c in replayed.chunks if c["type"] == "tool-output-available"] == [
        {"expression": "19*23", "result": 437}]
    assert any(c["type"] == "source-document" and c["sourceId"] == "d1:0" for c in replayed.chunks)

    assert chat(server.url, server.api_key, thread_id, f"and plus one {marker}?").status == 200
    sent = next(r for r in upstream.requests if f"and plus one {marker}" in str(r["messages"][-1]))["messages"]
    call = next(m for m in sent if m.get("tool_calls"))
    assert call["tool_calls"][0]["id"] == "call_old1" and call["tool_calls"][0]["function"]["name"] == "calculator"
    result = sent[sent.index(call) + 1]
    assert result["role"] == "tool" and result["tool_call_id"] == "call_old1" and "437" in str(result["content"])
    assert sent[sent.index(call) + 2] == {"role": "assistant", "content": "19 times 23 is 437."}
