"""What a turn in an experiment changes (`Overrides`), which arm a turn is in (`Arm`), and the checks an
experiment must pass against this deployment (its providers, tools and tiers)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from parlor.config import ExperimentConfig, VariantConfig

NONE = "none"  # the metric label of a turn outside every experiment


class InvalidExperiment(ValueError):
    """An experiment that names a provider, tool or tier this deployment does not have."""


@dataclass(frozen=True, slots=True)
class Overrides:
    system_prompt: str | None = None
    provider: str | None = None  # tried first; the usual fallbacks follow
    temperature: float | None = None
    context_tokens: int | None = None
    tools: frozenset[str] | None = None  # the tools offered (None: all)

    @classmethod
    def of(cls, variant: VariantConfig) -> Overrides:
        tools = frozenset(variant.tools) if variant.tools is not None else None
        return cls(variant.system_prompt, variant.provider, variant.temperature, variant.context_tokens, tools)


@dataclass(frozen=True, slots=True)
class Arm:
    """The experiment arm a turn runs in. `assign`: the thread had none yet, so this one is stored with it
    ("" for no experiment) and the thread keeps it for life."""

    experiment: str | None = None
    variant: str | None = None
    overrides: Overrides = Overrides()
    assign: bool = False

    @property
    def labels(self) -> tuple[str, str]:
        """Bounded metric labels: configured names only."""
        return (self.experiment or NONE, self.variant or NONE)

    def stored(self) -> tuple[str, str | None]:
        return (self.experiment or "", self.variant)


NO_ARM = Arm()


def check(config: ExperimentConfig, providers: Collection[str], tools: Collection[str],
          tiers: Collection[str]) -> None:
    """Raises InvalidExperiment naming the first unknown provider, tool or tier."""
    for tier in config.audience:
        if tier not in tiers:
            raise InvalidExperiment(f"audience: no tier {tier!r} (the tiers are: {', '.join(sorted(tiers))})")
    for variant in config.variants:
        if variant.provider is not None and variant.provider not in providers:
            raise InvalidExperiment(f"variant {variant.name!r}: no provider {variant.provider!r} "
                                    f"(the providers are: {', '.join(sorted(providers))})")
        for tool in variant.tools or ():
            if tool not in tools:
                raise InvalidExperiment(f"variant {variant.name!r}: no tool {tool!r} "
                                        f"(the tools are: {', '.join(sorted(tools)) or 'none'})")
