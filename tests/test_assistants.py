"""Assistants and groups through a real `parlor serve` with a scripted upstream: an admin's groups (and the
tier a group gives), an assistant shared with a group (its owner sees everything, a member chats with it,
anyone else gets 404), a chat turn that uses its instructions, model and tools, `/v1` `assistant:<id>`,
and its documents: searched in its chats only, deleted with it, exported with its owner."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests import rag_corpus
from tests.client import ChatResult, auth, chat_body, post_chat
from tests.helpers.documents import ready
from tests.server import ParlorServer
from tests.upstream import Script, ScriptedToolCall, Upstream, last_user_text

TIERS = {"unlimited": {}, "basic": {"models": ["alpha"]}}


@dataclass
class World:
    server: ParlorServer
    upstream: Upstream
    group: dict[str, Any]
    users: dict[str, tuple[str, str]]  # name → (id, key): a and b in the group, c outside it

    @property
    def url(self) -> str:
        return self.server.url

    def key(self, name: str) -> str:
        return self.users[name][1]

    def call(self, method: str, path: str, who: str | None = None, **kw: Any) -> httpx.Response:
        token = self.server.admin_token if who is None else self.key(who)
        return httpx.request(method, self.url + path, headers=auth(token), timeout=30, **kw)


def provider(name: str, upstream: Upstream) -> dict[str, Any]:
    return {"name": name, "kind": "openai", "base_url": upstream.url, "model": f"{name}-model", "retries": 0,
            "read_timeout": 10, "breaker_threshold": 100_000}


@pytest.fixture(scope="module")
def world(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    process = ParlorServer(tmp_path_factory.mktemp("assistants"), [provider("alpha", upstream),
                                                                  provider("beta", upstream)],
                           PARLOR_TIERS=json.dumps(TIERS), PARLOR_KEY_CACHE_SECONDS="30").start()
    try:
        users = {name: process.new_user(f"{name}-{uuid.uuid4().hex[:6]}") for name in ("a", "b", "c")}
        created = httpx.post(f"{process.url}/api/admin/groups", headers=auth(process.admin_token), json={
            "name": "Team G", "members": [users["a"][0], users["b"][0]]})
        assert created.status_code == 201, created.text
        yield World(process, upstream, created.json(), users)
    finally:
        process.stop()


def code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def assistant(world: World, owner: str = "a", **fields: Any) -> dict[str, Any]:
    body = {"name": "Pirate", "description": "Talks like a pirate.", "instructions": "Speak like a pirate.",
            "starters": ["Ahoy?"], "avatar": "🏴", "color": "#aa3300", "visibility": "groups",
            "groups": [world.group["id"]], **fields}
    response = world.call("POST", "/api/assistants", owner, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def turn(world: World, who: str, thread_id: str, text: str, assistant_id: str | None = None) -> ChatResult:
    body = {**chat_body(thread_id, text), **({"assistant": assistant_id} if assistant_id else {})}
    return post_chat(world.url, world.key(who), body)


def asked(world: World, marker: str) -> dict[str, Any]:
    """The first request the upstream got for the message carrying `marker`."""
    return next(r for r in world.upstream.requests if marker in last_user_text(r))


def system_prompt(request: dict[str, Any]) -> str:
    return "\n".join(str(m["content"]) for m in request["messages"] if m["role"] == "system")


def test_admins_keep_groups_and_a_groups_tier_is_its_members_at_once(world: World) -> None:
    a_id, b_id = world.users["a"][0], world.users["b"][0]
    assert world.call("GET", "/api/admin/groups").json()["groups"] == [world.group]
    assert {m["id"] for m in world.group["members"]} == {a_id, b_id} and world.group["tier"] is None
    assert world.call("GET", "/api/me", "a").json()["groups"] == [{"id": world.group["id"], "name": "Team G"}]
    assert world.call("GET", "/api/me", "c").json()["groups"] == []
    assert code(world.call("POST", "/api/admin/groups", json={"name": "Team G"})) == "group_exists"
    assert code(world.call("POST", "/api/admin/groups", json={"name": "X", "tier": "gold"})) == "unknown_tier"
    assert code(world.call("POST", "/api/admin/groups", json={"name": "X", "members": ["nobody"]})) == "unknown_user"
    assert world.call("GET", "/api/admin/groups", "a").status_code == 403

    # a tiered group: its member's tier (and models) change with their next request, the key cache notwithstanding
    c_id = world.users["c"][0]
    assert world.call("GET", "/api/me", "c").json()["tier"] == "unlimited"  # cached from here on
    basic = world.call("POST", "/api/admin/groups", json={"name": "Basic", "tier": "basic", "members": [c_id]})
    assert basic.status_code == 201, basic.text
    assert world.call("GET", "/api/me", "c").json()["tier"] == "basic"
    assert [m["id"] for m in world.call("GET", "/api/models", "c").json()["models"]] == ["alpha"]
    # in several tiered groups: the first by name gives the tier
    first = world.call("POST", "/api/admin/groups", json={"name": "Aardvarks", "tier": "unlimited", "members": [c_id]})
    assert world.call("GET", "/api/me", "c").json()["tier"] == "unlimited"
    assert world.call("DELETE", f"/api/admin/groups/{first.json()['id']}").status_code == 204
    assert world.call("GET", "/api/me", "c").json()["tier"] == "basic"
    emptied = world.call("PATCH", f"/api/admin/groups/{basic.json()['id']}", json={"members": []})
    assert emptied.status_code == 200 and emptied.json()["members"] == []
    assert world.call("GET", "/api/me", "c").json()["tier"] == "unlimited"
    assert world.call("DELETE", f"/api/admin/groups/{basic.json()['id']}").status_code == 204
    assert world.call("DELETE", f"/api/admin/groups/{basic.json()['id']}").status_code == 404


def test_an_assistant_shared_with_a_group_is_seen_by_its_members_only(world: World) -> None:
    made = assistant(world, model="beta", tools=["calculator"], approval_tools=["calculator"])
    assert made["mine"] and made["instructions"] == "Speak like a pirate."
    assert made["owner"]["id"] == world.users["a"][0]
    assert made["groups"] == [{"id": world.group["id"], "name": "Team G"}] and made["documents"] == []
    seen = world.call("GET", f"/api/assistants/{made['id']}", "b").json()
    assert not seen["mine"] and seen["instructions"] is None and seen["name"] == "Pirate"
    assert seen["tools"] == ["calculator"] and seen["starters"] == ["Ahoy?"]
    assert made["id"] in [x["id"] for x in world.call("GET", "/api/assistants", "b").json()["assistants"]]
    assert made["id"] not in [x["id"] for x in world.call("GET", "/api/assistants", "c").json()["assistants"]]
    assert code(world.call("GET", f"/api/assistants/{made['id']}", "c")) == "assistant_not_found"
    assert code(world.call("PATCH", f"/api/assistants/{made['id']}", "c", json={"name": "Mine"})) == \
        "assistant_not_found"
    assert code(world.call("PATCH", f"/api/assistants/{made['id']}", "b", json={"name": "Mine"})) == \
        "not_assistant_owner"
    assert world.call("DELETE", f"/api/assistants/{made['id']}", "b").status_code == 403

    patched = world.call("PATCH", f"/api/assistants/{made['id']}", "a", json={"name": "Captain", "model": None})
    assert patched.status_code == 200 and patched.json()["name"] == "Captain" and patched.json()["model"] is None
    assert patched.json()["tools"] == ["calculator"]  # unchanged

    refused = {"unknown_model": {"model": "gamma"}, "unknown_tool": {"tools": ["teleport"]},
               "unknown_group": {"groups": ["not-a-group"]}}
    for expected, fields in refused.items():
        response = world.call("POST", "/api/assistants", "a", json={"name": "X", "visibility": "groups",
                                                                    "groups": [world.group["id"]], **fields})
        assert response.status_code == 422 and code(response) == expected, response.text
    for bad in ({"color": "red"}, {"avatar": "abc"}, {"starters": ["1", "2", "3", "4", "5"]}, {"name": " "}):
        assert world.call("POST", "/api/assistants", "a", json={"name": "X", **bad}).status_code == 422, bad
    tools = {t["name"]: t for t in world.call("GET", "/api/tools", "c").json()["tools"]}
    assert {"calculator", "search_knowledge_base"} <= set(tools)
    assert tools["calculator"]["kind"] == "builtin" and tools["calculator"]["description"]


def test_a_members_chat_uses_the_assistants_instructions_model_and_tools(world: World, marker: str) -> None:
    made = assistant(world, instructions=f"Answer as Captain {marker}.", model="beta", tools=["calculator"])
    thread_id = uuid.uuid4().hex
    result = turn(world, "b", thread_id, f"ahoy {marker}", made["id"])
    assert result.status == 200 and result.done, result.body
    request = asked(world, marker)
    prompt = system_prompt(request)
    assert f"Answer as Captain {marker}." in prompt
    assert request["model"] == "beta-model"
    assert [t["function"]["name"] for t in request.get("tools", [])] == ["calculator"]

    badge = {"id": made["id"], "name": "Pirate", "avatar": "🏴", "color": "#aa3300"}
    assert world.call("GET", f"/api/threads/{thread_id}", "b").json()["assistant"] == badge
    listed = world.call("GET", "/api/threads", "b").json()["threads"]
    assert next(t for t in listed if t["id"] == thread_id)["assistant"] == badge

    # the thread keeps its assistant: a later message naming none still gets its instructions
    again = f"{marker}-again"
    assert turn(world, "b", thread_id, f"and now {again}").status == 200
    assert f"Answer as Captain {marker}." in system_prompt(asked(world, again))

    refused = turn(world, "c", uuid.uuid4().hex, "hello", made["id"])
    assert refused.status == 422 and refused.body["error"]["code"] == "assistant_unavailable"
    # unshared: the member's chat stays readable, new messages are refused
    assert world.call("PATCH", f"/api/assistants/{made['id']}", "a", json={"visibility": "private"}).status_code == 200
    late = turn(world, "b", thread_id, "still there?")
    assert late.status == 422 and late.body["error"]["code"] == "assistant_unavailable"
    assert world.call("GET", f"/api/threads/{thread_id}", "b").status_code == 200


def test_v1_addresses_an_assistant_by_its_model_name(world: World, marker: str) -> None:
    made = assistant(world, instructions=f"You are Navigator {marker}.", model="beta")
    name = f"assistant:{made['id']}"
    assert name in [m["id"] for m in world.call("GET", "/v1/models", "b").json()["data"]]
    assert name not in [m["id"] for m in world.call("GET", "/v1/models", "c").json()["data"]]
    body = {"model": name, "messages": [{"role": "user", "content": f"where to {marker}"}]}
    answer = world.call("POST", "/v1/chat/completions", "b", json=body)
    assert answer.status_code == 200, answer.text
    request = asked(world, marker)
    assert request["model"] == "beta-model" and f"You are Navigator {marker}." in system_prompt(request)
    missing = world.call("POST", "/v1/chat/completions", "c", json=body)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    assert missing.json()["error"]["type"] == "not_found_error"


def _search(world: World, who: str, marker: str, assistant_id: str | None = None) -> dict[str, Any]:
    """A chat turn whose model searches the knowledge base; the tool's output."""
    world.upstream.push(Script(tool_calls=[ScriptedToolCall("search_knowledge_base", json.dumps(
        {"query": "parental leave weeks"}))]), match=marker)
    world.upstream.push(Script(text="Found it."), match=marker)
    result = turn(world, who, uuid.uuid4().hex, f"leave? {marker}", assistant_id)
    assert result.status == 200, result.body
    chunk = next(c for c in result.chunks if c["type"] in ("tool-output-available", "tool-output-error"))
    return chunk


