"""Every replica's copy of the experiments, refreshed from the database in the background every few
seconds: choosing a turn's arm is arithmetic on this copy, with no I/O before the first token."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace

from parlor.accounts import Principal
from parlor.config import ExperimentConfig
from parlor.experiments.assign import pick
from parlor.experiments.spec import NO_ARM, Arm, Overrides
from parlor.experiments.store import ExperimentStore

log = logging.getLogger(__name__)
NEW_THREAD_OUTSIDE = Arm(assign=True)  # stored as "": the thread stays outside every experiment


class ExperimentBook:
    def __init__(self, store: ExperimentStore, refresh_seconds: float = 5.0):
        self.store = store
        self._refresh_seconds = refresh_seconds
        self._enabled: list[ExperimentConfig] = []  # by name: the order experiments are offered a new thread
        self._arms: dict[str, dict[str, Arm]] = {}  # enabled experiment -> variant -> its arm
        self.names: frozenset[str] = frozenset()  # every stored experiment, enabled or not

    def load(self, configs: Sequence[ExperimentConfig]) -> None:
        self.names = frozenset(c.name for c in configs)
        self._enabled = sorted((c for c in configs if c.enabled), key=lambda c: c.name)
        self._arms = {c.name: {v.name: Arm(c.name, v.name, Overrides.of(v)) for v in c.variants}
                      for c in self._enabled}

    async def refresh(self) -> None:
        self.load([stored.config for stored in await self.store.list()])

    async def watch(self) -> None:
        """Refreshes until cancelled; a failed read keeps the last copy (experiments degrade, turns don't)."""
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self.refresh()
            except Exception as exc:
                log.warning("could not refresh the experiments (keeping the last copy): %s", exc)

    def arm(self, who: Principal, stored: tuple[str, str | None] | None) -> Arm:
        """The arm of a turn. `stored`: the thread's (experiment, variant), "" for none, or None when the
        thread has none yet: then the first enabled experiment (by name) that takes the user decides."""
        if stored is None:
            for config in self._enabled:
                variant = pick(config, who.id, who.tier)
                if variant is not None:
                    return replace(self._arms[config.name][variant.name], assign=True)
            return NEW_THREAD_OUTSIDE
        experiment, name = stored
        # its experiment off or gone, or its variant removed: the thread goes on as usual
        return self._arms.get(experiment, {}).get(name or "", NO_ARM)


class NoExperiments(ExperimentBook):
    """A book with no experiments and nothing to read them from: every turn runs as usual (NO_ARM) and no
    thread is assigned. For a turn pipeline built without experiments (tests, tools)."""

    def __init__(self) -> None:
        self.names = frozenset()

    async def refresh(self) -> None:
        return None

    async def watch(self) -> None:
        return None

    def arm(self, who: Principal, stored: tuple[str, str | None] | None) -> Arm:
        return NO_ARM
