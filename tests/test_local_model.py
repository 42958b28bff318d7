"""The bundled local model: the lenient tool-call parser, the model file's joining and verification, and
the real Qwen2.5-Coder-0.5B (installed by `make model-small`) through the provider and a real `parlor serve`.

The model loads a few times only: one provider and one server per module."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
from httpx_sse import connect_sse

from parlor.agent.builtin import builtin_tools
from parlor.llm.local import CATALOG, BundledModel, LocalProvider, ModelFileError, model_file
from parlor.llm.local.files import locate_parts
from parlor.llm.local.markup import MARKERS
from parlor.llm.types import (
    CompletionRequest,
    FinishDelta,
    LLMMessage,
    ProviderError,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    UsageDelta,
)
from tests.client import auth, chat, chat_body
from tests.server import ROOT, ParlorServer

SMALL = "qwen2.5-coder-0.5b"
MODELS_DIR = ROOT / "data" / "models"  # shared with `make run`: joined once per checkout
CALCULATOR = ToolSpec("calculator", "Evaluate an arithmetic expression exactly and return the result.",
                      {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]})
WEATHER = ToolSpec("get_weather", "Current weather for a city.",
                   {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})


# ---- joining and verifying the model file ----

def _fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: list[bytes], sha256: str | None = None,
                installed: int | None = None) -> BundledModel:
    """Parts as real (uninstalled-looking) packages on sys.path, found by find_spec like the real ones."""
    tag = uuid.uuid4().hex[:8]
    site = tmp_path / "site"
    for index, data in enumerate(parts[:installed] if installed is not None else parts, start=1):
        folder = site / f"fake_model_{tag}_part{index}" / "data"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("raise RuntimeError('a model part must never be imported')\n")
        (folder / f"part{index:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(parts)
    return BundledModel(f"fake-{tag}", tuple((f"fake-model-{tag}-part{i}==1.0", f"fake_model_{tag}_part{i}",
                                              f"data/part{i:02d}.bin") for i in range(1, len(parts) + 1)),
                        sha256 or hashlib.sha256(whole).hexdigest(), len(whole), "test")


def test_parts_are_joined_in_order_once_and_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = [b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7]
    model = _fake_model(tmp_path, monkeypatch, parts)
    seen: list[int] = []
    path = model_file(model, tmp_path / "models", progress=lambda done, total: seen.append(done))
    assert path.read_bytes() == b"".join(parts) and seen[-1] == 161
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == sorted([path.name, f"{model.name}.verified"])
    mtime = path.stat().st_mtime_ns
    assert model_file(model, tmp_path / "models", progress=lambda *_: pytest.fail("joined twice")) == path
    assert path.stat().st_mtime_ns == mtime


def test_a_wrong_sha256_fails_with_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _fake_model(tmp_path, monkeypatch, [b"x" * 10, b"y" * 10], sha256="0" * 64)
    with pytest.raises(ModelFileError) as caught:
        model_file(model, tmp_path / "models")
    message = str(caught.value)
    assert "\n" not in message and "sha256 mismatch" in message and "refusing to load" in message
    assert not any((tmp_path / "models").glob("*.gguf*"))  # nothing half-made is left to load


def test_a_damaged_joined_file_is_made_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _fake_model(tmp_path, monkeypatch, [b"x" * 10, b"y" * 10])
    path = model_file(model, tmp_path / "models")
    path.write_bytes(b"z" * 20)
    assert model_file(model, tmp_path / "models").read_bytes() == b"x" * 10 + b"y" * 10


def test_a_missing_part_fails_with_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _fake_model(tmp_path, monkeypatch, [b"x" * 10, b"y" * 10, b"z" * 10], installed=2)
    with pytest.raises(ModelFileError) as caught:
        locate_parts(model)
    message = str(caught.value)
    assert "\n" not in message and "part 3 of 3" in message and "install-model.sh" in message


async def test_a_provider_whose_file_fails_answers_unavailable_with_that_line(tmp_path: Path) -> None:
    provider = LocalProvider("local", "no-such-model", models_dir=tmp_path)
    try:
        assert not provider.wait_ready(10)
        with pytest.raises(ProviderError) as caught:
            async for _ in provider.stream(CompletionRequest([LLMMessage("user", "hi")])):
                pass
        assert caught.value.kind == "unavailable" and "unknown local model 'no-such-model'" in str(caught.value)
    finally:
        await provider.aclose()


def test_the_catalog_pins_exact_versions() -> None:
    for model in CATALOG.values():
        assert all("==" in requirement for requirement in model.requirements)
    assert len(CATALOG[SMALL].parts) == 6 and len(CATALOG["qwen2.5-coder-1.5b"].parts) == 22


# ---- the real 0.5B model through the provider ----

@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[LocalProvider]:
    local = LocalProvider("local", SMALL, models_dir=MODELS_DIR, queue_size=1)
    assert await asyncio.to_thread(local.wait_ready, 300), local.error
    yield local
    await local.aclose()


async def collect(provider: LocalProvider, request: CompletionRequest) -> list[Any]:
    return [delta async for delta in provider.stream(request)]


async def test_streams_text_with_usage_from_the_runtime(provider: LocalProvider) -> None:
    deltas = await collect(provider, CompletionRequest([LLMMessage("user", "Write a haiku about tea")],
                                                       max_tokens=48, temperature=0))
    text = "".join(d.text for d in deltas if isinstance(d, TextDelta))
    usage = next(d.usage for d in deltas if isinstance(d, UsageDelta))
    assert text.strip() and usage.tokens_in > 5 and 0 < usage.tokens_out <= 48
    assert isinstance(deltas[-1], FinishDelta) and deltas[-1].reason in ("stop", "length")


async def test_max_tokens_and_stop_sequences(provider: LocalProvider) -> None:
    counting = [LLMMessage("user", "Count from 1 to 50, one number per line, nothing else.")]
    short = await collect(provider, CompletionRequest(counting, max_tokens=5, temperature=0))
    assert next(d for d in short if isinstance(d, UsageDelta)).usage.tokens_out == 5
    assert short[-1] == FinishDelta("length")
    stopped = await collect(provider, CompletionRequest(counting, max_tokens=200, temperature=0, stop=["7"]))
    text = "".join(d.text for d in stopped if isinstance(d, TextDelta))
    assert "5" in text and "7" not in text and stopped[-1] == FinishDelta("stop")


async def test_the_tokenizer_counts_like_the_runtime(provider: LocalProvider) -> None:
    assert provider.count_tokens("Hello, world!") == 4  # Qwen2's vocabulary: Hello , world !
    text = "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
    deltas = await collect(provider, CompletionRequest([LLMMessage("user", text)], max_tokens=1))
    with_text = next(d.usage for d in deltas if isinstance(d, UsageDelta)).tokens_in
    deltas = await collect(provider, CompletionRequest([LLMMessage("user", "")], max_tokens=1))
    empty = next(d.usage for d in deltas if isinstance(d, UsageDelta)).tokens_in
    assert with_text - empty == provider.count_tokens(text)


async def test_a_live_tool_prompt_becomes_a_tool_call(provider: LocalProvider) -> None:
    request = CompletionRequest([LLMMessage("user", "what is 1234567 * 7654321? use the calculator")],
                                tools=[CALCULATOR, WEATHER], temperature=0, max_tokens=120)
    deltas = await collect(provider, request)
    calls = [d for d in deltas if isinstance(d, ToolCallDelta)]
    assert len(calls) >= 1 and calls[0].name == "calculator" and calls[0].id
    arguments = orjson.loads(calls[0].arguments)
    assert "1234567" in arguments["expression"] and "7654321" in arguments["expression"]
    assert deltas[-1] == FinishDelta("tool-calls")
    # the result goes back as a message these models answer from, and they answer
    answer = await collect(provider, CompletionRequest([
        LLMMessage("user", "what is 1234567 * 7654321? use the calculator"),
        LLMMessage("assistant", "", (ToolCall(calls[0].id or "", "calculator", calls[0].arguments),)),
        LLMMessage("tool", '{"result": "9449772114007"}', tool_call_id=calls[0].id, tool_name="calculator"),
    ], tools=[CALCULATOR, WEATHER], temperature=0, max_tokens=80))
    text = "".join(d.text for d in answer if isinstance(d, TextDelta)).replace(",", "")
    assert "9449772114007" in text and not any(isinstance(d, ToolCallDelta) for d in answer), text


async def test_chit_chat_with_the_default_tools_gets_an_answer_and_no_call(provider: LocalProvider) -> None:
    """The newcomer's first message, with every built-in tool offered: words, no call, no markup."""
    tools = [t.spec() for t in builtin_tools(lambda *_: None, 1).values()]  # type: ignore[arg-type, return-value]
    for message in ("Hi! Write me a two-line greeting.", "Hello! Who are you?"):
        deltas = await collect(provider, CompletionRequest([LLMMessage("system", "You are Parlor."),
                                                            LLMMessage("user", message)], tools=tools, max_tokens=60))
        text = "".join(d.text for d in deltas if isinstance(d, TextDelta))
        assert text.strip() and not any(isinstance(d, ToolCallDelta) for d in deltas), (message, deltas)
        assert not any(marker in text for marker in MARKERS), text


