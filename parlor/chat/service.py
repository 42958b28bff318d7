"""The turn pipeline: a user message in, protocol-neutral chat events out, everything stored.

Time to first token is sacred: the only work before the model call is reading the thread's
recent history; saving the user message starts once the call is out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from parlor.accounts import Principal
from parlor.agent import AgentLoop, ToolContext, Transcript, parts_to_messages
from parlor.chat.events import ChatEvent, TurnFailed, TurnFinished, TurnStarted
from parlor.chat.mirror import RunMirror
from parlor.chat.replay import replay
from parlor.chat.runs import ALL_THREADS, RunRegistry, ThreadBusy
from parlor.chat.streams import TurnStream, ui_chunks
from parlor.db import Message, new_id, utcnow, with_retries
from parlor.experiments import NO_ARM, Arm, ExperimentBook
from parlor.limits import Reservation, TokenBudget, UsageLedger, UsageRecord, estimate_tokens
from parlor.llm import LLMMessage
from parlor.memory import Context, ConversationMemory, MessageStore, StoredMessage, ThreadNotFound, ThreadWindow
from parlor.memory.attachments import attachment_text
from parlor.observability import RunRecorder, TurnOutcome, annotate, phase, traced
from parlor.observability.logs import CONTENT_LOGGER
from parlor.observability.probe import stopped_call
from parlor.tasks import TaskTracker

log = logging.getLogger(__name__)
content_log = logging.getLogger(CONTENT_LOGGER)  # message text: off unless PARLOR_LOG_CONTENT=true
FINISH_WAIT_SECONDS = 2.0
SAVE_WAIT_SECONDS = 0.05  # the user message is saved once the model call is out, or after this long
TITLE_CHARS = 80


@dataclass(frozen=True, slots=True)
class TurnRequest:
    principal: Principal
    thread_id: str
    client_message_id: str
    text: str
    request_id: str
    regenerate: bool = False
    edit: bool = False  # the client replaced its message `client_message_id` (edit and resend)
    requests_left: dict[str, int] = field(default_factory=dict)  # per request window, as admitted


@dataclass(frozen=True, slots=True)
class Turn:
    """A turn ready to run: either a new generation, or the replay of one already stored."""

    request: TurnRequest
    history: list[LLMMessage]
    save_user_message: bool
    replaces: str | tuple[str, ...] | None = None
    replay: StoredMessage | None = None
    reservation: Reservation | None = None  # tokens held against the user's daily budget
    context: Context | None = None  # how the prompt was built (for the summary check after the turn)
    user_tokens: int | None = None  # the new user message's size, stored with it
    arm: Arm = NO_ARM  # the experiment arm it runs in (chosen from the replica's copy: no I/O)
    retitle_from: str | None = None  # an edited first message: the title it gave the thread, to replace


class ChatService:
    def __init__(self, store: MessageStore, agent: AgentLoop, ledger: UsageLedger, tasks: TaskTracker,
                 runs: RunRegistry, memory: ConversationMemory, budget: TokenBudget | None = None,
                 mirror: RunMirror | None = None, unsaved: Path | None = None, write_retry_seconds: float = 30.0,
                 stream_pace: float = 0.0):
        self._pace = stream_pace  # seconds between a client's writes while text flows (0: every token)
        self._budget = budget
        self._mirror = mirror
        self._unsaved = unsaved  # where an answer the database never took is kept (not in the logs)
        self._retry_seconds = write_retry_seconds
        self._store = store
        self._runs = runs
        self._agent = agent
        self._ledger = ledger
        self._tasks = tasks
        self._memory = memory
        self.recorder: RunRecorder | None = None  # writes each turn's run record (set by the composition root)
        self.experiments: ExperimentBook | None = None  # A/B tests' arms (set by the composition root)
        self._writes: dict[str, set[asyncio.Task[Any]]] = {}  # user id: their ended turns' writes under way

    async def submit(self, request: TurnRequest) -> TurnStream:
        """Starts the turn as a run, or attaches to the run a retried POST of the same message started
        (here or on another replica). Raises ThreadNotFound (someone else's thread) or ThreadBusy."""
        key = (request.principal.id, request.thread_id)
        annotate(request.principal.id, request.thread_id)
        active = self._runs.active(key)
        if (active is not None and active.client_id == request.client_message_id and not request.regenerate
                and not request.edit):
            return TurnStream(ui_chunks(active, self._pace), active)
        if active is None and self._mirror is not None:
            elsewhere = await self._mirror.active_client_id(key)
            if elsewhere is not None:
                chunks = await self._mirror.follow(key) if elsewhere == request.client_message_id else None
                if chunks is None or request.regenerate or request.edit:
                    raise ThreadBusy(request.thread_id)
                return TurnStream(chunks)
        with phase("context"):
            prepared = await self.prepare(request)
        with phase("reserve"):
            turn = await self._reserve(prepared)
        try:
            experiment, variant = turn.arm.labels
            run = self._runs.start(key, traced(self.run_turn(turn), "invoke_agent parlor", **{
                "gen_ai.operation.name": "invoke_agent", "parlor.request_id": request.request_id,
                "parlor.thread_id": request.thread_id, "parlor.experiment": experiment,
                "parlor.variant": variant}), request.client_message_id)
        except ThreadBusy:
            if self._budget is not None:
                await self._budget.release(turn.reservation)
            raise
        return TurnStream(ui_chunks(run, self._pace), run)

    async def _reserve(self, turn: Turn) -> Turn:
        """Holds the turn's tokens before the model call (raises BudgetExhausted): no database round trip."""
        if turn.replay is not None or self._budget is None:
            return turn
        return replace(turn, reservation=await self._budget.reserve(turn.request.principal, _prompt_tokens(turn)))

    async def resume(self, who: Principal, thread_id: str) -> TurnStream | None:
        """The thread's generation under way (replayed from its start), or None."""
        run = self._runs.active((who.id, thread_id))
        if run is not None:
            return TurnStream(ui_chunks(run, self._pace), run)
        chunks = await self._mirror.follow((who.id, thread_id)) if self._mirror else None
        return TurnStream(chunks) if chunks is not None else None

    async def stop(self, who: Principal, thread_id: str) -> None:
        """Stops the thread's generation, wherever it runs; its partial answer is stored as aborted."""
        if not self._runs.stop((who.id, thread_id)) and self._mirror is not None:
            await self._mirror.request_stop((who.id, thread_id))

    async def stop_user(self, user_id: str, seconds: float = 10.0) -> None:
        """Stops all the user's runs (before their account is deleted) and waits, up to `seconds`, for what
        the runs of this replica still write: the partial answers, usage and run records. Other replicas are
        asked to stop theirs too (best effort: their writes are not awaited)."""
        runs = self._runs.stop_user(user_id)
        if self._mirror is not None:
            await self._mirror.request_stop((user_id, ALL_THREADS))
        if runs:
            await asyncio.wait([asyncio.ensure_future(run.wait()) for run in runs], timeout=seconds)
        if writes := self._writes.get(user_id):
            await asyncio.wait(set(writes), timeout=seconds)
        if self.recorder is not None:
            await self.recorder.flushed()

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

    async def listen_for_stops(self) -> None:
        """Stops this replica's runs that another replica was asked to stop (until cancelled)."""
        if self._mirror is not None:
            await self._mirror.listen_for_stops(self._runs.stop)

    async def prepare(self, request: TurnRequest) -> Turn:
        """Reads the thread (raising ThreadNotFound for someone else's) and decides what to run."""
        window = await self._memory.read(request.principal.id, request.thread_id)  # the one query
        recent = window.recent
        if request.regenerate:
            replaces = recent[-1].id if recent and recent[-1].role == "assistant" else None
            history = recent[:-1] if replaces else recent
            return self._turn(request, window, history, save_user_message=False, replaces=replaces)
        for index, message in enumerate(recent):
            # a message's client id, or its stored id (what a reloaded thread's messages carry)
            matches = message.role == "user" and request.client_message_id in (message.client_id, message.id)
            if matches and request.edit:
                # Edit and resend: the edited question and everything after it give way to the new one.
                pending = self._memory.user_message(request.client_message_id, request.text)
                turn = self._turn(request, window, [*recent[:index], pending], save_user_message=True,
                                  replaces=tuple(m.id for m in recent[index:]), user_tokens=pending.tokens)
                first = index == 0 and not window.capped  # then the thread's title came from it
                return replace(turn, retitle_from=message.text[:TITLE_CHARS]) if first else turn
            if matches:
                answer = next((m for m in recent[index + 1:] if m.role == "assistant"), None)
                if answer is not None:  # a retried POST: the answer exists, send it again
                    return Turn(request, [], save_user_message=False, replay=answer)
                return self._turn(request, window, recent, save_user_message=False)
        pending = self._memory.user_message(request.client_message_id, request.text)
        return self._turn(request, window, [*recent, pending], save_user_message=True, user_tokens=pending.tokens)

    def _turn(self, request: TurnRequest, window: ThreadWindow, history: list[StoredMessage],
              save_user_message: bool, replaces: str | tuple[str, ...] | None = None,
              user_tokens: int | None = None) -> Turn:
        """The prompt within the token budget: system prompt, saved facts, summary, recent window."""
        arm = self.experiments.arm(request.principal, window.arm) if self.experiments is not None else NO_ARM
        overrides = arm.overrides
        context = self._memory.context(window, history, overrides.system_prompt, overrides.context_tokens)
        return Turn(request, context.messages, save_user_message, replaces, context=context, user_tokens=user_tokens,
                    arm=arm)

    async def run_turn(self, turn: Turn) -> AsyncIterator[ChatEvent]:
        if turn.replay is not None:
            async for event in replay(turn.replay, turn.request.thread_id, turn.request.request_id):
                yield event
            return
        request = turn.request
        started = time.perf_counter()
        now = utcnow()
        assistant = Message(id=new_id(), thread_id=request.thread_id, role="assistant", parts=[], text="",
                            status="streaming", request_id=request.request_id,
                            created_at=now + timedelta(microseconds=1))
        user = Message(id=new_id(), thread_id=request.thread_id, client_id=request.client_message_id,
                       role="user", text=request.text, parts=[{"type": "text", "text": request.text}],
                       status="complete", request_id=request.request_id, created_at=now, tokens=turn.user_tokens)
        begin = partial(self._store.begin_turn, user_id=request.principal.id, thread_id=request.thread_id,
                        title=request.text[:TITLE_CHARS], user_message=user if turn.save_user_message else None,
                        assistant_message=assistant, replaces=turn.replaces, retitle_from=turn.retitle_from,
                        arm=turn.arm.stored() if turn.arm.assign else None)
        sent = asyncio.Event()  # the model call goes out first: the save's work must not delay it
        save = self._tasks.spawn(_once_sent(sent, begin), name=f"begin-turn:{request.request_id}")
        transcript = Transcript()
        max_reply = turn.reservation.max_reply if turn.reservation is not None else None  # the tier's cap
        context = ToolContext(request.principal, request.thread_id, request.request_id, request.requests_left)
        status = "aborted"
        try:
            yield TurnStarted(assistant.id, request.thread_id, request.request_id)
            overrides = turn.arm.overrides
            async for event in self._agent.run(turn.history, context, transcript, max_reply,
                                               temperature=overrides.temperature, provider=overrides.provider,
                                               tools=overrides.tools, sent=sent):
                yield event
            status = "error" if transcript.error_code else "complete"
        finally:
            if status == "aborted":  # the call a stop cut short never reports its usage: count it here
                transcript.meter_stop(_prompt_tokens(turn), self._memory.counter.count_tokens, stopped_call())
            if self._budget is not None:
                settle = self._budget.settle(turn.reservation, transcript.tokens_in, transcript.tokens_out,
                                             transcript.text)
                self._track(request.principal.id, self._tasks.spawn(settle, name=f"settle:{request.request_id}"))
            finish = self._tasks.spawn(self._finish(request, assistant.id, (save, begin), transcript, status,
                                                    started, turn.arm),
                                       name=f"finish-turn:{request.request_id}")
            self._track(request.principal.id, finish)
            if self.recorder is not None:  # after the last token: the run record, once the answer is stored
                self._track(request.principal.id, self.recorder.after_turn(TurnOutcome(
                    request.request_id, request.principal.id, request.thread_id, status, transcript.error_code,
                    transcript.provider, transcript.model, transcript.tokens_in, transcript.tokens_out,
                    transcript.ttft_ms, (time.perf_counter() - started) * 1000, turn.arm.experiment,
                    turn.arm.variant, _trigger(request)), finish))
        try:  # normally the answer is stored before the client hears `finish`...
            stored: bool | None = await asyncio.wait_for(asyncio.shield(finish), FINISH_WAIT_SECONDS)
        except TimeoutError:  # ...but a database outage must not hold the stream: the write retries on
            stored = None
        if stored:  # after the last token: fold what leaves the window into the summary, if due
            self._memory.after_turn(request.thread_id, request.request_id, turn.context,
                                    (turn.user_tokens or 0) + transcript.tokens_out)
        metadata = {**transcript.metadata(), "requestId": request.request_id}
        if transcript.error_code:
            yield TurnFailed(transcript.error_code, transcript.error_message or "", metadata)
        elif stored is False:
            yield TurnFailed("storage_failed", "The answer could not be saved. Please retry.", metadata)
        else:
            yield TurnFinished(transcript.finish_reason, metadata)

    async def _finish(self, request: TurnRequest, message_id: str,
                      save: tuple[asyncio.Task[None], Callable[[], Awaitable[None]]], transcript: Transcript,
                      status: str, started: float, arm: Arm = NO_ARM) -> bool:
        """Stores the answer (partial if aborted) and its usage, retrying through a database outage;
        returns whether it was stored (if not, it is appended with its request id to the `unsaved`
        file: nothing is lost, and no message text goes to the logs)."""
        text = transcript.text
        first_try, begin = save
        try:
            try:
                await first_try
            except ThreadNotFound:
                raise
            except Exception as exc:
                log.warning("saving the turn of request %s failed, retrying: %s", request.request_id, exc)
                await with_retries(begin, self._retry_seconds)
            await with_retries(lambda: self._store.finish_message(
                message_id, text=text, parts=transcript.parts, status=status, provider=transcript.provider,
                model=transcript.model, tokens_in=transcript.tokens_in, tokens_out=transcript.tokens_out,
                error=transcript.error_code, tokens=self._memory.count(render_answer(transcript.parts, text)),
            ), self._retry_seconds)
        except Exception:
            log.exception("could not store the answer of request %s (%s); kept in %s", request.request_id,
                          status, self._unsaved)
            content_log.error("the unsaved answer of request %s was: %r", request.request_id, text)
            await self._keep_unsaved(request, message_id, status, transcript)
            return False
        if transcript.provider is not None or transcript.tokens_in:  # a model answered, or was sent the prompt
            await with_retries(lambda: self._ledger.record(UsageRecord(
                request_id=request.request_id, user_id=request.principal.id, thread_id=request.thread_id,
                provider=transcript.provider, model=transcript.model, tokens_in=transcript.tokens_in,
                tokens_out=transcript.tokens_out, ttft_ms=transcript.ttft_ms,
                total_ms=(time.perf_counter() - started) * 1000, status=status, experiment=arm.experiment,
                variant=arm.variant,
            )), self._retry_seconds)
        return True


    async def _keep_unsaved(self, request: TurnRequest, message_id: str, status: str, transcript: Transcript) -> None:
        if self._unsaved is None:
            return
        line = orjson.dumps({"request_id": request.request_id, "user_id": request.principal.id,
                             "thread_id": request.thread_id, "message_id": message_id, "status": status,
                             "parts": transcript.parts, "at": utcnow()}, default=str) + b"\n"
        path = self._unsaved

        def append() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("ab") as file:
                file.write(line)

        try:
            await asyncio.to_thread(append)
        except OSError:
            log.exception("could not keep the unsaved answer of request %s", request.request_id)


def _prompt_tokens(turn: Turn) -> int:
    """The context's own count (stored per message) when there is one; a rough estimate otherwise."""
    return turn.context.tokens if turn.context is not None else estimate_tokens(m.content for m in turn.history)


def _trigger(request: TurnRequest) -> str:
    return "regenerate" if request.regenerate else "edit" if request.edit else "submit"


def render_answer(parts: list[dict[str, Any]], text: str) -> list[LLMMessage]:
    """An assistant message as model messages: tool calls and their results paired, as the model made them."""
    return parts_to_messages(parts) or ([LLMMessage("assistant", text)] if text else [])


def render_stored(message: StoredMessage) -> list[LLMMessage]:
    """A stored message as the model sees it in a prompt (the memory's `render`)."""
    if message.role == "user":  # an attached document: a plain-text note, never its data part
        return [LLMMessage("user", attachment_text(message.parts) or message.text)]
    return render_answer(message.parts, message.text)


async def _once_sent(sent: asyncio.Event, save: Callable[[], Awaitable[None]]) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sent.wait(), SAVE_WAIT_SECONDS)
    await save()
