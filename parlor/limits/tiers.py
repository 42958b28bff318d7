"""Tiers as configuration: a user's tier name (on the user row) resolved to its limits."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from fnmatch import fnmatchcase

from parlor.config import TierConfig
from parlor.limits.limiter import Window

log = logging.getLogger(__name__)


class ModelNotAllowed(Exception):
    def __init__(self, tier: str, model: str):
        super().__init__(f"the {tier!r} tier may not use the model {model!r}")
        self.tier = tier
        self.model = model


class Tiers:
    def __init__(self, tiers: Mapping[str, TierConfig], default: str):
        if default not in tiers:
            raise ValueError(f"the default tier {default!r} is not defined")
        self._tiers = dict(tiers)
        self.default = default
        self._warned: set[str] = set()

    def names(self) -> list[str]:
        return list(self._tiers)

    def __contains__(self, name: object) -> bool:
        return name in self._tiers

    def get(self, name: str) -> TierConfig:
        """A user's tier; one that is no longer configured falls back to the default (logged once)."""
        tier = self._tiers.get(name)
        if tier is not None:
            return tier
        if name not in self._warned:
            self._warned.add(name)
            log.warning("tier %r is not in PARLOR_TIERS; its users get the default tier %r", name, self.default)
        return self._tiers[self.default]

    def windows(self, name: str) -> list[Window]:
        tier = self.get(name)
        windows = []
        if tier.requests_per_minute is not None:
            windows.append(Window("minute", tier.requests_per_minute, 60))
        if tier.requests_per_hour is not None:
            windows.append(Window("hour", tier.requests_per_hour, 3600))
        return windows

    def allows(self, name: str, *candidates: str) -> bool:
        """Whether one of the names a model goes by matches the tier's patterns."""
        return any(fnmatchcase(c, p) for c in candidates for p in self.get(name).models)

    def check_model(self, name: str, *candidates: str | None) -> None:
        """Raises ModelNotAllowed unless one of the names a model goes by matches the tier's patterns."""
        named = [c for c in candidates if c]
        if named and not self.allows(name, *named):
            raise ModelNotAllowed(name, named[0])
