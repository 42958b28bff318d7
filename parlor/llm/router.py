"""Routes a request to the providers in fallback order.

Before the first delta reaches the caller a failure moves on to the next provider; after it
there is no silent switch: the error goes up, with the partial answer already delivered.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from parlor.llm.types import CompletionRequest, Delta, Provider, ProviderError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answering:
    """Emitted once, before the first delta: which provider is answering."""

    provider: str
    model: str


class AllProvidersFailed(ProviderError):
    def __init__(self, errors: list[ProviderError]):
        super().__init__("router", "unavailable", "every provider failed: " + "; ".join(map(str, errors)))
        self.errors = errors


class Router:
    def __init__(self, providers: Sequence[Provider]):
        if not providers:
            raise ValueError("the router needs at least one provider")
        self.providers = list(providers)

    def find(self, name_or_model: str) -> Provider | None:
        for provider in self.providers:
            if name_or_model in (provider.name, provider.model):
                return provider
        return None

    async def stream(
        self, request: CompletionRequest, first: Provider | None = None
    ) -> AsyncIterator[Answering | Delta]:
        chain = self.providers if first is None else [first, *(p for p in self.providers if p is not first)]
        errors: list[ProviderError] = []
        for provider in chain:
            started = False
            try:
                # aclosing: a consumer that stops early closes the upstream call now, not at GC
                async with aclosing(provider.stream(request)) as deltas:
                    async for delta in deltas:
                        if not started:
                            started = True
                            yield Answering(provider.name, provider.model)
                        yield delta
                return
            except ProviderError as exc:
                if started:
                    raise
                log.warning("provider %s failed before its first token: %s", provider.name, exc)
                errors.append(exc)
        raise AllProvidersFailed(errors)

    async def aclose(self) -> None:
        for provider in self.providers:
            await provider.aclose()
