"""The experiments as the rest of Parlor uses them: checked against this deployment, stored, and the
replica's copy refreshed at once on a change (other replicas within their refresh interval)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.config import ExperimentConfig
from parlor.experiments.book import ExperimentBook
from parlor.experiments.feedback import FeedbackStore
from parlor.experiments.results import ExperimentResults, VariantResult
from parlor.experiments.spec import InvalidExperiment, check
from parlor.experiments.store import ExperimentStore, StoredExperiment

MAX_EXPERIMENTS = 50  # metric labels stay bounded: configured names only, this many at most


@dataclass
class Deployment:
    """What an experiment may name: read late, since tools (MCP, knowledge) register after startup."""

    providers: Callable[[], Collection[str]]
    tools: Callable[[], Collection[str]]
    tiers: Collection[str]
    min_context_tokens: int  # the reply reserve and saved facts must still fit


class Experiments:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], deployment: Deployment,
                 refresh_seconds: float = 5.0):
        self.store = ExperimentStore(sessions)
        self.book = ExperimentBook(self.store, refresh_seconds)
        self.results = ExperimentResults(sessions)
        self.feedback = FeedbackStore(sessions)
        self._deployment = deployment

    def check(self, config: ExperimentConfig) -> None:
        """Raises InvalidExperiment when it names what this deployment does not have."""
        d = self._deployment
        check(config, d.providers(), d.tools(), d.tiers)
        for variant in config.variants:
            if variant.context_tokens is not None and variant.context_tokens < d.min_context_tokens:
                raise InvalidExperiment(f"variant {variant.name!r}: context_tokens must be at least "
                                        f"{d.min_context_tokens} (the reply reserve and saved facts need room)")

    async def start(self, seed: Sequence[ExperimentConfig]) -> None:
        """Settings' experiments stored unless present, then the first copy read (before serving)."""
        for config in seed:
            self.check(config)
        await self.store.seed(seed)
        await self.book.refresh()

    async def put(self, config: ExperimentConfig) -> tuple[StoredExperiment, bool]:
        self.check(config)
        if config.name not in self.book.names and len(self.book.names) >= MAX_EXPERIMENTS:
            raise InvalidExperiment(f"at most {MAX_EXPERIMENTS} experiments: delete a finished one first")
        stored = await self.store.put(config)
        await self.book.refresh()
        return stored

    async def delete(self, name: str) -> bool:
        deleted = await self.store.delete(name)
        await self.book.refresh()
        return deleted

    async def report(self, name: str, since: datetime | None = None) -> list[VariantResult] | None:
        return await report(self.store, self.results, name, since)


async def report(store: ExperimentStore, results: ExperimentResults, name: str,
                 since: datetime | None = None) -> list[VariantResult] | None:
    """Per variant; None when there is no such experiment and nothing was recorded under its name."""
    stored = await store.get(name)
    configured = [v.name for v in stored.config.variants] if stored else []
    found = await results.variants(name, configured, since)
    return found if stored is not None or found else None
