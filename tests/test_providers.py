"""OpenAIProvider and Router against the scripted upstream: real sockets, real SSE, nothing patched."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from parlor.llm import (
    AllProvidersFailed,
    Answering,
    CompletionRequest,
    Delta,
    FinishDelta,
    LLMMessage,
    ProviderError,
    RequestSent,
    Resilience,
    Router,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageDelta,
)
from parlor.llm.openai import OpenAIProvider
from parlor.llm.types import ToolSpec
from tests.helpers.wait import wait_for
from tests.upstream import Script, ScriptedToolCall, Upstream, filler_tokens

Item = Answering | Delta


# ---- fixtures and helpers ----
@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with Upstream() as server:
        yield server


@pytest.fixture
def marker() -> str:
    """A unique word for the user text, so a test's scripts answer only that test's requests."""
    return f"m{uuid.uuid4().hex}"


@pytest.fixture
async def provider(upstream: Upstream) -> AsyncIterator[OpenAIProvider]:
    p = OpenAIProvider("primary", "model-a", upstream.url, read_timeout=10)
    yield p
    await p.aclose()


def request_for(marker: str, **extra: Any) -> CompletionRequest:
    messages = [LLMMessage("system", "Be brief."), LLMMessage("user", f"hello {marker}")]
    return CompletionRequest(messages, **extra)


def prompt_words(request: CompletionRequest) -> int:
    """The upstream counts prompt tokens as whitespace-separated words."""
    return sum(len(m.content.split()) for m in request.messages)


def received(upstream: Upstream, marker: str) -> list[dict[str, Any]]:
    return [r for r in upstream.requests if marker in json.dumps(r["messages"])]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def collect(stream: AsyncIterator[Item]) -> tuple[list[Item], ProviderError | None]:
    """Everything the stream yields but the `RequestSent` signal (not part of the answer; see
    test_the_request_is_announced_as_sent_before_any_delta), and the ProviderError that ended it."""
    items: list[Item] = []
    try:
        async for item in stream:
            if not isinstance(item, RequestSent):
                items.append(item)
    except ProviderError as exc:
        return items, exc
    return items, None


def text_of(items: list[Item]) -> str:
    return "".join(i.text for i in items if isinstance(i, TextDelta))


# ---- OpenAIProvider: happy paths ----
async def test_text_streams_in_order_with_usage_and_stop(
    upstream: Upstream, provider: OpenAIProvider, marker: str
) -> None:
    tokens = ["Hel", "lo", ",", " wor", "ld", "!"]
    upstream.push(Script(tokens=tokens, token_delay=0.005), match=marker)
    request = request_for(marker)
    items, error = await collect(provider.stream(request))
    assert error is None
    assert [i for i in items if isinstance(i, TextDelta)] == [TextDelta(t) for t in tokens]
    assert text_of(items) == "Hello, world!"
    assert [i for i in items if isinstance(i, UsageDelta)] == [UsageDelta(Usage(prompt_words(request), 6))]
    assert [i for i in items if isinstance(i, FinishDelta)] == [FinishDelta("stop")]
    last_text = max(k for k, i in enumerate(items) if isinstance(i, TextDelta))
    assert all(not isinstance(i, TextDelta) for i in items[last_text + 1:])
    assert isinstance(items[last_text + 1], FinishDelta)


async def test_the_request_is_announced_as_sent_before_any_delta(
    upstream: Upstream, provider: OpenAIProvider, marker: str
) -> None:
    upstream.push(Script(tokens=["a", "b"], ttft=0.3), match=marker)
    stream = provider.stream(request_for(marker))
    started = asyncio.get_running_loop().time()
    assert await anext(stream) == RequestSent()  # once the upstream took the request, before its first token
    assert asyncio.get_running_loop().time() - started < 0.25
    assert [d async for d in stream if isinstance(d, TextDelta)] == [TextDelta("a"), TextDelta("b")]
    upstream.push(Script(status=503), match=f"down {marker}")
    assert RequestSent() not in [d async for d in _until_error(provider.stream(request_for(f"down {marker}")))]


async def _until_error(stream: AsyncIterator[Item]) -> AsyncIterator[Item]:
    with contextlib.suppress(ProviderError):
        async for item in stream:
            yield item


async def test_upstream_receives_model_stream_options_and_messages(
    upstream: Upstream, provider: OpenAIProvider, marker: str
) -> None:
    upstream.push(Script(text="ok"), match=marker)
    tool = ToolSpec("lookup", "Look a thing up.", {"type": "object", "properties": {"q": {"type": "string"}}})
    await collect(provider.stream(request_for(marker, tools=[tool], temperature=0.25, max_tokens=64)))
    [body] = received(upstream, marker)
    assert body["model"] == "model-a"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": f"hello {marker}"}]
    assert body["tools"] == [{"type": "function", "function": {
        "name": "lookup", "description": "Look a thing up.", "parameters": tool.parameters}}]
    assert (body["temperature"], body["max_tokens"]) == (0.25, 64)


async def test_tool_calls_arrive_as_fragments(upstream: Upstream, provider: OpenAIProvider, marker: str) -> None:
    calls = [ScriptedToolCall("get_weather", json.dumps({"city": "Paris", "unit": "celsius"}), id="call_w1"),
             ScriptedToolCall("get_time", json.dumps({"tz": "Europe/Paris"}))]
    upstream.push(Script(text="Checking.", tool_calls=calls), match=marker)
    items, error = await collect(provider.stream(request_for(marker)))
    assert error is None
    assert text_of(items) == "Checking."
    fragments = [i for i in items if isinstance(i, ToolCallDelta)]
    assert sorted({f.index for f in fragments}) == [0, 1]
    for index, call in enumerate(calls):
        mine = [f for f in fragments if f.index == index]
        assert len([f for f in mine if f.arguments]) >= 2  # really streamed in pieces
        assert "".join(f.arguments for f in mine) == call.arguments
        assert mine[0].name == call.name
        assert all(f.id is None and f.name is None for f in mine[1:])
    assert next(f.id for f in fragments if f.id is not None) == "call_w1"
    assert str(next(f.id for f in fragments if f.index == 1)).startswith("call_")
    assert [i for i in items if isinstance(i, FinishDelta)] == [FinishDelta("tool-calls")]


# ---- OpenAIProvider: failures ----
async def test_429_is_rate_limited_with_retry_after(
    upstream: Upstream, provider: OpenAIProvider, marker: str
) -> None:
    upstream.push(Script(status=429, retry_after=7), match=marker)
    items, error = await collect(provider.stream(request_for(marker)))
    assert items == [] and error is not None
    assert (error.kind, error.retry_after, error.provider) == ("rate_limited", 7.0, "primary")


@pytest.mark.parametrize(("status", "kind"), [
    (500, "unavailable"), (503, "unavailable"), (401, "unavailable"), (400, "rejected"), (422, "rejected"),
])
async def test_error_statuses_map_to_kinds(
    upstream: Upstream, provider: OpenAIProvider, marker: str, status: int, kind: str
) -> None:
    upstream.push(Script(status=status), match=marker)
    items, error = await collect(provider.stream(request_for(marker)))
    assert items == [] and error is not None
    assert error.kind == kind and str(status) in str(error)


async def test_disconnect_mid_stream_is_broken_stream_after_the_first_deltas(
    upstream: Upstream, provider: OpenAIProvider, marker: str
) -> None:
    upstream.push(Script(tokens=["one", " two", " three", " four"], disconnect_after=2), match=marker)
    items, error = await collect(provider.stream(request_for(marker)))
    assert items == [TextDelta("one"), TextDelta(" two")]
    assert error is not None and error.kind == "broken_stream"


async def test_refused_connection_is_unavailable(marker: str) -> None:
    refused = OpenAIProvider("gone", "m", f"http://127.0.0.1:{closed_port()}/v1", connect_timeout=2)
    try:
        items, error = await collect(refused.stream(request_for(marker)))
    finally:
        await refused.aclose()
    assert items == [] and error is not None and error.kind == "unavailable"


async def test_hanging_upstream_times_out(upstream: Upstream, marker: str) -> None:
    upstream.push(Script(hang=True), match=marker)
    slow = OpenAIProvider("slow", "m", upstream.url, read_timeout=0.3)
    started = time.monotonic()
    try:
        items, error = await collect(slow.stream(request_for(marker)))
    finally:
        await slow.aclose()
    assert items == [] and error is not None and error.kind == "timeout"
    assert 0.25 <= time.monotonic() - started < 5


# ---- misbehaving upstreams (a raw socket server: tests.upstream always answers well-formed SSE) ----
@asynccontextmanager
async def raw_upstream(content_type: str, body: bytes) -> AsyncIterator[str]:
    """Answers every request with 200, the given content type and body, then closes; yields its /v1 url."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                     % (content_type.encode(), len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    finally:
        server.close()
        await server.wait_closed()


