"""One contract, two implementations: the in-process limiter and budget store, and the Redis ones
(real Redis on 127.0.0.1:6379, every test under a key prefix of its own)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from parlor.limits.budget import BudgetStore, InProcessBudgetStore
from parlor.limits.limiter import InProcessLimiter, RequestLimiter, Window
from parlor.limits.redis_store import RedisBudgetStore, RedisLimiter, limits_client
from parlor.redis_keys import RedisKeys
from tests.helpers.redis import redis_url

REDIS_URL = redis_url()


@dataclass
class Stores:
    limiter: RequestLimiter
    budget: BudgetStore
    prefix: str


@pytest.fixture(params=["in-process", "redis"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    if request.param == "in-process":
        yield Stores(InProcessLimiter(), InProcessBudgetStore(), prefix)
        return
    client = limits_client(REDIS_URL, 2.0)  # the client the server uses: a bounded, blocking pool
    try:
        await client.ping()
    except OSError:
        pytest.skip("no Redis on " + REDIS_URL)
    try:
        yield Stores(RedisLimiter(client, RedisKeys(prefix)), RedisBudgetStore(client), prefix)
    finally:
        keys = [key async for key in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_admits_exactly_the_limit_then_denies_with_a_retry_after(stores: Stores) -> None:
    windows = [Window("minute", 5, 60)]
    decisions = [await stores.limiter.hit("user:a", windows) for _ in range(7)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
    assert [d.states[0].remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    denied = decisions[-1]
    assert 59 < denied.retry_after <= 60
    assert denied.states[0].remaining == 0
    assert 0 < decisions[0].states[0].reset <= 60


async def test_windows_are_all_or_nothing(stores: Stores) -> None:
    windows = [Window("minute", 5, 60), Window("hour", 3, 3600)]
    decisions = [await stores.limiter.hit("user:b", windows) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    minute, hour = decisions[-1].states
    assert (minute.remaining, hour.remaining) == (2, 0)  # the denied hit took nothing from the minute
    assert decisions[-1].retry_after > 3500  # the hour window is the one that must free up


async def test_keys_are_independent(stores: Stores) -> None:
    windows = [Window("minute", 1, 60)]
    assert (await stores.limiter.hit("user:c", windows)).allowed
    assert not (await stores.limiter.hit("user:c", windows)).allowed
    assert (await stores.limiter.hit("user:d", windows)).allowed


async def test_concurrent_hits_admit_exactly_the_limit(stores: Stores) -> None:
    windows = [Window("minute", 37, 60), Window("hour", 1000, 3600)]
    decisions = await asyncio.gather(*(stores.limiter.hit("user:e", windows) for _ in range(150)))
    assert sum(d.allowed for d in decisions) == 37
    assert sorted(d.states[0].remaining for d in decisions if d.allowed) == list(range(37))


async def _until_fraction(fraction: float) -> None:
    """Sleeps until the wall clock's fractional second reaches `fraction` (Redis's TIME is wall time)."""
    now = time.time()
    wait = (fraction - (now % 1.0)) % 1.0
    await asyncio.sleep(wait)


async def test_no_double_burst_at_a_window_edge(stores: Stores) -> None:
    """A fixed one-second window starting on whole seconds would admit 4 hits late in one second and
    4 more early in the next; the sliding window admits the next hit only a full second after the
    first of those four."""
    windows = [Window("second", 4, 1.0)]
    await _until_fraction(0.7)
    first = time.monotonic()
    assert all([(await stores.limiter.hit("user:f", windows)).allowed for _ in range(4)])
    await _until_fraction(0.15)  # a fixed window would have reset here
    edge = await stores.limiter.hit("user:f", windows)
    assert not edge.allowed
    assert 0.3 < edge.retry_after <= 0.6
    await asyncio.sleep(max(0.0, first + 1.05 - time.monotonic()))
    assert (await stores.limiter.hit("user:f", windows)).allowed


async def test_waiting_the_retry_after_is_enough(stores: Stores) -> None:
    windows = [Window("second", 2, 0.5)]
    await stores.limiter.hit("user:g", windows)
    await stores.limiter.hit("user:g", windows)
    denied = await stores.limiter.hit("user:g", windows)
    assert not denied.allowed
    await asyncio.sleep(denied.retry_after + 0.02)
    assert (await stores.limiter.hit("user:g", windows)).allowed


async def test_budget_reserve_adjust_and_used(stores: Stores) -> None:
    key = f"{stores.prefix}budget:{{u1}}:2026-01-01"
    assert await stores.budget.used(key) == 0
    assert await stores.budget.reserve(key, 600, 1000, 3600) == (True, 600)
    assert await stores.budget.reserve(key, 500, 1000, 3600) == (False, 600)  # would not fit: nothing taken
    assert await stores.budget.reserve(key, 400, 1000, 3600) == (True, 1000)
    await stores.budget.adjust(key, -450)  # settled for less than reserved
    assert await stores.budget.used(key) == 550
    await stores.budget.adjust(key, -10_000)
    assert await stores.budget.used(key) == 0  # never below zero
    await stores.budget.adjust(f"{stores.prefix}budget:{{u1}}:absent", 50)
    assert await stores.budget.used(f"{stores.prefix}budget:{{u1}}:absent") == 0  # no counter, nothing to adjust


async def test_concurrent_reservations_never_overspend(stores: Stores) -> None:
    key = f"{stores.prefix}budget:{{u2}}:2026-01-01"
    results = await asyncio.gather(*(stores.budget.reserve(key, 70, 1000, 3600) for _ in range(40)))
    assert sum(fitted for fitted, _ in results) == 14  # 14 * 70 = 980; a 15th would be 1050
    assert await stores.budget.used(key) == 980


async def test_peek_says_what_is_left_and_counts_nothing(stores: Stores) -> None:
    windows = [Window("minute", 3, 60), Window("hour", 10, 3600)]
    fresh = await stores.limiter.peek("user:p", windows)
    assert [(s.window.name, s.remaining, s.reset) for s in fresh] == [("minute", 3, 0.0), ("hour", 10, 0.0)]
    await stores.limiter.hit("user:p", windows)
    for _ in range(3):  # peeking again and again counts nothing
        states = await stores.limiter.peek("user:p", windows)
        assert [s.remaining for s in states] == [2, 9]
        assert 59 < states[0].reset <= 60 and 3599 < states[1].reset <= 3600
    assert [s.remaining for s in (await stores.limiter.hit("user:p", windows)).states] == [1, 8]
