"""The native Anthropic provider against a scripted Anthropic-compatible upstream (real sockets, the
Messages API's own SSE events). The official SDK reads the same fake first: what the provider is tested
against is what Anthropic sends."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from parlor.llm import (
    CompletionRequest,
    Delta,
    FinishDelta,
    LLMMessage,
    ProviderError,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageDelta,
)
from parlor.llm.anthropic import AnthropicProvider, MessageEvents
from parlor.llm.types import ToolSpec
from tests.anthropic_upstream import AnthropicUpstream
from tests.client import chat
from tests.conftest import upstream_provider
from tests.server import ParlorServer
from tests.upstream import Script, ScriptedToolCall, Upstream

LOOKUP = ToolSpec("lookup", "Looks a word up.", {"type": "object", "properties": {"q": {"type": "string"}}})


@pytest.fixture(scope="module")
def claude() -> Iterator[AnthropicUpstream]:
    with AnthropicUpstream(api_key="sk-ant-test") as server:
        yield server


@pytest.fixture
async def provider(claude: AnthropicUpstream) -> AsyncIterator[AnthropicProvider]:
    p = AnthropicProvider("claude", "claude-test", claude.url, api_key="sk-ant-test", read_timeout=10)
    yield p
    await p.aclose()


@pytest.fixture
async def thinker(claude: AnthropicUpstream) -> AsyncIterator[AnthropicProvider]:
    p = AnthropicProvider("claude", "claude-test", claude.url, api_key="sk-ant-test", read_timeout=10,
                          thinking_budget=1024)
    yield p
    await p.aclose()


def ask(marker: str, **kw: Any) -> CompletionRequest:
    return CompletionRequest([LLMMessage("system", "Be brief."), LLMMessage("user", f"hi {marker}")], **kw)


async def deltas(provider: AnthropicProvider, request: CompletionRequest) -> list[Delta]:
    return [d async for d in provider.stream(request)]


async def test_the_official_sdk_reads_the_fake_upstream(claude: AnthropicUpstream, marker: str) -> None:
    claude.push(Script(text="Hello there", thinking="The user greets me.", redacted_thinking="ZW5jcnlwdGVk",
                       tool_calls=[ScriptedToolCall("lookup", '{"q": "hello"}')], cached_tokens=40, cache_written=9),
                match=marker)
    client = anthropic.AsyncAnthropic(base_url=claude.url, api_key="sk-ant-test")
    question: Any = {"role": "user", "content": f"hi {marker}"}
    tools: Any = [{"name": "lookup", "input_schema": LOOKUP.parameters}]
    async with client.messages.stream(model="claude-test", max_tokens=2000, system="Be brief.", messages=[question],
                                      tools=tools, thinking={"type": "enabled", "budget_tokens": 1024}) as stream:
        texts = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(texts) == "Hello there"
    assert [block.type for block in final.content] == ["thinking", "redacted_thinking", "text", "tool_use"]
    assert final.content[0].thinking == "The user greets me."  # type: ignore[union-attr]
    assert final.content[3].input == {"q": "hello"}  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use" and final.usage.output_tokens > 0
    assert (final.usage.cache_read_input_tokens, final.usage.cache_creation_input_tokens) == (40, 9)
    # the tool loop goes on with the blocks as the SDK keeps them (signed): the fake takes them, as Anthropic does
    claude.push(Script(text="Found it."), match=f"result {marker}")
    result: Any = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": final.content[3].id,  # type: ignore[union-attr]
                                                "content": f"result {marker}"}]}
    async with client.messages.stream(
            model="claude-test", max_tokens=2000, tools=tools, thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[question, {"role": "assistant", "content": final.content}, result]) as stream:
        reply = await stream.get_final_message()
    await client.close()
    assert [block.type for block in reply.content] == ["text"]


async def test_text_tool_calls_finish_and_usage_stream_as_parlors_deltas(
        thinker: AnthropicProvider, claude: AnthropicUpstream, marker: str) -> None:
    claude.push(Script(text="Let me look.", thinking="A lookup, then.",
                       tool_calls=[ScriptedToolCall("lookup", '{"q": "parlor"}')]), match=marker)
    got = await deltas(thinker, ask(marker, tools=[LOOKUP]))
    assert "".join(d.text for d in got if isinstance(d, TextDelta)) == "Let me look."
    assert [d.text for d in got if isinstance(d, ReasoningDelta) and d.text] == ["A lookup, then."]  # apart
    calls = [d for d in got if isinstance(d, ToolCallDelta)]
    assert calls[0].index == 0 and calls[0].name == "lookup" and (calls[0].id or "").startswith("toolu_")
    assert json.loads("".join(c.arguments for c in calls)) == {"q": "parlor"}
    assert [d.reason for d in got if isinstance(d, FinishDelta)] == ["tool-calls"]
    [usage] = [d.usage for d in got if isinstance(d, UsageDelta)]
    assert usage.tokens_in > 0 and usage.tokens_out > 0


async def test_the_request_is_anthropics_shape_with_cache_breakpoints(
        provider: AnthropicProvider, claude: AnthropicUpstream, marker: str) -> None:
    claude.push(Script(text="Done."), match=marker)
    history = [
        LLMMessage("system", "Be brief."),
        LLMMessage("user", "look up parlor"),
        LLMMessage("assistant", "", (ToolCall("toolu_1", "lookup", '{"q": "parlor"}'),)),
        LLMMessage("tool", "a room for talk", tool_call_id="toolu_1", tool_name="lookup"),
        LLMMessage("user", f"thanks {marker}"),
    ]
    await deltas(provider, CompletionRequest(history, tools=[LOOKUP], tool_choice="required", stop=["END"]))
    body = next(r for r in reversed(claude.requests) if marker in json.dumps(r))
    assert body["system"] == [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    assert body["tools"] == [{"name": "lookup", "description": "Looks a word up.",
                              "input_schema": LOOKUP.parameters, "cache_control": {"type": "ephemeral"}}]
    assert body["tool_choice"] == {"type": "any"} and body["stop_sequences"] == ["END"]
    assert body["max_tokens"] > 0 and body["stream"] is True
    user, assistant, results = body["messages"]  # the tool result and the newest question: one user turn
    assert user == {"role": "user", "content": [{"type": "text", "text": "look up parlor"}]}
    assert assistant["content"] == [{"type": "tool_use", "id": "toolu_1", "name": "lookup",
                                     "input": {"q": "parlor"}, "cache_control": {"type": "ephemeral"}}]
    assert results["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": False, "content": "a room for talk"},
        {"type": "text", "text": f"thanks {marker}"}]


@pytest.mark.parametrize(("status", "kind"), [(529, "unavailable"), (500, "unavailable"), (429, "rate_limited"),
                                              (400, "rejected"), (401, "unavailable")])
async def test_error_statuses_map_to_the_routers_kinds(provider: AnthropicProvider, claude: AnthropicUpstream,
                                                       marker: str, status: int, kind: str) -> None:
    claude.push(Script(status=status, retry_after=3 if status == 429 else None), match=marker)
    with pytest.raises(ProviderError) as raised:
        await deltas(provider, ask(marker))
    assert raised.value.kind == kind
    assert raised.value.retry_after == (3 if status == 429 else None)


async def test_an_overload_before_any_content_may_fall_back_but_after_it_the_answer_is_broken(
        provider: AnthropicProvider, claude: AnthropicUpstream, marker: str) -> None:
    claude.push(Script(text="one two three", disconnect_after=0), match=f"early {marker}")
    with pytest.raises(ProviderError) as early:
        await deltas(provider, ask(f"early {marker}"))
    assert early.value.kind == "unavailable"
    claude.push(Script(text="one two three", disconnect_after=2), match=f"late {marker}")
    got: list[Delta] = []
    with pytest.raises(ProviderError) as late:
        async for delta in provider.stream(ask(f"late {marker}")):
            got.append(delta)
    assert late.value.kind == "broken_stream" and "overloaded" in str(late.value)
    assert "".join(d.text for d in got if isinstance(d, TextDelta)) == "one two"


async def test_a_wrong_key_is_unavailable_not_an_answer(claude: AnthropicUpstream, marker: str) -> None:
    wrong = AnthropicProvider("claude", "claude-test", claude.url, api_key="sk-ant-wrong")
    try:
        with pytest.raises(ProviderError) as raised:
            await deltas(wrong, ask(marker))
        assert raised.value.kind == "unavailable" and "401" in str(raised.value)
    finally:
        await wrong.aclose()


def test_a_chat_falls_back_from_openai_to_anthropic(upstream: Upstream, claude: AnthropicUpstream,
                                                   tmp_path: Path, marker: str) -> None:
    """OpenAI down → Anthropic answers, through a real server: the turn's metadata says who answered."""
    upstream.push(Script(status=503), match=marker)
    claude.push(Script(text="Claude here."), match=marker)
    anthropic_provider = {"name": "claude", "kind": "anthropic", "base_url": claude.url, "api_key": "sk-ant-test",
                          "model": "claude-test"}
    openai_provider = {**upstream_provider(upstream), "retries": 0}  # its one failure moves on at once
    server = ParlorServer(tmp_path, [openai_provider, anthropic_provider]).start()
    try:
        result = chat(server.url, server.create_user("fallback"), uuid.uuid4().hex, f"hello {marker}")
    finally:
        server.stop()
    assert result.status == 200 and result.text == "Claude here." and result.types[-1] == "finish"
    assert result.chunks[-1]["messageMetadata"]["provider"] == "claude"


def test_cached_input_counts_as_input() -> None:
    """Anthropic reports cache reads and writes apart from `input_tokens`: all of it was the prompt."""
    events = MessageEvents("claude")
    usage = {"input_tokens": 10, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 3, "output_tokens": 1}
    assert events.read(json.dumps({"type": "message_start", "message": {"usage": usage}}).encode()) == []
    [finish, counted] = events.read(json.dumps({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                                "usage": {"output_tokens": 7}}).encode())
    assert finish == FinishDelta("stop") and counted == UsageDelta(Usage(18, 7, cached_in=5, cache_write_in=3))
    assert not events.complete and events.read(b'{"type": "message_stop"}') == [] and events.complete
