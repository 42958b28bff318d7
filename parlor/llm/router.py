"""Routes a request to the providers in fallback order, each behind its timeouts, retries and
circuit breaker.

Before the first delta reaches the caller a failure moves on (after a retry, when it is worth one) to
the next provider; after it there is no silent switch: the error goes up, with the partial answer
already delivered. An open breaker skips its provider without waiting. A provider that cannot read images
is skipped for a request whose newest user message carries any (and sent the others' text only)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from parlor.llm.breaker import BreakerPolicy, BreakerState, BreakerStore, MemoryBreakerStore
from parlor.llm.types import (
    CompletionRequest,
    Delta,
    FinishDelta,
    Provider,
    ProviderError,
    ReasoningDelta,
    RequestSent,
    TextDelta,
    ToolCallDelta,
    UsageDelta,
)
from parlor.observability.genai import ModelCallObserver, skipped
from parlor.observability.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answering:
    """Emitted once, before the first delta: which provider is answering."""

    provider: str
    model: str


@dataclass(frozen=True, slots=True)
class Resilience:
    """How long a provider may take, how often it is retried, when its breaker opens."""

    first_token: float = 20.0  # seconds from the request to the first text or tool-call delta
    idle: float = 30.0  # longest gap between deltas after that
    total: float = 600.0
    retries: int = 1  # more attempts on the same provider, before its first token only
    max_retry_wait: float = 4.0  # a longer Retry-After moves on to the next provider instead
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)


class AllProvidersFailed(ProviderError):
    def __init__(self, errors: list[ProviderError]):
        super().__init__("router", "unavailable", "every provider failed: " + "; ".join(map(str, errors)))
        self.errors = errors


class Router:
    def __init__(self, providers: Sequence[Provider], resilience: dict[str, Resilience] | None = None,
                 breakers: BreakerStore | None = None, metrics: Metrics | None = None,
                 vision: Collection[str] | None = None):
        """`vision`: the names of the providers that read images and PDFs (None: all of them)."""
        if not providers:
            raise ValueError("the router needs at least one provider")
        self.providers = list(providers)
        self._vision = frozenset(p.name for p in providers) if vision is None else frozenset(vision)
        self._resilience = resilience or {}
        self._breakers = breakers or MemoryBreakerStore()
        self._metrics = metrics  # each provider tried: a span, histograms, the run record's chain

    def find(self, name_or_model: str) -> Provider | None:
        for provider in self.providers:
            if name_or_model in (provider.name, provider.model):
                return provider
        return None

    def sees_images(self, provider: Provider) -> bool:
        return provider.name in self._vision

    def resilience(self, provider: Provider) -> Resilience:
        return self._resilience.get(provider.name) or Resilience()

    async def breaker_states(self) -> dict[str, BreakerState]:
        now = time.time()
        return {p.name: await self._breakers.state(p.name, self.resilience(p).breaker, now) for p in self.providers}

    async def stream(
        self, request: CompletionRequest, first: Provider | None = None
    ) -> AsyncIterator[Answering | Delta]:
        chain = self.providers if first is None else [first, *(p for p in self.providers if p is not first)]
        errors: list[ProviderError] = []
        asked = request
        for provider in chain:
            sent = asked if self.sees_images(provider) else without_files(asked)
            if sent is None:
                skipped(self._metrics, provider.name, provider.model, system_of(provider), "cannot_read_images")
                errors.append(ProviderError(provider.name, "rejected", "cannot read images, skipped"))
                continue
            request = sent
            policy = self.resilience(provider)
            if not await self._breakers.allow(provider.name, policy.breaker, time.time()):
                skipped(self._metrics, provider.name, provider.model, system_of(provider), "circuit_open")
                errors.append(ProviderError(provider.name, "unavailable", "circuit open, skipped"))
                continue
            started = False
            observed = ModelCallObserver(self._metrics, provider.name, provider.model, system_of(provider),
                                         request.max_tokens, request.request_id)
            outcome: str | None = "aborted"  # the caller stopped reading (stop, disconnect)
            try:
                async for attempt in self._attempts(policy, lambda: not started):  # noqa: B023 (read late, on purpose)
                    with attempt:
                        async with aclosing(_guarded(provider, request, policy)) as deltas:
                            async for delta in deltas:
                                if isinstance(delta, RequestSent):  # not an answer yet: no first token
                                    yield delta
                                    continue
                                if not started:
                                    started = True
                                    observed.first_token()
                                    yield Answering(provider.name, provider.model)
                                if isinstance(delta, TextDelta):
                                    observed.chunk()
                                elif isinstance(delta, UsageDelta):
                                    observed.usage(delta.usage)
                                elif isinstance(delta, FinishDelta):
                                    observed.finish(delta.reason)
                                yield delta
                outcome = None
                await self._breakers.success(provider.name)
                return
            except ProviderError as exc:
                outcome = exc.kind
                if exc.kind not in ("rejected", "busy"):  # a refused request or a full queue: not ill health
                    state = await self._breakers.failure(provider.name, policy.breaker, time.time())
                    if state is BreakerState.OPEN:
                        log.warning("circuit opened for provider %s after: %s", provider.name, exc)
                if started:
                    raise
                log.warning("provider %s failed before its first token: %s", provider.name, exc)
                errors.append(exc)
            finally:
                observed.end(outcome)
        raise AllProvidersFailed(errors)

    @staticmethod
    def _attempts(policy: Resilience, before_first_token: Callable[[], bool]) -> AsyncRetrying:
        def retryable(exc: BaseException) -> bool:
            if not isinstance(exc, ProviderError) or not before_first_token():
                return False
            if exc.kind == "rate_limited":
                return exc.retry_after is None or exc.retry_after <= policy.max_retry_wait
            return exc.kind == "unavailable"

        return AsyncRetrying(stop=stop_after_attempt(policy.retries + 1), wait=_backoff,
                             retry=retry_if_exception(retryable), reraise=True)

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()


def without_files(request: CompletionRequest) -> CompletionRequest | None:
    """The request for a model that cannot read images or PDFs: None when the newest user message has
    some; earlier ones are named in their message's text instead."""
    newest = next((m for m in reversed(request.messages) if m.role == "user"), None)
    if newest is not None and newest.files:
        return None
    if not any(m.files for m in request.messages):
        return request
    return replace(request, messages=[m if not m.files else replace(m, files=(), content=m.content + "".join(
        f"\n[attached {f.filename or f.media_type}, which this model cannot see]" for f in m.files))
        for m in request.messages])


