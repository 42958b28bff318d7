"""What one request did, collected as it happens: who, which thread, phase timings, each model call
(provider chain tried, time to first token, tokens) and each tool call. One `Probe` per HTTP request,
reachable through a contextvar from the request and from every task it starts (asyncio copies the
context when a task is created), so the turn pipeline notes what it does without any plumbing."""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

import structlog

_probe: ContextVar[Probe | None] = ContextVar("parlor_probe", default=None)


@dataclass(slots=True)
class ModelCall:
    """One provider tried for one model call: it answered (`error` None), failed, or was skipped."""

    provider: str
    model: str
    system: str
    ttft_ms: float | None = None
    duration_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cached_in: int = 0  # the parts of those tokens the provider told apart (see parlor.llm.types.Usage)
    cache_write_in: int = 0
    reasoning_out: int = 0
    finish_reason: str | None = None
    error: str | None = None  # the failure's kind: timeout, unavailable, rate_limited, circuit_open...

    def as_json(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "ttft_ms": _round(self.ttft_ms),
                "duration_ms": _round(self.duration_ms), "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
                "cached_in": self.cached_in, "cache_write_in": self.cache_write_in,
                "reasoning_out": self.reasoning_out, "finish_reason": self.finish_reason, "error": self.error}


@dataclass(slots=True)
class ToolCallRecord:
    call_id: str
    name: str
    duration_ms: float
    ok: bool
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "name": self.name, "duration_ms": _round(self.duration_ms),
                "ok": self.ok, "error": self.error}


@dataclass(slots=True)
class Probe:
    request_id: str
    trace_id: str | None = None
    user_id: str | None = None
    thread_id: str | None = None
    started: float = field(default_factory=time.perf_counter)
    phases: dict[str, float] = field(default_factory=dict)  # name -> milliseconds
    calls: list[ModelCall] = field(default_factory=list)
    tools: list[ToolCallRecord] = field(default_factory=list)
    retrieved: list[dict[str, Any]] = field(default_factory=list)  # chunk ids with scores

    def phase(self, name: str, started: float) -> None:
        """Records a phase that began at `started` (a perf_counter reading) and ends now; a phase that
        happens more than once (a search per tool call) adds up."""
        self.phases[name] = round(self.phases.get(name, 0.0) + (time.perf_counter() - started) * 1000, 3)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


def current_probe() -> Probe | None:
    return _probe.get()


def bind_probe(probe: Probe | None) -> Token[Probe | None]:
    """Makes `probe` current for this context (and every task created from it afterwards)."""
    return _probe.set(probe)


def unbind_probe(token: Token[Probe | None]) -> None:
    _probe.reset(token)


def annotate(user_id: str | None = None, thread_id: str | None = None) -> None:
    """Who the request is for and which thread (shown in its log line and its run record)."""
    probe = _probe.get()
    if probe is not None:
        probe.user_id = user_id or probe.user_id
        probe.thread_id = thread_id or probe.thread_id
    structlog.contextvars.bind_contextvars(**{k: v for k, v in (("user", user_id), ("thread", thread_id)) if v})


def note_phase(name: str, started: float) -> None:
    probe = _probe.get()
    if probe is not None:
        probe.phase(name, started)


def note_model_call(call: ModelCall) -> None:
    probe = _probe.get()
    if probe is not None:
        probe.calls.append(call)


def stopped_call() -> ModelCall | None:
    """The model call a stop just cut short, if the request's last one ended so ("aborted")."""
    probe = _probe.get()
    call = probe.calls[-1] if probe is not None and probe.calls else None
    return call if call is not None and call.error == "aborted" else None


def note_tool_call(record: ToolCallRecord) -> None:
    probe = _probe.get()
    if probe is not None:
        probe.tools.append(record)


def note_retrieval(chunk_id: str, score: float) -> None:
    probe = _probe.get()
    if probe is not None:
        probe.retrieved.append({"chunk_id": chunk_id, "score": round(score, 4)})


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None
