"""Feedback on answers: a user rates their own assistant messages (up, down, a comment), changes or
clears the rating, sees it on the thread; nobody can rate another user's message."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.client import auth, chat
from tests.conftest import RunningServer


def rate(server: RunningServer, key: str, message_id: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.url}/api/messages/{message_id}/feedback", json=body, headers=auth(key), timeout=10)


def thread_messages(server: RunningServer, key: str, thread: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(f"{server.url}/api/threads/{thread}", headers=auth(key)).json()["messages"]
    return found


def test_a_user_rates_changes_and_clears_their_answer(server: RunningServer, marker: str) -> None:
    key = server.user()
    thread = uuid.uuid4().hex
    answer = chat(server.url, key, thread, f"rate me {marker}").message_id
    chat(server.url, key, thread, f"and me {marker}")

    up = rate(server, key, answer, {"rating": "up", "comment": None})
    assert up.status_code == 200
    assert {k: up.json()[k] for k in ("message_id", "rating", "comment")} == \
        {"message_id": answer, "rating": "up", "comment": None} and up.json()["updated_at"]
    messages = thread_messages(server, key, thread)
    assert [m["metadata"].get("feedback") for m in messages] == [None, {"rating": "up", "comment": None}, None, None]

    down = rate(server, key, answer, {"rating": "down", "comment": "  made up a citation  "})
    assert down.json()["rating"] == "down" and down.json()["comment"] == "made up a citation"
    assert thread_messages(server, key, thread)[1]["metadata"]["feedback"] == \
        {"rating": "down", "comment": "made up a citation"}

    cleared = rate(server, key, answer, {"rating": None})
    assert cleared.status_code == 200 and cleared.json()["rating"] is None
    assert all("feedback" not in m["metadata"] for m in thread_messages(server, key, thread))


def test_nobody_rates_another_users_message_or_a_question(server: RunningServer, marker: str) -> None:
    alice, bob = server.user("alice"), server.user("bob")
    thread = uuid.uuid4().hex
    answer = chat(server.url, alice, thread, f"mine {marker}").message_id
    question = thread_messages(server, alice, thread)[0]["id"]

    for key, message_id in ((bob, answer), (alice, question), (alice, str(uuid.uuid4()))):
        response = rate(server, key, message_id, {"rating": "up"})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "message_not_found"
    assert "feedback" not in thread_messages(server, alice, thread)[1]["metadata"]
    assert httpx.post(f"{server.url}/api/messages/{answer}/feedback", json={"rating": "up"}).status_code == 401


def test_bad_feedback_is_refused(server: RunningServer, marker: str) -> None:
    key = server.user()
    answer = chat(server.url, key, uuid.uuid4().hex, f"bad {marker}").message_id
    for body in ({"rating": "meh"}, {}, {"rating": "up", "comment": "x" * 2001}, {"rating": "up", "stars": 5}):
        response = rate(server, key, answer, body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_request"
