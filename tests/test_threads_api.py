"""Threads over HTTP: listing, reading, renaming, deleting — and nobody sees anyone else's."""

from __future__ import annotations

import uuid

import httpx

from tests.client import auth, chat
from tests.conftest import RunningServer


def test_threads_list_newest_first_with_a_cursor(server: RunningServer) -> None:
    key = server.user()
    ids = [uuid.uuid4().hex for _ in range(5)]
    for thread_id in ids:
        assert chat(server.url, key, thread_id, f"topic {thread_id}").status == 200

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{server.url}/api/threads", params=params, headers=auth(key)).json()
        seen += [t["id"] for t in page["threads"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    first = httpx.get(f"{server.url}/api/threads", headers=auth(key)).json()["threads"][0]
    assert first["title"] == f"topic {ids[-1]}"


def test_rename_and_delete(server: RunningServer) -> None:
    key = server.user()
    thread_id = uuid.uuid4().hex
    chat(server.url, key, thread_id, "something to keep")
    renamed = httpx.patch(f"{server.url}/api/threads/{thread_id}", json={"title": "Kept"}, headers=auth(key))
    assert renamed.status_code == 200 and renamed.json()["title"] == "Kept"
    assert httpx.get(f"{server.url}/api/threads/{thread_id}", headers=auth(key)).json()["title"] == "Kept"

    assert httpx.delete(f"{server.url}/api/threads/{thread_id}", headers=auth(key)).status_code == 204
    gone = httpx.get(f"{server.url}/api/threads/{thread_id}", headers=auth(key))
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "thread_not_found"
    assert httpx.get(f"{server.url}/api/threads", headers=auth(key)).json()["threads"] == []


def test_another_users_thread_does_not_exist_for_them(server: RunningServer) -> None:
    alice, bob = server.user("alice"), server.user("bob")
    thread_id = uuid.uuid4().hex
    chat(server.url, alice, thread_id, "alice's secret plans")
    url = f"{server.url}/api/threads/{thread_id}"

    assert httpx.get(f"{server.url}/api/threads", headers=auth(bob)).json()["threads"] == []
    for response in (
        httpx.get(url, headers=auth(bob)),
        httpx.patch(url, json={"title": "mine now"}, headers=auth(bob)),
        httpx.delete(url, headers=auth(bob)),
    ):
        assert response.status_code == 404 and response.json()["error"]["code"] == "thread_not_found"
    hijack = chat(server.url, bob, thread_id, "let me in")
    assert hijack.status == 404 and hijack.body["error"]["code"] == "thread_not_found"

    mine = httpx.get(url, headers=auth(alice)).json()
    assert mine["title"] == "alice's secret plans"
    assert [m["role"] for m in mine["messages"]] == ["user", "assistant"]
    assert "let me in" not in str(mine)


def test_an_invalid_cursor_is_a_clear_error(server: RunningServer) -> None:
    response = httpx.get(f"{server.url}/api/threads", params={"cursor": "!!nonsense"}, headers=auth(server.api_key))
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_cursor"
