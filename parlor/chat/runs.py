"""Runs: a turn's generation as a task of its own, its events kept in a log that any number of
subscribers follow (the live client now; a resuming client or another replica later)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from parlor.chat.events import TERMINAL, ChatEvent, TurnAborted, TurnFailed
from parlor.chat.leases import Claim
from parlor.tasks import TaskTracker

log = logging.getLogger(__name__)

ALL_THREADS = "*"  # in a stop request: every run of that user (no thread id looks like it)


class ThreadBusy(Exception):
    pass


class Run:
    def __init__(self, key: tuple[str, str], events: AsyncIterator[ChatEvent], tasks: TaskTracker,
                 client_id: str | None = None, claim: Claim | None = None):
        self.key = key
        self.client_id = client_id  # the user message that started it, to attach retried POSTs
        self.claim = claim or Claim(key)  # its hold on the thread across replicas (given back at its end)
        self.log: list[ChatEvent] = []
        self.done = False
        self._changed = asyncio.Event()
        self._task = tasks.spawn(self._pump(events), name=f"run:{key[1]}")

    async def _pump(self, events: AsyncIterator[ChatEvent]) -> None:
        try:
            async for event in events:
                self._append(event)
        except asyncio.CancelledError:
            if not self._ended():
                self._append(TurnAborted())
            raise
        except Exception:  # a bug must not leave a stream without its end
            log.exception("run %s failed", self.key[1])
            if not self._ended():
                self._append(TurnFailed("internal_error", "Something went wrong while answering. Please retry."))
        finally:
            self.done = True
            self._changed.set()

    def _ended(self) -> bool:
        return bool(self.log) and isinstance(self.log[-1], TERMINAL)

    def _append(self, event: ChatEvent) -> None:
        self.log.append(event)
        self._changed.set()

    async def follow(self, start: int = 0) -> AsyncIterator[list[ChatEvent]]:
        """Yields the log from `start` in batches: whatever accumulated while the reader was busy
        comes as one batch, so a slow reader coalesces deltas without any added wait."""
        position = start
        while True:
            if position < len(self.log):
                batch = self.log[position:]
                position += len(batch)
                yield batch
            elif self.done:
                return
            else:
                self._changed.clear()
                await self._changed.wait()

    def cancel(self) -> None:
        self._task.cancel()

    async def wait(self) -> None:
        await asyncio.wait([self._task])


OnStart = Callable[[Run], Coroutine[Any, Any, None]]


class RunRegistry:
    """Active runs of this process, one per (user, thread)."""

    def __init__(self, tasks: TaskTracker, on_start: OnStart):
        self._tasks = tasks
        self._on_start = on_start  # mirroring each run to Redis for the other replicas (a no-op without)
        self._runs: dict[tuple[str, str], Run] = {}

    def start(self, key: tuple[str, str], events: AsyncIterator[ChatEvent], client_id: str | None = None,
              claim: Claim | None = None) -> Run:
        if (active := self.active(key)) is not None:
            if client_id is not None and active.client_id == client_id:
                return active  # a retried POST of the message that started it: attach
            raise ThreadBusy(key[1])
        run = Run(key, events, self._tasks, client_id, claim)
        self._runs[key] = run
        run._task.add_done_callback(lambda _: self._forget(run))
        self._tasks.spawn(self._on_start(run), name=f"mirror:{key[1]}")
        return run

    def stop(self, key: tuple[str, str]) -> bool:
        """Cancels this process's run of a thread (of each of the user's threads for ALL_THREADS);
        False when there is none here."""
        if key[1] == ALL_THREADS:
            return bool(self.stop_user(key[0]))
        run = self.active(key)
        if run is not None:
            run.cancel()
        return run is not None

    def stop_user(self, user_id: str) -> list[Run]:
        """Cancels every run of the user in this process; returns them (to await their end)."""
        runs = [run for key, run in list(self._runs.items()) if key[0] == user_id and not run.done]
        for run in runs:
            run.cancel()
        return runs

    def _forget(self, run: Run) -> None:
        if self._runs.get(run.key) is run:
            del self._runs[run.key]

    def active(self, key: tuple[str, str]) -> Run | None:
        run = self._runs.get(key)
        return run if run is not None and not run.done else None

    def __len__(self) -> int:
        return len(self._runs)

    def cancel_all(self) -> None:
        for run in list(self._runs.values()):
            run.cancel()

    async def drain(self, seconds: float) -> None:
        """Lets running turns finish for up to `seconds`, then stops the rest (their partials are stored)."""
        running = [run._task for run in self._runs.values()]
        if running:
            await asyncio.wait(running, timeout=seconds)
        self.cancel_all()
        if running:
            await asyncio.wait(running, timeout=5)
