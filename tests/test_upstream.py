"""The scripted upstream itself, over real sockets, with httpx and the official `openai` SDK."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.helpers.wait import wait_for
from tests.upstream import Script, ScriptedToolCall, Upstream, filler_tokens, split_tokens

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def up() -> Iterator[Upstream]:
    """A private upstream (the session-wide one in conftest is shared with Parlor's tests)."""
    with Upstream() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(up: Upstream) -> None:
    up.reset()


def body(text: str = "hello", stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], "stream": stream, **extra}


def events(lines: list[str]) -> list[Any]:
    """Decoded `data:` payloads of an SSE body ("[DONE]" stays a string)."""
    data = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
    return [d if d == "[DONE]" else json.loads(d) for d in data]


def sse(client: httpx.Client, url: str, payload: dict[str, Any]) -> list[Any]:
    with client.stream("POST", f"{url}/chat/completions", json=payload) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return events(list(response.iter_lines()))


def test_split_tokens_is_lossless() -> None:
    assert split_tokens("Hello there,  world! ") == ["Hello", " there,", "  world!", " "]
    assert "".join(split_tokens(" a\nb  c ")) == " a\nb  c "
    assert filler_tokens(3) == ["Lorem", " ipsum", " dolor"]


def test_streamed_text_reassembles_in_openai_wire_format(up: Upstream) -> None:
    up.push(Script(text="The quick brown fox.", token_delay=0.005))
    with httpx.Client() as client:
        chunks = sse(client, up.url, body())
    assert chunks[-1] == "[DONE]"
    first, *middle, last = chunks[:-1]
    assert first["object"] == "chat.completion.chunk" and first["id"].startswith("chatcmpl-")
    assert first["model"] == "m" and isinstance(first["created"], int)
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert {c["id"] for c in chunks[:-1]} == {first["id"]}
    assert [c["choices"][0]["delta"]["content"] for c in middle] == ["The", " quick", " brown", " fox."]
    assert all(c["choices"][0]["finish_reason"] is None for c in [first, *middle])
    assert last["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert "usage" not in last


def test_default_reply_echoes_the_last_user_message(up: Upstream) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "text", "text": "question"}]},
    ]
    client = openai.OpenAI(base_url=up.url, api_key="anything", max_retries=0)
    completion = client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    assert completion.choices[0].message.content == "You said: second question"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 2 + 2 + 2 + 2  # whitespace-separated words of all contents
    assert completion.usage.completion_tokens == len(split_tokens("You said: second question"))
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert up.requests[-1]["messages"] == messages


async def test_openai_sdk_streams_text_with_usage(up: Upstream) -> None:
    up.push(Script(tokens=["Hel", "lo", " world"]))
    client = openai.AsyncOpenAI(base_url=up.url, api_key="anything", max_retries=0)
    stream = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "one two three"}], stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello world"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (3, 3)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    await client.close()


async def test_tool_call_fragments_reassemble(up: Upstream) -> None:
    weather = json.dumps({"city": "Paris", "unit": "celsius", "days": [1, 2, 3]})
    calls = [ScriptedToolCall("get_weather", weather, id="call_w1"), ScriptedToolCall("get_time", '{"tz": "UTC"}')]
    up.push(Script(text="Let me check.", tool_calls=calls, token_delay=0.002))
    client = openai.AsyncOpenAI(base_url=up.url, api_key="anything", max_retries=0)
    stream = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "weather?"}], stream=True
    )
    text, assembled, finish, fragments = "", dict[int, dict[str, str]](), None, 0
    async for chunk in stream:
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for tc in delta.tool_calls or []:
            slot = assembled.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            if tc.id:
                assert not slot["id"], "id sent twice for one call"
                slot["id"], slot["name"] = tc.id, tc.function.name if tc.function and tc.function.name else ""
            slot["arguments"] += tc.function.arguments if tc.function and tc.function.arguments else ""
            fragments += 1
        finish = chunk.choices[0].finish_reason or finish
    await client.close()
    assert text == "Let me check."
    assert finish == "tool_calls"
    assert assembled[0] == {"id": "call_w1", "name": "get_weather", "arguments": weather}
    assert assembled[1]["name"] == "get_time" and assembled[1]["arguments"] == '{"tz": "UTC"}'
    assert assembled[1]["id"].startswith("call_")
    assert fragments >= 2 + 2 * 2, "arguments must arrive split over several chunks"
    assert json.loads(assembled[0]["arguments"]) == {"city": "Paris", "unit": "celsius", "days": [1, 2, 3]}


