"""The composition root: builds every component from Settings, wires them, tears them down."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from parlor.accounts import AccountStore
from parlor.api import Services, create_api
from parlor.api.deps import Check
from parlor.chat import ChatService, Gateway, RunRegistry
from parlor.config import Settings
from parlor.db import create_engine, migrate, session_factory
from parlor.limits import UsageLedger
from parlor.llm import Router, build_provider
from parlor.memory import MessageStore
from parlor.tasks import TaskTracker

log = logging.getLogger(__name__)
DRAIN_SECONDS = 10.0


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.embedded:
            await migrate(settings.database_url)  # an embedded database sets itself up
        engine = create_engine(settings.database_url)
        redis = aioredis.from_url(settings.redis_url) if settings.redis_url else None
        router = Router([build_provider(p) for p in settings.providers])
        tasks = TaskTracker()
        services = build_services(settings, engine, router, tasks, redis)
        if settings.auth == "off":
            services.local_user = await services.accounts.local_user(settings.default_tier)
        app.state.services = services
        try:
            yield
        finally:
            services.runs.cancel_all()
            await tasks.drain(DRAIN_SECONDS)
            await router.aclose()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()

    return create_api(lifespan, settings.max_body_bytes, settings.web_dir)


def build_services(settings: Settings, engine: AsyncEngine, router: Router, tasks: TaskTracker,
                   redis: aioredis.Redis | None) -> Services:
    sessions = session_factory(engine)
    store = MessageStore(sessions)
    ledger = UsageLedger(sessions)
    runs = RunRegistry(tasks)
    chat = ChatService(store, router, ledger, tasks, runs, settings.system_prompt, settings.history_messages)

    async def database() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    checks: dict[str, Check] = {"database": database}
    if redis is not None:
        async def redis_ping() -> None:
            await redis.ping()

        checks["redis"] = redis_ping
    return Services(settings=settings, accounts=AccountStore(sessions), store=store, chat=chat, runs=runs,
                    gateway=Gateway(router, ledger, tasks), checks=checks)
