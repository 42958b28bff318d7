"""Token budgets: reservation and settlement arithmetic, tiers, midnight, prices (both stores)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from parlor.accounts import Principal
from parlor.config import PriceConfig, TierConfig
from parlor.limits import BudgetExhausted, ModelNotAllowed, PriceTable, Tiers, TokenBudget, estimate_tokens
from parlor.limits.budget import BudgetStore, InProcessBudgetStore
from parlor.limits.redis_store import RedisBudgetStore, limits_client
from parlor.llm import Usage
from parlor.redis_keys import RedisKeys
from tests.helpers.redis import redis_url

REDIS_URL = redis_url()
TIERS = Tiers({
    "small": TierConfig(tokens_per_day=1000, max_reply_tokens=200, models=["up", "gpt-4o*"]),
    "open": TierConfig(),
}, "small")
ALICE = Principal(id=str(uuid.uuid4()), name="alice", tier="small", role="user")


@pytest.fixture(params=["in-process", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[tuple[BudgetStore, str]]:
    prefix = f"t{uuid.uuid4().hex[:12]}:"
    if request.param == "in-process":
        yield InProcessBudgetStore(), prefix
        return
    client = limits_client(REDIS_URL, 2.0)
    try:
        yield RedisBudgetStore(client), prefix
    finally:
        keys = [key async for key in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def budget(store: tuple[BudgetStore, str], now: datetime | None = None, zone: str = "UTC") -> TokenBudget:
    return TokenBudget(TIERS, store[0], zone, RedisKeys(store[1]), now=(lambda: now) if now else None)


async def test_reserve_then_settle_with_the_reported_usage(store: tuple[BudgetStore, str]) -> None:
    tokens = budget(store)
    held = await tokens.reserve(ALICE, prompt_tokens=100)
    assert (held.amount, held.max_reply) == (300, 200)  # the prompt plus the tier's reply cap
    assert (await tokens.used_today(ALICE)) == (1000, 300)
    assert await tokens.settle(held, tokens_in=90, tokens_out=40) == 130
    assert (await tokens.used_today(ALICE))[1] == 130


async def test_a_lower_request_cap_reserves_less(store: tuple[BudgetStore, str]) -> None:
    held = await budget(store).reserve(ALICE, prompt_tokens=100, max_reply=50)
    assert (held.amount, held.max_reply) == (150, 50)


async def test_an_aborted_stream_settles_what_was_generated(store: tuple[BudgetStore, str]) -> None:
    tokens = budget(store)
    held = await tokens.reserve(ALICE, prompt_tokens=100)
    # cut short: the provider reported nothing; 12 chunks arrived, holding 80 characters of text
    assert await tokens.settle(held, tokens_in=None, tokens_out=12, text="x" * 80) == 100 + 20
    assert (await tokens.used_today(ALICE))[1] == 120


async def test_a_reservation_that_cannot_fit_is_refused_and_takes_nothing(store: tuple[BudgetStore, str]) -> None:
    tokens = budget(store)
    first = await tokens.reserve(ALICE, prompt_tokens=500)  # 700 held
    with pytest.raises(BudgetExhausted) as refused:
        await tokens.reserve(ALICE, prompt_tokens=150)  # 350 more would be 1050
    assert (refused.value.limit, refused.value.used, refused.value.needed) == (1000, 700, 350)
    assert (await tokens.used_today(ALICE))[1] == 700
    await tokens.settle(first, tokens_in=500, tokens_out=10)  # settling frees the unused reply
    assert (await tokens.reserve(ALICE, prompt_tokens=150)).amount == 350
    assert (await tokens.used_today(ALICE))[1] == 860


async def test_release_gives_the_whole_reservation_back(store: tuple[BudgetStore, str]) -> None:
    tokens = budget(store)
    held = await tokens.reserve(ALICE, prompt_tokens=10)
    await tokens.release(held)
    assert (await tokens.used_today(ALICE))[1] == 0


async def test_the_budget_resets_at_the_zones_midnight(store: tuple[BudgetStore, str]) -> None:
    zone = ZoneInfo("America/New_York")
    late = datetime(2026, 3, 10, 23, 59, 30, tzinfo=zone)
    day_one = budget(store, late, "America/New_York")
    await day_one.reserve(ALICE, prompt_tokens=700)
    with pytest.raises(BudgetExhausted) as refused:
        await day_one.reserve(ALICE, prompt_tokens=100)
    assert refused.value.retry_after == 30  # seconds to midnight in New York, not in UTC
    next_day = budget(store, datetime(2026, 3, 11, 0, 0, 1, tzinfo=zone), "America/New_York")
    assert (await next_day.reserve(ALICE, prompt_tokens=100)).amount == 300
    # 04:59:30 UTC is still the 10th in New York: the same day's counter
    same_day = budget(store, datetime(2026, 3, 11, 3, 59, 30, tzinfo=UTC), "America/New_York")
    assert (await same_day.used_today(ALICE))[1] == 900


async def test_unlimited_tiers_hold_nothing_but_models_are_checked(store: tuple[BudgetStore, str]) -> None:
    tokens = budget(store)
    bob = Principal(id=str(uuid.uuid4()), name="bob", tier="open", role="user")
    held = await tokens.reserve(bob, prompt_tokens=10**9, max_reply=77)
    assert (held.key, held.amount, held.max_reply) == (None, 0, 77)
    assert await tokens.settle(held, 5, 5) == 0
    await tokens.reserve(ALICE, 10, models=("gpt-4o-mini",))
    await tokens.reserve(ALICE, 10, models=("openai", "up"))  # any alias of the model may match
    with pytest.raises(ModelNotAllowed):
        await tokens.reserve(ALICE, 10, models=("claude-opus",))


def test_an_unknown_tier_falls_back_to_the_default() -> None:
    assert TIERS.get("gold").tokens_per_day == 1000
    assert TIERS.windows("open") == []


def test_prices_match_provider_and_model_then_either() -> None:
    prices = PriceTable({"openai/gpt-4o": PriceConfig(input=2.5, output=10), "openai": PriceConfig(input=1, output=2),
                         "claude-x": PriceConfig(input=3, output=15)})
    assert prices.cost("openai", "gpt-4o", Usage(1_000_000, 100_000)) == 2.5 + 1.0
    assert prices.cost("openai", "gpt-4o-mini", Usage(1000, 1000)) == pytest.approx(0.003)
    assert prices.cost("anthropic", "claude-x", Usage(2000, 1000)) == pytest.approx(0.021)
    assert prices.cost("local", "llama", Usage(10**6, 10**6)) == 0.0


def test_cache_reads_writes_and_reasoning_have_prices_of_their_own_else_their_sides() -> None:
    priced = PriceTable({"claude": PriceConfig(input=3, output=15, cached_input=0.3, cache_write=3.75, reasoning=20)})
    usage = Usage(tokens_in=1_000_000, tokens_out=1_000_000, cached_in=500_000, cache_write_in=200_000,
                  reasoning_out=400_000)
    # 300k fresh at 3, 500k read at 0.3, 200k written at 3.75; 400k thought at 20, 600k answered at 15
    assert priced.cost("p", "claude", usage) == pytest.approx(0.9 + 0.15 + 0.75 + 8 + 9)
    plain = PriceTable({"claude": PriceConfig(input=3, output=15)})
    assert plain.cost("p", "claude", usage) == pytest.approx(3 + 15)  # unpriced parts: their side's price


def test_the_estimate_leans_high() -> None:
    assert estimate_tokens(["hello world"]) == 3 + 4 + 3
    assert estimate_tokens([]) == 3
