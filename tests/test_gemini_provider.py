"""The native Gemini provider against a scripted Gemini-compatible upstream (real sockets, the Gemini
API's own SSE chunks). The official `google-genai` SDK reads the same fake first: what the provider is
tested against is what Gemini sends."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from google import genai
from google.genai import types

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
    UsageDelta,
)
from parlor.llm.gemini import GeminiProvider
from parlor.llm.types import ToolSpec
from tests.client import chat
from tests.gemini_upstream import SIGNATURE as GEMINI_SIGNATURE
from tests.gemini_upstream import GeminiUpstream
from tests.server import ParlorServer
from tests.upstream import Script, ScriptedToolCall

LOOKUP = ToolSpec("lookup", "Looks a word up.", {"type": "object", "properties": {"q": {"type": "string"}}})


@pytest.fixture(scope="module")
def gemini() -> Iterator[GeminiUpstream]:
    with GeminiUpstream(api_key="g-test") as server:
        yield server


@pytest.fixture
async def provider(gemini: GeminiUpstream) -> AsyncIterator[GeminiProvider]:
    p = GeminiProvider("gemini", "gemini-test", gemini.url, api_key="g-test", read_timeout=10)
    yield p
    await p.aclose()


@pytest.fixture
async def thinker(gemini: GeminiUpstream) -> AsyncIterator[GeminiProvider]:
    p = GeminiProvider("gemini", "gemini-test", gemini.url, api_key="g-test", read_timeout=10, thinking_budget=2048)
    yield p
    await p.aclose()


def ask(marker: str, **kw: object) -> CompletionRequest:
    return CompletionRequest([LLMMessage("system", "Be brief."), LLMMessage("user", f"hi {marker}")], **kw)  # type: ignore[arg-type]


async def deltas(provider: GeminiProvider, request: CompletionRequest) -> list[Delta]:
    return [d async for d in provider.stream(request)]


async def test_the_official_sdk_reads_the_fake_upstream(gemini: GeminiUpstream, marker: str) -> None:
    gemini.push(Script(text="Hello there", thinking="The user greets me.", cached_tokens=30,
                       tool_calls=[ScriptedToolCall("lookup", '{"q": "hello"}')]), match=marker)
    client = genai.Client(api_key="g-test", http_options=types.HttpOptions(base_url=gemini.url))
    config = types.GenerateContentConfig(system_instruction="Be brief.", tools=[types.Tool(
        function_declarations=[types.FunctionDeclaration(name="lookup", description="Looks a word up.")])],
        thinking_config=types.ThinkingConfig(thinking_budget=1024, include_thoughts=True))
    chunks = [c async for c in await client.aio.models.generate_content_stream(
        model="gemini-test", contents=f"hi {marker}", config=config)]
    texts = [part.text for c in chunks for part in (c.candidates[0].content.parts or [])  # type: ignore[index,union-attr]
             if part.text and not part.thought]
    assert "".join(texts) == "Hello there"
    calls = [call for c in chunks for call in (c.function_calls or [])]
    assert [(call.name, call.args) for call in calls] == [("lookup", {"q": "hello"})]
    last = chunks[-1]
    assert last.candidates[0].finish_reason == types.FinishReason.STOP  # type: ignore[index]
    assert [part.text for c in chunks for part in (c.candidates[0].content.parts or [])  # type: ignore[index,union-attr]
            if part.thought] == ["The user greets me."]
    usage = last.usage_metadata
    assert usage is not None and (usage.thoughts_token_count, usage.cached_content_token_count) == (4, 30)


async def test_text_calls_finish_and_usage_stream_as_parlors_deltas(
        thinker: GeminiProvider, gemini: GeminiUpstream, marker: str) -> None:
    gemini.push(Script(text="Let me look.", thinking="A lookup, then.", cached_tokens=12,
                       tool_calls=[ScriptedToolCall("lookup", '{"q": "parlor"}')]), match=marker)
    got = await deltas(thinker, ask(marker, tools=[LOOKUP]))
    assert "".join(d.text for d in got if isinstance(d, TextDelta)) == "Let me look."
    thoughts = [(d.text, d.signature) for d in got if isinstance(d, ReasoningDelta)]  # apart from the text
    assert thoughts == [("A lookup, then.", None), ("", GEMINI_SIGNATURE)]  # the step sealed on its call
    [call] = [d for d in got if isinstance(d, ToolCallDelta)]  # whole, in one delta
    assert call.name == "lookup" and json.loads(call.arguments) == {"q": "parlor"} and call.id
    assert [d.reason for d in got if isinstance(d, FinishDelta)] == ["tool-calls"]
    [usage] = [d.usage for d in got if isinstance(d, UsageDelta)]
    assert usage.tokens_in > 12 and usage.tokens_out > 3  # thought tokens count as output
    assert (usage.cached_in, usage.reasoning_out) == (12, 3)
    sent = next(r for r in reversed(gemini.requests) if marker in json.dumps(r))
    assert sent["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 2048, "includeThoughts": True}


async def test_the_request_is_geminis_shape(provider: GeminiProvider, gemini: GeminiUpstream, marker: str) -> None:
    gemini.push(Script(text="Done."), match=marker)
    history = [
        LLMMessage("system", "Be brief."),
        LLMMessage("user", "look up parlor"),
        LLMMessage("assistant", "", (ToolCall("parlor_call_1", "lookup", '{"q": "parlor"}'),)),
        LLMMessage("tool", "a room for talk", tool_call_id="parlor_call_1", tool_name="lookup"),
        LLMMessage("user", f"thanks {marker}"),
    ]
    await deltas(provider, CompletionRequest(history, tools=[LOOKUP], tool_choice="required", max_tokens=50))
    body = next(r for r in reversed(gemini.requests) if marker in json.dumps(r))
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["tools"] == [{"functionDeclarations": [{"name": "lookup", "description": "Looks a word up.",
                                                        "parameters": LOOKUP.parameters}]}]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert body["generationConfig"] == {"candidateCount": 1, "maxOutputTokens": 50}
    user, model, results = body["contents"]  # the tool result and the newest question: one user turn
    assert user == {"role": "user", "parts": [{"text": "look up parlor"}]}
    assert model == {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"q": "parlor"}}}]}
    assert results["parts"] == [{"functionResponse": {"name": "lookup", "response": {"result": "a room for talk"}}},
                                {"text": f"thanks {marker}"}]


@pytest.mark.parametrize(("status", "kind"), [(503, "unavailable"), (429, "rate_limited"), (400, "rejected")])
async def test_error_statuses_map_to_the_routers_kinds(provider: GeminiProvider, gemini: GeminiUpstream,
                                                       marker: str, status: int, kind: str) -> None:
    gemini.push(Script(status=status, retry_after=2 if status == 429 else None), match=marker)
    with pytest.raises(ProviderError) as raised:
        await deltas(provider, ask(marker))
    assert raised.value.kind == kind and raised.value.retry_after == (2 if status == 429 else None)


async def test_a_stream_cut_before_its_finish_is_broken(provider: GeminiProvider, gemini: GeminiUpstream,
                                                        marker: str) -> None:
    gemini.push(Script(text="one two three", disconnect_after=2), match=marker)
    got: list[Delta] = []
    with pytest.raises(ProviderError) as raised:
        async for delta in provider.stream(ask(marker)):
            got.append(delta)
    assert raised.value.kind == "broken_stream"
    assert "".join(d.text for d in got if isinstance(d, TextDelta)) == "one two"


def test_a_chat_is_answered_by_gemini_through_a_real_server(gemini: GeminiUpstream, tmp_path: Path,
                                                            marker: str) -> None:
    gemini.push(Script(text="Gemini here."), match=marker)
    provider = {"name": "gemini", "kind": "gemini", "base_url": gemini.url, "api_key": "g-test",
                "model": "gemini-test"}
    server = ParlorServer(tmp_path, [provider]).start()
    try:
        result = chat(server.url, server.create_user("g"), uuid.uuid4().hex, f"hello {marker}")
    finally:
        server.stop()
    assert result.status == 200 and result.text == "Gemini here." and result.types[-1] == "finish"
    assert result.chunks[-1]["messageMetadata"]["provider"] == "gemini"