def test_non_streaming_tool_calls(up: Upstream) -> None:
    up.push(Script(tool_calls=[ScriptedToolCall("lookup", '{"q": "x"}', id="call_1")]))
    with httpx.Client() as client:
        reply = client.post(f"{up.url}/chat/completions", json=body(stream=False)).json()
    assert reply["object"] == "chat.completion"
    message = reply["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    ]
    assert reply["choices"][0]["finish_reason"] == "tool_calls"
    assert reply["usage"]["completion_tokens"] > 0


def test_usage_chunk_only_when_asked(up: Upstream) -> None:
    with httpx.Client() as client:
        plain = sse(client, up.url, body("a b c"))
        asked = sse(client, up.url, body("a b c", stream_options={"include_usage": True}))
    assert all("usage" not in c for c in plain[:-1])
    usage_chunk = asked[-2]
    assert usage_chunk["choices"] == []
    completion = len(split_tokens("You said: a b c"))
    assert usage_chunk["usage"] == {"prompt_tokens": 3, "completion_tokens": completion, "total_tokens": 3 + completion,
                                    "prompt_tokens_details": {"cached_tokens": 0},  # as OpenAI details them
                                    "completion_tokens_details": {"reasoning_tokens": 0}}
    assert asked[-3]["choices"][0]["finish_reason"] == "stop" and asked[-1] == "[DONE]"


def test_scripted_finish_reason(up: Upstream) -> None:
    up.push(Script(text="cut", finish_reason="length"))
    with httpx.Client() as client:
        chunks = sse(client, up.url, body())
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"


def test_error_status_and_retry_after_reach_the_client(up: Upstream) -> None:
    up.push(Script(status=429, retry_after=2, error_message="slow down"))
    up.push(Script(status=503))
    with httpx.Client() as client:
        limited = client.post(f"{up.url}/chat/completions", json=body())
        unavailable = client.post(f"{up.url}/chat/completions", json=body())
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    error = limited.json()["error"]
    assert error["message"] == "slow down" and error["type"] and error["code"] == "rate_limit_exceeded"
    assert unavailable.status_code == 503 and "retry-after" not in unavailable.headers
    assert unavailable.json()["error"]["type"] == "server_error"

    up.push(Script(status=429, retry_after=0.5))
    sdk = openai.OpenAI(base_url=up.url, api_key="anything", max_retries=0)
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert caught.value.status_code == 429 and caught.value.response.headers["retry-after"] == "0.5"


def test_sdk_retries_a_scripted_429_into_the_next_script(up: Upstream) -> None:
    up.push(Script(status=429, retry_after=0.01))
    up.push(Script(text="second try"))
    sdk = openai.OpenAI(base_url=up.url, api_key="anything", max_retries=1)
    reply = sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "second try"
    assert len(up.requests) == 2


def test_disconnect_after_breaks_the_stream(up: Upstream) -> None:
    up.push(Script(tokens=["one", " two", " three", " four"], disconnect_after=2, token_delay=0.01))
    received: list[str] = []
    with (
        httpx.Client() as client,
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", f"{up.url}/chat/completions", json=body()) as response,
    ):
        for line in response.iter_lines():
            received.append(line)
    chunks = events(received)
    assert [c["choices"][0]["delta"].get("content") for c in chunks] == ["", "one", " two"]
    assert "[DONE]" not in chunks
    assert up.disconnects == 0, "a drop by the server is not a client disconnect"


async def test_disconnect_after_is_a_broken_stream_for_the_sdk_too(up: Upstream) -> None:
    up.push(Script(tokens=["a", "b", "c"], disconnect_after=0))
    client = openai.AsyncOpenAI(base_url=up.url, api_key="anything", max_retries=0)
    stream = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
    with pytest.raises((httpx.RemoteProtocolError, openai.APIError)):
        async for _ in stream:
            pass
    await client.close()


def test_non_streaming_disconnect_after_is_a_truncated_body(up: Upstream) -> None:
    up.push(Script(text="whole answer", disconnect_after=1))
    with httpx.Client() as client, pytest.raises(httpx.RemoteProtocolError):
        client.post(f"{up.url}/chat/completions", json=body(stream=False))


async def test_ttft_and_token_delay_are_applied(up: Upstream) -> None:
    up.push(Script(tokens=["a", "b", "c", "d"], ttft=0.3, token_delay=0.05))
    async with httpx.AsyncClient() as client:
        started = time.monotonic()
        arrivals: list[float] = []
        async with client.stream("POST", f"{up.url}/chat/completions", json=body()) as response:
            async for line in response.aiter_lines():
                if '"content":"' in line and '"content":""' not in line:
                    arrivals.append(time.monotonic() - started)
    assert len(arrivals) == 4
    assert arrivals[0] >= 0.3
    assert arrivals[-1] >= 0.3 + 3 * 0.05  # deadlines are absolute: never early, a late one does not shift the rest


async def test_ttft_applies_to_non_streaming_and_errors(up: Upstream) -> None:
    up.push(Script(text="late", ttft=0.2))
    up.push(Script(status=500, ttft=0.2))
    async with httpx.AsyncClient() as client:
        for status in (200, 500):
            started = time.monotonic()
            response = await client.post(f"{up.url}/chat/completions", json=body(stream=False))
            assert response.status_code == status
            assert time.monotonic() - started >= 0.2


async def test_client_closing_mid_stream_is_counted(up: Upstream) -> None:
    up.push(Script(tokens=filler_tokens(200), token_delay=0.02))
    async with (
        httpx.AsyncClient() as client,
        client.stream("POST", f"{up.url}/chat/completions", json=body()) as response,
    ):
        seen = 0
        async for line in response.aiter_lines():
            seen += line.startswith("data: ")
            if seen == 3:
                assert up.active_streams == 1
                break  # leaving the block closes the connection mid-body
    await wait_for(lambda: up.disconnects == 1, message="the abandoned stream was not noticed")
    await wait_for(lambda: up.active_streams == 0)


async def test_hang_sends_nothing_until_the_client_gives_up(up: Upstream) -> None:
    up.push(Script(hang=True))
    async with httpx.AsyncClient(timeout=httpx.Timeout(5, read=0.3)) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await client.post(f"{up.url}/chat/completions", json=body())
        assert time.monotonic() - started >= 0.3
    await wait_for(lambda: up.disconnects == 1)
    await wait_for(lambda: up.active_streams == 0)


def test_completed_streams_are_not_disconnects(up: Upstream) -> None:
    with httpx.Client() as client:
        for _ in range(3):
            sse(client, up.url, body())
    time.sleep(0.1)
    assert up.disconnects == 0 and up.active_streams == 0


async def test_matched_scripts_go_to_their_requests_under_concurrency(up: Upstream) -> None:
    names = [f"user-{i}" for i in range(20)]
    for i, name in reversed(list(enumerate(names))):  # queue order must not matter
        up.push(Script(text=f"reply for {name}", ttft=0.01 * (i % 4), token_delay=0.005), match=f"[{name}]")
    up.push(Script(text="unmatched fifo"))

    async def ask(client: httpx.AsyncClient, text: str) -> str:
        async with client.stream("POST", f"{up.url}/chat/completions", json=body(text)) as response:
            chunks = events([line async for line in response.aiter_lines()])
        return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])

    async with httpx.AsyncClient() as client:
        replies = await asyncio.gather(*(ask(client, f"hi from [{n}] please") for n in names), ask(client, "other"))
    assert replies[:-1] == [f"reply for {n}" for n in names]
    assert replies[-1] == "unmatched fifo"
    assert len(up.requests) == len(names) + 1


