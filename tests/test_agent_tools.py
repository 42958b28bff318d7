"""Agent tools through a real server: the model chooses, tools run, every step streams and is stored."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import sdk
from tests.client import ChatResult, auth, chat
from tests.conftest import RunningServer, upstream_provider
from tests.server import ROOT, ParlorServer
from tests.tool_backend import ToolBackend
from tests.upstream import Script, ScriptedToolCall, Upstream

MAX_STEPS = 3


def http_tool(name: str, url: str, timeout: float = 2.0) -> dict[str, Any]:
    return {"name": name, "description": f"{name} over HTTP", "url": url, "timeout": timeout,
            "headers": {"X-Tool-Key": "${PARLOR_TEST_TOOL_KEY}"},
            "parameters": {"type": "object", "properties": {"who": {"type": "string"}, "ms": {"type": "integer"}},
                           "required": ["who"]}}


@pytest.fixture(scope="module")
def backend() -> Iterator[ToolBackend]:
    with ToolBackend() as service:
        yield service


@pytest.fixture(scope="module")
def agent_server(upstream: Upstream, backend: ToolBackend,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tools = [http_tool("slow_lookup", f"{backend.url}/slow"), http_tool("broken", f"{backend.url}/fail"),
             http_tool("hanging", f"{backend.url}/hang", timeout=0.5)]
    mcp = [{"name": "testmcp", "transport": "stdio", "command": sys.executable,
            "args": [str(ROOT / "tests" / "mcp_server.py")]},
           {"name": "downmcp", "transport": "stdio", "command": "/nonexistent/mcp-server", "timeout": 5}]
    process = ParlorServer(tmp_path_factory.mktemp("agent"), [upstream_provider(upstream)],
                           PARLOR_HTTP_TOOLS=json.dumps(tools), PARLOR_MCP_SERVERS=json.dumps(mcp),
                           PARLOR_TIERS=json.dumps({"roomy": {"requests_per_minute": 1000, "requests_per_hour": 5000,
                                                              "tokens_per_day": 10_000_000}}),
                           PARLOR_DEFAULT_TIER="roomy",
                           PARLOR_MAX_TOOL_STEPS=str(MAX_STEPS), PARLOR_TEST_TOOL_KEY="s3cret").start()
    try:
        yield RunningServer(process, process.create_user("agent-alice"))
    finally:
        process.stop()


def calls(*tools: tuple[str, dict[str, Any]]) -> Script:
    return Script(tool_calls=[ScriptedToolCall(name, json.dumps(args)) for name, args in tools])


def sent(upstream: Upstream, marker: str) -> list[dict[str, Any]]:
    return [r for r in upstream.requests if any(marker in str(m.get("content")) for m in r["messages"])]


def chunks_of(result: ChatResult, kind: str) -> list[dict[str, Any]]:
    return [c for c in result.chunks if c["type"] == kind]


def stored_answer(server: RunningServer, thread_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/threads/{thread_id}", headers=auth(server.api_key))
    answer: dict[str, Any] = response.json()["messages"][-1]
    return answer


def test_a_greeting_costs_one_model_call_and_no_tool(agent_server: RunningServer, upstream: Upstream,
                                                     marker: str) -> None:
    result = chat(agent_server.url, agent_server.api_key, uuid.uuid4().hex, f"hi {marker}")
    assert result.text == f"You said: hi {marker}"
    assert not [t for t in result.types if t.startswith("tool-")]
    requests = sent(upstream, marker)
    assert len(requests) == 1
    offered = {t["function"]["name"] for t in requests[0]["tools"]}
    assert {"calculator", "current_time", "get_user_data", "slow_lookup", "testmcp__reverse"} <= offered
    assert not any(name.startswith("downmcp") for name in offered)


def test_one_tool_streams_is_stored_and_feeds_the_next_turn(agent_server: RunningServer, upstream: Upstream,
                                                            marker: str) -> None:
    upstream.push(calls(("calculator", {"expression": "1234567 * 7654321"})), match=marker)
    upstream.push(Script(text="It is 9449772114007."), match=marker)
    thread_id = uuid.uuid4().hex
    result = chat(agent_server.url, agent_server.api_key, thread_id, f"multiply {marker}")

    kinds = [t for t in result.types if t.startswith(("tool-", "start-step", "finish-step", "text-start"))]
    assert kinds == ["start-step", "tool-input-start", *["tool-input-delta"] * kinds.count("tool-input-delta"),
                     "tool-input-available", "tool-output-available", "finish-step", "start-step", "text-start",
                     "finish-step"]
    assert chunks_of(result, "tool-output-available")[0]["output"]["result"] == "9449772114007"
    assert result.text == "It is 9449772114007."
    second = sent(upstream, marker)[1]["messages"]
    assert second[-2]["tool_calls"][0]["function"]["name"] == "calculator"
    assert second[-1]["role"] == "tool" and "9449772114007" in second[-1]["content"]
    assert second[-1]["tool_call_id"] == second[-2]["tool_calls"][0]["id"]

    parts = stored_answer(agent_server, thread_id)["parts"]
    tool = next(p for p in parts if p["type"] == "tool-calculator")
    assert tool["state"] == "output-available" and tool["output"]["result"] == "9449772114007"
    assert tool["input"] == {"expression": "1234567 * 7654321"}

    chat(agent_server.url, agent_server.api_key, thread_id, f"thanks {marker}")
    history = sent(upstream, f"thanks {marker}")[0]["messages"]
    roles = [m["role"] for m in history]
    assert roles[-5:] == ["user", "assistant", "tool", "assistant", "user"]
    assert history[-4]["tool_calls"][0]["id"] == history[-3]["tool_call_id"]


def test_two_tools_in_one_step_run_concurrently(agent_server: RunningServer, upstream: Upstream,
                                                backend: ToolBackend, marker: str) -> None:
    upstream.push(calls(("slow_lookup", {"who": f"a-{marker}", "ms": 600}),
                        ("slow_lookup", {"who": f"b-{marker}", "ms": 600})), match=marker)
    result = chat(agent_server.url, agent_server.api_key, uuid.uuid4().hex, f"both {marker}")
    assert len(chunks_of(result, "tool-output-available")) == 2
    a, b = (next(c for c in backend.calls if c["query"].get("who") == f"{w}-{marker}")  # type: ignore[union-attr]
            for w in "ab")
    assert a["start"] < b["end"] and b["start"] < a["end"], "the two calls did not overlap"  # type: ignore[operator]
    assert a["headers"]["X-Tool-Key"] == "s3cret"  # type: ignore[index]


def test_failing_and_slow_tools_become_error_results(agent_server: RunningServer, upstream: Upstream,
                                                     marker: str) -> None:
    upstream.push(calls(("broken", {"who": "x"}), ("hanging", {"who": "y"})), match=marker)
    upstream.push(Script(text="Both tools failed, sorry."), match=marker)
    thread_id = uuid.uuid4().hex
    result = chat(agent_server.url, agent_server.api_key, thread_id, f"fail {marker}")
    errors = {c["errorText"] for c in chunks_of(result, "tool-output-error")}
    assert any("HTTP 500" in e for e in errors) and any("timed out" in e for e in errors)
    assert result.types[-1] == "finish" and result.text == "Both tools failed, sorry."
    tool_messages = [m for m in sent(upstream, marker)[1]["messages"] if m["role"] == "tool"]
    assert all('status="error">\nError:' in m["content"] for m in tool_messages) and len(tool_messages) == 2
    states = [p["state"] for p in stored_answer(agent_server, thread_id)["parts"] if p["type"].startswith("tool-")]
    assert states == ["output-error", "output-error"]


def test_invalid_arguments_go_back_to_the_model_which_retries(agent_server: RunningServer, upstream: Upstream,
                                                              marker: str) -> None:
    upstream.push(calls(("calculator", {"expr": "2+2"})), match=marker)
    upstream.push(calls(("calculator", {"expression": "2+2"})), match=marker)
    upstream.push(Script(text="Four."), match=marker)
    result = chat(agent_server.url, agent_server.api_key, uuid.uuid4().hex, f"retry {marker}")
    invalid = chunks_of(result, "tool-input-error")
    assert len(invalid) == 1 and "expression" in invalid[0]["errorText"]
    assert chunks_of(result, "tool-output-available")[0]["output"]["result"] == "4"
    feedback = [m for m in sent(upstream, marker)[1]["messages"] if m["role"] == "tool"]
    assert "invalid arguments" in feedback[0]["content"]
    assert result.text == "Four."


def test_the_step_budget_ends_with_an_answer_not_a_hang(agent_server: RunningServer, upstream: Upstream,
                                                        marker: str) -> None:
    for _ in range(MAX_STEPS + 1):
        upstream.push(calls(("current_time", {"timezone": "Europe/Paris"})), match=marker)
    result = chat(agent_server.url, agent_server.api_key, uuid.uuid4().hex, f"loop {marker}")
    requests = sent(upstream, marker)
    assert len(requests) == MAX_STEPS + 1
    assert "tools" not in requests[-1] and "tool step" in requests[-1]["messages"][-1]["content"]
    assert len(chunks_of(result, "tool-output-available")) == MAX_STEPS
    assert result.types[-1] == "finish"


def test_get_user_data_is_always_the_callers(agent_server: RunningServer, upstream: Upstream,
                                             marker: str) -> None:
    bob_key = agent_server.user("bob")
    bob = httpx.get(f"{agent_server.url}/api/me", headers=auth(bob_key)).json()
    chat(agent_server.url, bob_key, uuid.uuid4().hex, "bob's own thread")
    upstream.push(calls(("get_user_data", {"user_id": bob["id"], "name": bob["name"]})), match=marker)
    result = chat(agent_server.url, agent_server.api_key, uuid.uuid4().hex, f"who {marker}")
    output = chunks_of(result, "tool-output-available")[0]["output"]
    assert output["name"] == "agent-alice" and bob["name"] not in json.dumps(output)
    assert output["usage_today"]["requests"] >= 1 and output["threads"] >= 1
    assert output["tier"] == "roomy" and output["requests_left"]["minute"] < 1000
    assert output["requests_left"]["hour"] < 5000 and 0 < output["tokens_left_today"] < 10_000_000


def test_an_mcp_tool_is_listed_and_called(agent_server: RunningServer, upstream: Upstream, marker: str) -> None:
    upstream.push(calls(("testmcp__reverse", {"text": "parlor"})), match=marker)
    result = chat(agent_server.url, agent_server.api_key, uuid.uuid4().hex, f"mcp {marker}")
    assert "rolrap" in json.dumps(chunks_of(result, "tool-output-available")[0]["output"])


def test_the_ai_sdk_assembles_tool_parts(agent_server: RunningServer, upstream: Upstream, sdk_script: Path,
                                         marker: str) -> None:
    upstream.push(calls(("calculator", {"expression": "6 * 7"})), match=marker)
    upstream.push(Script(text="42."), match=marker)
    answer = sdk.send(sdk_script, agent_server.url, agent_server.api_key, uuid.uuid4().hex, f"sdk {marker}")
    tool = next(p for p in answer.message["parts"] if p["type"] == "tool-calculator")
    assert tool["state"] == "output-available" and tool["output"]["result"] == "42"
    assert answer.text_line == "TEXT: 42."


def test_v1_passes_client_tools_through_without_running_them(agent_server: RunningServer, upstream: Upstream,
                                                             marker: str) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{agent_server.url}/v1", api_key=agent_server.api_key, max_retries=0)
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}
    for stream in (False, True):
        upstream.push(calls(("get_weather", {"city": "Oslo"})), match=f"{marker}-{stream}")
        messages: Any = [{"role": "user", "content": f"weather {marker}-{stream}"}]
        if stream:
            chunks = list(client.chat.completions.create(model="up", messages=messages, tools=[weather],
                                                         stream=True))
            deltas = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or []]
            assert deltas[0].function and deltas[0].function.name == "get_weather"
            arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
            assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
        else:
            completion = client.chat.completions.create(model="up", messages=messages, tools=[weather])
            call = (completion.choices[0].message.tool_calls or [])[0]
            assert call.type == "function" and call.function.name == "get_weather"
            arguments = call.function.arguments
            assert completion.choices[0].finish_reason == "tool_calls"
        assert json.loads(arguments) == {"city": "Oslo"}
        requests = sent(upstream, f"{marker}-{stream}")
        assert len(requests) == 1 and requests[0]["tools"][0]["function"]["name"] == "get_weather"
