"""Circuit breakers, one per provider: closed → open after `threshold` failures within `window`
seconds → after `cooldown`, one probe is let through (half-open) → closed on its success, open again
on its failure. An open breaker skips its provider at once.

The state lives in a `BreakerStore`: in-process for one server, Redis (atomic Lua scripts) so that
every replica sees a provider fail and skips it together. None of the async breaker libraries keeps
its state in Redis atomically, so this is a small implementation with its own tests."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import redis.asyncio as aioredis

from parlor.redis_client import REDIS_DOWN
from parlor.redis_keys import RedisKeys

log = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"  # cooled down: the next call is a probe


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    threshold: int = 5  # failures within `window` that open the breaker
    window: float = 30.0
    cooldown: float = 15.0  # open this long before a probe
    probe_timeout: float = 60.0  # a probe that never reports frees its slot after this


class BreakerStore(Protocol):
    async def allow(self, name: str, policy: BreakerPolicy, now: float) -> bool: ...

    async def failure(self, name: str, policy: BreakerPolicy, now: float) -> BreakerState: ...

    async def success(self, name: str) -> None: ...

    async def state(self, name: str, policy: BreakerPolicy, now: float) -> BreakerState: ...


@dataclass
class _Memory:
    failures: list[float] = field(default_factory=list)
    opened_at: float | None = None
    probe_until: float = 0.0


class MemoryBreakerStore:
    """One process's breakers. Methods never await inside, so each is atomic on the event loop."""

    def __init__(self) -> None:
        self._breakers: dict[str, _Memory] = {}

    def _get(self, name: str) -> _Memory:
        return self._breakers.setdefault(name, _Memory())

    async def allow(self, name: str, policy: BreakerPolicy, now: float) -> bool:
        breaker = self._get(name)
        if breaker.opened_at is None:
            return True
        if now < breaker.opened_at + policy.cooldown or now < breaker.probe_until:
            return False
        breaker.probe_until = now + policy.probe_timeout  # this caller is the probe
        return True

    async def failure(self, name: str, policy: BreakerPolicy, now: float) -> BreakerState:
        breaker = self._get(name)
        if breaker.opened_at is not None:  # a failed probe: stay open for another cool-down
            breaker.opened_at, breaker.probe_until = now, 0.0
            return BreakerState.OPEN
        breaker.failures = [t for t in breaker.failures if t > now - policy.window] + [now]
        if len(breaker.failures) >= policy.threshold:
            breaker.opened_at, breaker.failures = now, []
            return BreakerState.OPEN
        return BreakerState.CLOSED

    async def success(self, name: str) -> None:
        self._breakers[name] = _Memory()

    async def state(self, name: str, policy: BreakerPolicy, now: float) -> BreakerState:
        return _state(self._get(name).opened_at, policy, now)


def _state(opened_at: float | None, policy: BreakerPolicy, now: float) -> BreakerState:
    if opened_at is None:
        return BreakerState.CLOSED
    return BreakerState.OPEN if now < opened_at + policy.cooldown else BreakerState.HALF_OPEN


_ALLOW = """
local opened = redis.call('HGET', KEYS[1], 'opened_at')
if not opened then return redis.call('EXISTS', KEYS[2]) == 1 and 1 or 2 end
local now = tonumber(ARGV[1])
if now < tonumber(opened) + tonumber(ARGV[2]) then return 0 end
local probe = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
if now < probe then return 0 end
redis.call('HSET', KEYS[1], 'probe_until', now + tonumber(ARGV[3]))
return 1
"""
_CLEAN = 2  # _ALLOW's answer for a closed breaker with no failures on record

