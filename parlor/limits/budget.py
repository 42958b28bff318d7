"""Daily token budgets: reserve before the model call, settle after it.

The reservation is the estimated prompt plus the most the reply may take (the tier's
`max_reply_tokens`, or the request's own lower cap). It is counted at once in the day's counter,
so concurrent requests cannot together overspend; settling replaces it with what was really used
(the provider's report, else the estimate for the prompt and the streamed chunks for the reply,
which also covers an aborted stream). Days end at midnight in `PARLOR_BUDGET_TIMEZONE`.

Counters live in a `BudgetStore`: in-process here, Redis (parlor/limits/redis.py) when distributed.
No database round trip happens before the model call; the usage row is written afterwards.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from parlor.accounts import Principal
from parlor.limits.limiter import LimitsUnavailable
from parlor.limits.tiers import Tiers
from parlor.redis_keys import RedisKeys

log = logging.getLogger(__name__)
DEFAULT_REPLY_TOKENS = 1024  # reserved for the reply when neither the tier nor the request caps it


class BudgetExhausted(Exception):
    def __init__(self, limit: int, used: int, needed: int, retry_after: float):
        super().__init__(f"the daily token budget of {limit} has {max(0, limit - used)} left; "
                         f"this request needs up to {needed}")
        self.limit = limit
        self.used = used
        self.needed = needed
        self.retry_after = retry_after


class BudgetStore(Protocol):
    async def reserve(self, key: str, amount: int, limit: int, ttl: int) -> tuple[bool, int]:
        """Adds `amount` to the counter if the sum stays within `limit`; returns (fitted, counter)."""
        ...

    async def adjust(self, key: str, delta: int) -> None:
        """Adds `delta` (negative to release) to an existing counter, never going below zero."""
        ...

    async def used(self, key: str) -> int: ...


class InProcessBudgetStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (tokens, expires at)

    async def reserve(self, key: str, amount: int, limit: int, ttl: int) -> tuple[bool, int]:
        now = self._clock()
        used = await self.used(key)
        if used + amount > limit:
            return False, used
        self._counters[key] = (used + amount, now + ttl)
        if len(self._counters) > 100_000:
            self._counters = {k: v for k, v in self._counters.items() if v[1] > now}
        return True, used + amount

    async def adjust(self, key: str, delta: int) -> None:
        found = self._counters.get(key)
        if found is not None:
            self._counters[key] = (max(0, found[0] + delta), found[1])

    async def used(self, key: str) -> int:
        found = self._counters.get(key)
        if found is None or found[1] <= self._clock():
            return 0
        return found[0]


@dataclass(frozen=True, slots=True)
class Reservation:
    user_id: str
    key: str | None  # None: the tier has no daily budget, nothing to settle
    amount: int
    prompt_tokens: int
    max_reply: int | None  # the reply cap to send to the model


def estimate_tokens(texts: Iterable[str]) -> int:
    """A cheap upper-leaning estimate (about four characters a token, plus per-message overhead)."""
    return sum(math.ceil(len(t) / 4) + 4 for t in texts) + 3


class TokenBudget:
    def __init__(self, tiers: Tiers, store: BudgetStore, timezone: str = "UTC", keys: RedisKeys | None = None,
                 now: Callable[[], datetime] | None = None):
        self._tiers = tiers
        self._store = store
        self._zone = ZoneInfo(timezone)
        self._keys = keys or RedisKeys()
        self._now = now or (lambda: datetime.now(self._zone))

    def _day(self) -> tuple[str, float]:
        """Today's date in the budget's zone, and seconds until its midnight."""
        now = self._now().astimezone(self._zone)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), self._zone)
        return now.date().isoformat(), max(1.0, (midnight - now).total_seconds())

    def key(self, user_id: str, day: str | None = None) -> str:
        return self._keys.budget(user_id, day or self._day()[0])

    async def reserve(self, who: Principal, prompt_tokens: int, max_reply: int | None = None,
                      models: tuple[str | None, ...] = ()) -> Reservation:
        """Raises ModelNotAllowed, BudgetExhausted, or LimitsUnavailable (Redis down, failing closed)."""
        tier = self._tiers.get(who.tier)
        if models:
            self._tiers.check_model(who.tier, *models)
        caps = [c for c in (max_reply, tier.max_reply_tokens) if c is not None]
        cap = min(caps) if caps else None
        if tier.tokens_per_day is None:
            return Reservation(who.id, None, 0, prompt_tokens, cap)
        amount = prompt_tokens + (cap if cap is not None else DEFAULT_REPLY_TOKENS)
        day, to_midnight = self._day()
        key = self.key(who.id, day)
        fitted, used = await self._store.reserve(key, amount, tier.tokens_per_day, int(to_midnight) + 86_400)
        if not fitted:
            raise BudgetExhausted(tier.tokens_per_day, used, amount, to_midnight)
        return Reservation(who.id, key, amount, prompt_tokens, cap)

    async def settle(self, reservation: Reservation | None, tokens_in: int | None, tokens_out: int,
                     text: str = "") -> int:
        """Replaces the reservation with the real use: the provider's report when there is one
        (`tokens_in` > 0); else (a stream cut short reports nothing) the prompt estimate plus the
        reply counted as the larger of its chunks and what `text` holds. Returns the tokens charged.
        Never raises."""
        if reservation is None or reservation.key is None:
            return 0
        if tokens_in:
            used = tokens_in + tokens_out
        else:
            used = reservation.prompt_tokens + max(tokens_out, math.ceil(len(text) / 4))
        try:
            if used != reservation.amount:
                await self._store.adjust(reservation.key, used - reservation.amount)
        except LimitsUnavailable:
            log.warning("could not settle %s tokens for user %s: limits store unavailable",
                        used, reservation.user_id)
        except Exception:
            log.exception("could not settle %s tokens for user %s", used, reservation.user_id)
        return used

    async def release(self, reservation: Reservation | None) -> None:
        """Gives a reservation back whole (the model was never called). Never raises."""
        if reservation is not None and reservation.key is not None:
            try:
                await self._store.adjust(reservation.key, -reservation.amount)
            except Exception:
                log.warning("could not release %s tokens for user %s", reservation.amount, reservation.user_id)

    async def used_today(self, who: Principal) -> tuple[int | None, int]:
        """(the tier's daily budget or None, tokens counted today including open reservations)."""
        limit = self._tiers.get(who.tier).tokens_per_day
        return limit, await self._store.used(self.key(who.id))
