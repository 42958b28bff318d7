"""OpenTelemetry tracing: set up once by the composition root when an OTLP endpoint (or tracing=on) is
configured; otherwise every span below is the API's no-op span, which costs a few attribute lookups.

Spans: the HTTP request (server), context building, the turn (`invoke_agent`), each provider tried for
a model call (`chat {model}`, with the GenAI semantic conventions), each tool call (`execute_tool`),
and the database and Redis calls (the standard SQLAlchemy and Redis instrumentations)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from parlor.observability.probe import ToolCallRecord, note_phase, note_tool_call

_tracer = trace.get_tracer("parlor")  # a proxy: follows whichever provider the composition root sets
T = TypeVar("T")


def enabled() -> bool:
    """Whether a real (SDK) tracer provider is installed."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def trace_id_of(span: Span) -> str | None:
    context = span.get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


@contextmanager
def phase(name: str, **attributes: Any) -> Iterator[Span]:
    """A phase of a request (`context`, `reserve`...): a span of its own, and its time in the run record."""
    started = time.perf_counter()
    with _tracer.start_as_current_span(f"parlor.{name}", attributes=attributes) as span:
        try:
            yield span
        finally:
            note_phase(name, started)


async def traced(events: AsyncIterator[T], name: str, **attributes: Any) -> AsyncIterator[T]:
    """Iterates `events` inside a span that is current while they are produced (and for the tasks they
    start): meant for a run's own task, which iterates one turn from start to end."""
    span = _tracer.start_span(name, attributes=attributes)
    if not span.is_recording():  # tracing off: pass the events through untouched
        async for event in events:
            yield event
        return
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        async for event in events:
            yield event
    except BaseException as exc:
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        otel_context.detach(token)
        span.end()


class ToolOutcome(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def output(self) -> Any: ...

    @property
    def duration_ms(self) -> float: ...


R = TypeVar("R", bound=ToolOutcome)


async def traced_tool(call_id: str, name: str, call: Awaitable[R]) -> R:
    """Runs a tool call in an `execute_tool` span (in the tool's own task, so whatever the tool calls
    nests under it), and notes its duration and outcome for the run record."""
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name, "gen_ai.tool.call.id": call_id}
    with _tracer.start_as_current_span(f"execute_tool {name}", attributes=attributes) as span:
        result = await call
        error = None if result.ok else str(result.output)[:200]
        if error is not None:
            span.set_status(Status(StatusCode.ERROR))
            span.set_attribute("error.type", "tool_error")
        note_tool_call(ToolCallRecord(call_id, name, result.duration_ms, result.ok, error))
        return result


def server_span(method: str, path: str, carrier: dict[str, str]) -> Span:
    """The request's span, continuing the caller's trace when it sent `traceparent`."""
    from opentelemetry.propagate import extract

    parent = extract(carrier) if "traceparent" in carrier else None
    return _tracer.start_span(method, context=parent, kind=SpanKind.SERVER,
                              attributes={"http.request.method": method, "url.path": path})


def client_span(name: str, attributes: dict[str, Any]) -> Span:
    return _tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