_FAILURE = """
local now = tonumber(ARGV[1])
if redis.call('HEXISTS', KEYS[1], 'opened_at') == 1 then
  redis.call('HSET', KEYS[1], 'opened_at', now, 'probe_until', 0)
  return 1
end
redis.call('ZADD', KEYS[2], now, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[2], math.ceil(tonumber(ARGV[2])) + 1)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'opened_at', now, 'probe_until', 0)
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""


class RedisBreakerStore:
    """Breakers shared by every replica; each transition is one atomic script. While Redis cannot be
    reached, this replica keeps its own breakers in-process rather than failing requests.

    A breaker last seen closed and clean (no failures on record) is trusted as such for `snapshot_seconds`
    without asking Redis, so a healthy provider costs no round trip per call: another replica's failures
    reach this one that much later. Up to `stale_seconds`, a call still goes ahead at once while a
    read-only check renews the snapshot in the background (calls a second apart wait on no round trip).
    This replica's own failures drop the snapshot at once."""

    def __init__(self, redis: aioredis.Redis, keys: RedisKeys | None = None, snapshot_seconds: float = 0.25,
                 stale_seconds: float = 2.0):
        self._redis = redis
        self._names = keys or RedisKeys()
        self._snapshot_seconds = snapshot_seconds
        self._stale_seconds = max(stale_seconds, snapshot_seconds)
        self._clean_at: dict[str, float] = {}  # breaker → when Redis last said closed and clean (monotonic)
        self._renewing: dict[str, asyncio.Task[None]] = {}
        self._allow = redis.register_script(_ALLOW)
        self._failure = redis.register_script(_FAILURE)
        self._local = MemoryBreakerStore()

    def _degrade(self, exc: Exception) -> None:
        log.warning("breaker state unavailable in Redis, using this replica's own: %s", exc)

    def _keys(self, name: str) -> list[str]:
        return [self._names.breaker(name), self._names.breaker_failures(name)]  # one slot: one script reads both

    def _age(self, name: str) -> float:
        return time.monotonic() - self._clean_at.get(name, -1e18)

    def _clean(self, name: str) -> bool:
        return self._age(name) < self._snapshot_seconds

    async def allow(self, name: str, policy: BreakerPolicy, now: float) -> bool:
        age = self._age(name)
        if age < self._snapshot_seconds:
            return True
        if age < self._stale_seconds:
            if name not in self._renewing:
                self._renewing[name] = asyncio.create_task(self._renew(name), name=f"breaker-renew:{name}")
            return True
        try:
            answer = await self._allow(keys=self._keys(name), args=[now, policy.cooldown, policy.probe_timeout])
        except REDIS_DOWN as exc:
            self._degrade(exc)
            return await self._local.allow(name, policy, now)
        if answer == _CLEAN:
            self._clean_at[name] = time.monotonic()
        return bool(answer)

    async def _renew(self, name: str) -> None:
        """Renews the snapshot if the breaker is still closed and clean, else drops it (the next call asks
        the allow script). Read-only: a half-open breaker's probe slot is left to a real call."""
        try:
            on_record = await self._redis.exists(*self._keys(name))
        except REDIS_DOWN as exc:
            self._degrade(exc)
            on_record = 1
        finally:
            if self._renewing.get(name) is asyncio.current_task():
                del self._renewing[name]
        if on_record:
            self._clean_at.pop(name, None)
        else:
            self._clean_at[name] = time.monotonic()

    async def failure(self, name: str, policy: BreakerPolicy, now: float) -> BreakerState:
        self._clean_at.pop(name, None)
        if (renewing := self._renewing.pop(name, None)) is not None:
            renewing.cancel()  # what it read came before this failure
        try:
            opened = await self._failure(keys=self._keys(name), args=[now, policy.window, policy.threshold,
                                                                      f"{now}:{time.perf_counter_ns()}"])
        except REDIS_DOWN as exc:
            self._degrade(exc)
            return await self._local.failure(name, policy, now)
        return BreakerState.OPEN if opened else BreakerState.CLOSED

    async def success(self, name: str) -> None:
        await self._local.success(name)
        if self._clean(name):
            return  # nothing on record to clear
        try:
            await self._redis.delete(*self._keys(name))
        except REDIS_DOWN as exc:
            self._degrade(exc)

    async def state(self, name: str, policy: BreakerPolicy, now: float) -> BreakerState:
        try:
            pending: Any = self._redis.hget(self._keys(name)[0], "opened_at")  # redis-py types it loosely
            opened = await pending
        except REDIS_DOWN as exc:
            self._degrade(exc)
            return await self._local.state(name, policy, now)
        return _state(float(opened) if opened is not None else None, policy, now)
