"""CPU per streamed chunk: Parlor's providers against the official SDKs, on the scripted upstreams.

The upstream serves in a thread of its own; the reader's CPU is the main thread's (`time.thread_time`),
so only the client's work per chunk is counted: HTTP parsing, SSE framing, JSON, the event objects.

    python bench/provider_chunks.py --chunks 2000 --runs 5

Not part of `make test`: it prints figures (README, "Providers").
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anthropic
import openai
from google import genai
from google.genai import types

from parlor.llm import CompletionRequest, LLMMessage
from parlor.llm.anthropic import AnthropicProvider
from parlor.llm.gemini import GeminiProvider
from parlor.llm.openai import OpenAIProvider
from tests.anthropic_upstream import AnthropicUpstream
from tests.gemini_upstream import GeminiUpstream
from tests.upstream import Script, Upstream, filler_tokens

Reader = Callable[[], Awaitable[int]]


async def measure(read: Reader, runs: int, chunks: int) -> tuple[float, int]:
    """The median µs of the reader's own CPU per upstream chunk over `runs` streams (one warm-up first)."""
    await read()
    costs, items = [], 0
    for _ in range(runs):
        started = time.thread_time()
        items = await read()
        costs.append((time.thread_time() - started) / chunks * 1e6)
    return statistics.median(costs), items


async def main(chunks: int, runs: int) -> None:
    script = Script(tokens=filler_tokens(chunks))
    question = [LLMMessage("user", "hello")]
    with AnthropicUpstream(default=script) as claude, Upstream(default=script) as gpt, \
            GeminiUpstream(default=script) as google:
        native = AnthropicProvider("claude", "m", claude.url)
        relay = OpenAIProvider("openai", "m", gpt.url)
        gemini = GeminiProvider("gemini", "m", google.url)
        gemini_sdk = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=google.url))
        sdk = anthropic.AsyncAnthropic(base_url=claude.url, api_key="k", max_retries=0)
        openai_sdk = openai.AsyncOpenAI(base_url=gpt.url, api_key="k", max_retries=0)

        async def parlor(provider: AnthropicProvider | OpenAIProvider | GeminiProvider) -> int:
            return sum([1 async for _ in provider.stream(CompletionRequest(question))])

        async def anthropic_sdk() -> int:
            async with sdk.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as s:
                return sum([1 async for _ in s])

        async def openai_sdk_stream() -> int:
            stream = await openai_sdk.chat.completions.create(model="m", stream=True,
                                                              messages=[{"role": "user", "content": "hi"}])
            return sum([1 async for _ in stream])

        async def gemini_sdk_stream() -> int:
            return sum([1 async for _ in await gemini_sdk.aio.models.generate_content_stream(model="m", contents="hi")])

        rows = [("anthropic: parlor (aiohttp)", lambda: parlor(native)),
                ("anthropic: official SDK (httpx)", anthropic_sdk),
                ("openai: parlor (aiohttp)", lambda: parlor(relay)),
                ("openai: official SDK (httpx)", openai_sdk_stream),
                ("gemini: parlor (aiohttp)", lambda: parlor(gemini)),
                ("gemini: official SDK (google-genai)", gemini_sdk_stream)]
        print(f"{chunks} chunks a stream, median of {runs} streams, the reader's own CPU")
        for name, read in rows:
            cost, items = await measure(read, runs, chunks)
            print(f"  {name:34} {cost:7.1f} µs per chunk  ({items} items yielded a stream)")
        await native.aclose()
        await relay.aclose()
        await gemini.aclose()
        await sdk.close()
        await openai_sdk.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.chunks, args.runs))
