"""Timeouts, retries, fallback and circuit breakers, against the scripted upstream over real sockets;
the breaker's state store is tested in-process and on real Redis with one contract."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from parlor.llm import (
    AllProvidersFailed,
    Answering,
    BreakerPolicy,
    BreakerState,
    CompletionRequest,
    LLMMessage,
    MemoryBreakerStore,
    ProviderError,
    RedisBreakerStore,
    Resilience,
    Router,
    TextDelta,
)
from parlor.llm.breaker import BreakerStore
from parlor.llm.openai import OpenAIProvider
from parlor.redis_keys import RedisKeys
from tests.helpers.redis import redis_url
from tests.upstream import Script, Upstream


def request(marker: str) -> CompletionRequest:
    return CompletionRequest([LLMMessage("user", f"question {marker}")])


async def answer(router: Router, marker: str) -> tuple[str | None, str, float]:
    """(provider that answered, text, seconds taken)."""
    started = time.monotonic()
    provider, text = None, ""
    async for item in router.stream(request(marker)):
        if isinstance(item, Answering):
            provider = item.provider
        elif isinstance(item, TextDelta):
            text += item.text
    return provider, text, time.monotonic() - started


def router_for(upstream: Upstream, **policies: Resilience) -> Router:
    return Router([OpenAIProvider(name, f"model-{name}", upstream.url) for name in policies], policies)


def sent_to(upstream: Upstream, marker: str, model: str) -> int:
    return sum(1 for r in upstream.requests if r["model"] == model and marker in str(r["messages"]))


async def test_a_slow_first_token_falls_back_within_the_timeout(upstream: Upstream, marker: str) -> None:
    upstream.push(Script(text="too late", ttft=5), match=marker)
    router = router_for(upstream, a=Resilience(first_token=0.5, retries=0), b=Resilience())
    try:
        provider, text, took = await answer(router, marker)
    finally:
        await router.aclose()
    assert provider == "b" and text == f"You said: question {marker}"
    assert took < 2.5


async def test_a_stall_after_the_first_token_is_an_error_not_a_switch(upstream: Upstream, marker: str) -> None:
    upstream.push(Script(tokens=["one", " two", " three"], token_delay=2), match=marker)
    router = router_for(upstream, a=Resilience(idle=0.3), b=Resilience())
    received: list[str] = []
    try:
        with pytest.raises(ProviderError) as caught:
            async for item in router.stream(request(marker)):
                if isinstance(item, TextDelta):
                    received.append(item.text)
    finally:
        await router.aclose()
    assert caught.value.kind == "timeout" and received == ["one"]
    assert sent_to(upstream, marker, "model-b") == 0


async def test_a_429_is_retried_after_its_retry_after(upstream: Upstream, marker: str) -> None:
    upstream.push(Script(status=429, retry_after=0.4), match=marker)
    router = router_for(upstream, a=Resilience(retries=1), b=Resilience())
    try:
        provider, _, took = await answer(router, marker)
    finally:
        await router.aclose()
    assert provider == "a" and took >= 0.4
    assert sent_to(upstream, marker, "model-a") == 2


async def test_a_long_retry_after_moves_on_at_once(upstream: Upstream, marker: str) -> None:
    upstream.push(Script(status=429, retry_after=30), match=marker)
    router = router_for(upstream, a=Resilience(retries=1, max_retry_wait=2), b=Resilience())
    try:
        provider, _, took = await answer(router, marker)
    finally:
        await router.aclose()
    assert provider == "b" and took < 2
    assert sent_to(upstream, marker, "model-a") == 1


async def test_the_breaker_opens_skips_and_recovers(upstream: Upstream, marker: str) -> None:
    policy = Resilience(retries=0, breaker=BreakerPolicy(threshold=2, window=10, cooldown=0.6))
    router = router_for(upstream, a=policy, b=Resilience())
    try:
        for i in range(2):
            upstream.push(Script(status=500), match=f"{marker}-{i}")
            assert (await answer(router, f"{marker}-{i}"))[0] == "b"
        assert (await router.breaker_states())["a"] is BreakerState.OPEN

        provider, _, took = await answer(router, f"{marker}-skip")
        assert provider == "b" and took < 1
        assert sent_to(upstream, f"{marker}-skip", "model-a") == 0

        await asyncio.sleep(0.7)
        assert (await router.breaker_states())["a"] is BreakerState.HALF_OPEN
        provider, _, _ = await answer(router, f"{marker}-probe")  # the probe succeeds
        assert provider == "a"
        assert (await router.breaker_states())["a"] is BreakerState.CLOSED
    finally:
        await router.aclose()


async def test_every_provider_down_fails_fast(upstream: Upstream, marker: str) -> None:
    for _ in range(2):
        upstream.push(Script(status=503), match=marker)
    router = router_for(upstream, a=Resilience(retries=0), b=Resilience(retries=0))
    try:
        started = time.monotonic()
        with pytest.raises(AllProvidersFailed) as caught:
            await answer(router, marker)
    finally:
        await router.aclose()
    assert [e.provider for e in caught.value.errors] == ["a", "b"]
    assert time.monotonic() - started < 2


# ---- the breaker's state store: one contract, two implementations ----
@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[BreakerStore]:
    if request.param == "memory":
        yield MemoryBreakerStore()
        return
    client = aioredis.Redis.from_url(redis_url())
    prefix = f"test-{uuid.uuid4().hex}:"
    try:
        yield RedisBreakerStore(client, RedisKeys(prefix))
    finally:
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


POLICY = BreakerPolicy(threshold=3, window=10, cooldown=5, probe_timeout=20)


async def test_breaker_opens_at_the_threshold_within_the_window(store: BreakerStore) -> None:
    assert await store.failure("p", POLICY, 100) is BreakerState.CLOSED
    assert await store.failure("p", POLICY, 111) is BreakerState.CLOSED  # the first one left the window
    assert await store.failure("p", POLICY, 112) is BreakerState.CLOSED
    assert await store.allow("p", POLICY, 112)
    assert await store.failure("p", POLICY, 113) is BreakerState.OPEN
    assert not await store.allow("p", POLICY, 114)
    assert await store.state("p", POLICY, 114) is BreakerState.OPEN


async def test_breaker_lets_one_probe_through_after_the_cooldown(store: BreakerStore) -> None:
    for t in (1, 2, 3):
        await store.failure("p", POLICY, t)
    assert await store.state("p", POLICY, 9) is BreakerState.HALF_OPEN
    assert await store.allow("p", POLICY, 9)  # the probe
    assert not await store.allow("p", POLICY, 9.5)  # everyone else waits for it
    assert await store.failure("p", POLICY, 10) is BreakerState.OPEN  # the probe failed: a new cool-down
    assert not await store.allow("p", POLICY, 12)
    assert await store.allow("p", POLICY, 15.5)
    await store.success("p")
    assert await store.state("p", POLICY, 16) is BreakerState.CLOSED
    assert await store.allow("p", POLICY, 16) and await store.allow("p", POLICY, 16)


async def test_a_lost_probe_frees_its_slot(store: BreakerStore) -> None:
    for t in (1, 2, 3):
        await store.failure("p", POLICY, t)
    assert await store.allow("p", POLICY, 10)
    assert not await store.allow("p", POLICY, 25)
    assert await store.allow("p", POLICY, 31)  # probe_timeout passed without a report


async def test_breakers_are_per_provider(store: BreakerStore) -> None:
    for t in (1, 2, 3):
        await store.failure("p", POLICY, t)
    assert not await store.allow("p", POLICY, 4)
    assert await store.allow("q", POLICY, 4)


async def test_a_replica_trusts_a_clean_breaker_briefly_and_its_own_failures_at_once() -> None:
    client = aioredis.Redis.from_url(redis_url())
    prefix = f"test-{uuid.uuid4().hex}:"
    names = RedisKeys(prefix)
    mine, other = RedisBreakerStore(client, names, snapshot_seconds=60), RedisBreakerStore(client, names)
    try:
        assert await mine.allow("p", POLICY, 1)  # seen closed and clean: trusted for a while
        for t in (2, 3, 4):
            await other.failure("p", POLICY, t)
        assert not await other.allow("p", POLICY, 5)
        assert await mine.allow("p", POLICY, 5)  # another replica's failures arrive after the snapshot
        assert await mine.failure("p", POLICY, 5) is BreakerState.OPEN  # its own failure: asks Redis again
        assert not await mine.allow("p", POLICY, 6)
        assert await RedisBreakerStore(client, names, snapshot_seconds=0).allow("p", POLICY, 11)  # the probe
        await mine.success("p")
        assert await other.state("p", POLICY, 12) is BreakerState.CLOSED
    finally:
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_a_stale_clean_breaker_lets_a_call_through_at_once_while_a_check_renews_it() -> None:
    client = aioredis.Redis.from_url(redis_url())
    prefix = f"test-{uuid.uuid4().hex}:"
    mine = RedisBreakerStore(client, RedisKeys(prefix), snapshot_seconds=0.05, stale_seconds=60)
    other = RedisBreakerStore(client, RedisKeys(prefix), snapshot_seconds=0)
    try:
        assert await mine.allow("p", POLICY, 1)
        for t in (2, 3, 4):
            await other.failure("p", POLICY, t)  # another replica opens the breaker
        await asyncio.sleep(0.1)  # the snapshot is stale now
        assert await mine.allow("p", POLICY, 5)  # let through at once, and the check starts
        for _ in range(100):
            if not await mine.allow("p", POLICY, 5):
                break  # the check saw the failures on record: this replica asks the script, which says open
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the background check never dropped the snapshot")
        assert await other.state("p", POLICY, 5) is BreakerState.OPEN
    finally:
        keys = [k async for k in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
