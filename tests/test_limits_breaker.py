"""When the limits leave Redis: a slow answer is waited for (still the one shared count), a refused
connection switches to the fallback at once, and while Redis is down only one call at a time probes it."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator

import pytest
import redis

from parlor.limits.limiter import Decision, InProcessLimiter, Window
from parlor.limits.redis_store import Breaker, GuardedLimiter, RedisLimiter, limits_client
from parlor.redis_keys import RedisKeys
from tests.helpers.redis import OwnRedis, redis_url
from tests.server import free_port

TIMEOUT = 2.0  # PARLOR_LIMITS_REDIS_TIMEOUT's default
STALL = 0.75  # a slow Redis: three times what the limits once waited (0.25 s), well inside TIMEOUT
WINDOWS = [Window("minute", 5, 60)]


class CountingFallback(InProcessLimiter):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def hit(self, key: str, windows: list[Window]) -> Decision:  # type: ignore[override]
        self.calls += 1
        return await super().hit(key, windows)


@pytest.fixture
async def own_url() -> AsyncIterator[str]:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    server = OwnRedis().start()
    try:
        yield server.url
    finally:
        server.stop()


def guarded(url: str) -> tuple[GuardedLimiter, CountingFallback, Breaker]:
    fallback, breaker = CountingFallback(), Breaker(True, TIMEOUT)
    primary = RedisLimiter(limits_client(url, TIMEOUT), RedisKeys("t:"))
    return GuardedLimiter(primary, fallback, breaker), fallback, breaker


async def test_a_slow_answer_is_waited_for_not_replaced_by_the_fallback(own_url: str) -> None:
    limiter, fallback, breaker = guarded(own_url)
    assert (await limiter.hit("user:s", WINDOWS)).states[0].remaining == 4
    with redis.Redis.from_url(own_url) as admin:
        admin.execute_command("CLIENT", "PAUSE", int(STALL * 1000), "ALL")
    started = time.monotonic()
    slow = await limiter.hit("user:s", WINDOWS)
    assert time.monotonic() - started > STALL * 0.9  # it did wait...
    assert slow.states[0].remaining == 3  # ...for Redis's count
    assert (fallback.calls, breaker.failures) == (0, 0)
    assert (await limiter.hit("user:s", WINDOWS)).states[0].remaining == 2


async def test_a_refused_connection_switches_to_the_fallback_at_once_and_stays_there() -> None:
    limiter, fallback, breaker = guarded(redis_url(free_port()))  # nothing listens there
    started = time.monotonic()
    decisions = [await limiter.hit("user:r", WINDOWS) for _ in range(3)]
    assert time.monotonic() - started < 0.25  # a refusal costs no wait
    assert [d.states[0].remaining for d in decisions] == [4, 3, 2]  # counted in-process
    assert (fallback.calls, breaker.failures) == (3, 1)  # Redis tried once, then skipped


async def test_while_redis_is_down_one_call_probes_it_and_the_others_do_not_wait() -> None:
    breaker = Breaker(True, TIMEOUT, retry_seconds=0.0)
    probes = 0

    async def silent() -> str:
        nonlocal probes
        probes += 1
        await asyncio.sleep(0.3)
        raise redis.exceptions.TimeoutError("Timeout reading")

    async def fallback() -> str:
        return "fallback"

    async def refused() -> str:
        raise ConnectionRefusedError("refused")

    assert await breaker.call(refused, fallback) == "fallback"  # down
    started = time.monotonic()
    probe = asyncio.create_task(breaker.call(silent, fallback))
    await asyncio.sleep(0)  # the probe is in flight
    others = await asyncio.gather(*(breaker.call(silent, fallback) for _ in range(5)))
    assert others == ["fallback"] * 5 and time.monotonic() - started < 0.2
    assert await probe == "fallback" and probes == 1
