"""Memory through a real server: a 200-turn thread that still knows turn 1 through its summary, a
failing summariser that breaks no turn, and `remember` facts that stay their user's own."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parlor.memory.tokens import build_counter
from tests.client import auth, chat
from tests.conftest import upstream_provider
from tests.server import ParlorServer
from tests.upstream import Script, ScriptedToolCall, Upstream, last_user_text

CONTEXT, RESERVE = 1200, 200


@pytest.fixture
def summary_marker() -> str:
    return f"SUMMARY-REQUEST-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def memory_server(upstream: Upstream, tmp_path: Path, summary_marker: str) -> Iterator[ParlorServer]:
    """A server with a small window, so that summaries come every few turns."""
    process = ParlorServer(
        tmp_path, [upstream_provider(upstream)],
        PARLOR_CONTEXT_TOKENS=str(CONTEXT), PARLOR_REPLY_RESERVE_TOKENS=str(RESERVE),
        PARLOR_SUMMARY_MAX_TOKENS="120", PARLOR_MEMORY_TOKENS="100", PARLOR_SUMMARY_TRIGGER_TOKENS="450",
        PARLOR_SUMMARY_RETRY_SECONDS="0", PARLOR_TOKEN_COUNTER="cl100k_base",
        PARLOR_SUMMARY_PROMPT=f"{summary_marker}: merge the summary so far and the new messages.",
    ).start()
    try:
        yield process
    finally:
        process.stop()


def summary_requests(upstream: Upstream, marker: str) -> list[str]:
    return [last_user_text(r) for r in upstream.requests if marker in last_user_text(r)]


def request_for(upstream: Upstream, text: str) -> dict[str, Any]:
    found = [r for r in upstream.requests if last_user_text(r) == text]
    assert len(found) == 1, f"{len(found)} requests for {text!r}"
    return found[0]


def settle(upstream: Upstream, marker: str, quiet: float = 0.4, limit: float = 10.0) -> None:
    """Waits until no summary request has come for `quiet` seconds (background jobs are done)."""
    deadline = time.monotonic() + limit
    seen, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = len(summary_requests(upstream, marker))
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)


def test_a_fact_from_turn_1_reaches_turn_200_through_the_summary(
        memory_server: ParlorServer, upstream: Upstream, summary_marker: str, marker: str) -> None:
    for i in range(1, 121):  # the scripted summariser: each summary carries the fact on, and says which it is
        upstream.push(Script(text=f"Summary v{i}: the user's secret code is PINEAPPLE-42; they asked about "
                                  f"many numbered topics."), match=summary_marker)
    key = memory_server.create_user(f"long-{marker}")
    thread = uuid.uuid4().hex
    first = f"Hello! My secret code is PINEAPPLE-42, please remember it. {marker}"
    texts = [first] + [f"Turn {i}: tell me about topic number {i}, briefly. {marker}" for i in range(2, 201)]
    started = time.monotonic()
    for index, text in enumerate(texts, start=1):
        if index == 200:
            settle(upstream, summary_marker)  # so the assertions below know which summary is the newest
        result = chat(memory_server.url, key, thread, text)
        assert result.status == 200 and result.text == f"You said: {text}", (index, result.body)
    elapsed = time.monotonic() - started

    asked = summary_requests(upstream, summary_marker)
    assert len(asked) >= 10, "summaries should have come every few turns"
    assert "PINEAPPLE-42, please remember it" in asked[0]  # turn 1 was folded into the first summary
    for n, request in enumerate(asked[1:], start=1):  # each fold starts from the previous summary
        assert f"Summary v{n}:" in request and "PINEAPPLE-42, please remember it" not in request

    prompt = request_for(upstream, texts[-1])["messages"]
    system, rest = prompt[0], prompt[1:]
    assert system["role"] == "system"
    assert f"Summary v{len(asked)}:" in system["content"] and "PINEAPPLE-42" in system["content"]
    assert not any("PINEAPPLE" in str(m.get("content")) for m in rest)  # turn 1 itself left the window long ago
    assert rest[-1]["content"] == texts[-1] and len(rest) >= 6  # ... while the recent turns are there
    counter = build_counter("cl100k_base", "test-model", Path(memory_server.data_dir) / "tiktoken")
    size = sum(4 + counter.count_tokens(str(m.get("content") or "")) for m in prompt)
    assert size <= CONTEXT - RESERVE
    print(f"\n200 turns in {elapsed:.1f} s, {len(asked)} summaries, last prompt {size} tokens")


def test_a_failing_summariser_breaks_no_turn_and_is_retried(
        memory_server: ParlorServer, upstream: Upstream, summary_marker: str, marker: str) -> None:
    upstream.push(Script(status=500, error_message="summariser down"), match=summary_marker)
    upstream.push(Script(status=500, error_message="summariser down"), match=summary_marker)
    upstream.push(Script(text="Summary OK: the user's cat is called KIWI."), match=summary_marker)
    key = memory_server.create_user(f"fail-{marker}")
    thread = uuid.uuid4().hex
    for i in range(60):
        text = f"Message {i}: my cat is called KIWI, and here is some more text to fill the window. {marker}"
        result = chat(memory_server.url, key, thread, text)
        assert result.status == 200 and result.text == f"You said: {text}"
        if "Summary OK" in request_for(upstream, text)["messages"][0]["content"]:
            break
        time.sleep(0.05)  # give the background job a moment between turns
    else:
        pytest.fail("the summary never recovered from the failure")
    assert len(summary_requests(upstream, summary_marker)) >= 2
    assert "failed; retrying" in memory_server.log.read_text()


def test_a_slow_summariser_never_delays_a_turn(
        memory_server: ParlorServer, upstream: Upstream, summary_marker: str, marker: str) -> None:
    upstream.push(Script(text="Summary slow: done at last.", ttft=3.0), match=summary_marker)
    key = memory_server.create_user(f"slow-{marker}")
    thread = uuid.uuid4().hex
    for i in range(60):
        text = f"Message {i}: some words to fill the window up a little faster than usual. {marker}"
        assert chat(memory_server.url, key, thread, text).status == 200
        if summary_requests(upstream, summary_marker):
            break
    else:
        pytest.fail("no summary was started")
    started = time.monotonic()  # the summariser is now busy for three seconds
    text = f"And one more while it summarises. {marker}"
    result = chat(memory_server.url, key, thread, text)
    assert result.status == 200 and time.monotonic() - started < 1.0
    assert "Summary slow" not in request_for(upstream, text)["messages"][0]["content"]  # the plain window


def test_remember_saves_for_the_caller_only(memory_server: ParlorServer, upstream: Upstream, marker: str) -> None:
    alice, bob = memory_server.create_user(f"alice-{marker}"), memory_server.create_user(f"bob-{marker}")
    bob_id = httpx.get(f"{memory_server.url}/api/me", headers=auth(bob)).json()["id"]
    upstream.push(Script(tool_calls=[ScriptedToolCall("remember", json.dumps(
        {"fact": "Keeps bees in the garden.", "user_id": bob_id}))]), match=f"bees {marker}")
    upstream.push(Script(text="Noted!"), match=f"bees {marker}")
    result = chat(memory_server.url, alice, uuid.uuid4().hex, f"I keep bees {marker}")
    assert result.status == 200 and result.text == "Noted!"
    offered = {t["function"]["name"] for t in upstream.requests[-1].get("tools", [])}
    assert "remember" in offered

    mine = httpx.get(f"{memory_server.url}/api/memories", headers=auth(alice)).json()["memories"]
    assert [m["text"] for m in mine] == ["Keeps bees in the garden."]
    assert httpx.get(f"{memory_server.url}/api/memories", headers=auth(bob)).json()["memories"] == []

    chat(memory_server.url, alice, uuid.uuid4().hex, f"new thread alice {marker}")
    assert "Keeps bees in the garden." in request_for(upstream, f"new thread alice {marker}")["messages"][0]["content"]
    chat(memory_server.url, bob, uuid.uuid4().hex, f"new thread bob {marker}")
    assert "bees" not in json.dumps(request_for(upstream, f"new thread bob {marker}")["messages"])

    fact = mine[0]["id"]
    assert httpx.delete(f"{memory_server.url}/api/memories/{fact}", headers=auth(bob)).status_code == 404
    assert httpx.delete(f"{memory_server.url}/api/memories/{fact}", headers=auth(alice)).status_code == 204
    assert httpx.get(f"{memory_server.url}/api/memories", headers=auth(alice)).json()["memories"] == []
    assert httpx.get(f"{memory_server.url}/api/memories").status_code == 401


def test_a_user_adds_a_fact_once_and_the_model_reads_it(memory_server: ParlorServer, upstream: Upstream,
                                                        marker: str) -> None:
    key = memory_server.create_user(f"adds-{marker}")
    added = httpx.post(f"{memory_server.url}/api/memories", headers=auth(key), json={"text": "  Lives in   Lisbon. "})
    assert added.status_code == 201 and added.json()["text"] == "Lives in Lisbon."
    again = httpx.post(f"{memory_server.url}/api/memories", headers=auth(key), json={"text": "Lives in Lisbon."})
    assert again.status_code == 200 and again.json()["id"] == added.json()["id"]
    for bad in ({"text": "   "}, {"text": "x" * 301}, {}):
        response = httpx.post(f"{memory_server.url}/api/memories", headers=auth(key), json=bad)
        assert response.status_code == 422, bad
    chat(memory_server.url, key, uuid.uuid4().hex, f"where do I live {marker}")
    assert "Lives in Lisbon." in request_for(upstream, f"where do I live {marker}")["messages"][0]["content"]
    listed = httpx.get(f"{memory_server.url}/api/memories", headers=auth(key)).json()["memories"]
    assert [m["text"] for m in listed] == ["Lives in Lisbon."]


def test_memory_off_offers_no_remember(upstream: Upstream, tmp_path: Path, marker: str) -> None:
    process = ParlorServer(tmp_path, [upstream_provider(upstream)], PARLOR_MEMORY="off").start()
    try:
        key = process.create_user(f"off-{marker}")
        assert chat(process.url, key, uuid.uuid4().hex, f"hello {marker}").status == 200
        offered = {t["function"]["name"] for t in request_for(upstream, f"hello {marker}").get("tools", [])}
        assert offered and "remember" not in offered
        listed = httpx.get(f"{process.url}/api/memories", headers=auth(key)).json()
        assert listed == {"memories": [], "enabled": False}
        refused = httpx.post(f"{process.url}/api/memories", headers=auth(key), json={"text": "Likes tea."})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "memory_off"
    finally:
        process.stop()
