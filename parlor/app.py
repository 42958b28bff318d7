"""The composition root: builds every component from Settings, wires them, tears them down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import redis.asyncio as aioredis
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from parlor.accounts import AccountStore
from parlor.accounts.data import AccountData
from parlor.accounts.key_cache import KeyChanges
from parlor.accounts.oidc import OidcClient
from parlor.agent import AgentLoop, ToolRegistry
from parlor.agent.catalog import configured_tools
from parlor.agent.mcp_tools import McpTools
from parlor.api import Services, create_api
from parlor.api.deps import Check
from parlor.chat import ChatService, Gateway, RunRegistry
from parlor.chat.mirror import RunMirror
from parlor.chat.service import render_stored
from parlor.config import UNLIMITED_TIER, Settings
from parlor.db import create_engine, migrate, session_factory, utcnow
from parlor.experiments import Deployment, Experiments
from parlor.limits import Limits, PriceTable, UsageLedger, UsageReport, build_limits
from parlor.limits.facts import AccountFacts
from parlor.llm import MemoryBreakerStore, RedisBreakerStore, Router, build_provider, resilience
from parlor.llm.breaker import BreakerState
from parlor.memory import EstimateCounter, MessageStore, TokenCounter, counter_from_settings, memory_from_settings
from parlor.observability import Metrics, Telemetry
from parlor.rag import knowledge_or_none
from parlor.rag.retrieval import knowledge_tool
from parlor.redis_keys import RedisKeys
from parlor.tasks import TaskTracker, every

log = logging.getLogger(__name__)
DRAIN_SECONDS = 10.0


def create_app(settings: Settings) -> FastAPI:
    prices = PriceTable(settings.prices)
    telemetry = Telemetry.from_settings(settings, prices.cost)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.embedded:
            await migrate(settings.database_url)  # an embedded database sets itself up
        engine = create_engine(settings.database_url, settings.db_pool_size, settings.db_max_overflow,
                               settings.db_pool_timeout)
        redis = shared_redis(settings.redis_url, settings.redis_max_connections) if settings.redis_url else None
        breakers = RedisBreakerStore(redis, RedisKeys(settings.limits_key_prefix)) if redis else MemoryBreakerStore()
        router = Router([build_provider(p, settings.data_dir) for p in settings.providers],
                        {p.name: resilience(p) for p in settings.providers}, breakers, telemetry.metrics)
        tasks = TaskTracker()
        telemetry.start(engine, redis, session_factory(engine), tasks, prices.cost)
        telemetry.metrics.on_scrape(lambda metrics: _breaker_states(metrics, router))
        tools = ToolRegistry()
        tools_client = httpx.AsyncClient(follow_redirects=False)  # shared by every HTTP tool
        mcp = McpTools()
        limits = build_limits(settings)
        counter = await asyncio.to_thread(counter_from_settings, settings, router.providers[0])
        services = build_services(settings, engine, router, tasks, redis, tools, limits, counter)
        services.chat.recorder = services.gateway.recorder = telemetry.recorder
        knowledge = await knowledge_or_none(settings, engine, redis)  # documents: upload, ingest, search
        if knowledge is not None:  # job metrics, the queue's depth at each scrape, and readiness
            telemetry.metrics.watch_jobs(settings.jobs_queue, knowledge.queue, knowledge.runner)
            services.checks["queue"] = knowledge.queue.check
        app.state.documents = knowledge.documents if knowledge else None
        tools.extend(configured_tools(settings, AccountFacts(session_factory(engine), limits.budget), tools_client,
                                      services.memories,
                                      knowledge_tool(knowledge.retriever, knowledge.repo, settings.tool_timeout)
                                      if knowledge else None))
        tools.extend(await mcp.start(settings.mcp_servers))
        experiments = services.experiments = _experiments(settings, engine, router, tools)
        await experiments.start(settings.experiments)  # settings' experiments seeded; the first copy read
        services.chat.experiments = experiments.book
        if settings.auth == "off":
            services.local_user = await services.accounts.local_user(UNLIMITED_TIER)
        app.state.oidc = _oidc(settings, tools_client)
        key_changes = services.accounts.changes
        services.data = AccountData(session_factory(engine), knowledge.documents.delete if knowledge else None,
                                    key_changes)
        retention = _retention(settings, services.data)
        app.state.services = services
        stops = asyncio.create_task(services.chat.listen_for_stops(), name="stop-listener")
        keys = asyncio.create_task(key_changes.listen(), name="key-changes")  # the key cache is on while heard
        watch = asyncio.create_task(experiments.book.watch(), name="experiments-refresh")
        try:
            yield
        finally:
            stops.cancel()
            keys.cancel()
            watch.cancel()
            if retention is not None:
                retention.cancel()
            await services.runs.drain(settings.drain_seconds)  # running turns finish, or end stored as aborted
            await tasks.drain(DRAIN_SECONDS)
            if knowledge is not None:
                await knowledge.aclose()
            await router.aclose()
            await mcp.aclose()
            await tools_client.aclose()
            await limits.aclose()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()
            telemetry.close()

    app = create_api(lifespan, settings.max_body_bytes, settings.web_dir, telemetry.metrics,
                     max_upload_bytes=settings.max_upload_bytes, cors_origins=settings.cors_origins)
    app.state.telemetry = telemetry
    return app


def _experiments(settings: Settings, engine: AsyncEngine, router: Router, tools: ToolRegistry) -> Experiments:
    """Experiments may name the providers (by name or model), tools and tiers configured here."""
    deployment = Deployment(
        providers=lambda: {n for p in router.providers for n in (p.name, p.model)}, tools=lambda: set(tools.tools),
        tiers=set(settings.tiers),
        min_context_tokens=settings.reply_reserve_tokens + (settings.memory_tokens if settings.memory == "on" else 0)
        + 64)
    return Experiments(session_factory(engine), deployment, settings.experiments_refresh_seconds)


def _retention(settings: Settings, data: AccountData) -> asyncio.Task[None] | None:
    """With PARLOR_RETENTION_DAYS, threads idle that long are purged now and every interval after."""
    days = settings.retention_days
    if days is None:
        return None

    async def purge() -> None:
        if purged := await data.purge_threads(utcnow() - timedelta(days=days)):
            log.info("retention: purged %d thread(s) idle for %d days or more", purged, days)

    return asyncio.create_task(every(settings.retention_interval_seconds, purge, "retention"), name="retention")


def _oidc(settings: Settings, http: httpx.AsyncClient) -> OidcClient | None:
    """Single sign-on, when an issuer is configured (the settings check the client id and secret are too)."""
    if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret):
        return None
    return OidcClient(settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret.get_secret_value(),
                      settings.oidc_scopes, http)


def shared_redis(url: str, max_connections: int) -> aioredis.Redis:
    """The process's Redis client. Short timeouts: an unreachable Redis must degrade a request, never
    hang it. A bounded pool that waits (briefly) for a free connection: a burst queues at Redis instead
    of opening a connection per request (docs/deploy.md sizes Redis' maxclients by it)."""
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=2, socket_timeout=2,
                                                    socket_connect_timeout=1, health_check_interval=10)
    return aioredis.Redis.from_pool(pool)  # owns the pool: aclose() closes it


