"""The request's observability, as pure ASGI middleware (streaming responses pass through untouched):
its span (the trace id goes back in `X-Trace-ID`), its probe, its log context, its metrics, and one
log line when it ends: method, path, status, user, thread, request id, durations."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parlor.observability.metrics import Metrics
from parlor.observability.probe import Probe, bind_probe, unbind_probe
from parlor.observability.tracing import server_span, trace_id_of

log = structlog.get_logger("parlor.request")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes: logged at debug only


def route_of(scope: Scope) -> str:
    """The matched route's template (`/api/threads/{thread_id}`): a bounded label, unlike the path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path or "/"
    return "unmatched"


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, request_id: Callable[[], str]):
        self.app = app
        self.metrics = metrics
        self.request_id = request_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        request_id = self.request_id()
        span = server_span(method, path, _carrier(scope))
        trace_id = trace_id_of(span)
        probe = Probe(request_id, trace_id)
        probe_token = bind_probe(probe)
        context_token = otel_context.attach(trace.set_span_in_context(span)) if span.is_recording() else None
        log_tokens = structlog.contextvars.bind_contextvars(
            request_id=request_id, **({"trace_id": trace_id} if trace_id else {}))
        state: dict[str, Any] = {"status": 500, "first_byte": None, "stream": False, "code": None}

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["first_byte"] = time.perf_counter()
                headers = message.get("headers", [])
                if trace_id is not None:
                    message["headers"] = headers = [*headers, (b"x-trace-id", trace_id.encode())]
                if any(k == b"content-type" and v.startswith(b"text/event-stream") for k, v in headers):
                    state["stream"] = True
                    self.metrics.streams.inc()
            elif (message["type"] == "http.response.body" and state["status"] >= 400 and state["code"] is None
                  and message.get("body")):
                state["code"] = _error_code(message["body"])
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            ended = time.perf_counter()
            status: int = state["status"]
            if state["stream"]:
                self.metrics.streams.dec()
            route = route_of(scope)
            self.metrics.request(route, method, status, ended - started)
            if status == 429:
                self.metrics.rejections.labels(state["code"] or "rate_limited").inc()
            user = probe.user_id or _principal_id(scope)
            if span.is_recording():
                span.update_name(f"{method} {route}")
                span.set_attributes({"http.route": route, "http.response.status_code": status,
                                     "parlor.request_id": request_id})
                if user:
                    span.set_attribute("enduser.id", user)
                if status >= 500:
                    span.set_status(trace.Status(trace.StatusCode.ERROR))
            span.end()
            self._log(probe, method, path, route, status, user, state, started, ended)
            structlog.contextvars.reset_contextvars(**log_tokens)
            if context_token is not None:
                otel_context.detach(context_token)
            unbind_probe(probe_token)

    @staticmethod
    def _log(probe: Probe, method: str, path: str, route: str, status: int, user: str | None,
             state: dict[str, Any], started: float, ended: float) -> None:
        first_byte = state["first_byte"]
        fields: dict[str, Any] = {
            "method": method, "path": path, "route": route, "status": status, "user": user,
            "thread": probe.thread_id, "duration_ms": round((ended - started) * 1000, 1),
            "ttfb_ms": round((first_byte - started) * 1000, 1) if first_byte is not None else None,
        }
        if state["code"]:
            fields["error"] = state["code"]
        answered = next((c for c in probe.calls if c.error is None and c.ttft_ms is not None), None)
        if answered is not None:
            fields.update(provider=answered.provider, model=answered.model, ttft_ms=round(answered.ttft_ms or 0, 1))
        for name, ms in probe.phases.items():
            fields[f"{name}_ms"] = ms
        level = "debug" if path in QUIET_PATHS and status < 500 else "warning" if status >= 500 else "info"
        getattr(log, level)("request", **fields)


def _carrier(scope: Scope) -> dict[str, str]:
    carrier: dict[str, str] = {}
    for key, value in scope["headers"]:
        if key in (b"traceparent", b"tracestate"):
            carrier[key.decode()] = value.decode("latin-1")
    return carrier


def _principal_id(scope: Scope) -> str | None:
    principal = scope.get("state", {}).get("principal")
    found = getattr(principal, "id", None)
    return found if isinstance(found, str) else None


def _error_code(body: bytes) -> str | None:
    """The `code` of Parlor's error envelope, for the log line and the rejections counter."""
    if not body.startswith(b"{"):
        return None
    try:
        error = orjson.loads(body).get("error")
    except orjson.JSONDecodeError:
        return None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None
