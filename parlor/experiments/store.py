"""Experiments in the database: the admin API writes them, every replica reads them every few seconds."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.config import ExperimentConfig
from parlor.db import utcnow
from parlor.db.models import Experiment

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredExperiment:
    config: ExperimentConfig
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {**self.config.model_dump(), "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


def _spec(config: ExperimentConfig) -> dict[str, Any]:
    return config.model_dump(exclude={"name", "enabled"})


def _loaded(row: Experiment) -> StoredExperiment | None:
    try:
        config = ExperimentConfig.model_validate({**row.spec, "name": row.name, "enabled": row.enabled})
    except ValidationError as exc:  # written by another version: skipped, never a crash
        log.error("experiment %r in the database is not valid, ignored: %s", row.name, exc)
        return None
    return StoredExperiment(config, row.created_at, row.updated_at)


class ExperimentStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def list(self) -> list[StoredExperiment]:
        async with self._sessions() as session:
            rows = (await session.execute(select(Experiment).order_by(Experiment.name))).scalars()
            return [found for row in rows if (found := _loaded(row)) is not None]

    async def get(self, name: str) -> StoredExperiment | None:
        async with self._sessions() as session:
            row = await session.get(Experiment, name)
            return _loaded(row) if row is not None else None

    async def put(self, config: ExperimentConfig) -> tuple[StoredExperiment, bool]:
        """Creates or replaces; returns it and whether it was created."""
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await session.get(Experiment, config.name, with_for_update=True)
            created = row is None
            if row is None:
                row = Experiment(name=config.name, created_at=now)
                session.add(row)
            row.enabled, row.spec, row.updated_at = config.enabled, _spec(config), now
        return StoredExperiment(config, row.created_at, now), created

    async def delete(self, name: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(delete(Experiment).where(Experiment.name == name))
        return bool(getattr(result, "rowcount", 0))

    async def seed(self, configs: Sequence[ExperimentConfig]) -> None:
        """Settings' experiments, inserted unless one of that name exists (the admin API's changes stand)."""
        if not configs:
            return
        now = utcnow()
        async with self._sessions.begin() as session:
            dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
            await session.execute(dialect.insert(Experiment).values([
                {"name": c.name, "enabled": c.enabled, "spec": _spec(c), "created_at": now, "updated_at": now}
                for c in configs]).on_conflict_do_nothing(index_elements=["name"]))
