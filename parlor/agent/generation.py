"""One model call turned into chat events, with what it produced kept for storage and the ledger."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from parlor.agent.events import AgentEvent, CallSent, ReasoningChunk, TextChunk, ToolCallChunk
from parlor.llm import (
    AllProvidersFailed,
    Answering,
    CompletionRequest,
    FinishDelta,
    Provider,
    ProviderError,
    ReasoningDelta,
    RequestSent,
    Router,
    TextDelta,
    Thought,
    ToolCallDelta,
    Usage,
    UsageDelta,
)
from parlor.llm.types import FinishReason

UNAVAILABLE = "The assistant is unavailable right now. Please try again in a minute."
INTERRUPTED = "The answer was interrupted by the model provider. You can retry."
BUSY = "The local model is busy with other answers. Please try again in a moment."


@dataclass
class Generation:
    """Streams one request through the router; afterwards holds text, usage, timings and outcome."""

    router: Router
    request: CompletionRequest
    first: Provider | None = None
    started: float = field(default_factory=time.perf_counter)
    chunks: list[str] = field(default_factory=list)
    provider: str | None = None
    model: str | None = None
    usage: Usage | None = None
    thoughts: list[Thought] = field(default_factory=list)  # the reasoning blocks, as the provider sealed them
    finish_reason: FinishReason = "stop"
    ttft_ms: float | None = None
    error_code: str | None = None
    error_message: str | None = None

    async def events(self) -> AsyncIterator[AgentEvent]:
        """Yields text and tool-call chunks (and CallSent once the request is out, where the provider
        can tell); a provider failure ends it with `error_code` set."""
        try:
            async for delta in self.router.stream(self.request, self.first):
                if isinstance(delta, RequestSent):
                    yield CallSent()
                elif isinstance(delta, TextDelta):
                    self._mark_first_token()
                    self.chunks.append(delta.text)
                    yield TextChunk(delta.text)
                elif isinstance(delta, ReasoningDelta):
                    self._mark_first_token()  # the reader sees the model at work: its first token
                    self._keep_thought(delta)
                    if delta.text:
                        yield ReasoningChunk(delta.text)
                elif isinstance(delta, ToolCallDelta):
                    self._mark_first_token()
                    yield ToolCallChunk(delta.index, delta.arguments, delta.id, delta.name)
                elif isinstance(delta, UsageDelta):
                    self.usage = delta.usage
                elif isinstance(delta, FinishDelta):
                    self.finish_reason = delta.reason
                elif isinstance(delta, Answering):
                    self.provider, self.model = delta.provider, delta.model
        except AllProvidersFailed as exc:
            if exc.errors and all(e.kind == "busy" for e in exc.errors):  # a local model's queue is full
                self._fail("local_model_busy", BUSY)
            else:
                self._fail("providers_unavailable", UNAVAILABLE)
        except ProviderError:
            self._fail("provider_error", INTERRUPTED)

    def _keep_thought(self, delta: ReasoningDelta) -> None:
        """Joins a block's text until its signature seals it; a redacted block comes whole."""
        if delta.redacted is not None:
            self.thoughts.append(Thought(redacted=delta.redacted))
            return
        last = self.thoughts[-1] if self.thoughts else None
        if last is None or last.signature is not None or last.redacted is not None:
            last = Thought()
            self.thoughts.append(last)
        self.thoughts[-1] = Thought(last.text + delta.text, delta.signature)

    def _mark_first_token(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = self.elapsed_ms()

    def _fail(self, code: str, message: str) -> None:
        self.error_code, self.error_message, self.finish_reason = code, message, "error"

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def tokens(self) -> Usage:
        """What the provider reported, else a rough count of what was produced."""
        if self.usage is not None:
            return self.usage
        return Usage(tokens_in=0, tokens_out=len(self.chunks))
