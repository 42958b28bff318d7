"""The limiter's added latency per request, p50/p99, embedded (in-process) and Redis modes.

Measures exactly what the edge adds before a model call: the request-limit check (`RequestGuard.admit`,
one Lua round trip in Redis mode) and the token reservation (`TokenBudget.reserve`, one more), built from
Settings by the same builder the server uses (parlor/wiring/parts.py); then the settlement that runs after the answer.
Sequential (one request at a time: the pure cost) and concurrent (many requests in flight: the cost
under load, queueing on the event loop and the Redis pool included).

    python -m bench.limiter                    # Redis at redis://127.0.0.1:6379/0
    python -m bench.limiter --redis redis://host:6379/0 --requests 20000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

from parlor.accounts import Principal
from parlor.config import TierConfig, load_settings
from parlor.limits import Limits
from parlor.limits.redis_store import limits_client
from parlor.wiring import parts

TIER = TierConfig(requests_per_minute=10**6, requests_per_hour=10**7, tokens_per_day=10**12, max_reply_tokens=1024)


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(step: Callable[[int], Awaitable[None]], requests: int, concurrency: int) -> list[float]:
    samples: list[float] = []
    queue = iter(range(requests))

    async def worker() -> None:
        for i in queue:
            started = time.perf_counter()
            await step(i)
            samples.append((time.perf_counter() - started) * 1e6)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples


async def run_mode(name: str, limits: Limits, users: list[Principal], requests: int, concurrency: int) -> None:
    async def admit(i: int) -> None:
        decision = await limits.guard.admit(users[i % len(users)])
        assert decision.allowed

    async def admit_and_reserve(i: int) -> None:
        who = users[i % len(users)]
        assert (await limits.guard.admit(who)).allowed
        await limits.budget.reserve(who, prompt_tokens=200)

    async def settle(i: int) -> None:
        held = await limits.budget.reserve(users[i % len(users)], prompt_tokens=200)
        await limits.budget.settle(held, 180, 90)

    await measure(admit_and_reserve, min(2000, requests), 8)  # warm up: connections, scripts loaded
    for label, step in (("limit check", admit), ("limit check + token reservation", admit_and_reserve),
                        ("reserve + settle (settle runs after the answer)", settle)):
        for c in (1, concurrency):
            samples = await measure(step, requests, c)
            print(f"{name:<9} {label:<48} concurrency {c:>3}: p50 {percentile(samples, 50):8.1f} µs   "
                  f"p99 {percentile(samples, 99):8.1f} µs   mean {statistics.fmean(samples):8.1f} µs")


async def main_async(redis_url: str, requests: int, concurrency: int, users: int) -> None:
    principals = [Principal(str(uuid.uuid4()), f"bench{i}", "bench", "user") for i in range(users)]
    prefix = f"bench{uuid.uuid4().hex[:8]}:"
    modes = [("embedded", load_settings(tiers={"bench": TIER}, default_tier="bench", redis_url=None,
                                        redis_prefix=prefix))]
    if redis_url:
        modes.append(("redis", load_settings(tiers={"bench": TIER}, default_tier="bench", redis_url=redis_url,
                                             redis_prefix=prefix)))
    for name, settings in modes:
        client = limits_client(settings.redis_url, settings.limits_redis_timeout, settings.redis_max_connections) \
            if settings.redis_url else None
        limits = parts.limits(settings, parts.redis_keys(settings), client)
        try:
            await run_mode(name, limits, principals, requests, concurrency)
        finally:
            if client is not None:
                keys = [k async for k in client.scan_iter(f"{prefix}*", count=1000)]
                for start in range(0, len(keys), 500):
                    await client.delete(*keys[start:start + 500])
                await client.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL ('' to skip Redis mode)")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args(argv)
    try:
        import uvloop  # the server's loop (uvicorn[standard])

        runner: Callable[..., object] = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(main_async(args.redis, args.requests, args.concurrency, args.users))


if __name__ == "__main__":
    main()
