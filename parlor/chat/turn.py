"""A turn's second step, running: the agent loop streams the answer as chat events while the turn's
records are written around it (parlor/chat/record.py); the client hears the end once the answer is
stored. Time to first token is sacred: the turn is saved only once the model call is out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection

from parlor.agent import AgentLoop, ToolContext, Transcript
from parlor.agent.events import CallSent
from parlor.chat.events import ChatEvent, TurnFailed, TurnFinished, TurnReport, TurnStarted
from parlor.chat.plan import Turn
from parlor.chat.record import TurnRecord, TurnRecorder
from parlor.chat.replay import replay
from parlor.memory import ConversationMemory
from parlor.messages import RunStatus
from parlor.observability.probe import stopped_call

FINISH_WAIT_SECONDS = 2.0  # how long the end of a stream waits for the answer to be stored


class TurnRunner:
    def __init__(self, agent: AgentLoop, recorder: TurnRecorder, memory: ConversationMemory):
        self._agent = agent
        self._recorder = recorder
        self._memory = memory

    async def run(self, turn: Turn) -> AsyncIterator[ChatEvent]:
        """The turn's events, from its start to its end (a replay when the answer is already stored)."""
        request = turn.request
        if turn.replay is not None:
            async for event in replay(turn.replay, request.thread_id, request.request_id, turn.replay_after):
                yield event
            return
        record = self._recorder.open(turn)
        transcript = Transcript()
        status = RunStatus.ABORTED
        try:
            yield TurnStarted(record.assistant_id, request.thread_id, request.request_id)
            async for event in self._answer(turn, record, transcript):
                yield event
            status = RunStatus.ERROR if transcript.error_code else RunStatus.COMPLETE
        finally:
            if status is RunStatus.ABORTED:  # the call a stop cut short never reports its usage: count it here
                transcript.meter_stop(turn.prompt_tokens, self._memory.counter.count_tokens, stopped_call())
            self._recorder.close(record, transcript, status)
        yield await self._end(record, transcript)

    async def _answer(self, turn: Turn, record: TurnRecord, transcript: Transcript) -> AsyncIterator[ChatEvent]:
        request, overrides = turn.request, turn.arm.overrides
        max_reply = turn.reservation.max_reply if turn.reservation is not None else None  # the tier's cap
        assistant = turn.assistant
        context = ToolContext(request.principal, request.thread_id, request.request_id, request.requests_left,
                              assistant.id if assistant else None)
        async for event in self._agent.run(turn.history, context, transcript, max_reply,
                                           temperature=overrides.temperature, provider=turn.model,
                                           tools=_offered(overrides.tools, assistant.tools if assistant else None),
                                           approval=turn.approval_tools, resume=turn.resume):
            if isinstance(event, CallSent):
                record.call_sent()
            else:
                yield event

    async def _end(self, record: TurnRecord, transcript: Transcript) -> ChatEvent:
        """The turn's last event, once its answer is stored. A database outage must not hold the stream,
        and the stream must not claim what is not stored: after FINISH_WAIT_SECONDS it ends with an error
        saying so (the write retries on; an answer it never lands is kept in the unsaved file)."""
        assert record.stored is not None
        try:
            stored: bool | None = await asyncio.wait_for(asyncio.shield(record.stored), FINISH_WAIT_SECONDS)
        except TimeoutError:
            stored = None
        turn = record.turn
        if stored:  # after the last token: fold what leaves the window into the summary, if due
            self._memory.after_turn(turn.request.thread_id, turn.request.request_id, turn.context,
                                    (turn.user_tokens or 0) + transcript.tokens_out)
        report = TurnReport(turn.request.request_id, transcript.provider, transcript.model, transcript.tokens_in,
                            transcript.tokens_out, transcript.ttft_ms, transcript.model_calls)
        if transcript.error_code:
            return TurnFailed(transcript.error_code, transcript.error_message or "", report)
        if stored is False:
            return TurnFailed("storage_failed", "The answer could not be saved. Please retry.", report)
        if stored is None:
            return TurnFailed("storage_unavailable", "The database is unavailable, so this answer is not saved"
                              " yet; the server keeps trying. Reload the chat later to see it.", report)
        return TurnFinished(transcript.finish_reason, report)


def _offered(experiment: Collection[str] | None, assistant: Collection[str] | None) -> Collection[str] | None:
    """The tools a turn offers: those both its experiment arm and its assistant offer (None: no limit)."""
    if experiment is None or assistant is None:
        return assistant if experiment is None else experiment
    return [name for name in experiment if name in assistant]
