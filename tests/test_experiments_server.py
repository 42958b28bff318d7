"""Experiments over a real server: the admin API validates and stores them, a change reaches every
replica without a restart, the variant's overrides reach the provider (asserted on what the scripted
upstream received), a thread keeps its variant, and the arm is in the run record, the usage row and
the metrics."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from parlor.config import ExperimentConfig
from parlor.experiments import pick
from tests.client import auth, chat, chat_body
from tests.conftest import upstream_provider
from tests.helpers.runs import run_record
from tests.server import ParlorServer
from tests.upstream import Script, Upstream, last_user_text


@pytest.fixture(scope="module")
def replicas(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ParlorServer]]:
    """Two replicas on one database, each with its own copy of the experiments (refreshed every 0.3 s)."""
    data = tmp_path_factory.mktemp("experiments")
    providers = [upstream_provider(upstream), {**upstream_provider(upstream, "up-b"), "model": "model-b"}]
    env = {"PARLOR_EXPERIMENTS_REFRESH_SECONDS": "0.3", "PARLOR_DATABASE_URL": f"sqlite+aiosqlite:///{data}/p.db"}
    servers = [ParlorServer(data / f"r{i}", providers, **env).start(timeout=120) for i in range(2)]  # a busy CI box
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def server(replicas: list[ParlorServer]) -> ParlorServer:
    return replicas[0]


def admin(server: ParlorServer) -> dict[str, str]:
    return auth(server.admin_token)


def put(server: ParlorServer, name: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.put(f"{server.url}/api/admin/experiments/{name}", json=body, headers=admin(server), timeout=10)


def received(upstream: Upstream, marker: str) -> list[dict[str, Any]]:
    return [r for r in upstream.requests if marker in last_user_text(r)]


def system_prompt(request: dict[str, Any]) -> str | None:
    """The system prompt's own first paragraph (Parlor appends its notes after it)."""
    first = request["messages"][0]
    return str(first["content"]).split("\n\n")[0] if first["role"] == "system" else None


def user(server: ParlorServer, tier: str | None = None) -> tuple[str, str]:
    key = server.create_user(f"x-{uuid.uuid4().hex[:8]}", tier)
    user_id = httpx.get(f"{server.url}/api/me", headers=auth(key)).json()["id"]
    return key, user_id


def test_the_admin_api_stores_validates_and_deletes(server: ParlorServer) -> None:
    name = f"e-{uuid.uuid4().hex[:6]}"
    body = {"traffic": 0.2, "audience": ["free"], "variants": [{"name": "a", "system_prompt": "A"},
                                                              {"name": "b", "weight": 3, "provider": "up-b"}]}
    created = put(server, name, body)
    assert created.status_code == 201, created.text
    assert created.json()["variants"][1] == {**created.json()["variants"][1], "name": "b", "weight": 3}
    assert put(server, name, {**body, "enabled": False}).status_code == 200
    got = httpx.get(f"{server.url}/api/admin/experiments/{name}", headers=admin(server)).json()
    assert got["enabled"] is False and got["traffic"] == 0.2 and got["audience"] == ["free"]
    listed = httpx.get(f"{server.url}/api/admin/experiments", headers=admin(server)).json()["experiments"]
    assert name in [e["name"] for e in listed]

    bad: dict[str, dict[str, Any]] = {
        "weights": {"variants": [{"name": "a", "weight": 0}, {"name": "b", "weight": 0}]},
        "negative": {"variants": [{"name": "a", "weight": -1}]},
        "provider": {"variants": [{"name": "a", "provider": "nope"}]},
        "tool": {"variants": [{"name": "a", "tools": ["calculator", "rm_rf"]}]},
        "tier": {"audience": ["gold"], "variants": [{"name": "a"}]},
        "twins": {"variants": [{"name": "a"}, {"name": "a"}]},
        "many": {"variants": [{"name": f"v{i}"} for i in range(21)]},
        "huge prompt": {"variants": [{"name": "a", "system_prompt": "x" * 20_001}]},
        "traffic": {"traffic": 1.5, "variants": [{"name": "a"}]},
        "tiny budget": {"variants": [{"name": "a", "context_tokens": 300}]},
        "unknown field": {"variants": [{"name": "a", "prompt": "typo"}]},
        "renamed": {"name": "other", "variants": [{"name": "a"}]},
    }
    for why, invalid in bad.items():
        response = put(server, name, invalid)
        assert response.status_code == 422, why
        assert response.json()["error"]["code"] == "invalid_experiment", why
    assert httpx.get(f"{server.url}/api/admin/experiments/{name}", headers=admin(server)).json()["enabled"] is False

    key, _ = user(server)
    assert httpx.put(f"{server.url}/api/admin/experiments/{name}", json=body, headers=auth(key)).status_code == 403
    assert httpx.get(f"{server.url}/api/admin/experiments/{name}/results", headers=auth(key)).status_code == 403
    assert httpx.delete(f"{server.url}/api/admin/experiments/{name}", headers=admin(server)).status_code == 204
    missing = httpx.delete(f"{server.url}/api/admin/experiments/{name}", headers=admin(server))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "experiment_not_found"


