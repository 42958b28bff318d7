"""The run inspector: a turn's record exists only once the turn is over; admins (and ADMIN_TOKEN) see
every field and filter by user, status and time; a user sees their own runs' timings, nobody else's."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
from httpx_sse import connect_sse

from parlor.memory.tokens import build_counter
from tests.client import auth, chat, chat_body
from tests.conftest import RunningServer
from tests.helpers.runs import run_record
from tests.upstream import Script, Upstream

ADMIN_ONLY = {"user_id", "trace_id", "error", "provider", "cost_usd", "providers", "tools", "retrieved"}


def admin(server: RunningServer) -> dict[str, str]:
    return auth(server.process.admin_token)


def me(server: RunningServer, key: str) -> str:
    user_id: str = httpx.get(f"{server.url}/api/me", headers=auth(key)).json()["id"]
    return user_id


def test_the_record_is_written_after_the_turn_never_before_its_first_token(server: RunningServer,
                                                                          upstream: Upstream, marker: str) -> None:
    key = server.user()
    upstream.push(Script(tokens=[f" t{i}" for i in range(30)], token_delay=0.03), match=marker)
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    seen_mid_stream: list[int] = []
    with httpx.Client(base_url=server.url, timeout=30, headers={**auth(key), "X-Request-ID": request_id}) as client, \
            connect_sse(client, "POST", "/api/chat", json=chat_body(uuid.uuid4().hex, f"slow {marker}")) as source:
        for event in source.iter_sse():
            if '"text-delta"' in event.data and not seen_mid_stream:
                seen_mid_stream.append(httpx.get(f"{server.url}/api/admin/runs/{request_id}",
                                                 headers=admin(server)).status_code)
    assert seen_mid_stream == [404]
    run = run_record(server, request_id)
    assert run["status"] == "complete" and run["tokens_out"] > 0
    timings = run["timings"]
    assert 0 < timings["ttft"] <= timings["generation"] <= timings["total"]
    assert {"context", "reserve", "store", "tools"} <= set(timings)


def test_users_see_their_own_timings_and_admins_see_everything(server: RunningServer, upstream: Upstream,
                                                               marker: str) -> None:
    alice, bob = server.user("alice"), server.user("bob")
    ok = chat(server.url, alice, uuid.uuid4().hex, f"fine {marker}")
    upstream.push(Script(status=400, error_message="bad request"), match=f"broken {marker}")
    failed = chat(server.url, alice, uuid.uuid4().hex, f"broken {marker}")
    ok_id, failed_id = ok.headers["x-request-id"], failed.headers["x-request-id"]
    assert run_record(server, ok_id)["status"] == "complete"
    broken = run_record(server, failed_id)
    assert broken["status"] == "error" and broken["error"] == "providers_unavailable"
    assert [(p["provider"], p["error"]) for p in broken["providers"]] == [("up", "rejected")]

    own = httpx.get(f"{server.url}/api/runs/{ok_id}", headers=auth(alice))
    assert own.status_code == 200
    assert not ADMIN_ONLY & set(own.json()) and own.json()["timings"]["ttft"] > 0
    listed = httpx.get(f"{server.url}/api/runs", headers=auth(alice)).json()["runs"]
    assert {r["request_id"] for r in listed} == {ok_id, failed_id}
    assert httpx.get(f"{server.url}/api/runs/{ok_id}", headers=auth(bob)).status_code == 404
    assert httpx.get(f"{server.url}/api/runs", headers=auth(bob)).json()["runs"] == []

    user_id = me(server, alice)
    everything = httpx.get(f"{server.url}/api/admin/runs", params={"user": user_id}, headers=admin(server))
    assert {r["request_id"] for r in everything.json()["runs"]} == {ok_id, failed_id}
    assert set(everything.json()["runs"][0]) >= ADMIN_ONLY
    errors = httpx.get(f"{server.url}/api/admin/runs", params={"user": user_id, "status": "error", "since": "1h"},
                       headers=admin(server)).json()["runs"]
    assert [r["request_id"] for r in errors] == [failed_id]
    later = httpx.get(f"{server.url}/api/admin/runs", params={"user": user_id, "since": "2999-01-01T00:00:00"},
                      headers=admin(server)).json()["runs"]
    assert later == []


def test_only_admins_reach_the_admin_routes(server: RunningServer) -> None:
    key = server.user()
    assert httpx.get(f"{server.url}/api/admin/runs").status_code == 401
    assert httpx.get(f"{server.url}/api/admin/runs", headers=auth(key)).status_code == 403
    assert httpx.get(f"{server.url}/api/admin/runs/nope", headers=admin(server)).status_code == 404
    bad = httpx.get(f"{server.url}/api/admin/runs", params={"since": "yesterday"}, headers=admin(server))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    assert httpx.get(f"{server.url}/api/runs").status_code == 401


def test_concurrent_turns_each_get_their_own_record(server: RunningServer, marker: str) -> None:
    key = server.user()
    ids: list[str] = []

    def one() -> None:
        ids.append(chat(server.url, key, uuid.uuid4().hex, f"together {marker}").headers["x-request-id"])

    threads = [threading.Thread(target=one) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    threads_seen = {run_record(server, request_id)["thread_id"] for request_id in ids}
    assert len(threads_seen) == 5


def test_openai_compatible_calls_get_run_records_too(server: RunningServer, upstream: Upstream, marker: str) -> None:
    key, other = server.user("gateway"), server.user("other")
    request_ids = {mode: f"v1-{mode}-{uuid.uuid4().hex[:10]}" for mode in ("plain", "stream", "failed")}
    upstream.push(Script(status=400, error_message="bad request"), match=f"broken {marker}")
    with httpx.Client(base_url=server.url, timeout=30, headers=auth(key)) as client:
        for mode, text, stream in (("plain", "plain", False), ("stream", "stream", True), ("failed", "broken", False)):
            response = client.post("/v1/chat/completions", headers={"X-Request-ID": request_ids[mode]}, json={
                "model": "up", "stream": stream, "messages": [{"role": "user", "content": f"{text} {marker}"}]})
            assert response.status_code in ((200,) if mode != "failed" else (502, 503)), response.text
    for mode in ("plain", "stream"):
        run = run_record(server, request_ids[mode])
        assert run["status"] == "complete" and run["thread_id"] is None and run["model"] == "test-model"
        assert run["tokens_out"] > 0 and 0 < run["timings"]["ttft"] <= run["timings"]["total"]
        assert [(p["provider"], p["error"]) for p in run["providers"]] == [("up", None)]
        assert run["user_id"] == me(server, key)
    failed = run_record(server, request_ids["failed"])
    assert failed["status"] == "error" and failed["error"] and failed["providers"][0]["error"] == "rejected"
    own = httpx.get(f"{server.url}/api/runs/{request_ids['stream']}", headers=auth(key))
    assert own.status_code == 200 and not ADMIN_ONLY & set(own.json())
    assert httpx.get(f"{server.url}/api/runs/{request_ids['stream']}", headers=auth(other)).status_code == 404


def stop_after(server: RunningServer, key: str, upstream: Upstream, text: str, deltas: int) -> str:
    """Starts a turn in a new thread and stops it once `deltas` text deltas came (0: once the model call
    is out, before any token); returns its request id."""
    thread_id = uuid.uuid4().hex
    with httpx.Client(base_url=server.url, headers=auth(key), timeout=30) as client, client.stream(
            "POST", "/api/chat", json=chat_body(thread_id, text)) as response:
        seen = 0
        for line in response.iter_lines():
            seen += '"text-delta"' in line
            if seen >= deltas and line.startswith("data: "):
                break
        while deltas == 0 and not any(text in str(r) for r in upstream.requests):
            time.sleep(0.01)  # the call is out: the prompt was sent
        assert client.post(f"/api/chat/{thread_id}/stop").status_code == 204
    return response.headers["x-request-id"]


def test_a_stopped_run_counts_the_prompt_sent_and_the_tokens_streamed(server: RunningServer, upstream: Upstream,
                                                                     marker: str) -> None:
    key = server.user("stopper")
    question = f"stop me {marker}"
    upstream.push(Script(tokens=[" never"], ttft=30), match=question)  # stopped before its first token
    upstream.push(Script(tokens=[f" word{i}" for i in range(60)], token_delay=0.05), match=question)
    early = run_record(server, stop_after(server, key, upstream, question, deltas=0))
    late = run_record(server, stop_after(server, key, upstream, question, deltas=5))
    assert early["status"] == late["status"] == "aborted"

    # What was sent: the context's count, at least the question and at most the whole prompt as it went out.
    counter = build_counter("auto", "test-model", Path(server.process.data_dir) / "tiktoken")
    sent = next(r for r in upstream.requests if question in str(r))["messages"]
    assert 4 + counter.count_tokens(question) < early["tokens_in"] <= sum(
        4 + counter.count_tokens(str(m.get("content") or "")) for m in sent) + 200  # + the tool specs
    assert late["tokens_in"] == early["tokens_in"]  # the same question in a new thread: the same prompt
    # What streamed: the stored partial answer, counted.
    partial = httpx.get(f"{server.url}/api/threads/{late['thread_id']}", headers=auth(key)).json()["messages"][-1]
    text = "".join(p["text"] for p in partial["parts"] if p["type"] == "text")
    assert text and late["tokens_out"] == counter.count_tokens(text) and early["tokens_out"] == 0
    assert early["model"] == late["model"] == "test-model" and late["ttft_ms"] > 0
    assert [(p["provider"], p["error"], p["tokens_in"], p["tokens_out"]) for p in late["providers"]] == [
        ("up", "aborted", late["tokens_in"], late["tokens_out"])]

    own = httpx.get(f"{server.url}/api/runs/{late['request_id']}", headers=auth(key)).json()
    assert (own["status"], own["tokens_in"], own["tokens_out"]) == ("aborted", late["tokens_in"], late["tokens_out"])

    # The same counts in the user's usage, where before a stopped turn counted nothing.
    total = httpx.get(f"{server.url}/api/usage", headers=auth(key)).json()["total"]
    assert (total["tokens_in"], total["tokens_out"]) == (early["tokens_in"] + late["tokens_in"], late["tokens_out"])
