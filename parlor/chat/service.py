"""The turn pipeline's front: a user message in, a stream of chat events out. A turn is planned
(chat/plan.py), run as a run of its own (chat/turn.py, chat/runs.py) and recorded (chat/record.py);
here it is started, attached to (a retried POST, a resume, on this replica or another) and stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from parlor.accounts import Principal
from parlor.chat.events import ChatEvent
from parlor.chat.leases import Claim
from parlor.chat.mirror import Mirror
from parlor.chat.plan import Turn, TurnPlanner, TurnRequest
from parlor.chat.record import TurnRecorder
from parlor.chat.runs import ALL_THREADS, Run, RunRegistry, ThreadBusy
from parlor.chat.turn import TurnRunner
from parlor.observability import annotate, traced

Batches = AsyncIterator[list[ChatEvent]]


@dataclass(frozen=True, slots=True)
class TurnStream:
    """A turn's events in batches (a batch is one write), from its start; `run` is None when the run
    lives on another replica."""

    batches: Batches
    run: Run | None = None


class ChatService:
    def __init__(self, planner: TurnPlanner, runner: TurnRunner, recorder: TurnRecorder, runs: RunRegistry,
                 mirror: Mirror):
        self._planner = planner
        self._runner = runner
        self._recorder = recorder
        self._runs = runs
        self._mirror = mirror

    async def submit(self, request: TurnRequest) -> TurnStream:
        """Starts the turn as a run, or attaches to the run a retried POST of the same message started
        (here or on another replica). Raises ThreadNotFound (someone else's thread) or ThreadBusy."""
        key = (request.principal.id, request.thread_id)
        annotate(request.principal.id, request.thread_id)
        retry = not request.regenerate and not request.edit
        if (local := self._runs.active(key)) is not None:
            if retry and local.client_id == request.client_message_id:
                return TurnStream(local.follow(), local)
            raise ThreadBusy(request.thread_id)
        for _ in range(3):  # a holder that ends between our claim and our follow is retried: we then win
            claim = await self._mirror.claim(key, request.client_message_id)
            if claim.won:
                break
            if claim.holder != request.client_message_id or not retry:
                raise ThreadBusy(request.thread_id)
            if (batches := await self._mirror.follow(key)) is not None:
                return TurnStream(batches)
        else:
            raise ThreadBusy(request.thread_id)
        try:
            return await self._start(key, await self._planner.plan(request), claim)
        except BaseException:
            await self._mirror.release(claim)
            raise

    async def _start(self, key: tuple[str, str], turn: Turn, claim: Claim) -> TurnStream:
        request = turn.request
        # approvals answered: taken in the database first, so that no tool runs twice (two replicas, a retry)
        if turn.continues is not None and not await self._recorder.claim(turn):
            await self._planner.release(turn)
            raise ThreadBusy(request.thread_id)
        experiment, variant = turn.arm.labels
        events = traced(self._runner.run(turn), "invoke_agent parlor", **{
            "gen_ai.operation.name": "invoke_agent", "parlor.request_id": request.request_id,
            "parlor.thread_id": request.thread_id, "parlor.experiment": experiment, "parlor.variant": variant})
        try:
            run = self._runs.start(key, events, request.client_message_id, claim)
        except ThreadBusy:  # another request of this replica started one meanwhile
            await self._planner.release(turn)
            raise
        return TurnStream(run.follow(), run)

    async def resume(self, who: Principal, thread_id: str) -> TurnStream | None:
        """The thread's generation under way (replayed from its start), or None."""
        run = self._runs.active((who.id, thread_id))
        if run is not None:
            return TurnStream(run.follow(), run)
        batches = await self._mirror.follow((who.id, thread_id))
        return TurnStream(batches) if batches is not None else None

    async def stop(self, who: Principal, thread_id: str) -> None:
        """Stops the thread's generation, wherever it runs; its partial answer is stored as aborted."""
        if not self._runs.stop((who.id, thread_id)):
            await self._mirror.request_stop((who.id, thread_id))

    async def stop_user(self, user_id: str, seconds: float = 10.0) -> None:
        """Stops all the user's runs (before their account is deleted) and waits, up to `seconds`, for what
        the runs of this replica still write: the partial answers, usage and run records. Other replicas are
        asked to stop theirs too (best effort: their writes are not awaited)."""
        runs = self._runs.stop_user(user_id)
        await self._mirror.request_stop((user_id, ALL_THREADS))
        if runs:
            await asyncio.wait([asyncio.ensure_future(run.wait()) for run in runs], timeout=seconds)
        await self._recorder.flushed(user_id, seconds)

    async def listen_for_stops(self) -> None:
        """Stops this replica's runs that another replica was asked to stop (until cancelled)."""
        await self._mirror.listen_for_stops(self._runs.stop)