async def _breaker_states(metrics: Metrics, router: Router) -> None:
    metrics.breakers({name: state.value for name, state in (await router.breaker_states()).items()})


def build_services(settings: Settings, engine: AsyncEngine, router: Router, tasks: TaskTracker,
                   redis: aioredis.Redis | None, tools: ToolRegistry, limits: Limits,
                   counter: TokenCounter | None = None) -> Services:
    sessions = session_factory(engine)
    store = MessageStore(sessions)
    ledger = UsageLedger(sessions, PriceTable(settings.prices))
    mirror = RunMirror(redis, settings.limits_key_prefix, settings.run_ttl) if redis is not None else None
    runs = RunRegistry(tasks, mirror.publish if mirror else None)
    agent = AgentLoop(router, tools, settings.max_tool_steps)
    memory = memory_from_settings(settings, engine, router, tasks, counter or EstimateCounter(), render_stored)
    chat = ChatService(store, agent, ledger, tasks, runs, memory, limits.budget, mirror,
                       unsaved=settings.data_dir / "unsaved-answers.jsonl",
                       write_retry_seconds=settings.write_retry_seconds,
                       stream_pace=settings.stream_pace_ms / 1000)

    async def database() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    checks: dict[str, Check] = {"database": database}
    if redis is not None:
        async def redis_ping() -> None:
            await redis.ping()

        checks["redis"] = redis_ping

    async def providers() -> None:  # ready while at least one provider's circuit is not open
        states = await router.breaker_states()
        if all(state is BreakerState.OPEN for state in states.values()):
            raise RuntimeError(f"every provider's circuit is open: {', '.join(states)}")

    checks["providers"] = providers
    changes = KeyChanges(redis, RedisKeys(settings.limits_key_prefix))
    accounts = AccountStore(sessions, settings.key_cache_seconds, changes)
    return Services(settings=settings, accounts=accounts, store=store, chat=chat, runs=runs,
                    gateway=Gateway(router, ledger, tasks, limits.budget), limits=limits, usage=UsageReport(sessions),
                    checks=checks, memories=memory.facts)
