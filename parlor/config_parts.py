"""The parts of `Settings`: providers, tools, MCP servers, tiers, prices and experiments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

ProviderKind = Literal["openai", "anthropic", "gemini", "scripted", "local"]


class ProviderConfig(BaseModel):
    """One LLM endpoint; `PARLOR_PROVIDERS` lists them in fallback order."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    kind: ProviderKind
    base_url: str | None = None
    api_key: SecretStr | None = None
    model: str = "default"
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    first_token_timeout: float = Field(default=20.0, gt=0)  # request → first text or tool-call delta
    idle_timeout: float = Field(default=30.0, gt=0)  # longest gap between deltas
    total_timeout: float = Field(default=600.0, gt=0)
    retries: int = Field(default=1, ge=0, le=5)  # before the first token only, with jittered backoff
    breaker_threshold: int = Field(default=5, ge=1)  # failures within breaker_window that open the circuit
    breaker_window: float = Field(default=30.0, gt=0)
    breaker_cooldown: float = Field(default=15.0, gt=0)
    max_connections: int = Field(default=1000, ge=1)
    # scripted provider only: the reply it streams, and the pause between tokens
    reply: str | None = None
    token_delay: float = Field(default=0.02, ge=0)
    # local provider only: a bundled `model` (qwen2.5-coder-1.5b | qwen2.5-coder-0.5b | smollm2-135m) or any
    # GGUF file at `model_path`; joined bundled files go to `models_dir` (default: PARLOR_DATA_DIR/models)
    model_path: Path | None = None
    models_dir: Path | None = None
    threads: int | None = Field(default=None, ge=1)
    context_size: int = Field(default=4096, ge=256)
    parallel: int = Field(default=1, ge=1, le=16)  # requests generated at once (continuous batching)
    queue_size: int = Field(default=8, ge=0)  # requests waiting beyond those; more get 503 local_model_busy
    # what the model can do: GET /api/models shows it, and a message it cannot read is refused before any call
    label: str | None = Field(default=None, max_length=100)  # the name users see in the model picker
    vision: bool | None = None  # reads images (and PDFs) in messages; None: by kind (anthropic, gemini: yes)
    reasoning: bool = False  # thinks before it answers (its thoughts are shown folded)
    thinking_budget: int | None = Field(default=None, ge=1024)  # anthropic/gemini: ask for this much thinking
    context_window: int | None = Field(default=None, ge=256)  # the model's context in tokens (local: context_size)

    @model_validator(mode="after")
    def _needs_base_url(self) -> ProviderConfig:
        if self.kind == "openai" and not self.base_url:
            raise ValueError(f"provider {self.name!r} of kind 'openai' needs a base_url")
        if self.kind == "local":  # a queued request waits its turn: the first token may be far off
            if "first_token_timeout" not in self.model_fields_set:
                self.first_token_timeout = 600.0
            if "retries" not in self.model_fields_set:
                self.retries = 0
        return self

    @property
    def sees_images(self) -> bool:
        return self.vision if self.vision is not None else self.kind in ("anthropic", "gemini")


def default_providers() -> list[ProviderConfig]:
    return [ProviderConfig(name="local", kind="local", model="qwen2.5-coder-1.5b")]


TOOL_NAME = r"^[A-Za-z0-9_-]{1,64}$"


class HttpToolConfig(BaseModel):
    """A tool that calls an HTTP API: the model fills `parameters`, never the scheme or host."""

    name: str = Field(pattern=TOOL_NAME)
    description: str = Field(min_length=1, max_length=2000)
    title: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    method: Literal["GET", "POST"] = "GET"
    url: str = Field(pattern=r"^https?://[^/{}?#]+(/|$)")  # placeholders like {city} only after the host
    headers: dict[str, str] = Field(default_factory=dict)  # ${ENV_VAR} in a value is read from the environment
    timeout: float = Field(default=10.0, gt=0, le=120)
    max_response_bytes: int = Field(default=200_000, ge=1)
    needs_approval: bool = False  # each call waits for the user's yes or no (README "Tool approval")


