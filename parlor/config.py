"""One `Settings` object, read from the environment (prefix `PARLOR_`), with embedded defaults."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic_settings
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from parlor.config_parts import (
    EXPERIMENT_NAME,
    TOOL_NAME,
    UNLIMITED_TIER,
    ExperimentConfig,
    HttpToolConfig,
    McpServerConfig,
    PriceConfig,
    ProviderConfig,
    ProviderKind,
    TierConfig,
    VariantConfig,
    default_providers,
    default_tiers,
)
from parlor.config_sources import FileSettingError, FileVariables
from parlor.db import urls
from parlor.redis_client import parse as parse_redis_url
from parlor.redis_keys import DEFAULT_PREFIX

__all__ = ["EXPERIMENT_NAME", "TOOL_NAME", "UNLIMITED_TIER", "ExperimentConfig", "HttpToolConfig", "McpServerConfig",
           "PriceConfig", "ProviderConfig", "ProviderKind", "Settings", "SettingsError", "TierConfig", "VariantConfig",
           "is_loopback", "load_settings"]

DEFAULT_SUMMARY_PROMPT = (
    "You keep the running summary of a conversation between a user and an AI assistant. Merge the summary so "
    "far (if any) and the new messages below into one updated summary, in the third person and at most a few "
    "short paragraphs. Keep every fact about the user (name, preferences, plans, numbers, decisions), open "
    "questions and commitments; drop small talk. Write only the summary."
)


class Settings(BaseSettings):
    # populate_by_name: a field with aliases (redis_prefix) is still given by its name in code and tests
    model_config = SettingsConfigDict(env_prefix="PARLOR_", extra="ignore", populate_by_name=True)

    # ---- server: where it listens, what it serves, how it stops ----
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    web_dir: Path = Path("web/dist")
    max_message_chars: int = Field(default=32_000, ge=1)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    # images and PDFs in chat messages (parlor/attachments): per file (decoded), per message, an image's edge
    max_attachment_bytes: int = Field(default=8_000_000, ge=1024)
    max_attachments: int = Field(default=4, ge=0, le=20)
    max_image_edge: int = Field(default=2048, ge=64, le=8192)
    on_disconnect: Literal["continue", "cancel"] = "continue"  # continue: generate on, for a later resume
    drain_seconds: float = Field(default=10.0, ge=0, le=600)  # on SIGTERM, running turns get this long
    write_retry_seconds: float = Field(default=30.0, ge=0, le=3600)  # a turn's writes retry this long
    stream_pace_ms: int = Field(default=40, ge=0, le=1000)  # while text flows, a client's stream is written at
    # most this often, the tokens between merged into one write (0: a write per token); the first is never held
    # transport (README "Security"): comma-separated lists
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)  # none: no cross-origin browser
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)  # IPs/CIDRs whose X-Forwarded-*
    # headers give the client's address and scheme; none: X-Forwarded-For is ignored

    # ---- storage: the database and its connections (docs/deploy.md: what a fleet of N replicas needs) ----
    data_dir: Path = Path("data")
    database_url: str = "sqlite+aiosqlite:///./data/parlor.db"
    # a pooler in front (PgBouncer, RDS Proxy, ...): both URLs' `pooler=` unless they say (parlor/db/urls.py)
    database_pooler: Literal["auto", "pgbouncer", "none"] = "auto"
    db_pool_size: int = Field(default=10, ge=1, le=1000)  # PostgreSQL connections a process keeps open
    db_max_overflow: int = Field(default=10, ge=0, le=1000)  # ... and may open beyond them at a peak
    db_pool_timeout: float = Field(default=30.0, gt=0, le=600)  # a request waits this long for a free one,
    # then gets 503 server_busy (with Retry-After)

    # ---- Redis: shared state across replicas (none: embedded, everything in-process) ----
    redis_url: str | None = None
    redis_max_connections: int = Field(default=100, ge=4, le=10_000)  # the shared client's and the limits' pools
    # prefix of every Redis key (parlor/redis_keys.py); PARLOR_LIMITS_KEY_PREFIX is its old, deprecated name
    redis_prefix: str = Field(default=DEFAULT_PREFIX, max_length=64,
                              validation_alias=AliasChoices("PARLOR_REDIS_PREFIX", "PARLOR_LIMITS_KEY_PREFIX"))
    run_ttl: int = Field(default=600, ge=10)  # seconds a finished run's stream stays resumable in Redis

    # ---- providers: the models, in fallback order ----
    providers: list[ProviderConfig] = Field(default_factory=default_providers, min_length=1)
    system_prompt: str = "You are Parlor, a helpful assistant. Answer clearly and concisely."

    # ---- auth: API keys, single sign-on (README "Security") ----
    auth: Literal["on", "off"] = "on"
    admin_token: SecretStr | None = None
    # seconds an authenticated API key is trusted without a database query (0: off). Only with Redis, and only
    # while this process hears key changes over it: revocation, tier changes and deletion anywhere (any
    # replica, the CLI) apply at once; while Redis is unreachable every request asks the database.
    key_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    oidc_issuer: str | None = None  # e.g. https://accounts.example.com; sign-in is off without it
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email profile"
    oidc_redirect_url: str | None = None  # the public /auth/oidc/callback URL (default: from the request)
    oidc_key_days: int = Field(default=30, ge=1, le=3650)  # the API key a sign-in issues lasts this long

    # ---- limits: tiers, token budgets, prices (README "Limits") ----
    default_tier: str = "free"
    default_model: str | None = None  # a provider name or model chats start with (else the chain's first allowed)
    tiers: dict[str, TierConfig] = Field(default_factory=default_tiers, min_length=1)
    prices: dict[str, PriceConfig] = Field(default_factory=dict)  # key: "provider/model", provider or model
    limits_on_redis_error: Literal["open", "closed"] = "open"
    limits_redis_timeout: float = Field(default=2.0, gt=0, le=30)
    budget_timezone: str = "UTC"
    auth_failures_per_minute: int | None = Field(default=30, ge=1)  # invalid keys from one address
    shared_requests_per_minute: int | None = Field(default=120, ge=1)  # signed-out share-link reads, by address

    # ---- memory: the context window (in tokens), rolling summaries, facts the bot remembers about a user ----
    context_tokens: int = Field(default=8192, ge=256)  # the model's whole window
    reply_reserve_tokens: int = Field(default=1024, ge=0)  # kept free for the answer
    window_messages: int = Field(default=100, ge=0, le=1000)  # at most this many stored messages in a prompt
    history_messages: int | None = Field(default=None, ge=0, le=1000)  # the old name of window_messages
    token_counter: Literal["auto", "provider", "cl100k_base", "o200k_base", "estimate"] = "auto"
    summary_trigger_tokens: int | None = Field(default=None, ge=16)  # summarise past this (default: half the room)
    summary_keep_tokens: int | None = Field(default=None, ge=0)  # ... keeping this much unsummarised (half)
    summary_max_tokens: int = Field(default=512, ge=16)
    summary_provider: str | None = None  # a provider's name; default: the router, as for chat
    summary_prompt: str = DEFAULT_SUMMARY_PROMPT
    summary_retry_seconds: float = Field(default=60.0, ge=0)  # after a failed summary, wait this long
    summary_lease_seconds: float = Field(default=300.0, gt=0)  # a summariser's hold on its thread
    memory: Literal["on", "off"] = "on"  # the remember tool, and saved facts in every thread's system prompt
    memory_tokens: int = Field(default=300, ge=0)  # saved facts put in a prompt, at most
    memory_max_facts: int = Field(default=100, ge=1)  # per user
    instruction_tokens: int = Field(default=400, ge=0, le=4000)  # a user's custom instructions, at most (0: off)

    # ---- tools: built-in, HTTP and MCP tools the model may call ----
    tools: list[str] = Field(default_factory=lambda: ["calculator", "current_time", "get_user_data", "remember",
                                                      "search_knowledge_base"])
    max_tool_steps: int = Field(default=5, ge=0, le=50)
    tool_timeout: float = Field(default=10.0, gt=0, le=600)
    http_tools: list[HttpToolConfig] = Field(default_factory=list)
    mcp_servers: list[McpServerConfig] = Field(default_factory=list)
    # built-in tools whose every call waits for the user's yes or no (README "Tool approval")
    approval_tools: list[Annotated[str, Field(pattern=TOOL_NAME)]] = Field(default_factory=list)
    approval_timeout_seconds: float = Field(default=3600.0, gt=0, le=30 * 86400)  # an unanswered approval expires

    # ---- RAG: uploaded documents, parsed, chunked and embedded in the background; searched by a tool ----
    documents_dir: Path | None = None  # where uploads are kept (default: PARLOR_DATA_DIR/documents)
    max_upload_bytes: int = Field(default=50_000_000, ge=1024)
    max_document_pages: int = Field(default=500, ge=1)
    chunk_tokens: int = Field(default=128, ge=32, le=512)  # all-MiniLM-L6-v2 was trained on 128-token texts
    chunk_overlap_tokens: int = Field(default=24, ge=0, le=256)
    embedding: Literal["bundled", "openai"] = "bundled"  # bundled: all-MiniLM-L6-v2 (int8 ONNX, offline)
    embedding_url: str | None = None  # an OpenAI-compatible /v1 base URL, for embedding=openai
    embedding_model: str = "text-embedding-3-small"
    embedding_api_key: SecretStr | None = None
    embedding_dimensions: int = Field(default=1536, ge=1)  # of embedding=openai's model
    embedding_threads: int | None = Field(default=None, ge=1)  # the bundled model's CPU threads (default: all)
    vector_store: Literal["auto", "sqlite", "pgvector"] = "auto"  # auto: pgvector on PostgreSQL, else sqlite
    vector_url: str | None = None  # pgvector's PostgreSQL (default: PARLOR_DATABASE_URL)
    vector_pool_size: int = Field(default=5, ge=1, le=1000)  # pgvector's own pool (PostgreSQL only)
    # uploads in S3-compatible object storage (set the bucket; else they stay in PARLOR_DOCUMENTS_DIR)
    s3_bucket: str | None = None
    s3_prefix: str = "documents/"  # object keys: <prefix><user id>/<sha256>
    s3_endpoint_url: str | None = None  # MinIO, R2, ...: the S3 API's URL (default: AWS)
    s3_region: str | None = None
    s3_access_key_id: str | None = None  # with the secret below; else botocore's chain (env, profile, role)
    s3_secret_access_key: SecretStr | None = None

    # ---- jobs: the background queue (ingestion), in-process or on Redis for `parlor worker` ----
    jobs_queue: str = Field(default="parlor:jobs", max_length=128)  # the Redis stream of ingestion jobs
    jobs_reclaim_seconds: float = Field(default=300.0, gt=0)  # a job unacknowledged this long is run again
    jobs_retries: int = Field(default=3, ge=0, le=20)  # on transient errors, with exponential backoff
    jobs_concurrency: int = Field(default=1, ge=1, le=64)  # jobs one process runs at once
    jobs_in_process: bool | None = None  # default: in-process without Redis; `parlor worker` with it

    # ---- data retention (README "Security") ----
    retention_days: int | None = Field(default=None, ge=1)  # threads idle this long are deleted (None: kept)
    retention_interval_seconds: float = Field(default=3600.0, ge=1)  # how often the purge runs

    # ---- observability: logs, traces, metrics (README "Observability") ----
    log_level: str = "info"
    log_format: Literal["auto", "json", "console"] = "auto"  # auto: console when embedded, JSON lines otherwise
    log_content: bool = False  # debugging only: message text may appear in logs (the `parlor.content` logger)
    tracing: Literal["auto", "on", "off"] = "auto"  # auto: on when an OTLP endpoint is set
    otlp_endpoint: str | None = None  # e.g. http://collector:4318 (OTLP over HTTP); or OTEL_EXPORTER_OTLP_ENDPOINT
    metrics_token: SecretStr | None = None  # when set, GET /metrics needs `Authorization: Bearer <it>`
    worker_metrics_port: int | None = Field(default=None, ge=0, le=65535)  # `parlor worker`'s /metrics (on host)

    # ---- experiments: A/B tests of prompts, models and tools (README "Experiments"; PUT /api/admin/experiments) ----
    experiments: list[ExperimentConfig] = Field(default_factory=list)  # seeded into the database if absent
    experiments_refresh_seconds: float = Field(default=5.0, gt=0, le=3600)  # how stale a replica's copy may be

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        """PARLOR_<NAME>_FILE after the environment; PARLOR_SECRETS_DIR's files (named parlor_<name>) last."""
        return init_settings, env_settings, FileVariables(settings_cls), dotenv_settings, file_secret_settings

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not re.fullmatch(r"https?://[^/?#\s]+", origin):
                raise ValueError(f"{origin!r} is not an origin like https://chat.example.com (no path)")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value:
            parse_redis_url(value)  # a bad URL stops start-up here, not at the first request
        return value

    @field_validator("database_url", "vector_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value:
            urls.check(value)  # its TLS and pooler parameters, or one line on the one that is wrong
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for proxy in value:
            try:
                ipaddress.ip_network(proxy, strict=False) if proxy != "*" else None
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
        return value

    @model_validator(mode="after")
    def _pooler(self) -> Settings:
        self.database_url = urls.with_pooler(self.database_url, self.database_pooler)
        self.vector_url = self.vector_url and urls.with_pooler(self.vector_url, self.database_pooler)
        return self

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("PARLOR_DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        names = [p.name for p in self.providers]
        if len(set(names)) != len(names):
            raise ValueError("PARLOR_PROVIDERS: every provider needs a distinct name")
        self._check_tiers()
        try:
            ZoneInfo(self.budget_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"PARLOR_BUDGET_TIMEZONE: unknown time zone {self.budget_timezone!r}") from None
        if self.auth == "off" and not is_loopback(self.host):
            raise ValueError(f"PARLOR_AUTH=off is allowed only on a loopback address, not on {self.host!r}")
        self._check_memory(names)
        self._check_knowledge()
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError("PARLOR_OIDC_ISSUER needs PARLOR_OIDC_CLIENT_ID and PARLOR_OIDC_CLIENT_SECRET")
        return self

    def _check_tiers(self) -> None:
        if self.default_tier not in self.tiers:
            raise ValueError(f"PARLOR_DEFAULT_TIER: {self.default_tier!r} is not one of PARLOR_TIERS")
        names = {n for p in self.providers for n in (p.name, p.model)}
        chosen = [("PARLOR_DEFAULT_MODEL", self.default_model)]
        chosen += [(f"PARLOR_TIERS.{t}.default_model", c.default_model) for t, c in self.tiers.items()]
        for setting, model in chosen:
            if model is not None and model not in names:
                raise ValueError(f"{setting}: {model!r} is not a provider's name or model in PARLOR_PROVIDERS")
        unlimited = self.tiers.get(UNLIMITED_TIER)
        if unlimited is not None and unlimited.limited:
            raise ValueError(f"PARLOR_TIERS: the {UNLIMITED_TIER!r} tier cannot have limits (with PARLOR_AUTH=off it "
                             "is the local user's); give a tier with limits another name")
        if self.auth == "off":  # the local user's tier exists whatever PARLOR_TIERS lists
            self.tiers.setdefault(UNLIMITED_TIER, TierConfig())

    def _check_knowledge(self) -> None:
        if self.embedding == "openai" and not self.embedding_url:
            raise ValueError("PARLOR_EMBEDDING=openai needs PARLOR_EMBEDDING_URL")
        if self.jobs_in_process is False and not self.redis_url:
            raise ValueError("PARLOR_JOBS_IN_PROCESS=false needs PARLOR_REDIS_URL (the queue `parlor worker` reads)")
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise ValueError("PARLOR_CHUNK_OVERLAP_TOKENS must be smaller than PARLOR_CHUNK_TOKENS")

    def _check_memory(self, providers: list[str]) -> None:
        if self.history_messages is not None and "window_messages" not in self.model_fields_set:
            self.window_messages = self.history_messages
        if self.summary_provider is not None and self.summary_provider not in providers:
            raise ValueError(f"PARLOR_SUMMARY_PROVIDER: {self.summary_provider!r} is not one of PARLOR_PROVIDERS")
        room = self.context_tokens - self.reply_reserve_tokens - self.summary_max_tokens - self.memory_tokens
        if room < 64:
            raise ValueError("PARLOR_CONTEXT_TOKENS: too small for the reply reserve, the summary and the memory")
        if self.instruction_tokens > self.context_tokens - self.reply_reserve_tokens - 64:
            raise ValueError(f"PARLOR_INSTRUCTION_TOKENS: {self.instruction_tokens} leaves no room in "
                             "PARLOR_CONTEXT_TOKENS after the reply reserve")
        if self.summary_trigger_tokens is None:
            self.summary_trigger_tokens = room // 2
        if self.summary_trigger_tokens > room:
            raise ValueError(f"PARLOR_SUMMARY_TRIGGER_TOKENS: {self.summary_trigger_tokens} leaves no room in "
                             f"PARLOR_CONTEXT_TOKENS after the reply reserve, the summary and the memory "
                             f"(at most {max(room, 0)} fits)")

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def max_chat_body_bytes(self) -> int:
        """A chat POST's limit: the body's, plus its attachments as base64 (4 bytes for 3) when a configured
        model reads them (else none could be sent, and the body keeps its limit)."""
        if not any(p.sees_images for p in self.providers):
            return self.max_body_bytes
        return self.max_body_bytes + self.max_attachments * (self.max_attachment_bytes * 4 // 3 + 1024)

    @property
    def uploads_dir(self) -> Path:
        return self.documents_dir or self.data_dir / "documents"

    @property
    def run_jobs_in_process(self) -> bool:
        return self.jobs_in_process if self.jobs_in_process is not None else not self.redis_url

    @property
    def mode(self) -> str:
        return "embedded" if self.embedded and not self.redis_url else "distributed"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SettingsError(Exception):
    """A bad setting: its message is one line naming the setting."""


def load_settings(**overrides: object) -> Settings:
    secrets_dir = os.environ.get("PARLOR_SECRETS_DIR")  # e.g. /run/secrets, holding a file parlor_admin_token
    try:
        return Settings(**overrides, _secrets_dir=secrets_dir or None)  # type: ignore[arg-type]
    except FileSettingError as exc:
        raise SettingsError(f"invalid setting {exc}") from None
    except pydantic_settings.SettingsError as exc:  # a value that is not even valid JSON
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"PARLOR_{field.group(1).upper()}" if field else "settings"
        raise SettingsError(f"invalid setting {name}: not valid JSON") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:  # a check across settings: its message names them
            raise SettingsError(f"invalid setting {message}") from None
        where = ".".join(str(p) for p in first["loc"])
        detail = f" ({where})" if "." in where else ""
        name = where.split(".")[0].upper().removeprefix("PARLOR_")  # an alias is the variable's whole name
        raise SettingsError(f"invalid setting PARLOR_{name}{detail}: {message}") from None
