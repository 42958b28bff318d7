"""One provider tried for one model call, observed: a `chat {model}` span with the GenAI semantic
conventions, the Prometheus histograms and counters, and an entry in the request's run record.

The router calls `first_token`, `usage`, `finish` and `end` as the stream goes; nothing here knows
the providers' wire formats."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from opentelemetry.trace import Status, StatusCode

from parlor.observability.probe import ModelCall, note_model_call
from parlor.observability.tracing import client_span

if TYPE_CHECKING:
    from parlor.llm.types import Usage
    from parlor.observability.metrics import Metrics


class ModelCallObserver:
    __slots__ = ("_chunks", "_metrics", "_span", "call", "started")

    def __init__(self, metrics: Metrics | None, provider: str, model: str, system: str,
                 max_tokens: int | None = None, request_id: str | None = None):
        self._metrics = metrics
        self._chunks = 0
        self.started = time.perf_counter()
        self.call = ModelCall(provider, model, system)
        self._span = client_span(f"chat {model}", {
            "gen_ai.operation.name": "chat", "gen_ai.system": system, "gen_ai.provider.name": system,
            "gen_ai.request.model": model, "parlor.provider": provider,
        })
        if self._span.is_recording():
            if max_tokens is not None:
                self._span.set_attribute("gen_ai.request.max_tokens", max_tokens)
            if request_id:
                self._span.set_attribute("parlor.request_id", request_id)

    def first_token(self) -> None:
        if self.call.ttft_ms is None:
            self.call.ttft_ms = (time.perf_counter() - self.started) * 1000

    def usage(self, usage: Usage) -> None:
        call = self.call
        call.tokens_in, call.tokens_out = usage.tokens_in, usage.tokens_out
        call.cached_in, call.cache_write_in, call.reasoning_out = usage.cached_in, usage.cache_write_in, \
            usage.reasoning_out

    def chunk(self) -> None:
        """A text delta: counts as a token until the provider reports its usage."""
        self._chunks += 1

    def finish(self, reason: str) -> None:
        self.call.finish_reason = reason

    def end(self, error: str | None = None) -> None:
        call = self.call
        call.duration_ms = (time.perf_counter() - self.started) * 1000
        call.error = error
        if call.tokens_out == 0 and self._chunks:
            call.tokens_out = self._chunks
        span = self._span
        if span.is_recording():
            span.set_attribute("gen_ai.response.model", call.model)
            span.set_attribute("gen_ai.usage.input_tokens", call.tokens_in)
            span.set_attribute("gen_ai.usage.output_tokens", call.tokens_out)
            if call.cached_in:  # the GenAI conventions' cache attributes (experimental); reasoning in their style
                span.set_attribute("gen_ai.usage.cache_read.input_tokens", call.cached_in)
            if call.cache_write_in:
                span.set_attribute("gen_ai.usage.cache_creation.input_tokens", call.cache_write_in)
            if call.reasoning_out:
                span.set_attribute("gen_ai.usage.reasoning.output_tokens", call.reasoning_out)
            if call.finish_reason:
                span.set_attribute("gen_ai.response.finish_reasons", [call.finish_reason.replace("-", "_")])
            if call.ttft_ms is not None:
                span.set_attribute("gen_ai.server.time_to_first_token", call.ttft_ms / 1000)
            if error is not None:
                span.set_attribute("error.type", error)
                span.set_status(Status(StatusCode.ERROR, error))
        span.end()
        note_model_call(call)
        if self._metrics is not None:
            self._metrics.model_call(call)


def skipped(metrics: Metrics | None, provider: str, model: str, system: str, why: str) -> None:
    """A provider not tried (its circuit is open): in the run record's chain and the call counter."""
    call = ModelCall(provider, model, system, error=why)
    note_model_call(call)
    if metrics is not None:
        metrics.model_call(call)