async def test_stopping_frees_the_model_at_once_and_a_full_queue_is_busy(provider: LocalProvider) -> None:
    long = CompletionRequest([LLMMessage("user", "Count from 1 to 1000, one number per line.")], max_tokens=1500)
    stream = provider.stream(long)
    pieces = [await anext(stream) for _ in range(3)]
    assert all(isinstance(p, TextDelta) for p in pieces)
    # one request waits (the queue holds 1); the next is refused at once
    waiting = asyncio.ensure_future(collect(provider, CompletionRequest([LLMMessage("user", "Say hi")], max_tokens=4)))
    await asyncio.sleep(0.2)
    with pytest.raises(ProviderError) as caught:
        await collect(provider, CompletionRequest([LLMMessage("user", "Say hi")], max_tokens=4))
    assert caught.value.kind == "busy"
    started = time.perf_counter()
    await stream.aclose()  # stop: the generation ends at its next token
    answered = await asyncio.wait_for(waiting, 30)
    assert any(isinstance(d, TextDelta) for d in answered)
    assert time.perf_counter() - started < 10  # the 1500-token count would take far longer


async def test_the_event_loop_stays_free_while_the_model_generates(provider: LocalProvider) -> None:
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            gaps.append(time.perf_counter() - before)

    tick = asyncio.create_task(ticker())
    await collect(provider, CompletionRequest([LLMMessage("user", "Write a haiku about tea")], max_tokens=30))
    done.set()
    await tick
    assert len(gaps) > 10 and max(gaps) < 0.5


