"""The usage ledger: one row per request that reached a model, priced from the price table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.db import Usage as UsageRow
from parlor.db import new_id, utcnow
from parlor.limits.pricing import PriceTable

PRICED_ONLY = ("cached_in", "cache_write_in", "reasoning_out")  # no column of their own


@dataclass(frozen=True, slots=True)
class UsageRecord:
    request_id: str
    user_id: str
    thread_id: str | None
    provider: str | None
    model: str | None
    tokens_in: int
    tokens_out: int
    ttft_ms: float | None
    total_ms: float
    status: str
    cost_usd: float = 0.0
    experiment: str | None = None  # the experiment arm the turn ran in
    variant: str | None = None
    # the parts of tokens_in and tokens_out the price tells apart (priced here; the run record keeps them)
    cached_in: int = 0
    cache_write_in: int = 0
    reasoning_out: int = 0


class UsageLedger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], prices: PriceTable | None = None):
        self._sessions = sessions
        self._prices = prices or PriceTable({})

    async def record(self, record: UsageRecord) -> None:
        if not record.cost_usd:
            record = replace(record, cost_usd=self._prices.cost(record.provider, record.model, record))
        values = {k: v for k, v in asdict(record).items() if k not in PRICED_ONLY}
        async with self._sessions.begin() as session:
            await session.execute(insert(UsageRow).values(id=new_id(), created_at=utcnow(), **values))
