"""The stateless OpenAI-compatible gateway: the client's messages to the configured providers,
with the same usage recording as a chat turn."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from parlor.accounts import Principal
from parlor.agent.generation import Generation
from parlor.chat.events import ChatEvent, TurnFailed, TurnFinished, TurnStarted
from parlor.chat.runs import Run
from parlor.db import new_id
from parlor.limits import Reservation, TokenBudget, UsageLedger, UsageRecord, estimate_tokens
from parlor.llm import CompletionRequest, LLMMessage, Provider, Router
from parlor.llm.types import ToolSpec
from parlor.observability import RunRecorder, TurnOutcome, annotate
from parlor.tasks import TaskTracker


class UnknownModel(Exception):
    pass


@dataclass(frozen=True, slots=True)
class GatewayRequest:
    principal: Principal
    request_id: str
    model: str
    messages: list[LLMMessage]
    temperature: float | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)  # the client's own: passed through, never run here
    tool_choice: str | dict[str, Any] | None = None


IDEMPOTENCY_TTL = 600.0


class Gateway:
    def __init__(self, router: Router, ledger: UsageLedger, tasks: TaskTracker, budget: TokenBudget | None = None):
        self._budget = budget
        self._router = router
        self._ledger = ledger
        self._tasks = tasks
        self._recent: dict[tuple[str, str], tuple[Run, float]] = {}  # idempotency key → run, expiry
        self.recorder: RunRecorder | None = None  # writes each call's run record (set by the composition root)

    def models(self) -> list[Provider]:
        return list(self._router.providers)

    def generation(self, request: GatewayRequest) -> Generation:
        """Raises UnknownModel before anything is sent when no provider serves `model`."""
        first = self._router.find(request.model)
        if first is None:
            raise UnknownModel(request.model)
        completion = CompletionRequest(request.messages, tools=request.tools, tool_choice=request.tool_choice,
                                       temperature=request.temperature, max_tokens=request.max_tokens,
                                       stop=request.stop, request_id=request.request_id)
        return Generation(self._router, completion, first=first)

    async def reserve(self, request: GatewayRequest, generation: Generation) -> Reservation | None:
        """Before the model call: the tier's model list, and the tokens held against the daily budget
        (raises ModelNotAllowed, BudgetExhausted); caps the reply at the tier's `max_reply_tokens`."""
        if self._budget is None:
            return None
        first = generation.first
        aliases = (request.model, *((first.name, first.model) if first else ()))
        prompt = estimate_tokens(m.content for m in request.messages)
        reservation = await self._budget.reserve(request.principal, prompt, request.max_tokens, models=aliases)
        if reservation.max_reply != generation.request.max_tokens:
            generation.request = replace(generation.request, max_tokens=reservation.max_reply)
        return reservation

    def start(self, request: GatewayRequest, generation: Generation, reservation: Reservation | None,
              idempotency_key: str | None) -> Run:
        """Runs the request as a run of its own; with an idempotency key, a retry of it within
        IDEMPOTENCY_TTL gets the same run (attached while it runs, replayed once it is done)."""
        annotate(user_id=request.principal.id)  # the request's log line and run record name its user
        if idempotency_key is None:
            return Run(("v1", request.request_id), self.run(request, generation, reservation), self._tasks)
        now = time.monotonic()
        if len(self._recent) > 1000:
            self._recent = {k: v for k, v in self._recent.items() if v[1] > now}
        key = (request.principal.id, idempotency_key)
        if (known := self._recent.get(key)) is not None and known[1] > now:
            if self._budget is not None:  # the retry calls no model: give its reservation back
                self._tasks.spawn(self._budget.release(reservation), name=f"release:{request.request_id}")
            return known[0]
        run = Run(key, self.run(request, generation, reservation), self._tasks)
        self._recent[key] = (run, now + IDEMPOTENCY_TTL)
        return run

    async def run(self, request: GatewayRequest, generation: Generation,
                  reservation: Reservation | None = None) -> AsyncIterator[ChatEvent]:
        status = "aborted"
        try:
            yield TurnStarted(new_id(), None, request.request_id)
            async for event in generation.events():
                yield event
            status = "error" if generation.error_code else "complete"
        finally:
            if self._budget is not None:
                usage = generation.tokens()
                self._tasks.spawn(self._budget.settle(reservation, usage.tokens_in, usage.tokens_out, generation.text),
                                  name=f"settle:{request.request_id}")
            recorded = self._tasks.spawn(self._record(request, generation, status), name=f"usage:{request.request_id}")
            if self.recorder is not None:  # the run record, once the usage row is written
                tokens = generation.tokens()
                self.recorder.after_turn(TurnOutcome(
                    request.request_id, request.principal.id, None, status, generation.error_code,
                    generation.provider, generation.model, tokens.tokens_in, tokens.tokens_out, generation.ttft_ms,
                    generation.elapsed_ms()), recorded)
        if generation.error_code:
            yield TurnFailed(generation.error_code, generation.error_message or "")
        else:
            usage = generation.tokens()
            yield TurnFinished(generation.finish_reason, {**generation.metadata(), "tokens_in": usage.tokens_in,
                                                          "tokens_out": usage.tokens_out})

    async def _record(self, request: GatewayRequest, generation: Generation, status: str) -> None:
        if generation.provider is None:
            return
        usage = generation.tokens()
        await self._ledger.record(UsageRecord(
            request_id=request.request_id, user_id=request.principal.id, thread_id=None,
            provider=generation.provider, model=generation.model, tokens_in=usage.tokens_in,
            tokens_out=usage.tokens_out, ttft_ms=generation.ttft_ms, total_ms=generation.elapsed_ms(),
            status=status,
        ))
