"""Share links and export of one chat over a real `parlor serve`: a link opens, with no key, the chat as
it was when shared (frozen), shows nothing that names the user, the thread or anything else, serves only
the files its snapshot shows, and stops working once revoked; nobody else can share, list or export the
owner's chat; the export downloads Markdown or JSON."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.client import auth, chat, chat_body, post_chat
from tests.conftest import upstream_provider
from tests.helpers.images import file_part, image_bytes
from tests.server import ParlorServer
from tests.upstream import Script, ScriptedToolCall, Upstream


@pytest.fixture(scope="module")
def parlor(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    seeing = {**upstream_provider(upstream), "vision": True}
    process = ParlorServer(tmp_path_factory.mktemp("shares"), [seeing]).start()
    try:
        yield process
    finally:
        process.stop()


def with_image(url: str, key: str, thread: str, text: str) -> None:
    message = {"id": uuid.uuid4().hex, "role": "user",
               "parts": [{"type": "text", "text": text}, file_part(image_bytes(), "image/png", "cat.png")]}
    assert post_chat(url, key, {"id": thread, "messages": [message]}).done


def thread_of(url: str, key: str, thread: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/api/threads/{thread}", headers=auth(key))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def share(url: str, key: str, thread: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.post(f"{url}/api/threads/{thread}/shares", json=body or {}, headers=auth(key))


def test_a_link_shows_the_chat_as_it_was_to_anyone_and_leaks_nothing(parlor: ParlorServer, upstream: Upstream) -> None:
    user_id, key = parlor.new_user(f"sharer-{uuid.uuid4().hex[:6]}")
    thread, marker = f"share-{uuid.uuid4().hex[:10]}", uuid.uuid4().hex[:8]
    upstream.push(Script(tool_calls=[ScriptedToolCall("calculator", json.dumps({"expression": "6*7"}))]),
                  match=f"sum {marker}")
    upstream.push(Script(text=f"It is 42, {marker}."), match=f"sum {marker}")
    with_image(parlor.url, key, thread, f"sum {marker}")
    other_thread = f"private-{uuid.uuid4().hex[:10]}"
    assert chat(parlor.url, key, other_thread, "a secret in another chat").done

    made = share(parlor.url, key, thread)
    assert made.status_code == 201, made.text
    link = made.json()
    assert link["url"] == f"/s/{link['token']}" and len(link["token"]) >= 22  # ≥128 bits, URL-safe

    opened = httpx.get(f"{parlor.url}/api/shared/{link['token']}")  # no key
    assert opened.status_code == 200 and opened.headers["cache-control"] == "no-store"
    shared = opened.json()
    assert set(shared) == {"title", "created_at", "messages"} and shared["title"] == f"sum {marker}"
    assert [m["role"] for m in shared["messages"]] == ["user", "assistant"]
    answer = shared["messages"][1]
    assert any(p["type"] == "text" and "It is 42" in p["text"] for p in answer["parts"])
    tool = next(p for p in answer["parts"] if p["type"] == "tool-calculator")
    assert tool["input"] == {"expression": "6*7"} and tool["state"] == "output-available"
    for message in shared["messages"]:
        assert set(message["metadata"]) <= {"createdAt", "status"}

    owner_view = thread_of(parlor.url, key, thread)
    raw = opened.text
    leaks = [user_id, thread, other_thread, "a secret in another chat", "sharer-", "tokens_in", "requestId",
             *(m["id"] for m in owner_view["messages"])]
    assert not [leak for leak in leaks if leak in raw], raw

    image = next(p for p in shared["messages"][0]["parts"] if p["type"] == "file")
    assert image["url"].startswith(f"/api/shared/{link['token']}/files/") and image["filename"] == "cat.png"
    got = httpx.get(parlor.url + image["url"])
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert got.content.startswith(b"\x89PNG")

    # a later message, and an edit that replaces the shared question and its answer, leave the snapshot be
    assert chat(parlor.url, key, thread, f"after the link {marker}").done
    first = owner_view["messages"][0]["id"]
    edited = post_chat(parlor.url, key, {**chat_body(thread, "edited away", first), "messageId": first})
    now = str(thread_of(parlor.url, key, thread)["messages"])
    assert edited.done and "edited away" in now and f"sum {marker}" not in now
    assert httpx.get(f"{parlor.url}/api/shared/{link['token']}").json() == shared


def test_the_file_route_serves_only_what_the_snapshot_shows(parlor: ParlorServer) -> None:
    key = parlor.create_user(f"files-{uuid.uuid4().hex[:6]}")
    thread = f"files-{uuid.uuid4().hex[:10]}"
    with_image(parlor.url, key, thread, "first picture")
    first = thread_of(parlor.url, key, thread)["messages"]
    link = share(parlor.url, key, thread).json()
    with_image(parlor.url, key, thread, "second picture, after the link")
    later = thread_of(parlor.url, key, thread)["messages"]
    names = [p["url"].rsplit("/", 1)[1] for m in later for p in m["parts"] if p["type"] == "file"]
    shown = {p["url"].rsplit("/", 1)[1] for m in first for p in m["parts"] if p["type"] == "file"}
    (unshown,) = [n for n in names if n not in shown]

    base = f"{parlor.url}/api/shared/{link['token']}/files"
    assert httpx.get(f"{base}/{next(iter(shown))}").status_code == 200
    refused = httpx.get(f"{base}/{unshown}")  # the thread's own file, but not in the snapshot
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "file_not_found"
    assert httpx.get(f"{base}/0123456789abcdef.png").status_code == 404


def test_revoked_links_and_guessed_tokens_open_nothing(parlor: ParlorServer) -> None:
    key = parlor.create_user(f"revoker-{uuid.uuid4().hex[:6]}")
    thread = f"revoke-{uuid.uuid4().hex[:10]}"
    first = chat(parlor.url, key, thread, "first question")
    assert first.done and chat(parlor.url, key, thread, "second question").done
    messages = thread_of(parlor.url, key, thread)["messages"]
    early = share(parlor.url, key, thread, {"message_id": messages[1]["id"]}).json()
    late = share(parlor.url, key, thread).json()
    assert early["through_message_id"] == messages[1]["id"] and late["through_message_id"] == messages[-1]["id"]
    opened = httpx.get(f"{parlor.url}/api/shared/{early['token']}")
    assert len(opened.json()["messages"]) == 2 and '"shared";q=120' in opened.headers["ratelimit-policy"]

    listed = httpx.get(f"{parlor.url}/api/threads/{thread}/shares", headers=auth(key)).json()["shares"]
    assert [s["id"] for s in listed] == [late["id"], early["id"]] and "token" not in listed[0]
    assert httpx.delete(f"{parlor.url}/api/shares/{early['id']}", headers=auth(key)).status_code == 204
    gone = httpx.get(f"{parlor.url}/api/shared/{early['token']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "share_not_found"
    assert httpx.get(f"{parlor.url}/api/shared/{late['token']}").status_code == 200  # the other still works
    listed = httpx.get(f"{parlor.url}/api/threads/{thread}/shares", headers=auth(key)).json()["shares"]
    assert [s["id"] for s in listed] == [late["id"]]
    assert httpx.delete(f"{parlor.url}/api/shares/{early['id']}", headers=auth(key)).status_code == 404

    guessed = httpx.get(f"{parlor.url}/api/shared/{'A' * 32}")
    assert guessed.status_code == 404 and guessed.json()["error"]["code"] == "share_not_found"
    missing = share(parlor.url, key, thread, {"message_id": "no-such-message"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "message_not_found"

    assert httpx.delete(f"{parlor.url}/api/threads/{thread}", headers=auth(key)).status_code == 204
    assert httpx.get(f"{parlor.url}/api/shared/{late['token']}").status_code == 404  # the links go with it


def test_nobody_else_can_share_list_revoke_or_export_the_chat(parlor: ParlorServer) -> None:
    owner, stranger = (parlor.create_user(f"{who}-{uuid.uuid4().hex[:6]}") for who in ("owner", "stranger"))
    thread = f"mine-{uuid.uuid4().hex[:10]}"
    assert chat(parlor.url, owner, thread, "mine only").done
    link = share(parlor.url, owner, thread).json()
    assert share(parlor.url, stranger, thread).status_code == 404
    assert httpx.get(f"{parlor.url}/api/threads/{thread}/shares", headers=auth(stranger)).status_code == 404
    assert httpx.delete(f"{parlor.url}/api/shares/{link['id']}", headers=auth(stranger)).status_code == 404
    assert httpx.get(f"{parlor.url}/api/threads/{thread}/export", headers=auth(stranger)).status_code == 404
    assert httpx.get(f"{parlor.url}/api/shared/{link['token']}").status_code == 200  # not revoked by them
    assert httpx.post(f"{parlor.url}/api/threads/{thread}/shares", json={}).status_code == 401


def test_export_as_markdown_and_json(parlor: ParlorServer, upstream: Upstream) -> None:
    key = parlor.create_user(f"exporter-{uuid.uuid4().hex[:6]}")
    thread, marker = f"export-{uuid.uuid4().hex[:10]}", uuid.uuid4().hex[:8]
    upstream.push(Script(tool_calls=[ScriptedToolCall("calculator", json.dumps({"expression": "6*7"}))]),
                  match=f"Trip: {marker}")
    upstream.push(Script(text=f"**Answer** {marker}"), match=f"Trip: {marker}")
    with_image(parlor.url, key, thread, f"Trip: {marker} / plans?")
    url = f"{parlor.url}/api/threads/{thread}/export"

    markdown = httpx.get(url, params={"format": "markdown"}, headers=auth(key))
    assert markdown.status_code == 200 and markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.headers["content-disposition"] == f'attachment; filename="Trip-{marker}-plans.md"'
    text = markdown.text
    assert text.startswith(f"# Trip: {marker} / plans?\n") and "## You" in text and "## Parlor" in text
    assert f"**Answer** {marker}" in text and "> Tool `calculator`(`{\"expression\":\"6*7\"}`): returned" in text
    assert f"![cat.png](/api/files/{thread}/" in text

    exported = httpx.get(url, params={"format": "json"}, headers=auth(key))
    assert exported.headers["content-disposition"].endswith('.json"')
    body = orjson.loads(exported.content)
    as_api = thread_of(parlor.url, key, thread)
    assert body["id"] == thread and [m["id"] for m in body["messages"]] == [m["id"] for m in as_api["messages"]]
    assert body["messages"][1]["parts"] == as_api["messages"][1]["parts"]

    wrong = httpx.get(url, params={"format": "pdf"}, headers=auth(key))
    assert wrong.status_code == 422


def test_guessing_tokens_is_cut_off_by_address(parlor: ParlorServer) -> None:
    """Last in the module: it spends this address's invalid-credential allowance (30 a minute)."""
    key = parlor.create_user(f"guessed-{uuid.uuid4().hex[:6]}")
    thread = f"guessed-{uuid.uuid4().hex[:10]}"
    assert chat(parlor.url, key, thread, "worth guessing").done
    real = share(parlor.url, key, thread).json()["token"]
    statuses = []
    with httpx.Client(base_url=parlor.url) as client:
        for _ in range(40):
            answer = client.get(f"/api/shared/{uuid.uuid4().hex[:32]}")
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                break
    assert statuses[0] == 404 and statuses[-1] == 429 and len(statuses) <= 31, statuses
    assert answer.json()["error"]["code"] == "rate_limited" and int(answer.headers["retry-after"]) >= 1
    assert httpx.get(f"{parlor.url}/api/shared/{real}").status_code == 200  # a real link still opens
