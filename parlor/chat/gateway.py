"""The stateless OpenAI-compatible gateway: the client's messages to the configured providers,
with the same usage recording as a chat turn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from parlor.accounts import Principal
from parlor.chat.events import ChatEvent, TurnFailed, TurnFinished, TurnStarted
from parlor.chat.generation import Generation
from parlor.db import new_id
from parlor.limits import UsageLedger, UsageRecord
from parlor.llm import CompletionRequest, LLMMessage, Provider, Router
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


class Gateway:
    def __init__(self, router: Router, ledger: UsageLedger, tasks: TaskTracker):
        self._router = router
        self._ledger = ledger
        self._tasks = tasks

    def models(self) -> list[Provider]:
        return list(self._router.providers)

    def generation(self, request: GatewayRequest) -> Generation:
        """Raises UnknownModel before anything is sent when no provider serves `model`."""
        first = self._router.find(request.model)
        if first is None:
            raise UnknownModel(request.model)
        completion = CompletionRequest(request.messages, temperature=request.temperature,
                                       max_tokens=request.max_tokens, stop=request.stop,
                                       request_id=request.request_id)
        return Generation(self._router, completion, first=first)

    async def run(self, request: GatewayRequest, generation: Generation) -> AsyncIterator[ChatEvent]:
        status = "aborted"
        try:
            yield TurnStarted(new_id(), None, request.request_id)
            async for event in generation.events():
                yield event
            status = "error" if generation.error_code else "complete"
        finally:
            self._tasks.spawn(self._record(request, generation, status), name=f"usage:{request.request_id}")
        if generation.error_code:
            yield TurnFailed(generation.error_code, generation.error_message or "")
        else:
            yield TurnFinished(generation.finish_reason, generation.metadata())

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
