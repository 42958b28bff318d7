"""Usage reports, aggregated in SQL: a user's use by day and model, and the top spenders.

Days are UTC calendar days (SQLite has no time zones; the budget's own day boundary is in the
budget store)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.db import Usage, User, utcnow


@dataclass(frozen=True, slots=True)
class Totals:
    requests: int
    tokens_in: int
    tokens_out: int
    cost_usd: float

    def as_json(self) -> dict[str, object]:
        return {"requests": self.requests, "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
                "cost_usd": round(self.cost_usd, 8)}


def _sums() -> tuple[ColumnElement[int], ColumnElement[int], ColumnElement[int], ColumnElement[float]]:
    return (func.count(Usage.id), func.coalesce(func.sum(Usage.tokens_in), 0),
            func.coalesce(func.sum(Usage.tokens_out), 0), func.coalesce(func.sum(Usage.cost_usd), 0.0))


def _totals(row: tuple[object, ...]) -> Totals:
    requests, tokens_in, tokens_out, cost = row
    return Totals(int(requests or 0), int(tokens_in or 0), int(tokens_out or 0),  # type: ignore[call-overload]
                  float(cost or 0))  # type: ignore[arg-type]


class UsageReport:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    @staticmethod
    def since(days: int) -> datetime:
        today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        return today - timedelta(days=days - 1)

    async def by_day_and_model(self, user_id: str, since: datetime) -> tuple[list[dict[str, object]], Totals]:
        """The user's own rows only: every query here filters by `user_id`."""
        async with self._sessions() as session:
            day = self._day(session)
            rows = (await session.execute(
                select(day.label("day"), Usage.provider, Usage.model, *_sums())
                .where(Usage.user_id == user_id, Usage.created_at >= since)
                .group_by(day, Usage.provider, Usage.model)
                .order_by(day, Usage.provider, Usage.model)
            )).all()
            total = (await session.execute(
                select(*_sums()).where(Usage.user_id == user_id, Usage.created_at >= since))).one()
        days = [{"day": str(r[0]), "provider": r[1], "model": r[2], **_totals(tuple(r[3:])).as_json()}
                for r in rows]
        return days, _totals(tuple(total))

    async def top_spenders(self, since: datetime, limit: int) -> tuple[list[dict[str, object]], Totals]:
        requests, tokens_in, tokens_out, cost = _sums()
        query = (
            select(Usage.user_id, User.name, User.tier, requests, tokens_in, tokens_out, cost)
            .join(User, User.id == Usage.user_id)
            .where(Usage.created_at >= since)
            .group_by(Usage.user_id, User.name, User.tier)
            .order_by(cost.desc(), (tokens_in + tokens_out).desc(), Usage.user_id)
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
            total = (await session.execute(select(*_sums()).where(Usage.created_at >= since))).one()
        top = [{"user_id": r[0], "name": r[1], "tier": r[2], **_totals(tuple(r[3:])).as_json()} for r in rows]
        return top, _totals(tuple(total))

    @staticmethod
    def _day(session: AsyncSession) -> ColumnElement[str]:
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            return cast(func.date(func.timezone("UTC", Usage.created_at)), String)
        return func.date(Usage.created_at)  # SQLite stores UTC text; date() takes its day