def test_an_assistants_documents_are_searched_in_its_chats_only(world: World, marker: str) -> None:
    made = assistant(world, tools=["search_knowledge_base"])
    upload = world.call("POST", "/api/documents", "a", files={"file": ("benefits.md", rag_corpus.markdown(4, seed=77))},
                        data={"assistant_id": made["id"]})
    assert upload.status_code == 202, upload.text
    document = upload.json()
    assert document["assistant_id"] == made["id"]
    ready(world.server, world.key("a"), document["id"])
    stranger = world.call("POST", "/api/documents", "b", files={"file": ("x.md", b"# x\n\ny\n")},
                          data={"assistant_id": made["id"]})
    assert stranger.status_code == 404 and code(stranger) == "assistant_not_found"
    again = world.call("POST", "/api/documents", "a", files={"file": ("copy.md", rag_corpus.markdown(4, seed=77))})
    assert again.status_code == 409 and code(again) == "document_elsewhere"
    assert document["id"] not in [d["id"] for d in world.call("GET", "/api/documents", "a").json()["documents"]]
    assert world.call("GET", f"/api/assistants/{made['id']}", "b").json()["documents"] == [
        {"id": document["id"], "filename": "benefits.md", "status": "ready"}]

    found = _search(world, "b", f"{marker}-member", made["id"])  # a member, in a chat with it
    assert found["type"] == "tool-output-available", found
    assert {r["document"] for r in found["output"]["results"]} == {"benefits.md"}
    own = _search(world, "a", f"{marker}-owner")  # its owner, in a chat of their own: not theirs to search
    assert own["type"] == "tool-output-error" or own["output"]["results"] == [], own

    # through /v1, which runs no tools: the search's result comes with the call
    question = {"model": f"assistant:{made['id']}",
                "messages": [{"role": "user", "content": f"parental leave weeks {marker}-v1"}]}
    assert world.call("POST", "/v1/chat/completions", "b", json=question).status_code == 200
    sent = asked(world, f"{marker}-v1")["messages"]
    assert [m["role"] for m in sent[-3:]] == ["user", "assistant", "tool"] and "benefits.md" in str(sent[-1])

    exported = world.call("GET", "/api/account/export", "a").json()
    assert made["id"] in [x["id"] for x in exported["assistants"]]
    assert world.call("DELETE", f"/api/assistants/{made['id']}", "a").status_code == 204
    assert world.call("GET", f"/api/documents/{document['id']}", "a").status_code == 404
    assert code(world.call("GET", f"/api/assistants/{made['id']}", "a")) == "assistant_not_found"


def test_deleting_an_account_deletes_its_assistants(world: World) -> None:
    key = world.server.create_user(f"leaver-{uuid.uuid4().hex[:6]}")
    made = httpx.post(f"{world.url}/api/assistants", headers=auth(key), json={"name": "Mine", "visibility": "public"})
    assert made.status_code == 201 and made.json()["id"] in [
        x["id"] for x in world.call("GET", "/api/assistants", "c").json()["assistants"]]
    me = httpx.get(f"{world.url}/api/me", headers=auth(key)).json()
    gone = httpx.request("DELETE", f"{world.url}/api/account", headers=auth(key), json={"confirm": me["name"]})
    assert gone.status_code == 200 and gone.json()["rows"].get("assistants") == 1, gone.text
    assert made.json()["id"] not in [x["id"] for x in world.call("GET", "/api/assistants", "c").json()["assistants"]]
