"""`/v1` through the official `openai` SDK, against a real server and the scripted upstream."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.conftest import RunningServer
from tests.upstream import Script, Upstream


@pytest.fixture
def client(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=server.api_key, max_retries=0)


def test_models_lists_the_configured_providers(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["up"]


def test_a_completion_without_streaming(client: openai.OpenAI, upstream: Upstream, marker: str) -> None:
    completion = client.chat.completions.create(
        model="up", messages=[{"role": "user", "content": f"plain {marker}"}], temperature=0.2, max_tokens=50)
    assert completion.choices[0].message.content == f"You said: plain {marker}"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == 4
    sent = next(r for r in upstream.requests if marker in str(r["messages"]))
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 50
    assert sent["messages"] == [{"role": "user", "content": f"plain {marker}"}]


def test_a_streamed_completion_with_usage(client: openai.OpenAI, marker: str) -> None:
    stream = client.chat.completions.create(
        model="test-model", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": f"stream {marker}"}])
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"You said: stream {marker}"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == chunks[-1].usage.prompt_tokens + chunks[-1].usage.completion_tokens


def test_an_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert "nope" in str(caught.value)


def test_a_bad_key_is_an_authentication_error(server: RunningServer) -> None:
    bad = openai.OpenAI(base_url=f"{server.url}/v1", api_key="pk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_invalid_bodies_are_4xx_with_type_and_message(server: RunningServer) -> None:
    response = httpx.post(f"{server.url}/v1/chat/completions", json={"model": "up", "messages": []},
                          headers={"Authorization": f"Bearer {server.api_key}"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"] and error["code"] == "invalid_request"


def test_a_provider_failing_mid_stream_raises_in_the_sdk(client: openai.OpenAI, upstream: Upstream,
                                                         marker: str) -> None:
    upstream.push(Script(tokens=[" a", " b", " c", " d"], disconnect_after=2), match=marker)
    stream = client.chat.completions.create(model="up", stream=True,
                                            messages=[{"role": "user", "content": f"break {marker}"}])
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_all_providers_down_is_503(client: openai.OpenAI, upstream: Upstream, marker: str) -> None:
    for _ in range(2):  # the first try and its retry
        upstream.push(Script(status=503), match=marker)
    started = time.monotonic()
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="up", messages=[{"role": "user", "content": f"down {marker}"}])
    assert caught.value.status_code == 503
    assert time.monotonic() - started < 5


def test_an_idempotency_key_never_generates_twice(client: openai.OpenAI, upstream: Upstream, marker: str) -> None:
    upstream.push(Script(text="only once", token_delay=0.05), match=marker)
    key = {"Idempotency-Key": f"key-{marker}"}
    messages: list[dict[str, str]] = [{"role": "user", "content": f"once {marker}"}]
    first = client.chat.completions.create(model="up", messages=messages, extra_headers=key)  # type: ignore[arg-type]
    again = client.chat.completions.create(model="up", messages=messages, extra_headers=key)  # type: ignore[arg-type]
    streamed = list(client.chat.completions.create(model="up", messages=messages, stream=True,  # type: ignore[arg-type]
                                                   extra_headers=key))
    assert first.id == again.id and again.choices[0].message.content == "only once"
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "only once"
    assert len([r for r in upstream.requests if marker in str(r["messages"])]) == 1
    other = client.chat.completions.create(model="up", messages=messages,  # type: ignore[arg-type]
                                           extra_headers={"Idempotency-Key": f"other-{marker}"})
    assert other.id != first.id
