"""The models a user may choose, as data: each configured provider with what it can do and what it
costs, filtered by the caller's tier (`GET /api/models`, `GET /v1/models`), and the check of a model
a client names before a turn is planned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from parlor.config import PriceConfig, ProviderConfig
from parlor.limits import ModelNotAllowed, PriceTable, Tiers

RUN_HERE = ("local", "scripted")  # kinds that run on this server: they cost nothing when unpriced


class UnknownModel(Exception):
    pass


class ImagesUnreadable(Exception):
    """The message carries images or PDFs, and the model chosen (or every configured one) cannot read them."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    vision: bool  # reads images (and PDFs) in messages
    tools: bool  # may call the configured tools
    reasoning: bool  # thinks before it answers


@dataclass(frozen=True, slots=True)
class ModelEntry:
    id: str  # the provider's name: what a client sends back to choose it
    label: str
    kind: str
    model: str
    capabilities: Capabilities
    context_window: int | None  # tokens; None: not configured
    price: PriceConfig | None  # US dollars per million tokens; None: not known

    def named(self, name: str) -> bool:
        return name in (self.id, self.model)


def entry(provider: ProviderConfig, prices: PriceTable) -> ModelEntry:
    context = provider.context_window or (provider.context_size if provider.kind == "local" else None)
    price = prices.price(provider.name, provider.model)
    if price is None and provider.kind in RUN_HERE:
        price = PriceConfig(input=0, output=0)
    return ModelEntry(provider.name, provider.label or provider.name, provider.kind, provider.model,
                      Capabilities(provider.sees_images, provider.kind != "scripted", provider.reasoning),
                      context, price)


class ModelCatalog:
    """The providers in fallback order; a tier sees those whose name or model its patterns match."""

    def __init__(self, providers: Sequence[ProviderConfig], tiers: Tiers, prices: PriceTable,
                 default_model: str | None = None):
        """`default_model`: what chats start with when the tier names none (a provider's name or model)."""
        self._entries = [entry(p, prices) for p in providers]
        self._tiers = tiers
        self._default_model = default_model

    def for_tier(self, tier: str) -> list[ModelEntry]:
        return [e for e in self._entries if self._tiers.allows(tier, e.id, e.model)]

    def default(self, tier: str) -> ModelEntry | None:
        """What a chat with no model chosen starts with: the tier's `default_model`, else the server's,
        while the tier may use it; else the first of the chain the tier may use."""
        allowed = self.for_tier(tier)
        for name in (self._tiers.get(tier).default_model, self._default_model):
            if name is not None and (named := next((e for e in allowed if e.named(name)), None)) is not None:
                return named
        return next(iter(allowed), None)

    def choose(self, tier: str, name: str) -> ModelEntry:
        """The model a client named (its id, or its model id); raises UnknownModel or ModelNotAllowed."""
        found = next((e for e in self._entries if e.named(name)), None)
        if found is None:
            raise UnknownModel(name)
        if not self._tiers.allows(tier, found.id, found.model):
            raise ModelNotAllowed(tier, name)
        return found

    def usable(self, tier: str, name: str | None) -> ModelEntry | None:
        """A model stored earlier (a thread's), if it is still configured and the tier still allows it."""
        try:
            return self.choose(tier, name) if name else None
        except (UnknownModel, ModelNotAllowed):
            return None
