"""The turn pipeline: a user message in, protocol-neutral chat events out, everything stored.

Time to first token is sacred: the only work before the model call is reading the thread's
recent history; saving the user message runs beside the call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from parlor.accounts import Principal
from parlor.chat.events import (
    ChatEvent,
    StepFinished,
    StepStarted,
    TextChunk,
    TurnAborted,
    TurnFailed,
    TurnFinished,
    TurnStarted,
)
from parlor.chat.generation import Generation
from parlor.chat.runs import Run, RunRegistry
from parlor.db import Message, new_id, utcnow
from parlor.limits import UsageLedger, UsageRecord
from parlor.llm import CompletionRequest, LLMMessage, Router
from parlor.memory import MessageStore, StoredMessage
from parlor.tasks import TaskTracker

log = logging.getLogger(__name__)
TITLE_CHARS = 80


@dataclass(frozen=True, slots=True)
class TurnRequest:
    principal: Principal
    thread_id: str
    client_message_id: str
    text: str
    request_id: str
    regenerate: bool = False


@dataclass(frozen=True, slots=True)
class Turn:
    """A turn ready to run: either a new generation, or the replay of one already stored."""

    request: TurnRequest
    history: list[LLMMessage]
    save_user_message: bool
    replaces: str | None = None
    replay: StoredMessage | None = None


class ChatService:
    def __init__(self, store: MessageStore, router: Router, ledger: UsageLedger, tasks: TaskTracker,
                 runs: RunRegistry, system_prompt: str, history_messages: int):
        self._store = store
        self._runs = runs
        self._router = router
        self._ledger = ledger
        self._tasks = tasks
        self._system_prompt = system_prompt
        self._history_messages = history_messages

    async def submit(self, request: TurnRequest) -> Run:
        """Starts the turn as a run, or attaches to the run a retried POST of the same message started.
        Raises ThreadNotFound (someone else's thread) or ThreadBusy (another turn is streaming)."""
        key = (request.principal.id, request.thread_id)
        active = self._runs.active(key)
        if active is not None and active.client_id == request.client_message_id and not request.regenerate:
            return active
        turn = await self.prepare(request)
        return self._runs.start(key, self.run_turn(turn), request.client_message_id)

    async def prepare(self, request: TurnRequest) -> Turn:
        """Reads the thread (raising ThreadNotFound for someone else's) and decides what to run."""
        state = await self._store.thread_state(request.principal.id, request.thread_id, self._history_messages + 2)
        recent = state.recent
        if request.regenerate:
            replaces = recent[-1].id if recent and recent[-1].role == "assistant" else None
            history = recent[:-1] if replaces else recent
            return Turn(request, self._prompt(history), save_user_message=False, replaces=replaces)
        for index, message in enumerate(recent):
            if message.role == "user" and message.client_id == request.client_message_id:
                answer = next((m for m in recent[index + 1:] if m.role == "assistant"), None)
                if answer is not None:  # a retried POST: the answer exists, send it again
                    return Turn(request, [], save_user_message=False, replay=answer)
                return Turn(request, self._prompt(recent), save_user_message=False)
        history = [*recent, _pending_user_message(request)]
        return Turn(request, self._prompt(history), save_user_message=True)

    def _prompt(self, history: list[StoredMessage]) -> list[LLMMessage]:
        window = [m for m in history if m.role in ("user", "assistant") and m.text][-self._history_messages - 1:]
        system = [LLMMessage("system", self._system_prompt)] if self._system_prompt else []
        return system + [LLMMessage("user" if m.role == "user" else "assistant", m.text) for m in window]

    async def run_turn(self, turn: Turn) -> AsyncIterator[ChatEvent]:
        if turn.replay is not None:
            async for event in replay(turn.replay, turn.request.thread_id, turn.request.request_id):
                yield event
            return
        request = turn.request
        now = utcnow()
        assistant = Message(id=new_id(), thread_id=request.thread_id, role="assistant", parts=[], text="",
                            status="streaming", request_id=request.request_id,
                            created_at=now + timedelta(microseconds=1))
        user = Message(id=new_id(), thread_id=request.thread_id, client_id=request.client_message_id,
                       role="user", text=request.text, parts=[{"type": "text", "text": request.text}],
                       status="complete", request_id=request.request_id, created_at=now)
        save = self._tasks.spawn(self._store.begin_turn(
            user_id=request.principal.id, thread_id=request.thread_id, title=request.text[:TITLE_CHARS],
            user_message=user if turn.save_user_message else None, assistant_message=assistant,
            replaces=turn.replaces,
        ), name=f"begin-turn:{request.request_id}")
        generation = Generation(self._router, CompletionRequest(turn.history, request_id=request.request_id))
        status = "aborted"
        try:
            yield TurnStarted(assistant.id, request.thread_id, request.request_id)
            yield StepStarted()
            async for event in generation.events():
                yield event
            status = "error" if generation.error_code else "complete"
        finally:
            finish = self._tasks.spawn(self._finish(request, assistant.id, save, generation, status),
                                       name=f"finish-turn:{request.request_id}")
        stored = await asyncio.shield(finish)
        metadata = {**generation.metadata(), "requestId": request.request_id}
        if generation.error_code:
            yield TurnFailed(generation.error_code, generation.error_message or "", metadata)
        elif not stored:
            yield TurnFailed("storage_failed", "The answer could not be saved. Please retry.", metadata)
        else:
            yield StepFinished()
            yield TurnFinished(generation.finish_reason, metadata)

    async def _finish(self, request: TurnRequest, message_id: str, save: asyncio.Task[None],
                      generation: Generation, status: str) -> bool:
        """Stores the answer (partial if aborted) and its usage; returns whether it was stored."""
        usage = generation.tokens()
        text = generation.text
        try:
            await save
            await self._store.finish_message(
                message_id, text=text, parts=[{"type": "text", "text": text}] if text else [],
                status=status, provider=generation.provider, model=generation.model,
                tokens_in=usage.tokens_in, tokens_out=usage.tokens_out, error=generation.error_code,
            )
        except Exception:
            log.exception("could not store the answer of request %s (%s); its text was: %r",
                          request.request_id, status, text)
            return False
        if generation.provider is not None:
            await self._ledger.record(UsageRecord(
                request_id=request.request_id, user_id=request.principal.id, thread_id=request.thread_id,
                provider=generation.provider, model=generation.model, tokens_in=usage.tokens_in,
                tokens_out=usage.tokens_out, ttft_ms=generation.ttft_ms, total_ms=generation.elapsed_ms(),
                status=status,
            ))
        return True


def _pending_user_message(request: TurnRequest) -> StoredMessage:
    return StoredMessage(id="", client_id=request.client_message_id, role="user", text=request.text,
                         parts=[], status="complete", created_at=utcnow(), meta={})


async def replay(message: StoredMessage, thread_id: str, request_id: str) -> AsyncIterator[ChatEvent]:
    """A stored answer as the events that produced it."""
    yield TurnStarted(message.id, thread_id, request_id)
    yield StepStarted()
    if message.text:
        yield TextChunk(message.text)
    if message.status == "error":
        yield TurnFailed(message.meta.get("error") or "provider_error", "This answer failed. You can retry.")
    elif message.status == "aborted":
        yield TurnAborted()
    else:
        yield StepFinished()
        yield TurnFinished("stop", {**message.meta, "requestId": request_id})
