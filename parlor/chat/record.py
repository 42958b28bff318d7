"""A turn's records: the user message and the streaming answer saved once the model call is out, the
answer stored when it ends (retrying through a database outage), its usage settled against the budget
and written to the ledger, and its run record. Nothing is lost: an answer the database never takes is
kept in the `unsaved` file."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from parlor.agent import Transcript
from parlor.agent.transcript import render_answer
from parlor.chat.plan import Turn
from parlor.db import Message, new_id, utcnow, with_retries
from parlor.limits import TokenBudget, UsageLedger, UsageRecord, priced_parts
from parlor.memory import ConversationMemory, MessageStore, ThreadNotFound
from parlor.message_json import dump_parts
from parlor.messages import MessageStatus, RunStatus, TextPart
from parlor.observability import RunRecorder, TurnOutcome
from parlor.observability.logs import CONTENT_LOGGER
from parlor.tasks import TaskTracker

log = logging.getLogger(__name__)
content_log = logging.getLogger(CONTENT_LOGGER)  # message text: off unless PARLOR_LOG_CONTENT=true
SAVE_WAIT_SECONDS = 0.05  # the user message is saved once the model call is out, or after this long


@dataclass
class TurnRecord:
    """One turn's records as they are written: the save under way, then the answer's."""

    turn: Turn
    assistant_id: str
    begin: Callable[[], Awaitable[None]]  # saves the thread, the user message and the streaming answer
    saving: asyncio.Task[None] | None = None
    stored: asyncio.Task[bool] | None = None  # True once the answer is stored; False if it never could be
    started: float = field(default_factory=time.perf_counter)
    _sent: asyncio.Event = field(default_factory=asyncio.Event)

    def call_sent(self) -> None:
        """The model call is out: the save may start (it must not delay the call)."""
        self._sent.set()

    async def _save_once_sent(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._sent.wait(), SAVE_WAIT_SECONDS)
        await self.begin()


async def _claimed() -> None:
    """A resumed answer's save: nothing to write before its end (the claim made it `streaming`)."""


