"""Time to recover from each provider fault, through the router, against the scripted upstream.

Prints, for each scenario, how long the caller waited until it had its first token (or its error).
Run: `python bench/faults.py`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from parlor.llm import (
    AllProvidersFailed,
    BreakerPolicy,
    CompletionRequest,
    LLMMessage,
    Resilience,
    Router,
    TextDelta,
)
from parlor.llm.openai import OpenAIProvider
from tests.upstream import Script, Upstream


async def first_token(router: Router, text: str) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        async for item in router.stream(CompletionRequest([LLMMessage("user", text)])):
            if isinstance(item, TextDelta):
                return time.perf_counter() - started, "answered"
    except AllProvidersFailed:
        return time.perf_counter() - started, "providers_unavailable"
    return time.perf_counter() - started, "no text"


def chain(upstream: Upstream, a: Resilience) -> Router:
    return Router([OpenAIProvider("a", "a", upstream.url), OpenAIProvider("b", "b", upstream.url)],
                  {"a": a, "b": Resilience(retries=0)})


async def main() -> None:
    with Upstream() as upstream:
        rows: list[tuple[str, float, str]] = []

        upstream.push(Script(text="late", ttft=30), match="slow")
        router = chain(upstream, Resilience(first_token=1.0, retries=0))
        rows.append(("slow first token (limit 1 s) → fallback", *await first_token(router, "slow")))

        upstream.push(Script(status=429, retry_after=0.5), match="limited")
        router = chain(upstream, Resilience(retries=1))
        rows.append(("429 with Retry-After 0.5 s → retried", *await first_token(router, "limited")))

        policy = Resilience(retries=0, breaker=BreakerPolicy(threshold=3, window=30, cooldown=60))
        router = chain(upstream, policy)
        for i in range(3):
            upstream.push(Script(status=500, ttft=0.2), match=f"down {i}")
            await first_token(router, f"down {i}")
        rows.append(("breaker open → provider skipped", *await first_token(router, "after")))

        for _ in range(2):
            upstream.push(Script(status=503), match="all")
        router = chain(upstream, Resilience(retries=0))
        rows.append(("every provider down → friendly error", *await first_token(router, "all")))

        upstream.push(Script(tokens=["x"], hang=True), match="hang")
        upstream.push(Script(tokens=["x"], hang=True), match="hang")
        router = Router([OpenAIProvider("a", "a", upstream.url), OpenAIProvider("b", "b", upstream.url)],
                        {"a": Resilience(first_token=1.0, retries=0), "b": Resilience(first_token=1.0, retries=0)})
        rows.append(("both hang (limit 1 s each) → friendly error", *await first_token(router, "hang")))

    width = max(len(r[0]) for r in rows)
    for label, seconds, outcome in rows:
        print(f"{label:<{width}}  {seconds * 1000:8.0f} ms  {outcome}")


if __name__ == "__main__":
    asyncio.run(main())
