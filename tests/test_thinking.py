"""Extended thinking asked for (`thinking_budget`) and the tokens a reasoning model reports counted and
priced: through real servers against the scripted upstreams, whose Anthropic fake refuses what Anthropic
refuses (a tool loop that leaves out its signed thinking, a temperature with thinking, a small max_tokens)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from parlor.llm import CompletionRequest, LLMMessage, Thought, ThoughtfulMessage, ToolCall
from parlor.llm.anthropic import payload
from parlor.llm.types import ToolSpec
from tests.anthropic_upstream import SIGNATURE, AnthropicUpstream
from tests.client import auth, chat
from tests.conftest import upstream_provider
from tests.gemini_upstream import SIGNATURE as GEMINI_SIGNATURE
from tests.gemini_upstream import GeminiUpstream
from tests.helpers.runs import run_record
from tests.server import ParlorServer
from tests.upstream import Script, ScriptedToolCall, Upstream

BUDGET = 2048
PRICES = {"priced": {"input": 2.0, "output": 10.0, "cached_input": 0.5, "reasoning": 40.0}}
METRICS_TOKEN = "thinking-metrics-" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def claude() -> Iterator[AnthropicUpstream]:
    with AnthropicUpstream() as server:
        yield server


@pytest.fixture(scope="module")
def thinker(claude: AnthropicUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    provider = {"name": "claude", "kind": "anthropic", "base_url": claude.url, "model": "c", "reasoning": True,
                "thinking_budget": BUDGET}
    server = ParlorServer(tmp_path_factory.mktemp("thinker"), [provider]).start()
    try:
        yield server
    finally:
        server.stop()


def blocks(body: dict[str, Any]) -> list[list[str]]:
    """Each assistant message's content block types."""
    return [[b["type"] for b in m["content"]] for m in body["messages"] if m["role"] == "assistant"]


def test_a_tool_loop_gives_claude_its_signed_thinking_back_and_a_later_turn_leaves_it_out(
        thinker: ParlorServer, claude: AnthropicUpstream, marker: str) -> None:
    key, thread_id = thinker.create_user(f"claude-{marker}"), uuid.uuid4().hex
    claude.push(Script(thinking="I should compute it.", redacted_thinking="ZW5jcnlwdGVk",
                       tool_calls=[ScriptedToolCall("calculator", '{"expression": "6*7"}')]), match=f"sum {marker}")
    claude.push(Script(text="It is 42."))  # the loop's next call: its last user message is the tool result
    seen = len(claude.requests)
    result = chat(thinker.url, key, thread_id, f"sum {marker}")
    assert result.status == 200 and result.text == "It is 42." and result.types[-1] == "finish"
    first, second = claude.requests[seen:seen + 2]
    assert first["thinking"] == {"type": "enabled", "budget_tokens": BUDGET} and "temperature" not in first
    assert first["max_tokens"] > BUDGET
    assert blocks(second)[-1] == ["thinking", "redacted_thinking", "tool_use"]  # as Claude sent them, first
    thought, redacted = [m for m in second["messages"] if m["role"] == "assistant"][-1]["content"][:2]
    assert thought == {"type": "thinking", "thinking": "I should compute it.", "signature": SIGNATURE}
    assert redacted == {"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"}

    claude.push(Script(text="Yes."), match=f"again {marker}")
    assert chat(thinker.url, key, thread_id, f"again {marker}").text == "Yes."
    later = claude.requests[-1]
    assert ["tool_use"] in blocks(later) and not any("thinking" in b for m in blocks(later) for b in m)


def test_thinking_fits_the_reply_cap_and_takes_no_temperature() -> None:
    messages = [LLMMessage("user", "hi")]
    roomy = payload("c", CompletionRequest(messages, temperature=0.3), BUDGET)
    assert roomy["thinking"]["budget_tokens"] == BUDGET and roomy["max_tokens"] > BUDGET
    assert "temperature" not in roomy
    capped = payload("c", CompletionRequest(messages, max_tokens=1500), BUDGET)
    assert (capped["thinking"]["budget_tokens"], capped["max_tokens"]) == (1499, 1500)  # the cap counts thinking
    tight = payload("c", CompletionRequest(messages, max_tokens=800, temperature=0.3), BUDGET)
    assert "thinking" not in tight and tight["temperature"] == 0.3  # too small to think within: no thinking
    assert "thinking" not in payload("c", CompletionRequest(messages, temperature=0.3))


