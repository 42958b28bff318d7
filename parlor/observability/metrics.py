"""Prometheus metrics (prometheus_client): one `Metrics` per app, with its own registry.

Multi-process safe: when `PROMETHEUS_MULTIPROC_DIR` is set (several worker processes behind one port),
every process writes its values to files there and `/metrics` sums them (`MultiProcessCollector`);
gauges say how (live sum of in-flight streams, most recent breaker state)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from parlor.observability.probe import ModelCall

if TYPE_CHECKING:
    from parlor.jobs import JobRunner
    from parlor.llm.types import TokenCounts

log = logging.getLogger(__name__)
CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 60.0)
JOB_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
HOOK_TIMEOUT = 1.0  # a scrape-time read (Redis) that hangs leaves its gauge as it was, never the scrape
RATE_BUCKETS = (1.0, 5.0, 10.0, 20.0, 30.0, 50.0, 75.0, 100.0, 150.0, 250.0, 500.0, 1000.0)
BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}

Pricer = Callable[[str | None, str | None, "TokenCounts"], float]
ScrapeHook = Callable[["Metrics"], Awaitable[None]]


class Queue(Protocol):
    async def depth(self) -> dict[str, int]: ...


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


class Metrics:
    def __init__(self, price: Pricer | None = None) -> None:
        self._price = price
        self._hooks: list[ScrapeHook] = []
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("parlor_http_requests", "HTTP requests, by route template, method and status.",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("parlor_http_request_duration_seconds",
                                 "Time from a request's start to its last byte (streams: the whole stream).",
                                 ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=r)
        self.streams = Gauge("parlor_active_streams", "Streaming (SSE) responses open now.",
                             registry=r, multiprocess_mode="livesum")
        self.ttft = Histogram("parlor_llm_time_to_first_token_seconds",
                              "A model call's time from the request to its first text or tool-call delta.",
                              ["provider", "model"], buckets=TTFT_BUCKETS, registry=r)
        self.rate = Histogram("parlor_llm_tokens_per_second", "Output tokens per second after the first token.",
                              ["provider", "model"], buckets=RATE_BUCKETS, registry=r)
        self.calls = Counter("parlor_llm_calls", "Calls to each provider, by outcome (ok or the failure's kind).",
                             ["provider", "model", "outcome"], registry=r)
        self.tokens = Counter("parlor_llm_tokens", "Tokens, by model and direction (input or output).",
                              ["provider", "model", "direction"], registry=r)
        self.token_parts = Counter("parlor_llm_token_parts", "Of those tokens, the parts priced apart: "
                                   "cache_read and cache_write (input), reasoning (output).",
                                   ["provider", "model", "part"], registry=r)
        self.cost = Counter("parlor_llm_cost_usd", "Cost in US dollars, priced from PARLOR_PRICES.",
                            ["provider", "model"], registry=r)
        self.turns = Counter("parlor_turns", "Chat turns, by final status.", ["status"], registry=r)
        self.variant_turns = Counter("parlor_experiment_turns", "Chat turns by experiment arm and final status "
                                     "(\"none\": outside every experiment).", ["experiment", "variant", "status"],
                                     registry=r)
        self.variant_ttft = Histogram("parlor_experiment_time_to_first_token_seconds",
                                      "A turn's time to its first token, by experiment arm.",
                                      ["experiment", "variant"], buckets=TTFT_BUCKETS, registry=r)
        self.rejections = Counter("parlor_rate_limit_rejections", "Requests refused with 429, by reason.",
                                  ["reason"], registry=r)
        self.breaker = Gauge("parlor_circuit_breaker_state", "Circuit breaker per provider: 0 closed, "
                             "1 half-open, 2 open.", ["provider"], registry=r, multiprocess_mode="livemostrecent")
        self.pool = Gauge("parlor_db_pool_connections", "Database connections: checked_out or idle in the pool.",
                          ["state"], registry=r, multiprocess_mode="livesum")
        self.jobs = Histogram("parlor_job_duration_seconds", "Each try of a background job, by job and outcome: "
                              "ok, retry (failed, tried again) or failed (given up).", ["job", "outcome"],
                              buckets=JOB_BUCKETS, registry=r)
        self.job_failures = Counter("parlor_job_failures", "Failed tries of background jobs: retry or failed.",
                                    ["job", "outcome"], registry=r)
        self.queue_depth = Gauge("parlor_job_queue_depth", "Jobs waiting (not yet taken by a worker) or running "
                                 "(taken, not yet done), read at scrape time.", ["queue", "state"], registry=r,
                                 multiprocess_mode="livemostrecent")
        self.pool_size = Gauge("parlor_db_pool_size", "The database pool's configured size.",
                               registry=r, multiprocess_mode="livesum")

    def on_scrape(self, hook: ScrapeHook) -> None:
        """`hook` refreshes gauges read from elsewhere (breaker states) right before each scrape."""
        self._hooks.append(hook)

    async def render(self) -> bytes:
        for hook in self._hooks:
            try:
                await asyncio.wait_for(hook(self), HOOK_TIMEOUT)
            except Exception as exc:  # e.g. Redis down: the other metrics still go out
                log.warning("a metrics scrape hook failed: %s", exc or type(exc).__name__)
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined, directory)  # type: ignore[no-untyped-call]
        return generate_latest(combined)

    def model_call(self, call: ModelCall) -> None:
        provider, model = call.provider, call.model
        self.calls.labels(provider, model, call.error or "ok").inc()
        if call.ttft_ms is not None:
            self.ttft.labels(provider, model).observe(call.ttft_ms / 1000)
            after_first = (call.duration_ms - call.ttft_ms) / 1000
            if call.tokens_out > 1 and after_first > 0:
                self.rate.labels(provider, model).observe((call.tokens_out - 1) / after_first)
        self.tokens.labels(provider, model, "input").inc(call.tokens_in)
        self.tokens.labels(provider, model, "output").inc(call.tokens_out)
        for part, count in (("cache_read", call.cached_in), ("cache_write", call.cache_write_in),
                            ("reasoning", call.reasoning_out)):
            if count:
                self.token_parts.labels(provider, model, part).inc(count)
        if self._price is not None:
            cost = self._price(call.provider, call.model, call)
            if cost > 0:
                self.cost.labels(provider, model).inc(cost)

    def experiment_turn(self, experiment: str | None, variant: str | None, status: str,
                        ttft_ms: float | None) -> None:
        """Labels are configured names only (the turn's arm came from the configuration), else "none"."""
        labels = (experiment or "none", variant or "none")
        self.variant_turns.labels(*labels, status).inc()
        if ttft_ms is not None:
            self.variant_ttft.labels(*labels).observe(ttft_ms / 1000)

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method, str(status)).observe(seconds)

    def job_try(self, job: str, outcome: str, seconds: float) -> None:
        self.jobs.labels(job, outcome).observe(seconds)
        if outcome != "ok":
            self.job_failures.labels(job, outcome).inc()

    def watch_jobs(self, name: str, queue: Queue, runner: JobRunner) -> None:
        """Each job try in the histogram; the queue's depth read from the queue itself at each scrape
        (with Redis, the consumer group's numbers: the same whichever process is scraped)."""
        runner.observe = self.job_try

        async def refresh(metrics: Metrics) -> None:
            for state, count in (await queue.depth()).items():
                metrics.queue_depth.labels(name, state).set(count)

        self.on_scrape(refresh)

    def breakers(self, states: dict[str, Any]) -> None:
        for provider, state in states.items():
            self.breaker.labels(provider).set(BREAKER_VALUES.get(str(state), 0))

    def close(self) -> None:
        """A process that stops takes its live gauges with it (multi-process mode)."""
        directory = multiprocess_dir()
        if directory is not None:
            multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


def watch_pool(metrics: Metrics, sync_engine: Any) -> None:
    """Counts the engine's pooled connections as they are checked out and in (SQLAlchemy pool events)."""
    from sqlalchemy import event

    pool = sync_engine.pool
    size = getattr(pool, "size", None)
    if callable(size):
        metrics.pool_size.set(size())
    idle, out = metrics.pool.labels("idle"), metrics.pool.labels("checked_out")

    def checkout(*_: Any) -> None:
        out.inc()
        idle.dec()

    def checkin(*_: Any) -> None:
        out.dec()
        idle.inc()

    def connect(*_: Any) -> None:
        idle.inc()

    def close(*_: Any) -> None:
        idle.dec()

    event.listen(sync_engine, "checkout", checkout)
    event.listen(sync_engine, "checkin", checkin)
    event.listen(sync_engine, "connect", connect)
    event.listen(sync_engine, "close", close)
