"""`parlor worker` (jobs from the Redis queue until SIGTERM) and `parlor ingest` (files from the command
line, through the same upload path as the API): their composition root, built from the same parts as the
server's."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.config import Settings
from parlor.db import User, create_engine, migrate, session_factory
from parlor.jobs.redis_queue import RedisQueue
from parlor.observability import Metrics
from parlor.observability.exposition import serve_metrics
from parlor.rag import Knowledge
from parlor.redis_client import Options, connect
from parlor.wiring import parts
from parlor.wiring.knowledge import knowledge as build_knowledge

log = logging.getLogger(__name__)


@asynccontextmanager
async def _knowledge(settings: Settings,
                     worker: bool) -> AsyncIterator[tuple[Knowledge, async_sessionmaker[AsyncSession]]]:
    if settings.embedded:
        await migrate(settings.database_url)
    engine = create_engine(settings.database_url, pool_size=settings.jobs_concurrency + 1, max_overflow=1)
    redis = connect(settings.redis_url, Options(wait=None, socket_timeout=None, connect_timeout=2)) \
        if settings.redis_url else None
    built = build_knowledge(settings, engine, redis, parts.redis_keys(settings), worker=worker)
    try:
        await built.start()
        yield built, session_factory(engine)
    finally:
        await built.aclose()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


async def run_worker(settings: Settings, ready: Callable[[], None] = lambda: None) -> None:
    """Runs ingestion jobs until SIGTERM or SIGINT, then lets the jobs under way finish; calls `ready` once
    it reads jobs."""
    metrics = Metrics()  # job tries and the queue's depth, on PARLOR_WORKER_METRICS_PORT
    async with _knowledge(settings, worker=True) as (built, _):
        assert isinstance(built.queue, RedisQueue)
        metrics.watch_jobs(settings.jobs_queue, built.queue, built.runner)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("worker: reading jobs from %s", settings.jobs_queue)
        async with serve_metrics(metrics, settings.host, settings.worker_metrics_port, settings.metrics_token):
            ready()
            await built.queue.work(stop)
    metrics.close()


async def ingest_files(settings: Settings, user: str, paths: list[Path], thread_id: str | None,
                       echo: Callable[[str], None]) -> int:
    """Uploads files for USER (a name or an id); waits for them when jobs run in this process.
    Returns how many failed."""
    async with _knowledge(settings, worker=False) as (built, sessions):
        async with sessions() as session:
            user_id = (await session.execute(select(User.id).where(or_(User.name == user, User.id == user))))\
                .scalar_one_or_none()
        if user_id is None:
            raise LookupError(f"no user {user!r}")
        ids = []
        for path in paths:
            document, created = await built.documents.upload(user_id, path.name, path.read_bytes(), thread_id)
            echo(f"{path}: {document.id} {'queued' if created else 'already uploaded: ' + document.status}")
            ids.append(document.id)
        if not settings.run_jobs_in_process:
            return 0
        failed = 0
        for document_id in ids:
            async for event in built.documents.events(user_id, document_id):
                if event["status"] in ("ready", "failed"):
                    detail = event["error"] or f"{event['pages'] or '-'} pages, {event['chunks']} chunks"
                    echo(f"{document_id}: {event['status']} ({detail})")
                    failed += event["status"] == "failed"
        return failed
