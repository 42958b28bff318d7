"""The limits in Redis: one Lua script per request, so N replicas enforce one limit.

Why a Lua script and not the `limits` library: a request here is checked against several windows
(per minute and per hour) all or nothing, and the headers need every window's remaining count and
reset; one script does that in one round trip on the server's clock (`TIME`, so replicas' clocks
do not matter). `limits` would take a call per window plus one for the stats, and it has no
reserve/settle counter for token budgets anyway.

Keys carry the user id in a hash tag (`{id}`), so one request's keys share a Redis Cluster slot.

`Guarded` wraps any store: while Redis is down (it refuses or drops the connection, or stays silent
for PARLOR_LIMITS_REDIS_TIMEOUT) they fail open (the in-process fallback counts until Redis answers again) or
closed (`LimitsUnavailable`). A slow answer is waited for: it is still the one shared count.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import redis.asyncio as aioredis

from parlor.limits.budget import BudgetStore
from parlor.limits.limiter import Decision, LimitsUnavailable, RequestLimiter, Window, WindowState
from parlor.redis_client import REDIS_DOWN, Options, connect
from parlor.redis_keys import RedisKeys

log = logging.getLogger(__name__)
T = TypeVar("T")

# KEYS: one sorted set per window. ARGV[1]: this hit's unique member; then per window: limit, span (µs).
# Returns {allowed, count_1, wait_or_reset_1, count_2, ...}: with allowed = 0, `wait` is how long until
# that window has room (0 if it has); with allowed = 1, `reset` is how long until its oldest hit leaves.
SLIDING_WINDOWS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local allowed = 1
local out = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 * i])
  local span = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - span)
  local count = redis.call('ZCARD', KEYS[i])
  local wait = 0
  if count >= limit then
    allowed = 0
    local edge = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    wait = tonumber(edge[2]) + span - now
  end
  out[2 * i] = count
  out[2 * i + 1] = wait
end
if allowed == 1 then
  for i = 1, #KEYS do
    local span = tonumber(ARGV[2 * i + 1])
    redis.call('ZADD', KEYS[i], now, ARGV[1])
    redis.call('PEXPIRE', KEYS[i], math.ceil(span / 1000))
    out[2 * i] = out[2 * i] + 1
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    out[2 * i + 1] = tonumber(oldest[2]) + span - now
  end
end
out[1] = allowed
return out
"""

