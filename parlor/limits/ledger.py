"""The usage ledger: one row per request that reached a model."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.db import Usage, new_id, utcnow


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


class UsageLedger:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def record(self, record: UsageRecord) -> None:
        async with self._sessions.begin() as session:
            await session.execute(insert(Usage).values(id=new_id(), created_at=utcnow(), **asdict(record)))
