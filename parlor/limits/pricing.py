"""Cost: a price table from settings (US dollars per million tokens, input and output)."""

from __future__ import annotations

from collections.abc import Mapping

from parlor.config import PriceConfig


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

    def cost(self, provider: str | None, model: str | None, tokens_in: int, tokens_out: int) -> float:
        price = self.price(provider, model)
        if price is None:
            return 0.0
        return round((tokens_in * price.input + tokens_out * price.output) / 1_000_000, 8)