class McpServerConfig(BaseModel):
    """A Model Context Protocol server whose tools are offered to the model."""

    name: str = Field(pattern=r"^[A-Za-z0-9-]{1,32}$")
    transport: Literal["stdio", "http"]
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    url: str | None = None
    timeout: float = Field(default=30.0, gt=0)
    # true: each of its tools waits for the user's yes or no; a list: those tools (their names on the server)
    needs_approval: bool | list[Annotated[str, Field(min_length=1, max_length=200)]] = False

    def approves(self, tool: str) -> bool:
        return self.needs_approval if isinstance(self.needs_approval, bool) else tool in self.needs_approval

    @model_validator(mode="after")
    def _needs_endpoint(self) -> McpServerConfig:
        if (self.transport == "stdio") != bool(self.command) or (self.transport == "http") != bool(self.url):
            raise ValueError(f"MCP server {self.name!r}: stdio needs a command, http needs a url")
        return self


class TierConfig(BaseModel):
    """One tier of `PARLOR_TIERS`; a missing (null) limit means unlimited."""

    requests_per_minute: int | None = Field(default=None, ge=1)
    requests_per_hour: int | None = Field(default=None, ge=1)
    tokens_per_day: int | None = Field(default=None, ge=1)
    max_reply_tokens: int | None = Field(default=None, ge=1)
    models: list[str] = Field(default_factory=lambda: ["*"])  # provider names or models; shell-style patterns
    default_model: str | None = None  # a provider name or model its chats start with (else PARLOR_DEFAULT_MODEL)

    @property
    def limited(self) -> bool:
        """Whether any request window, daily budget or reply cap applies (the models it may use aside)."""
        return any(limit is not None for limit in (self.requests_per_minute, self.requests_per_hour,
                                                   self.tokens_per_day, self.max_reply_tokens))


UNLIMITED_TIER = "unlimited"  # no limits, by its name; the one local user's tier when auth is off


class PriceConfig(BaseModel):
    """US dollars per million tokens. The prompt cache's reads (`cached_input`) and writes (`cache_write`)
    and the reasoning tokens (`reasoning`) cost the input or output price unless priced apart."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)  # Anthropic: 1.25 times the input price
    reasoning: float | None = Field(default=None, ge=0)


EXPERIMENT_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class VariantConfig(BaseModel):
    """One arm of an experiment: its share of the experiment's traffic and what it changes (null: as usual)."""

    model_config = {"extra": "forbid"}

    name: str = Field(pattern=EXPERIMENT_NAME)
    weight: float = Field(default=1.0, ge=0, le=1_000_000)
    system_prompt: str | None = Field(default=None, max_length=20_000)
    provider: str | None = Field(default=None, max_length=200)  # a provider's name (or model): tried first
    temperature: float | None = Field(default=None, ge=0, le=2)
    context_tokens: int | None = Field(default=None, ge=256, le=2_000_000)  # the context budget
    tools: list[str] | None = Field(default=None, max_length=100)  # the tools offered ([]: none; null: all)


class ExperimentConfig(BaseModel):
    """An A/B test: `traffic` of the users whose tier is in `audience` (all tiers when empty) are split
    between the variants by weight, by a stable hash of (experiment, user id)."""

    model_config = {"extra": "forbid"}

    name: str = Field(pattern=EXPERIMENT_NAME)
    enabled: bool = True
    traffic: float = Field(default=1.0, ge=0, le=1)
    audience: list[str] = Field(default_factory=list, max_length=50)  # tiers
    description: str | None = Field(default=None, max_length=2000)
    variants: list[VariantConfig] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _check_variants(self) -> ExperimentConfig:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("every variant needs a distinct name")
        if "none" in (*names, self.name):
            raise ValueError("'none' is reserved for turns outside every experiment")
        if sum(v.weight for v in self.variants) <= 0:
            raise ValueError("the variants' weights must add up to more than 0")
        return self


def default_tiers() -> dict[str, TierConfig]:
    return {
        "free": TierConfig(requests_per_minute=20, requests_per_hour=200, tokens_per_day=100_000,
                           max_reply_tokens=1024),
        "pro": TierConfig(requests_per_minute=120, requests_per_hour=3000, tokens_per_day=2_000_000,
                          max_reply_tokens=4096),
        UNLIMITED_TIER: TierConfig(),
    }