COMPLETION = json.dumps({"object": "chat.completion", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "not streamed"}, "finish_reason": "stop"}]}).encode()


@pytest.mark.parametrize(("content_type", "body"), [
    ("text/event-stream", b'data: {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}\n\ndata: {oops\n\n'),
    ("text/event-stream", b'data: {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}\n\n'),  # no finish
    ("application/json", COMPLETION),  # a server (or proxy) that ignores "stream": true
    ("text/html", b"<html>captive portal</html>"),
], ids=["malformed-json", "ends-unfinished", "not-sse-json", "not-sse-html"])
async def test_malformed_answers_are_provider_errors(upstream: Upstream, marker: str, content_type: str,
                                                     body: bytes) -> None:
    """Any upstream garbage must surface as a ProviderError, so the router can fall back (or report it)."""
    async with raw_upstream(content_type, body) as url:
        bad = OpenAIProvider("bad", "model-bad", url)
        router = Router([bad, OpenAIProvider("good", "model-good", upstream.url)], NO_RETRY)
        try:
            items, error = await collect(bad.stream(request_for(marker)))
            assert isinstance(error, ProviderError) and error.kind in ("broken_stream", "unavailable")
            assert items in ([], [TextDelta("Hi")])
            if not items:  # failed before its first token: the next provider answers
                upstream.push(Script(text="rescued"), match=marker)
                items, error = await collect(router.stream(request_for(marker)))
                assert error is None and items[0] == Answering("good", "model-good") and text_of(items) == "rescued"
        finally:
            await router.aclose()


