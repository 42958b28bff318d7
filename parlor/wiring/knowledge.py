"""The knowledge base from Settings, for the server (jobs in-process, or sent to the Redis queue) and for
`parlor worker` (jobs read from it). Built with no I/O; `Knowledge.start()` sets up the vector store,
checks the file store and starts the queue."""

from __future__ import annotations

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from parlor.config import Settings
from parlor.db import session_factory
from parlor.jobs import JobQueue, JobRunner, LocalBus, LocalQueue, ProgressBus, RedisBus
from parlor.memory import MessageStore
from parlor.rag import Knowledge
from parlor.rag.embed import BundledEmbedder, Embedder, OpenAIEmbedder
from parlor.rag.files import FileStore, LocalFiles
from parlor.rag.pipeline import INGEST, Ingestor
from parlor.rag.repo import DocumentRepo
from parlor.rag.retrieval import Retriever
from parlor.rag.service import DocumentService
from parlor.rag.store import VectorStore
from parlor.redis_keys import RedisKeys


def knowledge(settings: Settings, engine: AsyncEngine, redis: aioredis.Redis | None, keys: RedisKeys,
              worker: bool = False) -> Knowledge:
    """`worker`: this process runs jobs from the Redis queue (`parlor worker`); otherwise jobs run
    in-process (embedded) or are sent to the Redis queue (a distributed server)."""
    repo = DocumentRepo(session_factory(engine))
    embedder = embedding(settings)
    store = vector_store(settings, embedder.dimensions)
    files = file_store(settings)
    bus: ProgressBus = RedisBus(redis, keys) if redis is not None else LocalBus()
    ingestor = Ingestor(repo, files, embedder, store, bus, settings.max_document_pages, settings.chunk_tokens,
                        settings.chunk_overlap_tokens)
    runner = JobRunner(retries=settings.jobs_retries)
    runner.register(INGEST, ingestor, ingestor.fail, arg_name="document_id")
    queue = job_queue(settings, runner, repo, worker)
    documents = DocumentService(repo, files, store, queue, bus, MessageStore(session_factory(engine)))
    return Knowledge(repo, embedder, store, bus, queue, runner, ingestor, Retriever(embedder, store), documents,
                     files)


def job_queue(settings: Settings, runner: JobRunner, repo: DocumentRepo, worker: bool) -> JobQueue:
    if settings.run_jobs_in_process and not worker:
        async def recover() -> list[tuple[str, str]]:  # documents left unfinished by the last run
            return [(INGEST, document_id) for document_id in await repo.unfinished()]

        return LocalQueue(runner, settings.jobs_concurrency, recover)
    from parlor.jobs.redis_queue import RedisQueue

    assert settings.redis_url is not None  # checked by Settings
    return RedisQueue(settings.redis_url, settings.jobs_queue, runner, settings.jobs_reclaim_seconds,
                      settings.jobs_concurrency)


def embedding(settings: Settings) -> Embedder:
    if settings.embedding == "openai":
        assert settings.embedding_url is not None  # checked by Settings
        key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
        return OpenAIEmbedder(settings.embedding_url, settings.embedding_model, settings.embedding_dimensions, key)
    return BundledEmbedder(settings.embedding_threads)


def vector_store(settings: Settings, dimensions: int) -> VectorStore:
    kind = settings.vector_store
    if kind == "auto":
        kind = "sqlite" if settings.embedded else "pgvector"
    if kind == "pgvector":
        from parlor.rag.pg_store import PgVectorStore

        return PgVectorStore(settings.vector_url or settings.database_url, dimensions, settings.vector_pool_size)
    from parlor.rag.sqlite_store import SqliteVecStore

    return SqliteVecStore(settings.data_dir / "vectors.sqlite", dimensions)


def file_store(settings: Settings) -> FileStore:
    """S3 when PARLOR_S3_BUCKET is set (its start checks the bucket: a wrong one fails clearly), else the
    local directory."""
    if settings.s3_bucket:
        from parlor.rag.s3_files import S3Files

        secret = settings.s3_secret_access_key
        return S3Files(settings.s3_bucket, settings.s3_prefix, settings.s3_endpoint_url, settings.s3_region,
                       settings.s3_access_key_id, secret.get_secret_value() if secret else None)
    return LocalFiles(settings.uploads_dir, shared=not settings.run_jobs_in_process)
