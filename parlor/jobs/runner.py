"""Runs a named job with retries: transient failures back off exponentially (with jitter); the same
runner serves the in-process queue and `parlor worker`, so a job behaves the same in both modes.

Jobs must be idempotent: a job may run again after a crash (at-least-once delivery)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

JobFn = Callable[[str], Awaitable[None]]
GiveUp = Callable[[str, BaseException], Awaitable[None]]
Observe = Callable[[str, str, float], None]  # job name, outcome (ok, retry, failed), seconds the try took


class PermanentError(Exception):
    """A failure that another try cannot fix: the job is not retried."""


@dataclass
class JobRunner:
    jobs: dict[str, JobFn] = field(default_factory=dict)
    give_up: dict[str, GiveUp] = field(default_factory=dict)  # called once the retries are spent
    retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    observe: Observe | None = None  # each try, for the metrics (set by the composition root)

    def register(self, name: str, job: JobFn, give_up: GiveUp | None = None) -> None:
        self.jobs[name] = job
        if give_up is not None:
            self.give_up[name] = give_up

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2.0 ** attempt) * random.uniform(0.5, 1.0))

    async def run(self, name: str, arg: str) -> None:
        job = self.jobs.get(name)
        if job is None:
            log.error("unknown job %r (argument %r): dropped", name, arg)
            return
        for attempt in range(self.retries + 1):
            started = time.perf_counter()
            try:
                await job(arg)
                self._observe(name, "ok", started)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                final = isinstance(exc, PermanentError) or attempt == self.retries
                log.warning("job %s(%s) failed (try %d of %d): %s", name, arg, attempt + 1, self.retries + 1,
                            exc, exc_info=final)
                self._observe(name, "failed" if final else "retry", started)
                if final:
                    if name in self.give_up:
                        await self.give_up[name](arg, exc)
                    return
                await asyncio.sleep(self.backoff(attempt))

    def _observe(self, name: str, outcome: str, started: float) -> None:
        if self.observe is not None:
            self.observe(name, outcome, time.perf_counter() - started)
