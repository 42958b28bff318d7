"""Run records: what each chat turn did, written after it ended (never before its first token), and
read back by the run inspector (`/api/admin/runs`, and a user's own timings under `/api/runs`)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.db import new_id, utcnow
from parlor.db.models import RunRecord
from parlor.observability.metrics import Metrics, Pricer
from parlor.observability.probe import Probe, current_probe
from parlor.tasks import TaskTracker

log = logging.getLogger(__name__)
FLUSH_SECONDS = 0.05
BATCH = 500
USER_FIELDS = ("request_id", "thread_id", "status", "model", "tokens_in", "tokens_out", "ttft_ms", "total_ms",
               "timings", "created_at")


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """How a turn ended, as the turn pipeline knows it (no wire format, no message content)."""

    request_id: str
    user_id: str
    thread_id: str | None
    status: str  # complete | error | aborted
    error: str | None
    provider: str | None
    model: str | None
    tokens_in: int
    tokens_out: int
    ttft_ms: float | None
    generation_ms: float  # from the turn's start to its last event from the model (tools included)
    experiment: str | None = None  # the experiment arm it ran in (None: none)
    variant: str | None = None
    trigger: str | None = None  # submit | regenerate | edit
    cached_in: int = 0  # the parts of the tokens priced apart (see parlor.llm.types.Usage)
    cache_write_in: int = 0
    reasoning_out: int = 0


class RunStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def write(self, rows: list[dict[str, Any]]) -> None:
        """Inserts records in one transaction (one statement, executemany)."""
        now = utcnow()
        async with self._sessions.begin() as session:
            await session.execute(insert(RunRecord), [{"id": new_id(), "created_at": now, **row} for row in rows])

    async def get(self, request_id: str, user_id: str | None = None) -> RunRecord | None:
        query = select(RunRecord).where(RunRecord.request_id == request_id)
        if user_id is not None:
            query = query.where(RunRecord.user_id == user_id)
        async with self._sessions() as session:
            return (await session.execute(query.order_by(RunRecord.created_at.desc()).limit(1))).scalar_one_or_none()

    async def list(self, user_id: str | None = None, status: str | None = None, since: datetime | None = None,
                   limit: int = 50) -> list[RunRecord]:
        query = select(RunRecord)
        if user_id is not None:
            query = query.where(RunRecord.user_id == user_id)
        if status is not None:
            query = query.where(RunRecord.status == status)
        if since is not None:
            query = query.where(RunRecord.created_at >= since)
        query = query.order_by(RunRecord.created_at.desc(), RunRecord.id.desc()).limit(limit)
        async with self._sessions() as session:
            return list((await session.execute(query)).scalars())


def record_json(row: RunRecord, admin: bool) -> dict[str, Any]:
    """A run record as JSON: its timings for the user it belongs to; everything for an admin."""
    body: dict[str, Any] = {name: getattr(row, name) for name in USER_FIELDS}
    body["created_at"] = row.created_at.isoformat()
    if admin:
        body.update(user_id=row.user_id, trace_id=row.trace_id, error=row.error, provider=row.provider,
                    cost_usd=row.cost_usd, providers=row.detail.get("providers", []),
                    tools=row.detail.get("tools", []), retrieved=row.detail.get("retrieved", []),
                    stored=row.detail.get("stored"), usage=row.detail.get("usage"), experiment=row.experiment,
                    variant=row.variant, trigger=row.trigger)
    return body


class RunRecorder:
    """Writes each turn's record once its answer is stored, in batches: the records that end within
    FLUSH_SECONDS of each other share one insert (a busy server pays one write per batch, not per turn)."""

    def __init__(self, store: RunStore, tasks: TaskTracker, metrics: Metrics | None = None,
                 price: Pricer | None = None):
        self._store = store
        self._tasks = tasks
        self._metrics = metrics
        self._price = price
        self._pending: list[dict[str, Any]] = []
        self._flusher: asyncio.Task[None] | None = None

    def after_turn(self, outcome: TurnOutcome, stored: Awaitable[bool | None]) -> asyncio.Task[None]:
        """Called when the turn's events have ended; `stored` resolves once the answer is saved. The task
        returned ends when the record is queued (`flushed()` then waits for it to be written)."""
        if self._metrics is not None:
            self._metrics.turns.labels(outcome.status).inc()
            self._metrics.experiment_turn(outcome.experiment, outcome.variant, outcome.status, outcome.ttft_ms)
        probe = current_probe()
        return self._tasks.spawn(self._write(outcome, probe, stored, time.perf_counter()),
                                 name=f"run-record:{outcome.request_id}")

    async def flushed(self) -> None:
        """Returns once every record queued so far is written (or its write has failed)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.wait([self._flusher])

    async def _write(self, outcome: TurnOutcome, probe: Probe | None, stored: Awaitable[bool | None],
                     ended: float) -> None:
        try:
            saved = await stored
        except (Exception, asyncio.CancelledError):
            saved = False
        store_ms = (time.perf_counter() - ended) * 1000
        self._pending.append(self.values(outcome, probe, saved, store_ms))
        if self._flusher is None or self._flusher.done():  # its own, empty context: no request's ids
            self._flusher = contextvars.Context().run(self._tasks.spawn, self._flush(), "run-records:flush")

    async def _flush(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        while self._pending:
            batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
            try:
                await self._store.write(batch)
            except Exception:
                log.exception("could not write %d run records (requests %s)", len(batch),
                              ", ".join(row["request_id"] for row in batch[:10]))

    def values(self, outcome: TurnOutcome, probe: Probe | None, saved: bool | None,
               store_ms: float) -> dict[str, Any]:
        phases = dict(probe.phases) if probe is not None else {}
        calls = [c.as_json() for c in probe.calls] if probe is not None else []
        tools = [t.as_json() for t in probe.tools] if probe is not None else []
        timings = {**phases, "ttft": _ms(outcome.ttft_ms), "generation": _ms(outcome.generation_ms),
                   "tools": _ms(sum(t["duration_ms"] or 0 for t in tools)), "store": _ms(store_ms)}
        total = probe.elapsed_ms() if probe is not None else outcome.generation_ms + store_ms
        timings["total"] = _ms(total)
        cost = 0.0
        if self._price is not None and outcome.provider is not None:
            cost = self._price(outcome.provider, outcome.model, outcome)
        return {
            "request_id": outcome.request_id, "trace_id": probe.trace_id if probe else None,
            "user_id": outcome.user_id, "thread_id": outcome.thread_id, "status": outcome.status,
            "error": outcome.error, "provider": outcome.provider, "model": outcome.model,
            "tokens_in": outcome.tokens_in, "tokens_out": outcome.tokens_out, "cost_usd": cost,
            "ttft_ms": _ms(outcome.ttft_ms), "total_ms": timings["total"], "timings": timings,
            "detail": {"providers": calls, "tools": tools, "retrieved": probe.retrieved if probe else [],
                       "stored": saved, "usage": {"cached_in": outcome.cached_in,
                                                  "cache_write_in": outcome.cache_write_in,
                                                  "reasoning_out": outcome.reasoning_out}},
            "experiment": outcome.experiment, "variant": outcome.variant, "trigger": outcome.trigger,
        }


class NullRecorder(RunRecorder):
    """Records nothing: for a turn pipeline built without run records (tests, tools)."""

    def __init__(self) -> None:
        pass

    def after_turn(self, outcome: TurnOutcome, stored: Awaitable[bool | None]) -> asyncio.Task[None]:
        return asyncio.ensure_future(_settled(stored))

    async def flushed(self) -> None:
        return None


async def _settled(stored: Awaitable[bool | None]) -> None:
    """Waits for the answer's write like a record would (so the task ends when the turn's writes do)."""
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await stored


def _ms(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


