"""What the `get_user_data` tool tells a user about their own account (read for the caller only)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.accounts import Principal
from parlor.db import Document, Thread, Usage, utcnow
from parlor.limits.budget import TokenBudget

MAX_DOCUMENTS = 50  # the newest of the user's documents, with their status


class AccountFacts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], budget: TokenBudget | None = None):
        self._sessions = sessions
        self._budget = budget

    async def __call__(self, who: Principal, requests_left: dict[str, int]) -> dict[str, Any]:
        midnight = datetime.combine(utcnow().date(), time.min, tzinfo=utcnow().tzinfo)
        usage = select(func.count(), func.coalesce(func.sum(Usage.tokens_in), 0),
                       func.coalesce(func.sum(Usage.tokens_out), 0), func.coalesce(func.sum(Usage.cost_usd), 0))
        async with self._sessions() as session:
            requests, tokens_in, tokens_out, cost = (await session.execute(
                usage.where(Usage.user_id == who.id, Usage.created_at >= midnight))).one()
            threads = (await session.execute(
                select(func.count()).select_from(Thread).where(Thread.user_id == who.id))).scalar_one()
            documents = (await session.execute(  # "is my document ready?": the newest first
                select(Document).where(Document.user_id == who.id)
                .order_by(Document.created_at.desc()).limit(MAX_DOCUMENTS))).scalars().all()
        return {
            "name": who.name, "tier": who.tier, "role": who.role,
            "usage_today": {"requests": requests, "input_tokens": int(tokens_in), "output_tokens": int(tokens_out),
                            "cost_usd": round(float(cost), 6)},
            "requests_left": requests_left,  # per window of the tier, after this request
            "tokens_left_today": await self._tokens_left(who),
            "threads": threads,
            "documents": [{"id": d.id, "filename": d.filename, "status": d.status, "stage": d.stage,
                           "progress": d.progress, "error": d.error, "pages": d.pages, "chunks": d.chunks,
                           "thread_id": d.thread_id} for d in documents],
        }

    async def _tokens_left(self, who: Principal) -> int | None:
        """Tokens the daily budget still allows (None: the tier has no daily budget)."""
        if self._budget is None:
            return None
        limit, used = await self._budget.used_today(who)
        return None if limit is None else max(0, limit - used)
