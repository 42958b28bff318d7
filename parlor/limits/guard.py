"""What the edge asks before any work: may this user make one more request? (The limits are built from
settings by the composition root: in-process when embedded, Redis-backed with a fallback when distributed.)"""

from __future__ import annotations

from dataclasses import dataclass

from parlor.accounts import Principal
from parlor.limits.budget import TokenBudget
from parlor.limits.limiter import Decision, RequestLimiter, Window
from parlor.limits.tiers import Tiers
from parlor.redis_keys import address_subject, user_subject, visitor_subject


class RequestGuard:
    def __init__(self, tiers: Tiers, limiter: RequestLimiter, auth_failures_per_minute: int | None = None,
                 shared_per_minute: int | None = None):
        self.tiers = tiers
        self._limiter = limiter
        self._auth_windows = ([Window("auth", auth_failures_per_minute, 60)]
                              if auth_failures_per_minute else [])
        self._shared_windows = [Window("shared", shared_per_minute, 60)] if shared_per_minute else []

    async def admit(self, who: Principal) -> Decision:
        """One hit against the user's request windows. Raises LimitsUnavailable when failing closed."""
        windows = self.tiers.windows(who.tier)
        if not windows:
            return Decision(True, ())
        return await self._limiter.hit(user_subject(who.id), windows)

    async def left(self, who: Principal) -> dict[str, int]:
        """What the user has left in each request window ("minute", "hour"), counting nothing; {} when
        their tier has no request limits."""
        windows = self.tiers.windows(who.tier)
        states = await self._limiter.peek(user_subject(who.id), windows) if windows else ()
        return {s.window.name: s.remaining for s in states}

    async def auth_failed(self, address: str) -> Decision:
        """Counts an invalid key from `address`; denied once it has sent too many this minute."""
        if not self._auth_windows:
            return Decision(True, ())
        return await self._limiter.hit(address_subject(address), self._auth_windows)

    async def visitor(self, address: str) -> Decision:
        """Counts a signed-out request for a shared chat from `address` (found or not)."""
        if not self._shared_windows:
            return Decision(True, ())
        return await self._limiter.hit(visitor_subject(address), self._shared_windows)


@dataclass(frozen=True, slots=True)
class Limits:
    guard: RequestGuard
    budget: TokenBudget

