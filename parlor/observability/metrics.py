"""Prometheus metrics (prometheus_client): one `Metrics` per app, with its own registry.

Multi-process safe: when `PROMETHEUS_MULTIPROC_DIR` is set (several worker processes behind one port),
every process writes its values to files there and `/metrics` sums them (`MultiProcessCollector`);
gauges say how (live sum of in-flight streams, most recent breaker state)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from parlor.observability.probe import ModelCall

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 60.0)
RATE_BUCKETS = (1.0, 5.0, 10.0, 20.0, 30.0, 50.0, 75.0, 100.0, 150.0, 250.0, 500.0, 1000.0)
BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}

Pricer = Callable[[str | None, str | None, int, int], float]
ScrapeHook = Callable[["Metrics"], Awaitable[None]]


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
        self.cost = Counter("parlor_llm_cost_usd", "Cost in US dollars, priced from PARLOR_PRICES.",
                            ["provider", "model"], registry=r)
        self.turns = Counter("parlor_turns", "Chat turns, by final status.", ["status"], registry=r)
        self.rejections = Counter("parlor_rate_limit_rejections", "Requests refused with 429, by reason.",
                                  ["reason"], registry=r)
        self.breaker = Gauge("parlor_circuit_breaker_state", "Circuit breaker per provider: 0 closed, "
                             "1 half-open, 2 open.", ["provider"], registry=r, multiprocess_mode="livemostrecent")
        self.pool = Gauge("parlor_db_pool_connections", "Database connections: checked_out or idle in the pool.",
                          ["state"], registry=r, multiprocess_mode="livesum")
        self.pool_size = Gauge("parlor_db_pool_size", "The database pool's configured size.",
                               registry=r, multiprocess_mode="livesum")

    def on_scrape(self, hook: ScrapeHook) -> None:
        """`hook` refreshes gauges read from elsewhere (breaker states) right before each scrape."""
        self._hooks.append(hook)

    async def render(self) -> bytes:
        for hook in self._hooks:
            await hook(self)
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
        if self._price is not None:
            cost = self._price(call.provider, call.model, call.tokens_in, call.tokens_out)
            if cost > 0:
                self.cost.labels(provider, model).inc(cost)

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method, str(status)).observe(seconds)

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