# KEYS: one sorted set per window; ARGV: per window its span (µs). Returns {count_1, reset_1, ...}, counting nothing.
PEEK_WINDOWS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i = 1, #KEYS do
  local span = tonumber(ARGV[i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - span)
  out[2 * i - 1] = redis.call('ZCARD', KEYS[i])
  local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  out[2 * i] = oldest[2] and (tonumber(oldest[2]) + span - now) or 0
end
return out
"""

RESERVE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if used + amount > tonumber(ARGV[2]) then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], amount)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, used}
"""

ADJUST = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local used = redis.call('INCRBY', KEYS[1], ARGV[1])
if used < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') end
return used
"""


def limits_client(url: str, seconds: float, max_connections: int = 64) -> aioredis.Redis:
    """A client of its own for the limits: no retries (a retried script could count a hit twice) and
    one bound, `seconds` (PARLOR_LIMITS_REDIS_TIMEOUT), on every wait — to connect, for a pooled
    connection, for the answer — before Redis counts as down. Long on purpose: a stopped or restarting
    Redis refuses the connection, which is detected at once however long this is; the wait only runs out
    on a silent Redis. (At 0.25 s, a burst on a busy event loop kept a healthy Redis "silent": each
    replica then counted in-process and two replicas admitted twice the limit.) The pool blocks for a
    free connection rather than failing at once: a burst must wait its turn at Redis, not fall through
    to the in-process fallback."""
    return connect(url, Options(max_connections=max_connections, wait=seconds, socket_timeout=seconds,
                                connect_timeout=seconds, retries=0))


class RedisLimiter:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys | None = None):
        self._script = redis.register_script(SLIDING_WINDOWS)
        self._peek = redis.register_script(PEEK_WINDOWS)
        self._keys = keys or RedisKeys()

    async def hit(self, key: str, windows: Sequence[Window]) -> Decision:
        if not windows:
            return Decision(True, ())
        keys = [self._keys.rate_window(key, w.seconds) for w in windows]  # one subject: one slot
        args: list[str | int] = [uuid.uuid4().hex]
        for window in windows:
            args += [window.limit, int(window.seconds * 1_000_000)]
        out = [int(v) for v in await self._script(keys=keys, args=args)]
        allowed = out[0] == 1
        states = []
        waits = []
        for i, window in enumerate(windows):
            count, micros = out[1 + 2 * i], out[2 + 2 * i]
            seconds = max(0, micros) / 1_000_000
            states.append(WindowState(window, max(0, window.limit - count), seconds))
            waits.append(seconds if not allowed and count >= window.limit else 0.0)
        return Decision(allowed, tuple(states), max(waits) if not allowed else 0.0)

    async def peek(self, key: str, windows: Sequence[Window]) -> tuple[WindowState, ...]:
        if not windows:
            return ()
        keys = [self._keys.rate_window(key, w.seconds) for w in windows]
        out = [int(v) for v in await self._peek(keys=keys, args=[int(w.seconds * 1_000_000) for w in windows])]
        return tuple(WindowState(w, max(0, w.limit - out[2 * i]), max(0, out[2 * i + 1]) / 1_000_000)
                     for i, w in enumerate(windows))


class RedisBudgetStore:
    def __init__(self, redis: aioredis.Redis):
        self._redis = redis
        self._reserve = redis.register_script(RESERVE)
        self._adjust = redis.register_script(ADJUST)

    async def reserve(self, key: str, amount: int, limit: int, ttl: int) -> tuple[bool, int]:
        fitted, used = await self._reserve(keys=[key], args=[amount, limit, ttl])
        return int(fitted) == 1, int(used)

    async def adjust(self, key: str, delta: int) -> None:
        await self._adjust(keys=[key], args=[delta])

    async def used(self, key: str) -> int:
        value = await self._redis.get(key)
        return int(value or 0)


class Breaker:
    """Shared by every guarded store on one Redis. Once Redis is down it is skipped (the fallback or
    the refusal used) for `retry_seconds`; then one call probes it while the others keep skipping it,
    so an outage costs one wait, not one per request.

    Down means refused or dropped (Redis stopped, restarting, unreachable) or silent for the whole
    PARLOR_LIMITS_REDIS_TIMEOUT, never merely slow: a count of consecutive timeouts would not tell a stall from an
    outage either, since a burst's calls all time out in the same moment."""

    def __init__(self, fail_open: bool, wait_seconds: float, retry_seconds: float = 1.0):
        self.fail_open = fail_open
        self.wait_seconds = wait_seconds
        self.retry_seconds = retry_seconds
        self._down_until = 0.0  # 0.0: up
        self._probing = False
        self.failures = 0

    async def call(self, primary: Callable[[], Awaitable[T]], fallback: Callable[[], Awaitable[T]]) -> T:
        if not self._skipping():
            probe = self._down_until > 0.0
            self._probing = probe
            try:
                async with asyncio.timeout(self.wait_seconds * 2):  # belt and braces over the client's own
                    result = await primary()
            except REDIS_DOWN as exc:
                self._went_down(exc)
            else:
                self._came_back()
                return result
            finally:
                if probe:
                    self._probing = False
        if not self.fail_open:
            raise LimitsUnavailable("the limits store is unavailable")
        return await fallback()

    def _skipping(self) -> bool:
        return self._down_until > 0.0 and (time.monotonic() < self._down_until or self._probing)

    def _went_down(self, exc: BaseException) -> None:
        self.failures += 1
        if self._down_until == 0.0:
            log.warning("Redis is unreachable for limits (%s); failing %s", exc or type(exc).__name__,
                        "open (counting in-process)" if self.fail_open else "closed")
        self._down_until = time.monotonic() + self.retry_seconds

    def _came_back(self) -> None:
        if self._down_until:
            log.warning("Redis is back for limits")
            self._down_until = 0.0


class GuardedLimiter:
    def __init__(self, primary: RequestLimiter, fallback: RequestLimiter, breaker: Breaker):
        self._primary, self._fallback, self._breaker = primary, fallback, breaker

    async def hit(self, key: str, windows: Sequence[Window]) -> Decision:
        return await self._breaker.call(lambda: self._primary.hit(key, windows),
                                        lambda: self._fallback.hit(key, windows))

    async def peek(self, key: str, windows: Sequence[Window]) -> tuple[WindowState, ...]:
        return await self._breaker.call(lambda: self._primary.peek(key, windows),
                                        lambda: self._fallback.peek(key, windows))


class GuardedBudgetStore:
    def __init__(self, primary: BudgetStore, fallback: BudgetStore, breaker: Breaker):
        self._primary, self._fallback, self._breaker = primary, fallback, breaker

    async def reserve(self, key: str, amount: int, limit: int, ttl: int) -> tuple[bool, int]:
        return await self._breaker.call(lambda: self._primary.reserve(key, amount, limit, ttl),
                                        lambda: self._fallback.reserve(key, amount, limit, ttl))

    async def adjust(self, key: str, delta: int) -> None:
        await self._breaker.call(lambda: self._primary.adjust(key, delta),
                                 lambda: self._fallback.adjust(key, delta))

    async def used(self, key: str) -> int:
        return await self._breaker.call(lambda: self._primary.used(key), lambda: self._fallback.used(key))
