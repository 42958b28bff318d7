"""Custom instructions, the memory manager and what a user spends, through a real server: the
instructions reach the upstream's system prompt within their bound, a memory is edited and listed with
its thread, the `remember` result carries the memory's id (and nothing else new), and the usage JSON
says how many requests are left."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from parlor.config import SettingsError, load_settings
from tests.client import auth, chat
from tests.conftest import upstream_provider
from tests.server import ParlorServer
from tests.upstream import Script, ScriptedToolCall, Upstream, last_user_text

TIERS = {"metered": {"requests_per_minute": 5, "requests_per_hour": 50, "tokens_per_day": 100_000}}


@pytest.fixture(scope="module")
def mind(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    process = ParlorServer(tmp_path_factory.mktemp("mind"), [upstream_provider(upstream)],
                           PARLOR_INSTRUCTION_TOKENS="60", PARLOR_TOKEN_COUNTER="cl100k_base",
                           PARLOR_TIERS=json.dumps(TIERS), PARLOR_DEFAULT_TIER="metered").start()
    try:
        yield process
    finally:
        process.stop()


def request_for(upstream: Upstream, text: str) -> dict[str, Any]:
    found = [r for r in upstream.requests if last_user_text(r) == text]
    assert len(found) == 1, f"{len(found)} requests for {text!r}"
    return found[0]


def test_instructions_reach_the_system_prompt_within_their_bound(
        mind: ParlorServer, upstream: Upstream, marker: str) -> None:
    url, key = mind.url, mind.create_user(f"instr-{marker}")
    assert httpx.get(f"{url}/api/me/instructions", headers=auth(key)).json() == {
        "about": "", "style": "", "tokens": 0, "max_tokens": 60, "max_chars": 1500, "updated_at": None}
    saved = httpx.put(f"{url}/api/me/instructions", headers=auth(key),
                      json={"about": "  I am a beekeeper in Porto. ", "style": "Answer in two sentences at most."})
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["about"] == "I am a beekeeper in Porto." and 10 < body["tokens"] <= 60
    assert httpx.get(f"{url}/api/me/instructions", headers=auth(key)).json() == body

    text = f"hello {marker}"
    assert chat(url, key, uuid.uuid4().hex, text).status == 200
    system = request_for(upstream, text)["messages"][0]
    assert system["role"] == "system"
    assert "<about_the_user>\nI am a beekeeper in Porto.\n</about_the_user>" in system["content"]
    assert "<how_to_answer>\nAnswer in two sentences at most.\n</how_to_answer>" in system["content"]
    other = mind.create_user(f"other-{marker}")  # another user's prompt has none of it
    assert chat(url, other, uuid.uuid4().hex, f"hi {marker}").status == 200
    assert "beekeeper" not in json.dumps(request_for(upstream, f"hi {marker}")["messages"])

    too_long = httpx.put(f"{url}/api/me/instructions", headers=auth(key), json={"about": "bees and honey " * 30})
    assert too_long.status_code == 422
    error = too_long.json()["error"]
    assert error["code"] == "instructions_too_long" and "at most 60" in error["message"]
    assert httpx.put(f"{url}/api/me/instructions", headers=auth(key),
                     json={"about": "x" * 1501}).status_code == 422  # each text's own limit
    assert httpx.get(f"{url}/api/me/instructions", headers=auth(key)).json()["about"] == body["about"]  # kept

    exported = httpx.get(f"{url}/api/account/export", headers=auth(key)).json()
    assert [r["about"] for r in exported["user_instructions"]] == [body["about"]]
    cleared = httpx.put(f"{url}/api/me/instructions", headers=auth(key), json={"about": "", "style": " "})
    assert cleared.json()["tokens"] == 0
    assert chat(url, key, uuid.uuid4().hex, f"again {marker}").status == 200
    assert "about_the_user" not in request_for(upstream, f"again {marker}")["messages"][0]["content"]


def test_a_bad_instruction_bound_is_a_clear_config_error() -> None:
    with pytest.raises(SettingsError, match=r"^invalid setting PARLOR_INSTRUCTION_TOKENS: "):
        load_settings(instruction_tokens="lots")
    with pytest.raises(SettingsError, match="PARLOR_INSTRUCTION_TOKENS: 4000 leaves no room"):
        load_settings(instruction_tokens=4000, context_tokens=4096)


def test_a_memory_is_edited_listed_with_its_thread_and_undone(
        mind: ParlorServer, upstream: Upstream, marker: str) -> None:
    url, key = mind.url, mind.create_user(f"mem-{marker}")
    thread = uuid.uuid4().hex
    upstream.push(Script(tool_calls=[ScriptedToolCall("remember", json.dumps({"fact": "Their name is Zorblat."}))]),
                  match=f"name {marker}")
    upstream.push(Script(text="Nice to meet you, Zorblat."), match=f"name {marker}")
    result = chat(url, key, thread, f"My name is Zorblat. name {marker}")
    assert result.status == 200
    output = next(c["output"] for c in result.chunks if c.get("type") == "tool-output-available")
    memory_id = output["client"]["memory_id"]
    assert output == {"saved": "Their name is Zorblat.", "new": True, "client": {"memory_id": memory_id}}
    # what the model read back: the fact, never the id (the 0.5B model echoed it into an answer)
    tool_reply = next(m for m in upstream.requests[-1]["messages"] if m["role"] == "tool")
    fenced = tool_reply["content"]  # a remote model gets it fenced as data (parlor/llm/fence.py)
    assert json.loads(fenced[fenced.index("{"):fenced.rindex("}") + 1]) == {"saved": "Their name is Zorblat.",
                                                                           "new": True}
    assert memory_id not in json.dumps(upstream.requests[-1])

    listed = httpx.get(f"{url}/api/memories", headers=auth(key)).json()["memories"]
    assert [(m["id"], m["thread"]["id"]) for m in listed] == [(memory_id, thread)]
    assert listed[0]["thread"]["title"]
    added = httpx.post(f"{url}/api/memories", headers=auth(key), json={"text": "Likes tea."}).json()
    assert added["thread"] is None

    edited = httpx.patch(f"{url}/api/memories/{memory_id}", headers=auth(key),
                         json={"text": "  Their name is   Zorblat the Great. "})
    assert edited.status_code == 200, edited.text
    assert edited.json()["text"] == "Their name is Zorblat the Great." and edited.json()["thread"]["id"] == thread
    assert edited.json()["tokens"] > listed[0]["tokens"]  # recounted
    same = httpx.patch(f"{url}/api/memories/{added['id']}", headers=auth(key),
                       json={"text": "Their name is Zorblat the Great."})
    assert same.status_code == 409 and same.json()["error"]["code"] == "memory_exists"
    other = mind.create_user(f"nosy-{marker}")
    assert httpx.patch(f"{url}/api/memories/{added['id']}", headers=auth(other),
                       json={"text": "Hacked."}).status_code == 404
    assert httpx.patch(f"{url}/api/memories/{added['id']}", headers=auth(key), json={"text": " "}).status_code == 422

    assert chat(url, key, uuid.uuid4().hex, f"who am I {marker}").status == 200
    assert "Zorblat the Great." in request_for(upstream, f"who am I {marker}")["messages"][0]["content"]
    assert httpx.delete(f"{url}/api/threads/{thread}", headers=auth(key)).status_code == 204
    listed = httpx.get(f"{url}/api/memories", headers=auth(key)).json()["memories"]
    assert {m["text"]: m["thread"] for m in listed} == {"Their name is Zorblat the Great.": None, "Likes tea.": None}
    assert httpx.delete(f"{url}/api/memories/{memory_id}", headers=auth(key)).status_code == 204  # undo


def test_usage_says_the_requests_left(mind: ParlorServer, marker: str) -> None:
    url, key = mind.url, mind.create_user(f"spend-{marker}")
    before = httpx.get(f"{url}/api/usage", headers=auth(key)).json()
    assert before["requests_left"] == {"minute": 5, "hour": 50}
    assert before["budget"]["tokens_per_day"] == 100_000 and before["budget"]["used_today"] == 0
    assert chat(url, key, uuid.uuid4().hex, f"spend {marker}").status == 200
    after = httpx.get(f"{url}/api/usage?days=30", headers=auth(key)).json()
    assert after["requests_left"] == {"minute": 4, "hour": 49}  # the turn counted; the usage reads did not
    assert after["budget"]["used_today"] > 0 and sum(d["tokens_in"] + d["tokens_out"] for d in after["days"]) > 0


def test_instructions_are_deleted_with_the_account(mind: ParlorServer, marker: str) -> None:
    name = f"gone-{marker}"
    key = mind.create_user(name)
    assert httpx.put(f"{mind.url}/api/me/instructions", headers=auth(key),
                     json={"about": "Temporary."}).status_code == 200
    deleted = httpx.request("DELETE", f"{mind.url}/api/account", headers=auth(key), json={"confirm": name})
    assert deleted.status_code == 200 and deleted.json()["rows"]["user_instructions"] == 1
    assert httpx.get(f"{mind.url}/api/me/instructions", headers=auth(key)).status_code == 401
