"""Choosing a model, through a real `parlor serve` with two scripted upstreams: `GET /api/models` and
`GET /v1/models` list what the caller's tier may use; a chat turn's `model` picks the provider tried
first (the rest of the chain stays the fallback) and sticks to the thread; a model that does not exist
or that the tier may not use is refused before any call."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.client import auth, chat_body
from tests.conftest import RunningServer
from tests.server import ParlorServer
from tests.upstream import Script, Upstream, last_user_text

TIERS = {"unlimited": {}, "basic": {"models": ["alpha"]}, "tester": {}}
PRICES = {"beta": {"input": 1.25, "output": 10}}


@pytest.fixture(scope="module")
def upstreams() -> Iterator[tuple[Upstream, Upstream]]:
    with Upstream() as alpha, Upstream() as beta:
        yield alpha, beta


def provider(name: str, upstream: Upstream, **more: Any) -> dict[str, Any]:
    return {"name": name, "kind": "openai", "base_url": upstream.url, "model": f"{name}-model", "retries": 0,
            "read_timeout": 10, "breaker_threshold": 100_000, **more}


@pytest.fixture(scope="module")
def server(upstreams: tuple[Upstream, Upstream], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    alpha, beta = upstreams
    providers = [provider("alpha", alpha, label="Alpha", vision=True, context_window=32_000),
                 provider("beta", beta, label="Beta", reasoning=True)]
    process = ParlorServer(tmp_path_factory.mktemp("models"), providers, PARLOR_TIERS=json.dumps(TIERS),
                           PARLOR_PRICES=json.dumps(PRICES)).start()
    try:
        yield RunningServer(process, process.create_user("alice"))
    finally:
        process.stop()


def turn(server: RunningServer, key: str, thread_id: str, text: str, model: str | None = None) -> httpx.Response:
    body = {**chat_body(thread_id, text), **({"model": model} if model else {})}
    return httpx.post(f"{server.url}/api/chat", json=body, headers=auth(key), timeout=30)


def answered_by(upstreams: tuple[Upstream, Upstream], marker: str) -> list[str]:
    """Which upstreams were asked the message carrying `marker`, in order (alpha, beta)."""
    return [name for name, upstream in zip(("alpha", "beta"), upstreams, strict=True)
            if any(marker in last_user_text(r) for r in upstream.requests)]


def thread(server: RunningServer, key: str, thread_id: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{server.url}/api/threads/{thread_id}", headers=auth(key)).json()
    return found


def test_the_models_list_what_the_tier_may_use_and_v1_agrees(server: RunningServer) -> None:
    listed = httpx.get(f"{server.url}/api/models", headers=auth(server.api_key)).json()["models"]
    assert listed == [
        {"id": "alpha", "label": "Alpha", "kind": "openai", "model": "alpha-model",
         "capabilities": {"vision": True, "tools": True, "reasoning": False}, "context_window": 32_000,
         "price": None, "default": True},
        {"id": "beta", "label": "Beta", "kind": "openai", "model": "beta-model",
         "capabilities": {"vision": False, "tools": True, "reasoning": True}, "context_window": None,
         "price": {"input": 1.25, "output": 10.0}, "default": False},
    ]
    basic = server.process.create_user(f"basic-{uuid.uuid4().hex[:6]}", tier="basic")
    assert [m["id"] for m in httpx.get(f"{server.url}/api/models", headers=auth(basic)).json()["models"]] == ["alpha"]
    for key in (server.api_key, basic):
        ours = [m["id"] for m in httpx.get(f"{server.url}/api/models", headers=auth(key)).json()["models"]]
        openai = httpx.get(f"{server.url}/v1/models", headers=auth(key)).json()
        assert openai["object"] == "list" and [m["id"] for m in openai["data"]] == ours
        assert {m["object"] for m in openai["data"]} == {"model"}
    assert httpx.get(f"{server.url}/api/models").status_code == 401


def test_a_chosen_model_is_tried_first_and_sticks_to_the_thread(
        server: RunningServer, upstreams: tuple[Upstream, Upstream]) -> None:
    key, thread_id = server.user(), uuid.uuid4().hex
    first, second, third, fourth = (f"m{uuid.uuid4().hex[:10]}" for _ in range(4))

    assert turn(server, key, thread_id, f"hello {first}", model="beta").status_code == 200
    assert answered_by(upstreams, first) == ["beta"]
    assert turn(server, key, thread_id, f"again {second}").status_code == 200  # no model: the thread's
    assert answered_by(upstreams, second) == ["beta"]
    assert thread(server, key, thread_id)["model"] == "beta"
    listed = httpx.get(f"{server.url}/api/threads", headers=auth(key)).json()["threads"]
    assert [(t["id"], t["model"]) for t in listed] == [(thread_id, "beta")]

    assert turn(server, key, thread_id, f"switch {third}", model="alpha-model").status_code == 200  # by model id
    assert answered_by(upstreams, third) == ["alpha"]
    assert turn(server, key, thread_id, f"and now {fourth}").status_code == 200
    assert answered_by(upstreams, fourth) == ["alpha"]
    assert thread(server, key, thread_id)["model"] == "alpha"  # stored as the id the list gives


def test_a_thread_with_no_model_chosen_starts_at_the_default(
        server: RunningServer, upstreams: tuple[Upstream, Upstream], marker: str) -> None:
    key, thread_id = server.user(), uuid.uuid4().hex
    assert turn(server, key, thread_id, f"hi {marker}").status_code == 200
    assert answered_by(upstreams, marker) == ["alpha"]
    assert thread(server, key, thread_id)["model"] is None


def test_the_fallback_still_follows_when_the_chosen_model_fails(
        server: RunningServer, upstreams: tuple[Upstream, Upstream], marker: str) -> None:
    alpha, beta = upstreams
    beta.push(Script(status=503, error_message="overloaded"), match=marker)
    alpha.push(Script(text="Alpha stepped in."), match=marker)
    key, thread_id = server.user(), uuid.uuid4().hex
    answer = turn(server, key, thread_id, f"try beta {marker}", model="beta")
    assert answer.status_code == 200 and "Alpha stepped in." in "".join(
        json.loads(line[6:]).get("delta", "") for line in answer.text.splitlines() if line.startswith("data: {"))
    assert answered_by(upstreams, marker) == ["alpha", "beta"]  # beta asked (and failed) first, then alpha
    assert alpha.requests[-1]["model"] == "alpha-model"
    assert thread(server, key, thread_id)["model"] == "beta"  # still the user's choice for the next turn


def test_an_unknown_model_is_422_and_one_the_tier_may_not_use_is_403_before_any_call(
        server: RunningServer, upstreams: tuple[Upstream, Upstream], marker: str) -> None:
    key, thread_id = server.user(), uuid.uuid4().hex
    unknown = turn(server, key, thread_id, f"hello {marker}", model="gpt-9")
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_model"
    assert "gpt-9" in unknown.json()["error"]["message"]
    basic = server.process.create_user(f"basic-{uuid.uuid4().hex[:6]}", tier="basic")
    refused = turn(server, basic, uuid.uuid4().hex, f"hello {marker}", model="beta")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "model_not_allowed"
    assert answered_by(upstreams, marker) == []  # no model was called
    assert httpx.get(f"{server.url}/api/threads/{thread_id}", headers=auth(key)).status_code == 404  # none made
    too_long = turn(server, key, thread_id, "hello", model="x" * 201)
    assert too_long.status_code == 422


def test_v1_keeps_its_model_field(server: RunningServer, upstreams: tuple[Upstream, Upstream], marker: str) -> None:
    """On /v1 `model` is still a provider's name or model and picks where the chain starts."""
    body = {"model": "beta", "messages": [{"role": "user", "content": f"hi {marker}"}]}
    answer = httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=auth(server.api_key), timeout=30)
    assert answer.status_code == 200 and answered_by(upstreams, marker) == ["beta"]
    missing = httpx.post(f"{server.url}/v1/chat/completions", json={**body, "model": "gpt-9"},
                         headers=auth(server.api_key), timeout=30)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_a_choice_wins_over_an_experiments_provider(
        server: RunningServer, upstreams: tuple[Upstream, Upstream], marker: str) -> None:
    admin = auth(server.process.admin_token)
    experiment = f"{server.url}/api/admin/experiments/try-beta-{marker}"
    variant = {"name": "beta-first", "provider": "beta"}
    assert httpx.put(experiment, json={"audience": ["tester"], "variants": [variant]}, headers=admin).status_code == 201
    try:
        key = server.process.create_user(f"tester-{marker}", tier="tester")
        assert turn(server, key, uuid.uuid4().hex, f"as usual {marker}").status_code == 200
        assert answered_by(upstreams, f"as usual {marker}") == ["beta"]  # the variant's provider
        chosen = uuid.uuid4().hex
        assert turn(server, key, chosen, f"chosen {marker}", model="alpha").status_code == 200
        assert turn(server, key, chosen, f"and later {marker}").status_code == 200
        assert answered_by(upstreams, f"chosen {marker}") == ["alpha"]
        assert answered_by(upstreams, f"and later {marker}") == ["alpha"]
    finally:
        httpx.delete(experiment, headers=admin)