# ---- the real 0.5B model behind a real `parlor serve` ----

@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ParlorServer, str]]:
    providers = [{"name": "local", "kind": "local", "model": SMALL, "models_dir": str(MODELS_DIR), "queue_size": 2}]
    # no tools: these tests are about streaming, stopping and queueing (the 0.5B model calls tools at random)
    process = ParlorServer(tmp_path_factory.mktemp("parlor-local"), providers, PARLOR_TOOLS="[]").start(timeout=120)
    try:
        yield process, process.create_user(f"local-{uuid.uuid4().hex[:6]}")
    finally:
        process.stop()


def _usage_rows(server: ParlorServer, request_id: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(server.data_dir / "parlor.db") as db:
        return db.execute("SELECT provider, model, tokens_in, tokens_out, status FROM usage WHERE request_id = ?",
                          (request_id,)).fetchall()


def _wait_usage(server: ParlorServer, request_id: str) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + 10
    while not (rows := _usage_rows(server, request_id)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return rows


def test_api_chat_streams_an_answer_and_records_usage(local_server: tuple[ParlorServer, str]) -> None:
    server, key = local_server
    result = chat(server.url, key, f"t-{uuid.uuid4().hex}", "Write a haiku about tea", timeout=120)
    assert result.status == 200 and result.done, result.body
    assert result.text.strip() and "text-delta" in result.types and result.types[-1] == "finish"
    assert sum(1 for t in result.types if t == "text-delta") > 3  # streamed, not one block
    rows = _wait_usage(server, result.headers["x-request-id"])
    assert rows and rows[0][0] == "local" and rows[0][1] == SMALL and rows[0][2] > 10 and rows[0][3] > 0
    assert rows[0][4] == "complete"


def test_v1_chat_completions_streams_with_usage(local_server: tuple[ParlorServer, str]) -> None:
    server, key = local_server
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=120)
    stream = client.chat.completions.create(model="local", messages=[{"role": "user", "content": "Say hello."}],
                                            stream=True, max_tokens=30, stream_options={"include_usage": True})
    pieces, usage = [], None
    for chunk in stream:
        pieces += [c.delta.content for c in chunk.choices if c.delta.content]
        usage = chunk.usage or usage
    assert "".join(pieces).strip() and len(pieces) > 1
    assert usage is not None and usage.prompt_tokens > 5 and 0 < usage.completion_tokens <= 30


def test_stop_mid_generation_frees_the_model_for_the_next_request(local_server: tuple[ParlorServer, str]) -> None:
    server, key = local_server
    thread = f"t-{uuid.uuid4().hex}"
    seen = threading.Event()

    def long_chat() -> None:
        with httpx.Client(base_url=server.url, headers=auth(key), timeout=120) as client, connect_sse(
            client, "POST", "/api/chat", json=chat_body(thread, "Count from 1 to 2000, one number per line.")
        ) as source:
            for event in source.iter_sse():
                if '"text-delta"' in event.data:
                    seen.set()

    reader = threading.Thread(target=long_chat)
    reader.start()
    assert seen.wait(60)
    stopped = httpx.post(f"{server.url}/api/chat/{thread}/stop", headers=auth(key), timeout=10)
    assert stopped.status_code == 204
    started = time.perf_counter()
    result = chat(server.url, key, f"t-{uuid.uuid4().hex}", "Say hi.", timeout=60)
    assert result.status == 200 and result.text.strip() and result.types[-1] == "finish"
    assert time.perf_counter() - started < 20  # counting to 2000 would hold the model for minutes
    reader.join(30)
    assert not reader.is_alive()


def test_three_concurrent_chats_all_complete(local_server: tuple[ParlorServer, str]) -> None:
    server, key = local_server
    prompts = ["Name a colour.", "Name a fruit.", "Name an animal."]

    async def run() -> list[Any]:
        return await asyncio.gather(*(asyncio.to_thread(chat, server.url, key, f"t-{uuid.uuid4().hex}", p,
                                                        None, "submit-message", 120) for p in prompts))

    results = asyncio.run(run())
    for result in results:
        assert result.status == 200 and result.done and result.types[-1] == "finish", result.chunks[-3:]
        assert result.text.strip()


def test_a_full_queue_answers_503_local_model_busy(local_server: tuple[ParlorServer, str]) -> None:
    server, key = local_server
    body = {"model": "local", "stream": True, "max_tokens": 1500,
            "messages": [{"role": "user", "content": "Count from 1 to 1000, one number per line."}]}
    with httpx.Client(base_url=server.url, headers=auth(key), timeout=60) as client:
        streams = [connect_sse(client, "POST", "/v1/chat/completions", json=body) for _ in range(3)]
        try:
            for stream in streams:  # one generating, two waiting (queue_size 2)
                stream.__enter__()
            time.sleep(0.5)
            busy = client.post("/v1/chat/completions", json={**body, "stream": False, "max_tokens": 4})
            assert busy.status_code == 503, busy.text
            assert busy.json()["error"]["code"] == "local_model_busy"
        finally:
            for stream in streams:
                stream.__exit__(None, None, None)  # disconnecting cancels them
