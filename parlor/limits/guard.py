"""What the edge asks before any work: may this user make one more request? And the wiring of the
limits from settings (in-process when embedded, Redis-backed with a fallback when distributed)."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from parlor.accounts import Principal
from parlor.config import Settings
from parlor.limits.budget import InProcessBudgetStore, TokenBudget
from parlor.limits.limiter import Decision, InProcessLimiter, RequestLimiter, Window
from parlor.limits.redis_store import (
    Breaker,
    GuardedBudgetStore,
    GuardedLimiter,
    RedisBudgetStore,
    RedisLimiter,
    limits_client,
)
from parlor.limits.tiers import Tiers
from parlor.redis_keys import RedisKeys, address_subject, user_subject


class RequestGuard:
    def __init__(self, tiers: Tiers, limiter: RequestLimiter, auth_failures_per_minute: int | None = None):
        self.tiers = tiers
        self._limiter = limiter
        self._auth_windows = ([Window("auth", auth_failures_per_minute, 60)]
                              if auth_failures_per_minute else [])

    async def admit(self, who: Principal) -> Decision:
        """One hit against the user's request windows. Raises LimitsUnavailable when failing closed."""
        windows = self.tiers.windows(who.tier)
        if not windows:
            return Decision(True, ())
        return await self._limiter.hit(user_subject(who.id), windows)

    async def auth_failed(self, address: str) -> Decision:
        """Counts an invalid key from `address`; denied once it has sent too many this minute."""
        if not self._auth_windows:
            return Decision(True, ())
        return await self._limiter.hit(address_subject(address), self._auth_windows)


@dataclass
class Limits:
    guard: RequestGuard
    budget: TokenBudget
    redis: aioredis.Redis | None = None
    breaker: Breaker | None = None

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


def build_limits(settings: Settings) -> Limits:
    tiers = Tiers(settings.tiers, settings.default_tier)
    keys = RedisKeys(settings.limits_key_prefix)
    limiter: RequestLimiter = InProcessLimiter()
    store: InProcessBudgetStore | GuardedBudgetStore = InProcessBudgetStore()
    redis = breaker = None
    if settings.redis_url:
        redis = limits_client(settings.redis_url, settings.limits_redis_timeout, settings.redis_max_connections)
        breaker = Breaker(settings.limits_on_redis_error == "open", settings.limits_redis_timeout)
        limiter = GuardedLimiter(RedisLimiter(redis, keys), limiter, breaker)
        store = GuardedBudgetStore(RedisBudgetStore(redis), store, breaker)
    guard = RequestGuard(tiers, limiter, settings.auth_failures_per_minute)
    return Limits(guard, TokenBudget(tiers, store, settings.budget_timezone, keys), redis, breaker)