def test_a_forced_tool_or_a_loop_that_came_without_its_thinking_goes_without() -> None:
    tool = ToolSpec("lookup", "Looks a word up.", {"type": "object", "properties": {}})
    question = [LLMMessage("user", "look it up")]
    assert "thinking" in payload("c", CompletionRequest(question, tools=[tool], tool_choice="auto"), BUDGET)
    assert "thinking" not in payload("c", CompletionRequest(question, tools=[tool], tool_choice="required"), BUDGET)
    call = (ToolCall("toolu_1", "lookup", "{}"),)
    result = LLMMessage("tool", "found", tool_call_id="toolu_1", tool_name="lookup")
    bare = [*question, LLMMessage("assistant", "", call), result]  # a /v1 client's own loop: no thinking kept
    assert "thinking" not in payload("c", CompletionRequest(bare, tools=[tool]), BUDGET)
    signed = [*question, ThoughtfulMessage("assistant", "", call, thoughts=(Thought("hm", SIGNATURE),)), result]
    assert "thinking" in payload("c", CompletionRequest(signed, tools=[tool]), BUDGET)


@pytest.fixture(scope="module")
def priced(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    provider = {**upstream_provider(upstream), "name": "priced"}
    server = ParlorServer(tmp_path_factory.mktemp("priced"), [provider], PARLOR_PRICES=json.dumps(PRICES),
                          PARLOR_METRICS_TOKEN=METRICS_TOKEN).start()
    try:
        yield server
    finally:
        server.stop()


def test_cached_and_reasoning_tokens_are_recorded_and_priced_apart(priced: ParlorServer, upstream: Upstream,
                                                                   marker: str) -> None:
    upstream.push(Script(text="Four.", thinking="two and two make four", cached_tokens=3), match=f"sum {marker}")
    result = chat(priced.url, priced.create_user(f"priced-{marker}"), uuid.uuid4().hex, f"sum {marker}")
    assert result.text == "Four."
    run = run_record(priced, result.headers["x-request-id"])  # written just after the stream ends
    assert run["usage"] == {"cached_in": 3, "cache_write_in": 0, "reasoning_out": 5}
    assert (run["providers"][0]["cached_in"], run["providers"][0]["reasoning_out"]) == (3, 5)
    tokens_in, tokens_out = run["tokens_in"], run["tokens_out"]
    assert tokens_out == 1 + 5  # the answer's one token and the five of reasoning: output, as budgets count it
    expected = ((tokens_in - 3) * 2.0 + 3 * 0.5 + 5 * 40.0 + (tokens_out - 5) * 10.0) / 1_000_000
    assert run["cost_usd"] == pytest.approx(expected)

    scraped = httpx.get(f"{priced.url}/metrics", headers=auth(METRICS_TOKEN)).text
    parts = {s.labels["part"]: s.value for f in text_string_to_metric_families(scraped) for s in f.samples
             if s.name == "parlor_llm_token_parts_total"}
    assert parts["cache_read"] >= 3 and parts["reasoning"] >= 5


@pytest.fixture(scope="module")
def gemini() -> Iterator[GeminiUpstream]:
    with GeminiUpstream() as server:
        yield server


def test_a_tool_loop_gives_gemini_its_step_signature_back(gemini: GeminiUpstream, tmp_path: Path,
                                                          marker: str) -> None:
    """Gemini seals a thinking step on its first function call and refuses a loop that drops it (the fake
    too): the next call of the loop carries it on that call; a later turn needs none."""
    provider = {"name": "gemini", "kind": "gemini", "base_url": gemini.url, "api_key": "g", "model": "g",
                "reasoning": True, "thinking_budget": BUDGET}
    server = ParlorServer(tmp_path, [provider]).start()
    try:
        key, thread_id = server.create_user(f"gemini-{marker}"), uuid.uuid4().hex
        gemini.push(Script(thinking="Use the calculator.", tool_calls=[
            ScriptedToolCall("calculator", '{"expression": "6*7"}')]), match=f"sum {marker}")
        gemini.push(Script(text="It is 42."))  # the loop's next call
        seen = len(gemini.requests)
        result = chat(server.url, key, thread_id, f"sum {marker}")
        assert result.status == 200 and result.text == "It is 42." and result.types[-1] == "finish"
        second = gemini.requests[seen + 1]
        step = [c for c in second["contents"] if c["role"] == "model"][-1]
        assert step["parts"][0]["thoughtSignature"] == GEMINI_SIGNATURE and "functionCall" in step["parts"][0]
        assert not any(p.get("thought") for c in second["contents"] for p in c["parts"])  # the text stays here
        gemini.push(Script(text="Yes."), match=f"again {marker}")
        assert chat(server.url, key, thread_id, f"again {marker}").text == "Yes."
    finally:
        server.stop()
