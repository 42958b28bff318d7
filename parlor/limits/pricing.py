"""Cost: a price table from settings (US dollars per million tokens: input and output, and apart from them,
where set, the prompt cache's reads and writes and the reasoning tokens)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from parlor.config import PriceConfig
from parlor.llm.types import TokenCounts


class PriceTable:
    """Looks a call up as "provider/model", then the provider's name, then the model; a call that
    matches nothing (a local or scripted model) costs 0."""

    def __init__(self, prices: Mapping[str, PriceConfig]):
        self._prices = dict(prices)

    def price(self, provider: str | None, model: str | None) -> PriceConfig | None:
        for key in (f"{provider}/{model}", provider, model):
            if key and key in self._prices:
                return self._prices[key]
        return None

    def cost(self, provider: str | None, model: str | None, usage: TokenCounts) -> float:
        price = self.price(provider, model)
        return round(dollars(price, usage), 8) if price is not None else 0.0


def dollars(price: PriceConfig, usage: TokenCounts) -> float:
    """The input's uncached part at the input price, its cache reads and writes at theirs; the output's
    reasoning at the reasoning price, the rest at the output price (a part unpriced: its side's price)."""
    cached, written = min(usage.cached_in, usage.tokens_in), min(usage.cache_write_in, usage.tokens_in)
    fresh = max(usage.tokens_in - cached - written, 0)
    reasoning = min(usage.reasoning_out, usage.tokens_out)
    per_million = (fresh * price.input
                   + cached * _or(price.cached_input, price.input)
                   + written * _or(price.cache_write, price.input)
                   + reasoning * _or(price.reasoning, price.output)
                   + (usage.tokens_out - reasoning) * price.output)
    return per_million / 1_000_000


def _or(price: float | None, default: float) -> float:
    return default if price is None else price


class PricedParts(TypedDict):
    cached_in: int
    cache_write_in: int
    reasoning_out: int


def priced_parts(usage: TokenCounts) -> PricedParts:
    """The parts of a usage priced apart, as the ledger's and the run record's fields of the same names."""
    return {"cached_in": usage.cached_in, "cache_write_in": usage.cache_write_in,
            "reasoning_out": usage.reasoning_out}
