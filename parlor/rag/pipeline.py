"""The ingestion job: parse → chunk → embed (in batches) → index, with progress as it goes.

Idempotent: the store replaces a document's chunks in one transaction, so a re-run (a retry, or a
job picked up again after its worker was killed) never duplicates them."""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np

from parlor.jobs.progress import ProgressBus
from parlor.jobs.runner import PermanentError
from parlor.rag.chunk import Chunk, chunk
from parlor.rag.detect import UnsupportedType, detect
from parlor.rag.embed import Embedder
from parlor.rag.files import FileStore
from parlor.rag.parse import Parsed, ParseError, parse
from parlor.rag.repo import DocumentRepo, DocumentView
from parlor.rag.store import ChunkRecord, VectorStore

log = logging.getLogger(__name__)
INGEST = "ingest_document"
# (stage, progress when it starts); embedding fills the span up to indexing
STAGES = {"queued": 0, "parsing": 5, "chunking": 30, "embedding": 35, "indexing": 92, "ready": 100}


class Ingestor:
    def __init__(self, repo: DocumentRepo, files: FileStore, embedder: Embedder, store: VectorStore,
                 bus: ProgressBus, max_pages: int, chunk_tokens: int, overlap_tokens: int):
        self._repo = repo
        self._files = files
        self._embedder = embedder
        self._store = store
        self._bus = bus
        self._max_pages = max_pages
        self._chunk_tokens = chunk_tokens
        self._overlap = overlap_tokens

    async def __call__(self, document_id: str) -> None:
        document = await self._repo.start(document_id)
        if document is None:
            return  # deleted, or finished by an earlier run
        started = time.perf_counter()
        try:
            chunks, parsed = await self._parse_and_chunk(document)
        except (ParseError, UnsupportedType) as exc:
            await self.fail(document_id, exc)
            return
        vectors = await self._embed(document, chunks)
        await self._progress(document, "indexing", STAGES["indexing"])
        records = [ChunkRecord(document.id, document.scope_owner, document.thread_id, c.ordinal, c.page, c.text,
                               document.filename) for c in chunks]
        if await self._repo.get(document.id) is None:
            return  # deleted while it was being processed: index nothing
        await self._store.replace(document.id, records, vectors)
        await self._repo.update(document.id, status="ready", stage="ready", progress=100, error=None,
                                pages=parsed.pages, chunks=len(chunks))
        await self._publish(document.id)
        log.info("document %s ready: %s pages, %d chunks in %.2f s", document.id, parsed.pages, len(chunks),
                 time.perf_counter() - started)

    async def _parse_and_chunk(self, document: DocumentView) -> tuple[list[Chunk], Parsed]:
        await self._progress(document, "parsing", STAGES["parsing"])
        data = await self._files.get(document.storage_key)
        content_type = detect(data)
        parsed = await asyncio.to_thread(parse, data, content_type, self._max_pages)
        await self._progress(document, "chunking", STAGES["chunking"], pages=parsed.pages)
        chunks = await asyncio.to_thread(chunk, parsed.blocks, self._embedder.count_tokens, self._chunk_tokens,
                                         self._overlap)
        return chunks, parsed

    async def _embed(self, document: DocumentView, chunks: list[Chunk]) -> np.ndarray:
        start, end = STAGES["embedding"], STAGES["indexing"]
        await self._progress(document, "embedding", start, chunks=len(chunks))
        size = self._embedder.batch_size
        batches = []
        reported = start
        for offset in range(0, len(chunks), size):
            batches.append(await self._embedder.embed([c.text for c in chunks[offset:offset + size]]))
            done = min(len(chunks), offset + size)
            progress = start + (end - start) * done // max(1, len(chunks))
            if progress - reported >= 5 or done == len(chunks):
                reported = progress
                await self._progress(document, "embedding", progress)
        if not batches:
            return np.zeros((0, self._embedder.dimensions), np.float32)
        return np.concatenate(batches)

    async def _progress(self, document: DocumentView, stage: str, progress: int, **values: object) -> None:
        await self._repo.update(document.id, status="processing", stage=stage, progress=progress, **values)
        await self._publish(document.id)

    async def _publish(self, document_id: str) -> None:
        current = await self._repo.get(document_id)
        if current is not None:
            await self._bus.publish(document_id, current.event())

    async def fail(self, document_id: str, exc: BaseException) -> None:
        """The document ends as failed, with a reason its owner can read."""
        if isinstance(exc, (ParseError, UnsupportedType, PermanentError)):
            reason = str(exc)
        else:
            reason = f"processing failed after several tries ({type(exc).__name__}); upload it again to retry"
        await self._repo.update(document_id, status="failed", stage="failed", error=reason)
        await self._publish(document_id)
