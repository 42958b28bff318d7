"""Sticky, fair assignment: a stable hash of (experiment, user id) to a point in [0, 1), the same in every
process and on every replica (sha256, not Python's salted `hash`), laid against the variants' weights."""

from __future__ import annotations

import hashlib

from parlor.config import ExperimentConfig, VariantConfig


def bucket(experiment: str, user_id: str) -> float:
    """A uniform point in [0, 1): the first 64 bits of sha256(experiment NUL user id)."""
    digest = hashlib.sha256(f"{experiment}\x00{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick(config: ExperimentConfig, user_id: str, tier: str) -> VariantConfig | None:
    """The user's variant, or None when the experiment is off, the tier is not in its audience, or the
    user falls outside its `traffic` share. Who is in and which variant they get are two independent
    hashes: raising `traffic` adds users and keeps everyone already in on the same variant."""
    if not config.enabled or (config.audience and tier not in config.audience):
        return None
    if bucket(config.name + "#traffic", user_id) >= config.traffic:
        return None
    mark = bucket(config.name, user_id) * sum(v.weight for v in config.variants)
    running = 0.0
    for variant in config.variants:
        running += variant.weight
        if variant.weight > 0 and mark < running:
            return variant
    return next(v for v in reversed(config.variants) if v.weight > 0)  # float rounding at the very top