def system_of(provider: Provider) -> str:
    """The GenAI `system` of a provider: its own `system` attribute, else its class (OpenAIProvider: openai)."""
    system = getattr(provider, "system", None)
    return system if isinstance(system, str) else type(provider).__name__.removesuffix("Provider").lower()


def _backoff(state: RetryCallState) -> float:
    """Full jitter on an exponential base, or the provider's own Retry-After when it gave one."""
    error = state.outcome.exception() if state.outcome else None
    if isinstance(error, ProviderError) and error.retry_after is not None:
        return error.retry_after
    return random.uniform(0, min(2.0, 0.1 * 2**state.attempt_number))


async def _guarded(provider: Provider, request: CompletionRequest, policy: Resilience) -> AsyncGenerator[Delta, None]:
    """The provider's stream under its time to first token, idle gap and total time limits."""
    loop = asyncio.get_running_loop()
    watchdog = _Watchdog(loop, policy)
    try:
        async with aclosing(provider.stream(request)) as deltas:
            while True:
                watchdog.waiting()
                try:
                    delta = await anext(deltas)
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if watchdog.fired():
                        what = "next token" if watchdog.answered else "first token"
                        raise ProviderError(provider.name, "timeout", f"no {what} within {watchdog.limit:.1f} s"
                                            ) from None
                    raise
                watchdog.got(isinstance(delta, TextDelta | ToolCallDelta | ReasoningDelta))
                yield delta
    finally:
        watchdog.stop()


class _Watchdog:
    """Cancels the task while it waits too long for a provider's next delta. One timer per stream, re-armed
    only when it fires early: cheaper than a timeout entered and left for every token. Only the time spent
    waiting counts, as with a timeout around each wait."""

    def __init__(self, loop: asyncio.AbstractEventLoop, policy: Resilience):
        self._loop = loop
        self._policy = policy
        self._task = asyncio.current_task()
        self._cancelling = self._task.cancelling() if self._task else 0
        self._end = loop.time() + policy.total
        self._since: float | None = None  # when the current wait began; None while not waiting
        self._expired = False
        self.answered = False  # a text or tool-call delta came: the idle limit applies from now on
        self._timer = loop.call_at(self._due(loop.time()), self._check)

    @property
    def limit(self) -> float:
        return self._policy.idle if self.answered else self._policy.first_token

    def _due(self, since: float) -> float:
        return min(since + self.limit, self._end)

    def waiting(self) -> None:
        self._since = self._loop.time()
        if (due := self._due(self._since)) < self._timer.when():  # the limit shrank (the first token came)
            self._timer.cancel()
            self._timer = self._loop.call_at(due, self._check)

    def got(self, answer: bool) -> None:
        self._since = None
        self.answered = self.answered or answer

    def _check(self) -> None:
        now = self._loop.time()
        due = self._due(self._since if self._since is not None else now)
        if now < due:
            self._timer = self._loop.call_at(due, self._check)
        elif self._task is not None:
            self._expired = True
            self._task.cancel()

    def fired(self) -> bool:
        """Whether a cancellation is this watchdog's (then it is taken back); False for anyone else's."""
        return self._expired and self._task is not None and self._task.uncancel() <= self._cancelling

    def stop(self) -> None:
        self._timer.cancel()
