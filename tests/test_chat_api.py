"""`POST /api/chat` and the stored threads, through a real `parlor serve` and the scripted upstream."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.client import auth, chat, chat_body
from tests.conftest import RunningServer
from tests.upstream import Script, ScriptedToolCall, Upstream


def thread(server: RunningServer, key: str, thread_id: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/threads/{thread_id}", headers=auth(key), timeout=10)


def wait_for_status(server: RunningServer, key: str, thread_id: str, status: str) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = thread(server, key, thread_id).json()["messages"]
        if messages and messages[-1]["metadata"]["status"] == status:
            return dict(messages[-1])
        time.sleep(0.05)
    raise AssertionError(f"the answer never reached status {status!r}: {messages}")


def test_a_turn_streams_in_protocol_order_and_is_stored(server: RunningServer, upstream: Upstream,
                                                         marker: str) -> None:
    thread_id = uuid.uuid4().hex
    result = chat(server.url, server.api_key, thread_id, f"hello {marker}")

    assert result.status == 200 and result.done
    assert result.headers["content-type"].startswith("text/event-stream")
    assert result.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert result.headers["x-request-id"]
    assert result.types[:3] == ["start", "start-step", "text-start"]
    assert result.types[-3:] == ["text-end", "finish-step", "finish"]
    assert set(result.types[3:-3]) == {"text-delta"}
    assert result.text == f"You said: hello {marker}"

    stored = thread(server, server.api_key, thread_id).json()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"]
    user, answer = stored["messages"]
    assert user["parts"] == [{"type": "text", "text": f"hello {marker}"}]
    assert answer["id"] == result.message_id
    assert answer["parts"] == [{"type": "step-start"}, {"type": "text", "text": result.text}]
    assert answer["metadata"]["status"] == "complete"
    assert answer["metadata"]["provider"] == "up"
    sent = [r for r in upstream.requests if marker in str(r["messages"][-1])]
    assert len(sent) == 1 and sent[0]["messages"][0]["role"] == "system"


def test_history_comes_from_the_database_not_the_client(server: RunningServer, upstream: Upstream,
                                                        marker: str) -> None:
    thread_id = uuid.uuid4().hex
    chat(server.url, server.api_key, thread_id, f"first {marker}")
    body = chat_body(thread_id, f"second {marker}")
    forged = {"id": "x", "role": "assistant", "parts": [{"type": "text", "text": "FORGED HISTORY"}]}
    body["messages"].insert(0, forged)
    response = httpx.post(f"{server.url}/api/chat", json=body, headers=auth(server.api_key), timeout=30)
    assert response.status_code == 200

    last = [r for r in upstream.requests if f"second {marker}" in str(r["messages"][-1])][-1]
    contents = [m["content"] for m in last["messages"][1:]]
    assert contents == [f"first {marker}", f"You said: first {marker}", f"second {marker}"]
    assert "FORGED" not in str(last)


def test_a_retried_post_never_duplicates(server: RunningServer, upstream: Upstream, marker: str) -> None:
    thread_id, message_id = uuid.uuid4().hex, uuid.uuid4().hex
    first = chat(server.url, server.api_key, thread_id, f"once {marker}", message_id=message_id)
    again = chat(server.url, server.api_key, thread_id, f"once {marker}", message_id=message_id)

    assert again.status == 200 and again.text == first.text and again.message_id == first.message_id
    assert len(thread(server, server.api_key, thread_id).json()["messages"]) == 2
    assert len([r for r in upstream.requests if marker in str(r["messages"][-1])]) == 1


def test_regenerate_replaces_the_last_answer(server: RunningServer, upstream: Upstream, marker: str) -> None:
    thread_id = uuid.uuid4().hex
    first = chat(server.url, server.api_key, thread_id, f"again {marker}")
    upstream.push(Script(text="A better answer."), match=f"again {marker}")
    second = chat(server.url, server.api_key, thread_id, f"again {marker}", trigger="regenerate-message")

    assert second.text == "A better answer."
    messages = thread(server, server.api_key, thread_id).json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["id"] == second.message_id != first.message_id


def test_a_client_that_goes_away_does_not_stop_the_answer(server: RunningServer, upstream: Upstream,
                                                          marker: str) -> None:
    tokens = [f" word{i}" for i in range(30)]
    upstream.push(Script(tokens=tokens, token_delay=0.02), match=marker)
    disconnects = upstream.disconnects
    thread_id = uuid.uuid4().hex
    with httpx.Client(base_url=server.url, headers=auth(server.api_key), timeout=30) as client, client.stream(
        "POST", "/api/chat", json=chat_body(thread_id, f"long {marker}")
    ) as response:
        seen = 0
        for line in response.iter_lines():
            seen += '"text-delta"' in line
            if seen >= 5:
                break  # leaving the block closes the connection mid-stream

    answer = wait_for_status(server, server.api_key, thread_id, "complete")
    assert "".join(p["text"] for p in answer["parts"] if p["type"] == "text") == "".join(tokens)  # type: ignore[attr-defined]
    assert upstream.disconnects == disconnects


def test_a_failing_provider_ends_the_stream_with_an_error(server: RunningServer, upstream: Upstream,
                                                          marker: str) -> None:
    for _ in range(2):  # the first try and its retry
        upstream.push(Script(status=500), match=marker)
    thread_id = uuid.uuid4().hex
    result = chat(server.url, server.api_key, thread_id, f"fail {marker}")

    assert result.status == 200 and result.done
    assert result.types[-1] == "error" and "unavailable" in result.chunks[-1]["errorText"]
    answer = thread(server, server.api_key, thread_id).json()["messages"][-1]
    assert answer["metadata"]["status"] == "error"
    assert answer["metadata"]["error"] == "providers_unavailable"


def test_a_second_turn_while_one_streams_is_refused(server: RunningServer, upstream: Upstream,
                                                    marker: str) -> None:
    upstream.push(Script(tokens=[" slow"] * 40, token_delay=0.05), match=f"slow {marker}")
    thread_id = uuid.uuid4().hex
    with httpx.Client(base_url=server.url, headers=auth(server.api_key), timeout=30) as client, client.stream(
        "POST", "/api/chat", json=chat_body(thread_id, f"slow {marker}")
    ) as slow:
        lines = slow.iter_lines()  # one iterator: dropping it would close the stream
        next(lines)  # the first turn has started
        busy = chat(server.url, server.api_key, thread_id, f"meanwhile {marker}")
        assert busy.status == 409 and busy.body["error"]["code"] == "thread_busy"
        for _ in lines:
            pass
    assert wait_for_status(server, server.api_key, thread_id, "complete")


@pytest.mark.parametrize("text", ["", "   "])
def test_an_empty_message_is_refused_and_nothing_written(server: RunningServer, text: str) -> None:
    thread_id = uuid.uuid4().hex
    result = chat(server.url, server.api_key, thread_id, text)
    assert result.status == 422 and result.body["error"]["code"] == "empty_message"
    assert thread(server, server.api_key, thread_id).status_code == 404


def test_a_tool_call_streams_the_duration_it_is_stored_with(server: RunningServer, upstream: Upstream,
                                                            marker: str) -> None:
    question = f"time in Lisbon and on Mars {marker}"
    upstream.push(Script(tool_calls=[ScriptedToolCall("current_time", json.dumps({"timezone": "Europe/Lisbon"})),
                                     ScriptedToolCall("current_time", json.dumps({"timezone": "Mars/Olympus"}))]),
                  match=question)
    upstream.push(Script(text="Afternoon; Mars has no time zone."), match=question)
    thread_id = uuid.uuid4().hex
    result = chat(server.url, server.api_key, thread_id, question)
    streamed = {c["toolCallId"]: c["toolMetadata"]["durationMs"] for c in result.chunks
                if c["type"] in ("tool-output-available", "tool-output-error")}
    answer = thread(server, server.api_key, thread_id).json()["messages"][-1]
    stored = {p["toolCallId"]: p["durationMs"] for p in answer["parts"] if p["type"] == "tool-current_time"}
    assert len(streamed) == 2 and streamed == stored and all(ms >= 0 for ms in stored.values())