# ---- Router ----
NO_RETRY = {name: Resilience(retries=0) for name in ("a", "b", "bad", "good")}


async def test_router_falls_back_before_the_first_token(upstream: Upstream, marker: str) -> None:
    upstream.push(Script(status=503), match=marker)
    upstream.push(Script(tokens=["from", " b"]), match=marker)
    a = OpenAIProvider("a", "model-a", upstream.url)
    b = OpenAIProvider("b", "model-b", upstream.url)
    router = Router([a, b], NO_RETRY)
    try:
        items, error = await collect(router.stream(request_for(marker)))
    finally:
        await router.aclose()
    assert error is None
    assert items[0] == Answering("b", "model-b")
    assert [i for i in items if isinstance(i, Answering)] == [Answering("b", "model-b")]
    assert text_of(items) == "from b"
    assert [r["model"] for r in received(upstream, marker)] == ["model-a", "model-b"]


@pytest.mark.parametrize("failure", ["refused", "dropped-before-content"])
async def test_router_falls_back_on_connection_failures(upstream: Upstream, marker: str, failure: str) -> None:
    if failure == "refused":
        a = OpenAIProvider("a", "model-a", f"http://127.0.0.1:{closed_port()}/v1")
    else:  # headers and the role chunk arrive, then the socket dies: still no token delivered
        a = OpenAIProvider("a", "model-a", upstream.url)
        upstream.push(Script(tokens=["never"], disconnect_after=0), match=marker)
    upstream.push(Script(text="rescued"), match=marker)
    router = Router([a, OpenAIProvider("b", "model-b", upstream.url)], NO_RETRY)
    try:
        items, error = await collect(router.stream(request_for(marker)))
    finally:
        await router.aclose()
    assert error is None
    assert items[0] == Answering("b", "model-b") and text_of(items) == "rescued"


