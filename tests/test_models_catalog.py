"""The model catalogue: what each tier may choose (shell patterns over provider names and models), what
each model can do and costs, the default, and a named model's check."""

from __future__ import annotations

import pytest

from parlor.chat import ModelCatalog, UnknownModel
from parlor.config import PriceConfig, ProviderConfig, Settings, TierConfig
from parlor.limits import ModelNotAllowed, PriceTable, Tiers

PROVIDERS = [
    ProviderConfig(name="fast", kind="openai", base_url="http://127.0.0.1:1/v1", model="gpt-4o-mini",
                   label="Fast", context_window=128_000),
    ProviderConfig(name="claude", kind="anthropic", model="claude-sonnet-4-5", reasoning=True),
    ProviderConfig(name="here", kind="local", model="qwen2.5-coder-1.5b", context_size=8192),
    ProviderConfig(name="echo", kind="scripted"),
]
TIERS = Tiers({
    "all": TierConfig(),
    "cheap": TierConfig(models=["gpt-4o*", "here"]),  # one by its model, one by its name
    "claude-only": TierConfig(models=["claude"]),
    "none": TierConfig(models=[]),
}, "all")
PRICES = PriceTable({"fast/gpt-4o-mini": PriceConfig(input=0.15, output=0.6),
                     "claude-sonnet-4-5": PriceConfig(input=3, output=15)})
CATALOG = ModelCatalog(PROVIDERS, TIERS, PRICES)


def ids(tier: str) -> list[str]:
    return [m.id for m in CATALOG.for_tier(tier)]


def test_a_tier_sees_the_models_its_patterns_match_in_fallback_order() -> None:
    assert ids("all") == ["fast", "claude", "here", "echo"]
    assert ids("cheap") == ["fast", "here"]
    assert ids("claude-only") == ["claude"]
    assert ids("none") == []
    assert ids("gone") == ids("all")  # a tier no longer configured: the default tier's


def test_the_default_is_the_first_of_the_chain_the_tier_may_use() -> None:
    assert [CATALOG.default(t) for t in ("all", "claude-only")] == [CATALOG.for_tier("all")[0],
                                                                      CATALOG.for_tier("claude-only")[0]]
    assert CATALOG.default("none") is None


def test_a_tiers_default_model_wins_then_the_servers_while_the_tier_allows_it() -> None:
    tiers = Tiers({"all": TierConfig(), "cheap": TierConfig(models=["gpt-4o*", "here"], default_model="here"),
                   "claude-only": TierConfig(models=["claude"])}, "all")
    catalog = ModelCatalog(PROVIDERS, tiers, PRICES, default_model="claude-sonnet-4-5")  # by its model
    defaults = {tier: getattr(catalog.default(tier), "id", None) for tier in ("all", "cheap", "claude-only")}
    assert defaults == {"all": "claude", "cheap": "here", "claude-only": "claude"}
    assert ModelCatalog(PROVIDERS, tiers, PRICES, default_model="echo").default("cheap").id == "here"  # type: ignore[union-attr]
    fenced = Tiers({"cheap": TierConfig(models=["gpt-4o*"])}, "cheap")  # the server's default is not allowed
    assert ModelCatalog(PROVIDERS, fenced, PRICES, default_model="claude").default("cheap").id == "fast"  # type: ignore[union-attr]


def test_an_unknown_default_model_is_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="PARLOR_DEFAULT_MODEL: 'nope'"):
        Settings(providers=PROVIDERS, default_model="nope")
    with pytest.raises(ValueError, match=r"PARLOR_TIERS\.free\.default_model"):
        Settings(providers=PROVIDERS, tiers={"free": TierConfig(default_model="nope")})


def test_what_each_model_can_do_and_costs() -> None:
    fast, claude, here, echo = CATALOG.for_tier("all")
    assert (fast.label, fast.kind, fast.model, fast.context_window) == ("Fast", "openai", "gpt-4o-mini", 128_000)
    assert (fast.capabilities.vision, fast.capabilities.tools, fast.capabilities.reasoning) == (False, True, False)
    assert fast.price == PriceConfig(input=0.15, output=0.6)  # by "provider/model"
    assert claude.label == "claude"  # no label: its name
    assert (claude.capabilities.vision, claude.capabilities.reasoning) == (True, True)  # vision by kind
    assert claude.price == PriceConfig(input=3, output=15) and claude.context_window is None  # priced by model
    assert here.context_window == 8192 and here.price == PriceConfig(input=0, output=0)  # runs here: free
    assert echo.capabilities.tools is False and echo.price == PriceConfig(input=0, output=0)


def test_a_named_model_is_checked_against_the_tier() -> None:
    assert CATALOG.choose("cheap", "fast").id == "fast"
    assert CATALOG.choose("cheap", "gpt-4o-mini").id == "fast"  # its model id names it too
    with pytest.raises(UnknownModel):
        CATALOG.choose("all", "gpt-5")
    with pytest.raises(ModelNotAllowed) as refused:
        CATALOG.choose("cheap", "claude")
    assert (refused.value.tier, refused.value.model) == ("cheap", "claude")


def test_a_stored_model_counts_only_while_it_is_configured_and_allowed() -> None:
    assert CATALOG.usable("all", "claude") is not None
    assert CATALOG.usable("cheap", "claude") is None  # the user's tier changed since
    assert CATALOG.usable("all", "removed-provider") is None
    assert CATALOG.usable("all", None) is None