def test_fifo_order_and_reset(up: Upstream) -> None:
    up.push(Script(text="first"))
    up.push(Script(text="second"))
    up.push(Script(text="matched"), match="special")
    sdk = openai.OpenAI(base_url=up.url, api_key="anything", max_retries=0)

    def ask(text: str) -> str | None:
        reply = sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])
        return reply.choices[0].message.content

    assert [ask("a"), ask("a special one"), ask("b"), ask("c")] == ["first", "matched", "second", "You said: c"]
    up.push(Script(text="forgotten"))
    up.reset()
    assert up.requests == [] and ask("d") == "You said: d"


def test_models_endpoint(up: Upstream) -> None:
    models = openai.OpenAI(base_url=up.url, api_key="anything").models.list()
    assert [m.id for m in models.data] and all(m.object == "model" for m in models.data)


def test_bad_requests_get_openai_errors(up: Upstream) -> None:
    with httpx.Client() as client:
        not_json = client.post(f"{up.url}/chat/completions", content=b"{nope")
        no_messages = client.post(f"{up.url}/chat/completions", json={"model": "m"})
        unknown = client.get(f"{up.url}/nothing")
    assert not_json.status_code == 400 and not_json.json()["error"]["type"] == "invalid_request_error"
    assert no_messages.status_code == 400
    assert unknown.status_code == 404 and unknown.json()["error"]["message"]
    assert up.requests == []