class TurnRecorder:
    def __init__(self, store: MessageStore, ledger: UsageLedger, budget: TokenBudget, runs: RunRecorder,
                 memory: ConversationMemory, tasks: TaskTracker, unsaved: Path, retry_seconds: float = 30.0):
        self._store = store
        self._ledger = ledger
        self._budget = budget
        self._runs = runs
        self._memory = memory
        self._tasks = tasks
        self._unsaved = unsaved  # where an answer the database never took is kept (not in the logs)
        self._retry_seconds = retry_seconds
        self._writes: dict[str, set[asyncio.Task[Any]]] = {}  # user id: their ended turns' writes under way

    async def claim(self, turn: Turn) -> bool:
        """A resumed answer's approvals are taken by this turn alone (its row from `awaiting` to `streaming`):
        False when another request took them first (the tools must not run twice)."""
        assert turn.continues is not None
        return await self._store.claim_awaiting(turn.continues.id)

    def open(self, turn: Turn) -> TurnRecord:
        """Starts saving the turn (once the model call is out, see TurnRecord.call_sent)."""
        if turn.continues is not None:  # its row is there, claimed (claim): the turn streams into it
            record = TurnRecord(turn, turn.continues.id, _claimed)
            record.saving = self._tasks.spawn(_claimed(), name=f"resume-turn:{turn.request.request_id}")
            return record
        request, now = turn.request, utcnow()
        assistant = Message(id=new_id(), thread_id=request.thread_id, role="assistant", parts=[], text="",
                            status=MessageStatus.STREAMING, request_id=request.request_id,
                            created_at=now + timedelta(microseconds=1))
        user_id = new_id()
        # an edit is a new version beside the edited message, which keeps its client id: the new one is its own
        client_id = user_id if request.edit else request.client_message_id
        user = Message(id=user_id, thread_id=request.thread_id, client_id=client_id,
                       role="user", text=request.text, parts=dump_parts(turn.user_parts or [TextPart(request.text)]),
                       status=MessageStatus.COMPLETE, request_id=request.request_id, created_at=now,
                       tokens=turn.user_tokens)
        begin = partial(self._store.begin_turn, user_id=request.principal.id, thread_id=request.thread_id,
                        title=request.title, user_message=user if turn.save_user_message else None,
                        assistant_message=assistant, parent=turn.parent_id, replaces=turn.replaces,
                        retitle_from=turn.retitle_from,
                        arm=turn.arm.stored() if turn.arm.assign else None,
                        model=request.model,  # the user's choice (checked by the planner), kept for the thread
                        assistant=turn.assistant.id if turn.assistant else None)
        record = TurnRecord(turn, assistant.id, begin)
        record.saving = self._tasks.spawn(record._save_once_sent(), name=f"begin-turn:{request.request_id}")
        return record

    def close(self, record: TurnRecord, transcript: Transcript, status: RunStatus) -> None:
        """After the last token: settles the budget, stores the answer and its usage, then the run record."""
        request = record.turn.request
        settle = self._budget.settle(record.turn.reservation, transcript.tokens_in, transcript.tokens_out,
                                     transcript.text)
        record.stored = self._tasks.spawn(self._store_answer(record, transcript, status),
                                          name=f"finish-turn:{request.request_id}")
        outcome = TurnOutcome(
            request.request_id, request.principal.id, request.thread_id, status, transcript.error_code,
            transcript.provider, transcript.model, transcript.tokens_in, transcript.tokens_out, transcript.ttft_ms,
            (time.perf_counter() - record.started) * 1000, record.turn.arm.experiment, record.turn.arm.variant,
            request.trigger, **priced_parts(transcript.usage))
        self._track(request.principal.id, self._tasks.spawn(settle, name=f"settle:{request.request_id}"),
                    record.stored, self._runs.after_turn(outcome, record.stored))

    async def flushed(self, user_id: str, seconds: float) -> None:
        """Waits, up to `seconds`, for what the user's ended turns still write."""
        if writes := self._writes.get(user_id):
            await asyncio.wait(set(writes), timeout=seconds)
        await self._runs.flushed()

    def _track(self, user_id: str, *tasks: asyncio.Task[Any]) -> None:
        pending = self._writes.setdefault(user_id, set())
        for task in tasks:
            pending.add(task)
            task.add_done_callback(partial(self._untrack, user_id))

    def _untrack(self, user_id: str, task: asyncio.Task[Any]) -> None:
        pending = self._writes.get(user_id, set())
        pending.discard(task)
        if not pending:
            self._writes.pop(user_id, None)

    async def _store_answer(self, record: TurnRecord, transcript: Transcript, status: RunStatus) -> bool:
        """Stores the answer (partial if aborted) and its usage, retrying through a database outage;
        returns whether it was stored (if not, it is appended with its request id to the `unsaved`
        file: nothing is lost, and no message text goes to the logs)."""
        request, text, parts = record.turn.request, transcript.text, transcript.parts
        paused = transcript.awaiting and status is RunStatus.COMPLETE
        stored = MessageStatus.AWAITING if paused else MessageStatus(status)
        earlier = record.turn.continues.meta if record.turn.continues is not None else {}  # a resumed answer's
        try:
            try:
                assert record.saving is not None
                await record.saving
            except ThreadNotFound:
                raise
            except Exception as exc:
                log.warning("saving the turn of request %s failed, retrying: %s", request.request_id, exc)
                await with_retries(record.begin, self._retry_seconds)
            await with_retries(lambda: self._store.finish_message(
                record.assistant_id, text=text, parts=dump_parts(parts), status=stored,
                provider=transcript.provider, model=transcript.model,
                tokens_in=transcript.tokens_in + (earlier.get("tokens_in") or 0),
                tokens_out=transcript.tokens_out + (earlier.get("tokens_out") or 0), error=transcript.error_code,
                tokens=self._memory.count(render_answer(parts, text))), self._retry_seconds)
        except Exception:
            log.exception("could not store the answer of request %s (%s); kept in %s", request.request_id,
                          status, self._unsaved)
            content_log.error("the unsaved answer of request %s was: %r", request.request_id, text)
            await self._keep_unsaved(record, status, transcript)
            return False
        if transcript.provider is not None or transcript.tokens_in:  # a model answered, or was sent the prompt
            await with_retries(lambda: self._ledger.record(UsageRecord(
                request_id=request.request_id, user_id=request.principal.id, thread_id=request.thread_id,
                provider=transcript.provider, model=transcript.model, tokens_in=transcript.tokens_in,
                tokens_out=transcript.tokens_out, ttft_ms=transcript.ttft_ms,
                total_ms=(time.perf_counter() - record.started) * 1000, status=status,
                experiment=record.turn.arm.experiment, variant=record.turn.arm.variant,
                **priced_parts(transcript.usage),
            )), self._retry_seconds)
        return True

    async def _keep_unsaved(self, record: TurnRecord, status: RunStatus, transcript: Transcript) -> None:
        request = record.turn.request
        line = orjson.dumps({"request_id": request.request_id, "user_id": request.principal.id,
                             "thread_id": request.thread_id, "message_id": record.assistant_id, "status": status,
                             "parts": dump_parts(transcript.parts), "at": utcnow()}, default=str) + b"\n"
        path = self._unsaved

        def append() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("ab") as file:
                file.write(line)

        try:
            await asyncio.to_thread(append)
        except OSError:
            log.exception("could not keep the unsaved answer of request %s", request.request_id)
