"""Runs a named job with retries: transient failures back off exponentially (with jitter); the same
runner serves the in-process queue and `parlor worker`, so a job behaves the same in both modes.

Jobs must be idempotent: a job may run again after a crash (at-least-once delivery).

A job continues the trace of the request that queued it (its W3C `traceparent` travels with the job), and
every line logged while it runs carries the job's name and argument (e.g. `job`, `document_id`)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import structlog
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("parlor.jobs")

JobFn = Callable[[str], Awaitable[None]]
GiveUp = Callable[[str, BaseException], Awaitable[None]]
Observe = Callable[[str, str, float], None]  # job name, outcome (ok, retry, failed), seconds the try took


class PermanentError(Exception):
    """A failure that another try cannot fix: the job is not retried."""


def trace_carrier() -> dict[str, str]:
    """The current trace as W3C headers (`traceparent`; empty without one), to travel with a queued job."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@dataclass
class JobRunner:
    jobs: dict[str, JobFn] = field(default_factory=dict)
    give_up: dict[str, GiveUp] = field(default_factory=dict)  # called once the retries are spent
    retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    observe: Observe | None = None  # each try, for the metrics (set by the composition root)
    arg_names: dict[str, str] = field(default_factory=dict)  # what each job's argument is, in its log lines

    def register(self, name: str, job: JobFn, give_up: GiveUp | None = None, arg_name: str = "arg") -> None:
        self.jobs[name] = job
        self.arg_names[name] = arg_name
        if give_up is not None:
            self.give_up[name] = give_up

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2.0 ** attempt) * random.uniform(0.5, 1.0))

    async def run(self, name: str, arg: str, carrier: Mapping[str, str] | None = None) -> None:
        """Runs the job in a span continuing `carrier`'s trace (from trace_carrier() where it was queued)."""
        parent = propagate.extract(carrier) if carrier else None
        with _tracer.start_as_current_span(f"job {name}", context=parent, kind=SpanKind.CONSUMER,
                                           attributes={"parlor.job": name}) as span:
            ids = span.get_span_context()
            bound = {"trace_id": format(ids.trace_id, "032x")} if ids.is_valid else {}
            with structlog.contextvars.bound_contextvars(job=name, **{self.arg_names.get(name, "arg"): arg},
                                                         **bound):
                await self._run(name, arg)

    async def _run(self, name: str, arg: str) -> None:
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
