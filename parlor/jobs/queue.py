"""The job queue seam, and the in-process queue of embedded mode (asyncio tasks; the jobs put their
CPU work in worker threads themselves)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from parlor.jobs.runner import JobRunner, trace_carrier

log = logging.getLogger(__name__)

Recover = Callable[[], Awaitable[Sequence[tuple[str, str]]]]


class QueueUnavailable(Exception):
    """A job could not be queued (Redis down): the caller decides what the job's subject becomes."""


class JobQueue(Protocol):
    async def start(self) -> None: ...

    async def enqueue(self, name: str, arg: str) -> None:
        """Raises QueueUnavailable when the job cannot be queued."""
        ...

    async def depth(self) -> dict[str, int]:
        """Jobs `waiting` (not yet taken) and `running` (taken, not yet done), for the metrics."""
        ...

    async def check(self) -> None:
        """Raises when jobs cannot be queued or run (readiness)."""
        ...

    async def aclose(self) -> None: ...


class LocalQueue:
    """Jobs run in this process by `concurrency` consumer tasks. Nothing is lost across a restart as
    long as `recover` lists the jobs still to do (the documents left queued or processing)."""

    def __init__(self, runner: JobRunner, concurrency: int = 1, recover: Recover | None = None):
        self._runner = runner
        self._concurrency = concurrency
        self._recover = recover
        self._queue: asyncio.Queue[tuple[str, str, dict[str, str]]] = asyncio.Queue()
        self._consumers: list[asyncio.Task[None]] = []
        self._running = 0

    async def start(self) -> None:
        if self._recover is not None:
            for name, arg in await self._recover():
                self._queue.put_nowait((name, arg, {}))  # their requests are long gone: new traces
        self._consumers = [asyncio.create_task(self._consume(), name=f"jobs-{i}") for i in range(self._concurrency)]

    async def enqueue(self, name: str, arg: str) -> None:
        self._queue.put_nowait((name, arg, trace_carrier()))

    async def _consume(self) -> None:
        while True:
            name, arg, carrier = await self._queue.get()
            self._running += 1
            try:
                await self._runner.run(name, arg, carrier)
            except Exception:  # the runner logs and gives up by itself; this is a last resort
                log.exception("job %s(%s) crashed", name, arg)
            finally:
                self._running -= 1
                self._queue.task_done()

    async def depth(self) -> dict[str, int]:
        return {"waiting": self._queue.qsize(), "running": self._running}

    async def check(self) -> None:
        if self._consumers and all(task.done() for task in self._consumers):
            raise RuntimeError("no job consumer is running")

    async def idle(self) -> None:
        await self._queue.join()

    async def aclose(self) -> None:
        for task in self._consumers:
            task.cancel()
        if self._consumers:
            await asyncio.wait(self._consumers, timeout=5)
        self._consumers = []
