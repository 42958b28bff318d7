"""The composition root's builders: each collaborator made from Settings, with no I/O (what needs I/O to
begin has a `start()` the server or the worker calls). Packages only have constructors; which class,
and with which settings, is decided here."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from parlor.accounts.oidc import NoOidc, OidcClient
from parlor.agent import ToolRegistry
from parlor.config import Settings
from parlor.db import session_factory
from parlor.experiments import Deployment, Experiments
from parlor.limits import Limits, RequestGuard, Tiers, TokenBudget
from parlor.limits.budget import InProcessBudgetStore
from parlor.limits.limiter import InProcessLimiter, RequestLimiter
from parlor.limits.redis_store import Breaker, GuardedBudgetStore, GuardedLimiter, RedisBudgetStore, RedisLimiter
from parlor.llm import MemoryBreakerStore, RedisBreakerStore, Router, build_provider, resilience
from parlor.llm.breaker import BreakerState, BreakerStore
from parlor.memory import ContextReader, ConversationMemory, FactStore, Summariser, SummaryPolicy, SummaryStore
from parlor.memory.context import Budget, Render
from parlor.memory.instructions import InstructionStore
from parlor.memory.summaries import router_completion
from parlor.memory.tokens import TokenCounter, build_counter
from parlor.observability import Metrics, Telemetry
from parlor.observability.metrics import Pricer
from parlor.redis_client import Options, connect
from parlor.redis_keys import RedisKeys
from parlor.tasks import TaskTracker

Check = Callable[[], Awaitable[None]]  # a readiness check: raises when not ready
TRACES_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def redis_keys(settings: Settings) -> RedisKeys:
    return RedisKeys(settings.redis_prefix)


def shared_redis(url: str, max_connections: int) -> aioredis.Redis:
    """The process's Redis client (one server, a cluster or a Sentinel's master: parlor/redis_client.py).
    Short timeouts: an unreachable Redis must degrade a request, never hang it."""
    return connect(url, Options(max_connections=max_connections, wait=2, socket_timeout=2, connect_timeout=1,
                                health_check_interval=10))


def telemetry(settings: Settings, price: Pricer) -> Telemetry:
    """Traces when PARLOR_TRACING=on, or (auto) when an OTLP endpoint is set here or in OTEL_* variables."""
    endpoint = settings.otlp_endpoint
    from_env = any(os.environ.get(k) for k in TRACES_ENDPOINTS)
    wanted = settings.tracing == "on" or (settings.tracing == "auto" and (endpoint is not None or from_env))
    return Telemetry.create(wanted, endpoint, price, os.environ.get("OTEL_SERVICE_NAME") or "parlor", from_env)


def breakers(redis: aioredis.Redis | None, keys: RedisKeys) -> BreakerStore:
    """Shared by every replica through Redis; in-process without it."""
    return RedisBreakerStore(redis, keys) if redis is not None else MemoryBreakerStore()


def router(settings: Settings, breaker_store: BreakerStore, metrics: Metrics) -> Router:
    return Router([build_provider(p, settings.data_dir) for p in settings.providers],
                  {p.name: resilience(p) for p in settings.providers}, breaker_store, metrics,
                  vision=[p.name for p in settings.providers if p.sees_images])


def limits(settings: Settings, keys: RedisKeys, client: aioredis.Redis | None) -> Limits:
    """In-process when embedded; with Redis (`client`, the limits' own), shared by every replica, falling
    back to in-process counting (or refusing, PARLOR_LIMITS_ON_REDIS_ERROR=closed) while Redis is down."""
    tiers = Tiers(settings.tiers, settings.default_tier)
    limiter: RequestLimiter = InProcessLimiter()
    store: InProcessBudgetStore | GuardedBudgetStore = InProcessBudgetStore()
    if client is not None:
        breaker = Breaker(settings.limits_on_redis_error == "open", settings.limits_redis_timeout)
        limiter = GuardedLimiter(RedisLimiter(client, keys), limiter, breaker)
        store = GuardedBudgetStore(RedisBudgetStore(client), store, breaker)
    guard = RequestGuard(tiers, limiter, settings.auth_failures_per_minute, settings.shared_requests_per_minute)
    return Limits(guard, TokenBudget(tiers, store, settings.budget_timezone, keys))


def token_counter(settings: Settings, provider: object | None) -> TokenCounter:
    """Blocking (may load a tokenizer's vocabulary): built once, before the server serves."""
    model = settings.providers[0].model
    return build_counter(settings.token_counter, model, Path(settings.data_dir) / "tiktoken", provider)


def conversation_memory(settings: Settings, engine: AsyncEngine, chat_router: Router, tasks: TaskTracker,
                        counter: TokenCounter, render: Render) -> ConversationMemory:
    sessions = session_factory(engine)
    trigger = settings.summary_trigger_tokens
    assert trigger is not None  # derived by Settings when not given
    reserve = settings.reply_reserve_tokens + settings.summary_max_tokens
    policy = SummaryPolicy(
        trigger_tokens=trigger,
        keep_tokens=settings.summary_keep_tokens if settings.summary_keep_tokens is not None else trigger // 2,
        trigger_messages=settings.window_messages, keep_messages=max(2, settings.window_messages // 2),
        max_tokens=settings.summary_max_tokens, input_tokens=max(256, settings.context_tokens - reserve - 256),
        prompt=settings.summary_prompt, lease_seconds=settings.summary_lease_seconds,
        retry_seconds=settings.summary_retry_seconds,
    )
    summariser = Summariser(SummaryStore(sessions), router_completion(chat_router, settings.summary_provider),
                            counter, render, policy)
    memory_on = settings.memory == "on"
    budget = Budget(settings.context_tokens, settings.reply_reserve_tokens, settings.window_messages,
                    settings.memory_tokens if memory_on else 0, settings.instruction_tokens)
    facts = FactStore(sessions, counter, settings.memory_max_facts)
    instructions = InstructionStore(sessions, counter, settings.instruction_tokens)
    return ConversationMemory(ContextReader(engine), counter, render, settings.system_prompt, budget, tasks,
                              summariser, facts, min(settings.memory_max_facts, 200) if memory_on else 0,
                              instructions)


def experiments(settings: Settings, engine: AsyncEngine, chat_router: Router, tools: ToolRegistry) -> Experiments:
    """Experiments may name the providers (by name or model), tools and tiers configured here (the tools
    as registered at start: read when an experiment is checked)."""
    deployment = Deployment(
        providers=lambda: {n for p in chat_router.providers for n in (p.name, p.model)},
        tools=lambda: set(tools.tools), tiers=set(settings.tiers),
        min_context_tokens=settings.reply_reserve_tokens + (settings.memory_tokens if settings.memory == "on" else 0)
        + 64)
    return Experiments(session_factory(engine), deployment, settings.experiments_refresh_seconds)


def oidc(settings: Settings, http: httpx.AsyncClient) -> OidcClient | NoOidc:
    """Single sign-on, when an issuer is configured (the settings check the client id and secret are too)."""
    if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret):
        return NoOidc()
    return OidcClient(settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret.get_secret_value(),
                      settings.oidc_scopes, http)


def checks(engine: AsyncEngine, redis: aioredis.Redis | None, chat_router: Router) -> dict[str, Check]:
    """Readiness: the database, Redis (when used) and at least one provider whose circuit is not open."""
    async def database() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def providers() -> None:
        states = await chat_router.breaker_states()
        if all(state is BreakerState.OPEN for state in states.values()):
            raise RuntimeError(f"every provider's circuit is open: {', '.join(states)}")

    found: dict[str, Check] = {"database": database}
    if redis is not None:
        async def redis_ping() -> None:
            await redis.ping()

        found["redis"] = redis_ping
    found["providers"] = providers
    return found
