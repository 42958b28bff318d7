"""Builds the knowledge base from Settings: documents, files, embedder, vector store, job queue,
progress bus, the ingestion job and the retriever. Used by the server and by `parlor worker`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from parlor.config import Settings
from parlor.db import session_factory
from parlor.jobs import JobQueue, JobRunner, LocalBus, LocalQueue, ProgressBus, RedisBus
from parlor.memory.store import MessageStore
from parlor.rag.embed import Embedder, embedder_from_settings
from parlor.rag.files import FileStore, file_store_from_settings
from parlor.rag.pipeline import INGEST, Ingestor
from parlor.rag.repo import DocumentRepo
from parlor.rag.retrieval import Retriever
from parlor.rag.service import DocumentService
from parlor.rag.store import VectorStore
from parlor.redis_keys import RedisKeys

log = logging.getLogger(__name__)


@dataclass
class Knowledge:
    repo: DocumentRepo
    embedder: Embedder
    store: VectorStore
    bus: ProgressBus
    queue: JobQueue
    runner: JobRunner
    ingestor: Ingestor
    retriever: Retriever
    documents: DocumentService
    files: FileStore

    async def aclose(self) -> None:
        await self.queue.aclose()
        await self.store.aclose()
        await self.files.aclose()
        close = getattr(self.embedder, "aclose", None)
        if close is not None:
            await close()


def vector_store_from_settings(settings: Settings, dimensions: int) -> VectorStore:
    kind = settings.vector_store
    if kind == "auto":
        kind = "sqlite" if settings.embedded else "pgvector"
    if kind == "pgvector":
        from parlor.rag.pg_store import PgVectorStore

        return PgVectorStore(settings.vector_url or settings.database_url, dimensions, settings.vector_pool_size)
    from parlor.rag.sqlite_store import SqliteVecStore

    return SqliteVecStore(settings.data_dir / "vectors.sqlite", dimensions)


async def build_knowledge(settings: Settings, engine: AsyncEngine, redis: aioredis.Redis | None,
                          worker: bool = False) -> Knowledge:
    """`worker`: this process runs jobs from the Redis queue (`parlor worker`); otherwise jobs run
    in-process (embedded) or are sent to the Redis queue (a distributed server)."""
    repo = DocumentRepo(session_factory(engine))
    embedder = await asyncio.to_thread(embedder_from_settings, settings)
    store = vector_store_from_settings(settings, embedder.dimensions)
    try:
        await store.setup()
    except BaseException:
        await store.aclose()
        raise
    try:
        files = await file_store_from_settings(settings)
    except BaseException:
        await store.aclose()
        raise
    bus: ProgressBus = RedisBus(redis, RedisKeys(settings.limits_key_prefix)) if redis is not None else LocalBus()
    ingestor = Ingestor(repo, files, embedder, store, bus, settings.max_document_pages, settings.chunk_tokens,
                        settings.chunk_overlap_tokens)
    runner = JobRunner(retries=settings.jobs_retries)
    runner.register(INGEST, ingestor, ingestor.fail, arg_name="document_id")
    queue: JobQueue
    if settings.run_jobs_in_process and not worker:
        async def recover() -> list[tuple[str, str]]:
            return [(INGEST, document_id) for document_id in await repo.unfinished()]

        queue = LocalQueue(runner, settings.jobs_concurrency, recover)
    else:
        from parlor.jobs.redis_queue import RedisQueue

        assert settings.redis_url is not None
        queue = RedisQueue(settings.redis_url, settings.jobs_queue, runner, settings.jobs_reclaim_seconds,
                           settings.jobs_concurrency)
    await queue.start()
    return Knowledge(repo, embedder, store, bus, queue, runner, ingestor, Retriever(embedder, store),
                     DocumentService(repo, files, store, queue, bus, MessageStore(session_factory(engine))), files)


async def knowledge_or_none(settings: Settings, engine: AsyncEngine, redis: aioredis.Redis | None) -> Knowledge | None:
    """The server's knowledge base, or None when it cannot start (e.g. a PostgreSQL without pgvector):
    the chat keeps working; documents answer 503 and the search tool is not offered."""
    try:
        return await build_knowledge(settings, engine, redis)
    except Exception as exc:
        log.error("the knowledge base is unavailable (documents and search_knowledge_base are off): %s: %s",
                  type(exc).__name__, exc)
        return None