def test_the_overrides_reach_the_provider(server: ParlorServer, upstream: Upstream, marker: str) -> None:
    key, _ = user(server, "pro")
    name = f"ov-{marker}"
    prompt = f"You are variant B of {marker}."
    assert put(server, name, {"audience": ["pro"], "variants": [{
        "name": "b", "system_prompt": prompt, "provider": "up-b", "temperature": 0.3, "tools": ["calculator"],
        "context_tokens": 1500}]}).status_code == 201
    try:
        long = " ".join(["word"] * 4000)  # ~4000 tokens: whole in the usual 8192, cut short in 1500
        result = chat(server.url, key, uuid.uuid4().hex, f"{marker} {long}")
        assert result.status == 200 and result.done
        [sent] = received(upstream, marker)
        assert sent["model"] == "model-b"
        assert system_prompt(sent) == prompt
        assert sent["temperature"] == 0.3
        assert [t["function"]["name"] for t in sent["tools"]] == ["calculator"]
        assert "cut short" in sent["messages"][-1]["content"]
        assert len(sent["messages"][-1]["content"]) < len(long) // 2

        run = run_record(server, result.headers["x-request-id"])
        assert (run["experiment"], run["variant"], run["trigger"], run["provider"]) == (name, "b", "submit", "up-b")
        with sqlite3.connect(Path(server.env["PARLOR_DATABASE_URL"].split("///")[1])) as db:
            usage = db.execute("SELECT experiment, variant FROM usage WHERE request_id = ?",
                               (result.headers["x-request-id"],)).fetchall()
        assert usage == [(name, "b")]
        metrics = httpx.get(f"{server.url}/metrics").text
        assert f'parlor_experiment_turns_total{{experiment="{name}",status="complete",variant="b"}}' in metrics
    finally:
        httpx.delete(f"{server.url}/api/admin/experiments/{name}", headers=admin(server))

    other, _ = user(server, "free")  # not in the audience: as usual, labelled "none"
    chat(server.url, other, uuid.uuid4().hex, f"free {marker}")
    [plain] = [r for r in received(upstream, marker) if f"free {marker}" in last_user_text(r)]
    assert plain["model"] == "test-model" and system_prompt(plain) != prompt and "temperature" not in plain
    assert 'parlor_experiment_turns_total{experiment="none",status="complete",variant="none"}' in \
        httpx.get(f"{server.url}/metrics").text


def test_a_thread_keeps_its_variant_when_the_weights_change(replicas: list[ParlorServer], upstream: Upstream,
                                                            marker: str) -> None:
    server, other = replicas
    key, _ = user(server)
    name = f"sticky-{marker}"
    variants = [{"name": "a", "system_prompt": f"A {marker}"}, {"name": "b", "system_prompt": f"B {marker}"}]
    put(server, name, {"variants": [{**variants[0], "weight": 1}, {**variants[1], "weight": 0}]})
    try:
        thread = uuid.uuid4().hex
        chat(server.url, key, thread, f"one {marker}")
        put(server, name, {"variants": [{**variants[0], "weight": 0}, {**variants[1], "weight": 1}]})
        chat(server.url, key, thread, f"two {marker}")  # this replica's copy changed at once
        chat(server.url, key, uuid.uuid4().hex, f"new {marker}")
        prompts = {last_user_text(r).split()[0]: system_prompt(r) for r in received(upstream, marker)}
        assert prompts == {"one": f"A {marker}", "two": f"A {marker}", "new": f"B {marker}"}

        # the other replica picks the change up within its refresh interval, with no restart
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chat(other.url, key, uuid.uuid4().hex, f"elsewhere {marker}")
            if system_prompt(received(upstream, marker)[-1]) == f"B {marker}":
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the other replica never saw the new weights")
        chat(other.url, key, thread, f"three {marker}")  # and the thread's variant holds there too
        assert system_prompt(received(upstream, marker)[-1]) == f"A {marker}"

        put(server, name, {"enabled": False, "variants": variants})
        chat(server.url, key, thread, f"off {marker}")
        assert system_prompt(received(upstream, marker)[-1]) not in (f"A {marker}", f"B {marker}")
    finally:
        httpx.delete(f"{server.url}/api/admin/experiments/{name}", headers=admin(server))


