"""Threads over HTTP: listing, reading, renaming, deleting — and nobody sees anyone else's."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from parlor.accounts.store import AccountStore
from parlor.db import Message, create_engine, migrate, new_id, session_factory
from parlor.memory import MessageStore
from tests import pg
from tests.client import auth, chat, chat_body
from tests.conftest import RunningServer
from tests.upstream import Script, Upstream


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


def edit(server: RunningServer, key: str, thread_id: str, message_id: str, text: str) -> None:
    """Edit and resend, as useChat posts it: the message's id, and `messageId` naming it."""
    body = {**chat_body(thread_id, text, message_id), "messageId": message_id}
    response = httpx.post(f"{server.url}/api/chat", json=body, headers=auth(key), timeout=30)
    assert response.status_code == 200 and '"finish"' in response.text, response.text


def test_editing_the_first_message_retitles_a_chat_the_user_never_renamed(server: RunningServer) -> None:
    key = server.user()
    auto, renamed, later = (uuid.uuid4().hex for _ in range(3))
    for thread_id in (auto, renamed, later):
        chat(server.url, key, thread_id, "Plans for Lisbon")
        chat(server.url, key, thread_id, "And for Porto?")
    httpx.patch(f"{server.url}/api/threads/{renamed}", json={"title": "My trip"}, headers=auth(key))

    def stored(thread_id: str) -> dict[str, Any]:
        found: dict[str, Any] = httpx.get(f"{server.url}/api/threads/{thread_id}", headers=auth(key)).json()
        return found

    # As a reloaded page edits them: by the stored ids.
    for thread_id in (auto, renamed):
        edit(server, key, thread_id, stored(thread_id)["messages"][0]["id"], "Plans for Madrid")
    edit(server, key, later, stored(later)["messages"][2]["id"], "And for Faro?")

    assert stored(auto)["title"] == "Plans for Madrid"
    assert stored(renamed)["title"] == "My trip"  # renamed by the user: kept
    assert stored(later)["title"] == "Plans for Lisbon"  # not the first message: kept
    texts = [[p["text"] for m in stored(t)["messages"] for p in m["parts"] if m["role"] == "user"]
             for t in (auto, later)]
    assert texts == [["Plans for Madrid"], ["Plans for Lisbon", "And for Faro?"]]  # replaced, not appended


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


def _search(server: RunningServer, key: str, q: str, **params: Any) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/threads", params={"q": q, **params}, headers=auth(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_search_finds_threads_by_title_or_by_any_message(server: RunningServer, upstream: Upstream,
                                                         marker: str) -> None:
    alice, bob = server.user("alice"), server.user("bob")
    by_title, by_answer, by_question, other = (uuid.uuid4().hex for _ in range(4))
    chat(server.url, alice, by_title, "Planning the Zanzibar trip")
    httpx.patch(f"{server.url}/api/threads/{by_title}", json={"title": "Holiday: ZANZIBAR"}, headers=auth(alice))
    upstream.push(Script(text="The capital of Burkina Faso is Ouagadougou."), match=marker)
    chat(server.url, alice, by_answer, f"capital of Burkina Faso? {marker}")
    chat(server.url, alice, by_question, "first question")
    chat(server.url, alice, by_question, "a follow-up about zanzibar spices")
    chat(server.url, alice, other, "100% unrelated")
    bobs = uuid.uuid4().hex
    chat(server.url, bob, bobs, "bob also likes Zanzibar")

    assert [t["id"] for t in _search(server, alice, "zanzibar")["threads"]] == [by_question, by_title]
    found = _search(server, alice, "OUAGADOUGOU")["threads"]  # the answer's words count, in any case
    assert [t["id"] for t in found] == [by_answer]
    assert set(found[0]) == {"id", "title", "created_at", "updated_at", "model", "assistant"}
    assert [t["id"] for t in _search(server, alice, "%")["threads"]] == [other]  # LIKE wildcards are literal
    assert _search(server, alice, "no such words anywhere")["threads"] == []
    assert len(_search(server, alice, "  ")["threads"]) == 4  # a blank query is the plain list
    assert [t["id"] for t in _search(server, bob, "zanzibar")["threads"]] == [bobs]  # only one's own threads

    first = _search(server, alice, "zanzibar", limit=1)  # paging works within the results
    second = _search(server, alice, "zanzibar", limit=1, cursor=first["next_cursor"])
    assert [t["id"] for t in first["threads"] + second["threads"]] == [by_question, by_title]
    assert second["next_cursor"] is None


def test_search_is_case_insensitive_beyond_ascii(server: RunningServer) -> None:
    """On SQLite lower() is Python's casefold (SQLite's own folds ASCII only: ÄPFEL missed äpfel)."""
    key = server.user()
    apples, street = uuid.uuid4().hex, uuid.uuid4().hex
    chat(server.url, key, apples, "wir kaufen äpfel und birnen")
    chat(server.url, key, street, "Die Hauptstraße entlang")
    for query, found in (("ÄPFEL", [apples]), ("Äpfel", [apples]), ("äpfel", [apples]),
                         ("HAUPTSTRASSE", [street]), ("hauptstraße", [street]), ("ÖL", [])):
        assert [t["id"] for t in _search(server, key, query)["threads"]] == found, query


async def test_search_on_postgresql_too() -> None:
    async with pg.fresh_database() as url:
        await migrate(url)
        engine = create_engine(url)
        try:
            sessions = session_factory(engine)
            user = await AccountStore(sessions).create_user("pg-search", "free")
            store = MessageStore(sessions)
            for thread_id, text in (("t-spices", "Zanzibar SPICES"), ("t-other", "50% off"), ("t-none", "hello"),
                                    ("t-apples", "äpfel")):
                await store.begin_turn(
                    user_id=user.principal.id, thread_id=thread_id, title="untitled",
                    user_message=Message(id=new_id(), thread_id=thread_id, role="user", text=text, parts=[]),
                    assistant_message=Message(id=new_id(), thread_id=thread_id, role="assistant", text="", parts=[]))
            async def found(search: str) -> list[str]:
                return [t.id for t in (await store.list_threads(user.principal.id, 10, search=search)).threads]

            assert await found("spices") == ["t-spices"]
            assert await found("%") == ["t-other"]
            assert len(await found("UNTITLED")) == 4  # titles too
            assert await found("ÄPFEL") == ["t-apples"]  # beyond ASCII: by the database's locale
        finally:
            await engine.dispose()
