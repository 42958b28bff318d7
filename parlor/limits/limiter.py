"""Request limits: sliding-window logs, all windows of a key checked and counted at once.

A sliding log (every admitted hit's timestamp, dropped once it is older than the window) is exact:
no instant ever sees more than `limit` hits in the last `seconds`, so there is no double burst at a
window edge as with fixed windows, and no approximation as with weighted two-bucket counters.
A denied hit is counted in no window (all or nothing), so being throttled by the hourly window does
not eat the minute's quota.

Two implementations behind `RequestLimiter`: `InProcessLimiter` here (embedded mode, and the
fallback while Redis is away) and `RedisLimiter` (parlor/limits/redis.py), one Lua script per hit.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


class LimitsUnavailable(Exception):
    """The shared limit store is unreachable and the setting says fail closed."""


@dataclass(frozen=True, slots=True)
class Window:
    name: str  # the policy name in the RateLimit headers, e.g. "minute"
    limit: int
    seconds: float


@dataclass(frozen=True, slots=True)
class WindowState:
    window: Window
    remaining: int
    reset: float  # seconds until the oldest counted hit leaves the window (a slot frees up)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    states: tuple[WindowState, ...]
    retry_after: float = 0.0  # when denied: seconds until every window has room again


class RequestLimiter(Protocol):
    async def hit(self, key: str, windows: Sequence[Window]) -> Decision:
        """Counts one hit against every window of `key` if all have room; else counts nothing."""
        ...

    async def peek(self, key: str, windows: Sequence[Window]) -> tuple[WindowState, ...]:
        """What is left in each window of `key` now, counting nothing."""
        ...


class InProcessLimiter:
    """One process's sliding logs. A lock is not needed for atomicity (no await inside `hit`)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._clock = clock
        self._logs: dict[tuple[str, float], deque[float]] = {}
        self._max_keys = max_keys

    async def hit(self, key: str, windows: Sequence[Window]) -> Decision:
        now = self._clock()
        logs = [self._log(key, w, now) for w in windows]
        waits = [_wait(log, w, now) for log, w in zip(logs, windows, strict=True) if len(log) >= w.limit]
        if waits:
            states = tuple(WindowState(w, max(0, w.limit - len(log)), _reset(log, w, now))
                           for log, w in zip(logs, windows, strict=True))
            return Decision(False, states, max(waits))
        for log in logs:
            log.append(now)
        states = tuple(WindowState(w, w.limit - len(log), _reset(log, w, now))
                       for log, w in zip(logs, windows, strict=True))
        return Decision(True, states)

    async def peek(self, key: str, windows: Sequence[Window]) -> tuple[WindowState, ...]:
        now = self._clock()
        logs = [self._log(key, w, now) for w in windows]
        return tuple(WindowState(w, max(0, w.limit - len(log)), _reset(log, w, now))
                     for log, w in zip(logs, windows, strict=True))

    def _log(self, key: str, window: Window, now: float) -> deque[float]:
        log = self._logs.get((key, window.seconds))
        if log is None:
            if len(self._logs) >= self._max_keys:
                self._sweep(now)
            log = self._logs[(key, window.seconds)] = deque()
        while log and log[0] <= now - window.seconds:
            log.popleft()
        return log

    def _sweep(self, now: float) -> None:
        for (key, seconds), log in list(self._logs.items()):
            if not log or log[-1] <= now - seconds:
                del self._logs[(key, seconds)]

    def forget(self) -> None:
        self._logs.clear()


def _wait(log: deque[float], window: Window, now: float) -> float:
    """Seconds until enough old hits leave for one more to fit."""
    edge = log[len(log) - window.limit]
    return min(window.seconds, max(0.0, edge + window.seconds - now))


def _reset(log: deque[float], window: Window, now: float) -> float:
    return min(window.seconds, max(0.0, log[0] + window.seconds - now)) if log else 0.0


def header_seconds(seconds: float) -> int:
    """Whole seconds for a header, never promising earlier than the truth."""
    return max(0, math.ceil(seconds - 1e-9))
