"""Documents for the HTTP edge: upload (stored, deduplicated, queued at once), read, list, delete,
and a document's progress as a stream of events until it is ready or failed."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from parlor.db import Document, Message, new_id, utcnow
from parlor.jobs.progress import ProgressBus
from parlor.jobs.queue import JobQueue, QueueUnavailable
from parlor.memory.attachments import attachment_text, document_client_id
from parlor.memory.store import MessageStore
from parlor.message_json import dump_parts
from parlor.messages import DocumentPart, DocumentStatus, MessageStatus
from parlor.rag.detect import UnsupportedType, detect
from parlor.rag.files import FileStore
from parlor.rag.pipeline import INGEST
from parlor.rag.repo import FINAL, DocumentRepo, DocumentView
from parlor.rag.store import StoredChunk, VectorStore

log = logging.getLogger(__name__)
POLL_SECONDS = 2.0  # a watcher re-reads the database this often (progress events are hints)
QUEUE_DOWN = "The job queue was unavailable, so the file was not processed; upload it again to retry."


class DocumentElsewhere(Exception):
    """The user has this file already, in their library or with another assistant of theirs."""

    def __init__(self, document: DocumentView):
        super().__init__(document.id)
        self.document = document


class DocumentService:
    def __init__(self, repo: DocumentRepo, files: FileStore, store: VectorStore, queue: JobQueue, bus: ProgressBus,
                 messages: MessageStore):
        self.repo = repo
        self._messages = messages
        self._files = files
        self._store = store
        self._queue = queue
        self._bus = bus

    async def upload(self, user_id: str, filename: str, data: bytes, thread_id: str | None = None,
                     assistant_id: str | None = None) -> tuple[DocumentView, bool]:
        """(the document, created?); a duplicate of a failed document is queued again. With `assistant_id`
        (the caller's assistant): its knowledge. One file is one document of a user's: the same bytes kept
        elsewhere (the library, another assistant) raise DocumentElsewhere."""
        sha256 = hashlib.sha256(data).hexdigest()
        existing = await self.repo.by_sha(user_id, sha256)
        if existing is not None:
            if existing.assistant_id != assistant_id:
                raise DocumentElsewhere(existing)
            return await self._again(existing), False
        try:
            content_type, problem = detect(data), None
        except UnsupportedType as exc:
            content_type, problem = "application/octet-stream", str(exc)
        document_id = new_id()
        key = f"{user_id}/{sha256}"
        if problem is None:
            await self._files.put(key, data)
        row = Document(id=document_id, user_id=user_id, thread_id=thread_id, assistant_id=assistant_id,
                       filename=_clean(filename),
                       content_type=content_type, sha256=sha256, size_bytes=len(data), storage_key=key,
                       status="failed" if problem else "queued", stage="failed" if problem else "queued",
                       progress=0, error=problem, attempts=0)
        view, created = await self.repo.create(row)
        if created and problem is None:
            await self._enqueue(view.id)
        return view, created

    async def _enqueue(self, document_id: str) -> None:
        """Queues the document's ingestion. If the queue is down, the document is marked failed, saying
        so, and QueueUnavailable raised: the file is kept, and the same upload again queues it anew."""
        try:
            await self._queue.enqueue(INGEST, document_id)
        except QueueUnavailable:
            await self.repo.update(document_id, status="failed", stage="failed", error=QUEUE_DOWN)
            raise

    async def attach(self, user_id: str, thread_id: str, document: DocumentView) -> str:
        """Shows the document in the thread as a user message with a `DocumentPart` (the thread is
        created if new; ThreadNotFound if it is another user's). Returns the message id (the same one when
        the document was attached to this thread before)."""
        part = DocumentPart(document.id, document.filename, document.content_type, DocumentStatus(document.status),
                            document.progress, document.stage, document.error)
        message = Message(id=new_id(), thread_id=thread_id, client_id=document_client_id(document.id), role="user",
                          parts=dump_parts([part]), text=attachment_text([part]) or "",
                          status=MessageStatus.COMPLETE, created_at=utcnow())
        return await self._messages.add_message(user_id=user_id, thread_id=thread_id, title=document.filename,
                                                message=message)

    async def _again(self, document: DocumentView) -> DocumentView:
        if document.status != "failed" or document.content_type == "application/octet-stream":
            return document
        await self.repo.requeue(document.id)
        await self._enqueue(document.id)
        return await self.repo.get(document.id) or document

    async def get(self, user_id: str, document_id: str) -> DocumentView | None:
        return await self.repo.get(document_id, user_id)

    async def list(self, user_id: str, thread_id: str | None = None) -> list[DocumentView]:
        """The user's documents; with `thread_id`, only those attached to that thread."""
        return await self.repo.list(user_id, thread_id, with_library=False)

    async def chunks(self, user_id: str, document_id: str) -> Sequence[StoredChunk] | None:
        """The document's chunks in order (None: not the user's document)."""
        if await self.repo.get(document_id, user_id) is None:
            return None
        return await self._store.chunks(document_id)

    async def file(self, user_id: str, document_id: str) -> tuple[DocumentView, bytes] | None:
        """The document and its original bytes (None: not the user's, or its file is gone)."""
        document = await self.repo.get(document_id, user_id)
        if document is None or document.content_type == "application/octet-stream":
            return None  # an unsupported upload was never stored
        try:
            return document, await self._files.get(document.storage_key)
        except FileNotFoundError:
            log.warning("the file of document %s is missing from storage", document_id)
            return None

    async def delete(self, user_id: str, document_id: str) -> bool:
        """Removes the document, its chunks and vectors, and its file (if no other row needs it)."""
        removed = await self.repo.delete(document_id, user_id)
        if removed is None:
            return False
        await self._store.delete(document_id)
        await self._files.delete(removed.storage_key)
        await self._bus.publish(document_id, {"id": document_id, "status": "deleted", "stage": "deleted",
                                              "progress": removed.progress, "error": None,
                                              "pages": removed.pages, "chunks": removed.chunks})
        return True

    async def events(self, user_id: str, document_id: str) -> AsyncIterator[dict[str, Any]]:
        """The current state at once, then each change, until ready, failed or deleted. Resuming after a
        disconnect starts again from the current state (events carry the whole state, not deltas)."""
        async with self._bus.subscribe(document_id) as updates:
            current = await self.repo.get(document_id, user_id)
            if current is None:
                return
            last = current.event()
            yield last
            while last["status"] not in (*FINAL, "deleted"):
                try:
                    event = await asyncio.wait_for(updates.get(), POLL_SECONDS)
                except TimeoutError:
                    found = await self.repo.get(document_id, user_id)
                    event = found.event() if found else {**last, "status": "deleted", "stage": "deleted"}
                if event != last and _not_backwards(last, event):
                    last = event
                    yield event


def _not_backwards(last: dict[str, Any], event: dict[str, Any]) -> bool:
    """Events from a bus may arrive late; progress never goes back (except a document queued again)."""
    return bool(event["status"] != last["status"] or event["progress"] >= last["progress"])


def _clean(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip() or "document"
    return "".join(ch for ch in name if ch.isprintable())[:255]
