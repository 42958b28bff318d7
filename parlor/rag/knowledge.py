"""The knowledge base as one collaborator: documents, files, embedder, vector store, job queue, progress
bus, the ingestion job and the retriever, built by the composition root (parlor/wiring/knowledge.py)
with no I/O, then started. It may fail to start (e.g. a PostgreSQL without pgvector): the chat keeps
working, documents answer 503 (KnowledgeUnavailable) and the search tool is not offered."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from parlor.jobs import JobQueue, JobRunner, ProgressBus
from parlor.rag.embed import Embedder
from parlor.rag.files import FileStore
from parlor.rag.pipeline import Ingestor
from parlor.rag.repo import DocumentRepo
from parlor.rag.retrieval import Retriever
from parlor.rag.service import DocumentService
from parlor.rag.store import VectorStore

log = logging.getLogger(__name__)


class KnowledgeUnavailable(Exception):
    """The knowledge base did not start: documents cannot be uploaded, read or searched."""


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
    up: bool = field(default=False, init=False)  # started, and not closed
    _closed: bool = field(default=False, init=False)

    async def start(self) -> None:
        """Sets up the vector store, checks the file store and starts the job queue (raises if one fails,
        having closed what it opened)."""
        try:
            await self.store.setup()
            await self.files.start()
            await self.queue.start()
        except BaseException:
            await self.aclose()
            raise
        self.up = True

    async def start_or_degrade(self) -> bool:
        """The server's start: a knowledge base that cannot start is logged and left off, not fatal."""
        try:
            await self.start()
        except Exception as exc:
            log.error("the knowledge base is unavailable (documents and search_knowledge_base are off): %s: %s",
                      type(exc).__name__, exc)
        return self.up

    def service(self) -> DocumentService:
        if not self.up:
            raise KnowledgeUnavailable("the knowledge base is not available on this server")
        return self.documents

    async def check(self) -> None:
        """Readiness: the job queue, when the knowledge base is up (off, it is not a dependency)."""
        if self.up:
            await self.queue.check()

    async def aclose(self) -> None:
        """Closes every part, once (a failed start has closed them already)."""
        self.up = False
        if self._closed:
            return
        self._closed = True
        await self.queue.aclose()
        await self.store.aclose()
        await self.files.aclose()
        close = getattr(self.embedder, "aclose", None)
        if close is not None:
            await close()