async def test_router_does_not_fall_back_after_the_first_token(upstream: Upstream, marker: str) -> None:
    upstream.push(Script(tokens=["par", "tial", " answer"], disconnect_after=2), match=marker)
    router = Router([OpenAIProvider("a", "model-a", upstream.url), OpenAIProvider("b", "model-b", upstream.url)],
                    NO_RETRY)
    try:
        items, error = await collect(router.stream(request_for(marker)))
    finally:
        await router.aclose()
    assert items == [Answering("a", "model-a"), TextDelta("par"), TextDelta("tial")]
    assert error is not None and not isinstance(error, AllProvidersFailed)
    assert (error.provider, error.kind) == ("a", "broken_stream")
    assert [r["model"] for r in received(upstream, marker)] == ["model-a"]  # b was never asked


async def test_router_all_failing_raises_all_providers_failed(upstream: Upstream, marker: str) -> None:
    upstream.push(Script(status=500), match=marker)
    upstream.push(Script(status=429, retry_after=3), match=marker)
    router = Router([OpenAIProvider("a", "model-a", upstream.url), OpenAIProvider("b", "model-b", upstream.url)],
                    NO_RETRY)
    try:
        items, error = await collect(router.stream(request_for(marker)))
    finally:
        await router.aclose()
    assert items == []
    assert isinstance(error, AllProvidersFailed)
    assert [(e.provider, e.kind) for e in error.errors] == [("a", "unavailable"), ("b", "rate_limited")]


async def test_router_tries_the_requested_provider_first(upstream: Upstream, marker: str) -> None:
    upstream.push(Script(text="hi"), match=marker)
    a, b = OpenAIProvider("a", "model-a", upstream.url), OpenAIProvider("b", "model-b", upstream.url)
    router = Router([a, b], NO_RETRY)
    try:
        assert router.find("model-b") is b and router.find("a") is a and router.find("zzz") is None
        items, error = await collect(router.stream(request_for(marker), first=b))
    finally:
        await router.aclose()
    assert error is None and items[0] == Answering("b", "model-b")


# ---- cancellation reaches the upstream ----
@pytest.fixture
def lone_upstream() -> Iterator[Upstream]:
    """An upstream of its own, so no other test's connection can add to its disconnect count."""
    with Upstream(default=Script(tokens=filler_tokens(400), token_delay=0.05)) as server:
        yield server


@pytest.mark.parametrize("via", ["provider", "router"])
async def test_aclose_mid_stream_disconnects_the_upstream(lone_upstream: Upstream, marker: str, via: str) -> None:
    provider = OpenAIProvider("p", "m", lone_upstream.url)
    stream: AsyncIterator[Item] = (
        provider.stream(request_for(marker)) if via == "provider" else Router([provider]).stream(request_for(marker))
    )
    try:
        texts = 0
        while texts < 2:  # suspended at a yield, mid-answer
            texts += isinstance(await anext(stream), TextDelta)
        assert lone_upstream.disconnects == 0
        await stream.aclose()  # type: ignore[attr-defined]
        await wait_for(lambda: lone_upstream.disconnects == 1, message="the upstream call kept running")
        await wait_for(lambda: lone_upstream.active_streams == 0)
    finally:
        await provider.aclose()


async def test_cancelling_the_consuming_task_disconnects_the_upstream(lone_upstream: Upstream, marker: str) -> None:
    router = Router([OpenAIProvider("p", "m", lone_upstream.url)])
    first_text = asyncio.Event()

    async def consume() -> None:  # as a user's "stop" does: cancel the task streaming the answer
        async for item in router.stream(request_for(marker)):
            if isinstance(item, TextDelta):
                first_text.set()

    task = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(first_text.wait(), 5)
        assert lone_upstream.disconnects == 0
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await wait_for(lambda: lone_upstream.disconnects == 1, message="the upstream call kept running")
    finally:
        task.cancel()
        await router.aclose()
