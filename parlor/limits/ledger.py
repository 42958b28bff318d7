"""The usage ledger: one row per request that reached a model, priced from the price table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.db import Usage, new_id, utcnow
from parlor.limits.pricing import PriceTable


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


class UsageLedger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], prices: PriceTable | None = None):
        self._sessions = sessions
        self._prices = prices or PriceTable({})

    async def record(self, record: UsageRecord) -> None:
        if not record.cost_usd:
            cost = self._prices.cost(record.provider, record.model, record.tokens_in, record.tokens_out)
            record = replace(record, cost_usd=cost)
        async with self._sessions.begin() as session:
            await session.execute(insert(Usage).values(id=new_id(), created_at=utcnow(), **asdict(record)))
