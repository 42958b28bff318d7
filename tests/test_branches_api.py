"""Versions and branches through a real `parlor serve` and the scripted upstream: regenerate keeps the old
answer as a version, an edit starts a branch, the model is sent the chosen branch only, a retried POST still
replays, and `PUT /api/threads/{id}/leaf` switches branch (404s for someone else's thread or an unknown
message)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.client import auth, chat, chat_body
from tests.conftest import RunningServer
from tests.upstream import Script, Upstream


def stored(server: RunningServer, key: str, thread_id: str) -> list[dict[str, Any]]:
    found = httpx.get(f"{server.url}/api/threads/{thread_id}", headers=auth(key), timeout=10)
    assert found.status_code == 200, found.text
    messages: list[dict[str, Any]] = found.json()["messages"]
    return messages


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return ["".join(p.get("text", "") for p in m["parts"]) for m in messages]


def versions(message: dict[str, Any]) -> tuple[int, int]:
    found = message["metadata"]["versions"]
    return found["index"], found["count"]


def leaf(server: RunningServer, key: str, thread_id: str, message_id: str) -> httpx.Response:
    return httpx.put(f"{server.url}/api/threads/{thread_id}/leaf", json={"message_id": message_id},
                     headers=auth(key), timeout=10)


def sent_to_model(upstream: Upstream, marker: str) -> list[str]:
    """What the model was last sent for a prompt holding `marker`: the conversation, system prompt left out."""
    last = [r for r in upstream.requests if marker in str(r["messages"][-1])][-1]
    return [m["content"] for m in last["messages"] if m["role"] != "system"]


def test_regenerate_keeps_the_old_answer_as_a_version(server: RunningServer, upstream: Upstream, marker: str) -> None:
    key, thread_id = server.user(), uuid.uuid4().hex
    first = chat(server.url, key, thread_id, f"tell me {marker}")
    upstream.push(Script(text="A second take."), match=f"tell me {marker}")
    second = chat(server.url, key, thread_id, f"tell me {marker}", trigger="regenerate-message")

    messages = stored(server, key, thread_id)
    assert messages[1]["id"] == second.message_id != first.message_id
    assert texts(messages)[1] == "A second take." and versions(messages[1]) == (2, 2)
    assert versions(messages[0]) == (1, 1)
    assert messages[1]["metadata"]["versions"]["ids"] == [first.message_id, second.message_id]
    assert sent_to_model(upstream, f"tell me {marker}") == [f"tell me {marker}"]  # the old answer not in it

    back = leaf(server, key, thread_id, first.message_id)
    assert back.status_code == 200 and back.json()["id"] == thread_id
    assert texts(back.json()["messages"])[1] == first.text and versions(back.json()["messages"][1]) == (1, 2)
    assert texts(stored(server, key, thread_id)) == texts(back.json()["messages"])  # the thread remembers it
    chat(server.url, key, thread_id, f"and then {marker}")  # continues the first answer's branch
    assert sent_to_model(upstream, f"and then {marker}") == [f"tell me {marker}", first.text, f"and then {marker}"]


def test_an_edit_starts_a_branch_and_the_old_one_stays_reachable(server: RunningServer, upstream: Upstream,
                                                                  marker: str) -> None:
    key, thread_id = server.user(), uuid.uuid4().hex
    chat(server.url, key, thread_id, f"one {marker}")
    chat(server.url, key, thread_id, f"two {marker}")
    chat(server.url, key, thread_id, f"three {marker}")
    old = stored(server, key, thread_id)
    edited = old[2]["id"]  # as a reloaded page edits: by the stored id
    body = {**chat_body(thread_id, f"two, better {marker}", edited), "messageId": edited}
    response = httpx.post(f"{server.url}/api/chat", json=body, headers=auth(key), timeout=30)
    assert response.status_code == 200 and '"finish"' in response.text

    messages = stored(server, key, thread_id)
    assert texts(messages) == [f"one {marker}", f"You said: one {marker}", f"two, better {marker}",
                               f"You said: two, better {marker}"]
    assert versions(messages[2]) == (2, 2) and messages[2]["metadata"]["versions"]["ids"][0] == edited
    assert sent_to_model(upstream, f"two, better {marker}") == [f"one {marker}", f"You said: one {marker}",
                                                                f"two, better {marker}"]
    back = leaf(server, key, thread_id, edited)  # "previous version" on the edited question: the old branch, to its end
    assert texts(back.json()["messages"]) == texts(old)
    assert versions(back.json()["messages"][2]) == (1, 2)


def test_a_retried_post_replays_rather_than_branching(server: RunningServer, upstream: Upstream, marker: str) -> None:
    key, thread_id, message_id = server.user(), uuid.uuid4().hex, uuid.uuid4().hex
    first = chat(server.url, key, thread_id, f"once {marker}", message_id=message_id)
    again = chat(server.url, key, thread_id, f"once {marker}", message_id=message_id)
    assert again.message_id == first.message_id and again.text == first.text
    messages = stored(server, key, thread_id)
    assert len(messages) == 2 and all(versions(m) == (1, 1) for m in messages)


def test_the_leaf_route_refuses_an_unknown_message_and_someone_elses_thread(server: RunningServer) -> None:
    key, thread_id = server.user(), uuid.uuid4().hex
    chat(server.url, key, thread_id, "hello")
    message_id = stored(server, key, thread_id)[0]["id"]
    unknown = leaf(server, key, thread_id, "absent-0123")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "message_not_found"
    stranger = leaf(server, server.user(), thread_id, message_id)
    assert stranger.status_code == 404 and stranger.json()["error"]["code"] == "thread_not_found"
    invalid = httpx.put(f"{server.url}/api/threads/{thread_id}/leaf", json={}, headers=auth(key), timeout=10)
    assert invalid.status_code == 422


def test_asking_the_same_question_again_is_no_new_version_of_it(server: RunningServer, marker: str) -> None:
    """What Retry posts (an "edit" that changes nothing): a new answer under the same question."""
    key, thread_id = server.user(), uuid.uuid4().hex
    chat(server.url, key, thread_id, f"same {marker}")
    question = stored(server, key, thread_id)[0]["id"]
    body = {**chat_body(thread_id, f"same {marker}", question), "messageId": question}
    assert httpx.post(f"{server.url}/api/chat", json=body, headers=auth(key), timeout=30).status_code == 200
    messages = stored(server, key, thread_id)
    assert messages[0]["id"] == question and versions(messages[0]) == (1, 1)
    assert versions(messages[1]) == (2, 2)  # the answer it had is kept beside the new one