def test_api_key_is_checked_only_when_configured(up: Upstream) -> None:
    with Upstream(api_key="sekrit") as guarded:
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=guarded.url, api_key="wrong", max_retries=0).models.list()
        good = openai.OpenAI(base_url=guarded.url, api_key="sekrit", max_retries=0)
        reply = good.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "You said: hi"
        assert len(guarded.requests) == 1
    with httpx.Client() as client:  # the open one takes anything, even no header
        assert client.get(f"{up.url}/models").status_code == 200


def test_default_script_and_stop_with_open_streams() -> None:
    upstream = Upstream(default=Script(tokens=filler_tokens(500), token_delay=0.05)).start()
    with (
        httpx.Client() as client,
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", f"{upstream.url}/chat/completions", json=body()) as response,
    ):
        for n, _ in enumerate(response.iter_lines()):
            if n == 4:
                started = time.monotonic()
                upstream.stop()
                assert time.monotonic() - started < 3
    upstream.stop()  # idempotent


async def test_many_concurrent_streams_all_complete() -> None:
    streams, tokens = 200, 20
    with Upstream(default=Script(tokens=filler_tokens(tokens), ttft=0.05, token_delay=0.01)) as upstream:
        async def one(client: httpx.AsyncClient) -> int:
            count = 0
            async with client.stream("POST", f"{upstream.url}/chat/completions", json=body()) as response:
                async for line in response.aiter_lines():
                    count += '"content":"' in line and '"content":""' not in line
            return count

        # httpx's pool slows down quadratically with its size: a few small clients instead of one big one
        clients = [httpx.AsyncClient(limits=httpx.Limits(max_connections=25), timeout=30) for _ in range(8)]
        counts = await asyncio.gather(*(one(clients[i % len(clients)]) for i in range(streams)))
        for client in clients:
            await client.aclose()
        assert counts == [tokens] * streams
        assert upstream.peak_streams > 25  # counted where they are answered: the client's sampling can miss it
        await wait_for(lambda: upstream.active_streams == 0)
        assert upstream.disconnects == 0 and len(upstream.requests) == streams


def test_cli_serves_until_terminated() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "tests.upstream", "--port", "0", "--tokens", "5", "--ttft", "0.01"]
    process = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("upstream listening on http://127.0.0.1:") and line.endswith("/v1")
        url = line.rsplit(" ", 1)[1]
        with httpx.Client() as client:
            chunks = sse(client, url, body())
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
        assert text == "".join(filler_tokens(5))
    finally:
        process.terminate()
        assert process.wait(10) == 0
