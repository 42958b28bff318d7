"""The stateless OpenAI-compatible gateway: the client's messages to the configured providers,
with the same usage recording as a chat turn. A call sent with an idempotency key is a run that a
retry attaches to, on any replica (through the mirror), while it runs and for IDEMPOTENCY_TTL after."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from parlor.accounts import Principal
from parlor.agent.events import CallSent
from parlor.agent.generation import Generation
from parlor.attachments import file_tokens
from parlor.chat.catalog import ImagesUnreadable, UnknownModel
from parlor.chat.events import ChatEvent, TurnFailed, TurnFinished, TurnReport, TurnStarted
from parlor.chat.mirror import Batches, Mirror
from parlor.chat.runs import Run, RunRegistry
from parlor.db import new_id
from parlor.limits import Reservation, TokenBudget, UsageLedger, UsageRecord, estimate_tokens, priced_parts
from parlor.llm import CompletionRequest, LLMMessage, Router
from parlor.llm.router import system_of
from parlor.llm.types import ToolSpec
from parlor.messages import RunStatus
from parlor.observability import RunRecorder, TurnOutcome, annotate
from parlor.tasks import TaskTracker


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
    untrusted_tool_results: bool = False  # Parlor ran a tool for the call (an assistant's knowledge search)


IDEMPOTENCY_TTL = 600.0


class Gateway:
    def __init__(self, router: Router, ledger: UsageLedger, tasks: TaskTracker, budget: TokenBudget,
                 recorder: RunRecorder, mirror: Mirror, runs: RunRegistry):
        self._budget = budget
        self._runs = runs  # this replica's calls under way (a deploy's drain waits for them)
        self._router = router
        self._ledger = ledger
        self._tasks = tasks
        self._recorder = recorder  # writes each call's run record
        self._mirror = mirror
        self._recent: dict[tuple[str, str], tuple[Run, float]] = {}  # idempotency key → run, expiry

    def generation(self, request: GatewayRequest) -> Generation:
        """Raises UnknownModel before anything is sent when no provider serves `model`, ImagesUnreadable
        when the messages carry images or PDFs that model cannot read (no silent switch to another)."""
        first = self._router.find(request.model)
        if first is None:
            raise UnknownModel(request.model)
        if any(m.files for m in request.messages) and not self._router.sees_images(first):
            raise ImagesUnreadable()
        completion = CompletionRequest(request.messages, tools=request.tools, tool_choice=request.tool_choice,
                                       temperature=request.temperature, max_tokens=request.max_tokens,
                                       stop=request.stop, request_id=request.request_id,
                                       untrusted_tool_results=request.untrusted_tool_results)
        return Generation(self._router, completion, first=first)

    async def reserve(self, request: GatewayRequest, generation: Generation) -> Reservation | None:
        """Before the model call: the tier's model list, and the tokens held against the daily budget
        (raises ModelNotAllowed, BudgetExhausted); caps the reply at the tier's `max_reply_tokens`."""
        first = generation.first
        aliases = (request.model, *((first.name, first.model) if first else ()))
        rule = system_of(first) if first else "openai"  # its images' tokens: by its provider's rule
        prompt = estimate_tokens(m.content for m in request.messages) + sum(
            file_tokens(f, rule) for m in request.messages for f in m.files)
        reservation = await self._budget.reserve(request.principal, prompt, request.max_tokens, models=aliases)
        if reservation.max_reply != generation.request.max_tokens:
            generation.request = replace(generation.request, max_tokens=reservation.max_reply)
        return reservation

    async def start(self, request: GatewayRequest, generation: Generation, reservation: Reservation | None,
                    idempotency_key: str | None) -> tuple[str, Batches]:
        """Runs the request as a run of its own: its completion id and its events. With an idempotency
        key, a retry of it within IDEMPOTENCY_TTL gets the same run, from its start (attached while it
        runs, replayed once it is done), whichever replica it reaches."""
        annotate(user_id=request.principal.id)  # the request's log line and run record name its user
        if idempotency_key is None:
            run = self._runs.start(("v1", request.request_id), self.run(request, generation, reservation))
            return request.request_id, run.follow()
        key = (request.principal.id, f"v1:{idempotency_key}")
        if (found := self._known(key)) is not None:
            return idempotency_key, self._retry(request, reservation, found.follow())
        for _ in range(3):  # a holder that ends between our claim and our look is seen on the next round
            claim = await self._mirror.claim(key, idempotency_key)
            # won: nobody runs it, but an earlier run may have ended within the TTL (its copy is complete:
            # a run gives the key back after its end); lost: it runs on another replica
            copy = await (self._mirror.ended(key) if claim.won else self._mirror.follow(key))
            if copy is not None:
                await self._mirror.release(claim)
                return idempotency_key, self._retry(request, reservation, copy)
            if claim.won:
                break
        run = self._runs.start(key, self.run(request, generation, reservation), idempotency_key, claim)
        self._recent[key] = (run, time.monotonic() + IDEMPOTENCY_TTL)  # mirrored by the registry
        return idempotency_key, run.follow()

    def _retry(self, request: GatewayRequest, reservation: Reservation | None, batches: Batches) -> Batches:
        """A retry calls no model, so its reservation goes back."""
        self._tasks.spawn(self._budget.release(reservation), name=f"release:{request.request_id}")
        return batches

    def _known(self, key: tuple[str, str]) -> Run | None:
        now = time.monotonic()
        if len(self._recent) > 1000:
            self._recent = {k: v for k, v in self._recent.items() if v[1] > now}
        known = self._recent.get(key)
        return known[0] if known is not None and known[1] > now else None

    async def run(self, request: GatewayRequest, generation: Generation,
                  reservation: Reservation | None = None) -> AsyncIterator[ChatEvent]:
        status = RunStatus.ABORTED
        try:
            yield TurnStarted(new_id(), None, request.request_id)
            async for event in generation.events():
                if not isinstance(event, CallSent):
                    yield event
            status = RunStatus.ERROR if generation.error_code else RunStatus.COMPLETE
        finally:
            usage = generation.tokens()
            self._tasks.spawn(self._budget.settle(reservation, usage.tokens_in, usage.tokens_out, generation.text),
                              name=f"settle:{request.request_id}")
            recorded = self._tasks.spawn(self._record(request, generation, status), name=f"usage:{request.request_id}")
            self._recorder.after_turn(TurnOutcome(  # the run record, once the usage row is written
                request.request_id, request.principal.id, None, status, generation.error_code, generation.provider,
                generation.model, usage.tokens_in, usage.tokens_out, generation.ttft_ms, generation.elapsed_ms(),
                **priced_parts(usage)),
                recorded)
        report = TurnReport(request.request_id, generation.provider, generation.model, usage.tokens_in,
                            usage.tokens_out, generation.ttft_ms, 1)
        if generation.error_code:
            yield TurnFailed(generation.error_code, generation.error_message or "", report)
        else:
            yield TurnFinished(generation.finish_reason, report)

    async def _record(self, request: GatewayRequest, generation: Generation, status: RunStatus) -> None:
        if generation.provider is None:
            return
        usage = generation.tokens()
        await self._ledger.record(UsageRecord(
            request_id=request.request_id, user_id=request.principal.id, thread_id=None,
            provider=generation.provider, model=generation.model, tokens_in=usage.tokens_in,
            tokens_out=usage.tokens_out, ttft_ms=generation.ttft_ms, total_ms=generation.elapsed_ms(),
            status=status, **priced_parts(usage),
        ))