def test_the_server_assigns_as_the_hash_says_across_restarts(replicas: list[ParlorServer], upstream: Upstream,
                                                             marker: str) -> None:
    server = replicas[0]
    name = f"hash-{marker}"
    body = {"traffic": 0.6, "variants": [{"name": "a", "system_prompt": f"A {marker}"},
                                         {"name": "b", "weight": 2, "system_prompt": f"B {marker}"}]}
    put(server, name, body)
    config = ExperimentConfig.model_validate({**body, "name": name})
    people = [user(server) for _ in range(8)]

    def seen() -> list[str | None]:
        arms = []
        for key, _ in people:
            word = uuid.uuid4().hex[:8]
            chat(server.url, key, uuid.uuid4().hex, f"{word} {marker}")
            [sent] = [r for r in received(upstream, marker) if word in last_user_text(r)]
            prompt = system_prompt(sent) or ""
            arms.append(prompt[0].lower() if prompt.startswith((f"A {marker}", f"B {marker}")) else None)
        return arms

    try:
        expected = [(v.name if (v := pick(config, user_id, "unlimited")) else None) for _, user_id in people]
        assert seen() == expected
        server.stop()
        server.start(timeout=120)
        assert seen() == expected
    finally:
        httpx.delete(f"{server.url}/api/admin/experiments/{name}", headers=admin(server))


def test_results_count_feedback_regenerations_and_stops(server: ParlorServer, upstream: Upstream,
                                                        marker: str) -> None:
    name = f"res-{marker}"
    put(server, name, {"variants": [{"name": "a"}, {"name": "b", "weight": 0}]})
    key, _ = user(server)
    try:
        thread = uuid.uuid4().hex
        first = chat(server.url, key, thread, f"q {marker}").message_id
        assert rate(server, key, first, "down").status_code == 200
        second = chat(server.url, key, thread, f"q {marker}", trigger="regenerate-message").message_id
        assert second != first and rate(server, key, second, "up").status_code == 200

        stopped = uuid.uuid4().hex
        upstream.push(Script(tokens=[f" w{i}" for i in range(200)], token_delay=0.05), match=f"long {marker}")
        with httpx.Client(base_url=server.url, headers=auth(key), timeout=30) as client, client.stream(
                "POST", "/api/chat", json=chat_body(stopped, f"long {marker}")) as response:
            lines = response.iter_lines()
            while '"text-delta"' not in next(lines):
                pass
            assert client.post(f"/api/chat/{stopped}/stop").status_code == 204
            list(lines)

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # run records are written just after each turn
            body = httpx.get(f"{server.url}/api/admin/experiments/{name}/results", headers=admin(server)).json()
            if body["variants"][0]["turns"] == 3:
                break
            time.sleep(0.1)
        a, b = body["variants"]
        assert (a["variant"], a["users"], a["turns"], a["rated"], a["thumbs_up"]) == ("a", 1, 3, 2, 1)
        assert a["thumbs_up_rate"] == 0.5 and 0 < a["thumbs_up_ci95"][0] < 0.5 < a["thumbs_up_ci95"][1] < 1
        assert a["stop_rate"] == pytest.approx(1 / 3) and a["regenerate_rate"] == pytest.approx(1 / 3)
        assert a["ttft_p50_ms"] > 0 and a["ttft_p95_ms"] >= a["ttft_p50_ms"] and a["tokens_out_per_turn"] > 0
        assert (b["variant"], b["turns"], b["thumbs_up_rate"]) == ("b", 0, None)
        assert httpx.get(f"{server.url}/api/admin/experiments/nope/results", headers=admin(server)).status_code == 404
    finally:
        httpx.delete(f"{server.url}/api/admin/experiments/{name}", headers=admin(server))


def rate(server: ParlorServer, key: str, message_id: str, rating: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/messages/{message_id}/feedback", json={"rating": rating},
                      headers=auth(key), timeout=10)
