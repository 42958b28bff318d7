"""The bundled local model's speed: straight through the runtime, and through Parlor, on the same prompt.

In one run: the runtime's load time, time to first token and tokens/second in this process
(xllamacpp, no Parlor); then the same through a real `parlor serve` (`POST /v1/chat/completions`,
streamed over HTTP: queue, worker thread, router, SSE), the two interleaved run by run; then N
concurrent chats through Parlor, whose first-token times show the first-come-first-served queue.

    python bench/local_model.py [--model qwen2.5-coder-0.5b] [--tokens 128] [--runs 3] [--concurrency 4]
    python bench/local_model.py --tools [--model ...]   # tool-call success on a handful of prompts
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from parlor.llm.local import LocalProvider  # noqa: E402
from parlor.llm.local.files import resolve  # noqa: E402
from parlor.llm.types import (  # noqa: E402
    CompletionRequest,
    LLMMessage,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
)
from tests.server import ParlorServer  # noqa: E402

SYSTEM = "You are a helpful assistant. Answer in detail."
PROMPT = "Explain how a hash map works, with an example in Python."
MODELS_DIR = ROOT / "data" / "models"


def body(tokens: int) -> dict[str, Any]:
    return {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}],
            "max_tokens": tokens, "temperature": 0,
            "stream": True, "stream_options": {"include_usage": True}}


def load_runtime(path: Path, threads: int) -> tuple[Any, float]:
    import xllamacpp  # type: ignore[import-untyped]

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = 4096
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.verbosity = -1
    params.use_jinja = True
    started = time.perf_counter()
    server = xllamacpp.Server(params)
    return server, time.perf_counter() - started


def runtime_stream(server: Any, tokens: int) -> tuple[float, float, int]:
    """(time to first token, tokens/second after it, completion tokens) straight through the runtime."""
    first: list[float] = []
    usage: dict[str, Any] = {}
    begun = time.perf_counter()

    def on_chunk(chunk: dict[str, Any]) -> bool:
        if not first and any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or []):
            first.append(time.perf_counter() - begun)
        usage.update(chunk.get("usage") or {})
        return False

    server.handle_chat_completions(body(tokens), on_chunk)
    total = time.perf_counter() - begun
    return first[0], (usage["completion_tokens"] - 1) / (total - first[0]), usage["completion_tokens"]


def parlor_stream(url: str, key: str, tokens: int) -> tuple[float, float, int]:
    """(time to first token, tokens/second after it, completion tokens) of one streamed completion."""
    begun = time.perf_counter()
    first = None
    completion = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=600) as client, \
            client.stream("POST", "/v1/chat/completions", json={**body(tokens), "model": "local"}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = orjson.loads(line[6:])
            if first is None and any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or []):
                first = time.perf_counter() - begun
            if chunk.get("usage"):
                completion = chunk["usage"]["completion_tokens"]
    total = time.perf_counter() - begun
    assert first is not None, "no text came"
    return first, (completion - 1) / (total - first), completion


TOOLS = [
    ToolSpec("calculator", "Evaluate an arithmetic expression exactly and return the result.",
             {"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}),
    ToolSpec("current_time", "The current date and time in a time zone.",
             {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}),
    ToolSpec("get_weather", "Current weather for a city.",
             {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
]
EVIDENCE = {"calculator": ("9449772114007", "307.6"), "current_time": ("3:04", "03:04", "January 2"),
            "get_weather": ("rain", "12")}  # what an answer from the tool's result mentions
TOOL_PROMPTS = [  # (prompt, the tool that should be called, a word its arguments must hold; None: no tool)
    ("what is 1234567 * 7654321? use the calculator", "calculator", "7654321"),
    ("What is 98765 divided by 321?", "calculator", "321"),
    ("What time is it in Tokyo right now?", "current_time", "Tokyo"),
    ("Is it raining in Paris?", "get_weather", "Paris"),
    ("Write a haiku about tea", None, None),
    ("What is the capital of Italy?", None, None),
]


async def tool_success(model: str, threads: int) -> None:
    """How often the model calls the right tool with sensible arguments (or none when none is needed), and
    whether it then answers from the tool's result."""
    provider = LocalProvider("local", model, models_dir=MODELS_DIR, threads=threads)
    await asyncio.to_thread(provider.wait_ready)
    right = answered = called = 0
    try:
        for prompt, tool, must in TOOL_PROMPTS:
            messages = [LLMMessage("system", "You are Parlor, a helpful assistant. Answer clearly and concisely."),
                        LLMMessage("user", prompt)]
            deltas = [d async for d in provider.stream(CompletionRequest(messages, tools=TOOLS, temperature=0,
                                                                         max_tokens=200))]
            calls = [d for d in deltas if isinstance(d, ToolCallDelta)]
            ok = (not calls) if tool is None else bool(
                calls and calls[0].name == tool and must is not None and must in calls[0].arguments)
            right += ok
            outcome = "no call" if not calls else f"{calls[0].name}({calls[0].arguments})"
            if calls and tool is not None:
                called += 1
                result = {"calculator": "9449772114007" if "7654321" in prompt else "307.679",
                          "current_time": "2026-01-02T03:04:05+09:00", "get_weather": "light rain, 12 C"}[tool]
                follow = [*messages, LLMMessage("assistant", "", (ToolCall(calls[0].id or "c1", calls[0].name,
                                                                           calls[0].arguments),)),
                          LLMMessage("tool", result, tool_call_id=calls[0].id)]
                answer = "".join(d.text for d in [d async for d in provider.stream(CompletionRequest(
                    follow, tools=TOOLS, temperature=0, max_tokens=120))] if isinstance(d, TextDelta))
                used = (any(word in answer.replace(",", "") for word in EVIDENCE[tool])
                        and '"arguments"' not in answer and "<tool_call>" not in answer)  # not the call again
                answered += used
                outcome += f" -> answer uses the result: {used} ({answer[:60]!r})"
            print(f"  {'ok ' if ok else 'BAD'} {prompt!r}: {outcome}")
    finally:
        await provider.aclose()
    print(f"{model}: right choice {right}/{len(TOOL_PROMPTS)}, answered from the result {answered}/{called}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--tools", action="store_true", help="measure tool-call success instead of speed")
    args = parser.parse_args()
    threads = args.threads or os.cpu_count() or 1
    if args.tools:
        asyncio.run(tool_success(args.model, threads))
        return
    started = time.perf_counter()
    path = resolve(args.model, None, MODELS_DIR)
    print(f"model {args.model}: {path.name} ({path.stat().st_size / 1e6:.0f} MB), verified/joined in "
          f"{time.perf_counter() - started:.2f} s; {threads} threads; prompt {PROMPT!r}, {args.tokens} tokens, "
          f"temperature 0, median of {args.runs}")

    runtime, load = load_runtime(path, threads)
    runtime_stream(runtime, 8)  # warm, as Parlor's warm-up below
    with tempfile.TemporaryDirectory() as tmp:
        provider = {"name": "local", "kind": "local", "model": args.model, "models_dir": str(MODELS_DIR),
                    "threads": threads, "queue_size": max(8, args.concurrency)}
        server = ParlorServer(Path(tmp), [provider], PARLOR_TOOLS="[]", PARLOR_TIERS=orjson.dumps(
            {"free": {}, "pro": {}, "unlimited": {}}).decode())
        begun = time.perf_counter()
        server.start(timeout=300)
        try:
            key = server.create_user(f"bench-{uuid.uuid4().hex[:6]}")
            parlor_stream(server.url, key, 8)  # waits for the model load, warms the prompt cache
            ready = time.perf_counter() - begun
            direct: list[tuple[float, float, int]] = []
            through: list[tuple[float, float, int]] = []
            for _ in range(args.runs):  # interleaved, so a busy moment of the machine hits both alike
                direct.append(runtime_stream(runtime, args.tokens))
                through.append(parlor_stream(server.url, key, args.tokens))
            del runtime
            direct_ttft = statistics.median(r[0] for r in direct)
            direct_rate = statistics.median(r[1] for r in direct)
            print(f"runtime (xllamacpp, in-process): load {load:.2f} s, first token {direct_ttft * 1000:.0f} ms, "
                  f"{direct_rate:.1f} tokens/s   runs: " + ", ".join(f"{t * 1000:.0f} ms/{n} tokens/{r:.1f} t/s"
                                                                  for t, r, n in direct))
            ttft = statistics.median(r[0] for r in through)
            rate = statistics.median(r[1] for r in through)
            print(f"through Parlor (POST /v1/chat/completions, streamed): ready to answer {ready:.2f} s after "
                  f"start, first token {ttft * 1000:.0f} ms, {rate:.1f} tokens/s = {rate / direct_rate:.2f}x the "
                  "runtime   runs: " + ", ".join(f"{t * 1000:.0f} ms/{n} tokens/{r:.1f} t/s" for t, r, n in through))

            results: list[tuple[int, float, float, float, int]] = []
            lock = threading.Lock()
            t0 = time.perf_counter()

            def one(index: int) -> None:
                first, tokens_per_s, completion = parlor_stream(server.url, key, args.tokens)
                with lock:
                    results.append((index, first, tokens_per_s, time.perf_counter() - t0, completion))

            async def all_at_once() -> None:
                await asyncio.gather(*(asyncio.to_thread(one, i) for i in range(args.concurrency)))

            asyncio.run(all_at_once())
            print(f"{args.concurrency} concurrent chats through Parlor (one worker, first come first served):")
            for index, first, tokens_per_s, done, completion in sorted(results, key=lambda r: r[1]):
                print(f"  chat {index}: first token {first:6.2f} s, {completion} tokens at {tokens_per_s:5.1f} "
                      f"tokens/s, done at {done:6.2f} s")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
