"""Documents in the database: one row each, its status and progress; every read is for one user."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.assistants.types import knowledge_owner
from parlor.db import Document, Thread, utcnow

FINAL = ("ready", "failed")


@dataclass(frozen=True, slots=True)
class DocumentView:
    id: str
    user_id: str
    thread_id: str | None
    filename: str
    content_type: str
    sha256: str
    size_bytes: int
    storage_key: str
    status: str
    stage: str
    progress: int
    error: str | None
    pages: int | None
    chunks: int | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    assistant_id: str | None = None  # one assistant's knowledge, not its owner's library

    @property
    def scope_owner(self) -> str:
        """Whose chunks these are in the vector store: the user's, or the assistant's own namespace."""
        return knowledge_owner(self.assistant_id) if self.assistant_id else self.user_id

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "filename": self.filename, "content_type": self.content_type,
                "thread_id": self.thread_id, "size_bytes": self.size_bytes, "sha256": self.sha256,
                "status": self.status, "stage": self.stage, "progress": self.progress, "error": self.error,
                "pages": self.pages, "chunks": self.chunks, "created_at": _iso(self.created_at),
                "updated_at": _iso(self.updated_at), "assistant_id": self.assistant_id}

    def event(self) -> dict[str, Any]:
        """A progress event: what the events stream and the chat's progress part carry."""
        return {"id": self.id, "status": self.status, "stage": self.stage, "progress": self.progress,
                "error": self.error, "pages": self.pages, "chunks": self.chunks}


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _view(row: Document) -> DocumentView:
    return DocumentView(row.id, row.user_id, row.thread_id, row.filename, row.content_type, row.sha256,
                        row.size_bytes, row.storage_key, row.status, row.stage, row.progress, row.error, row.pages,
                        row.chunks, row.attempts, row.created_at, row.updated_at, row.assistant_id)


class DocumentRepo:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def create(self, row: Document) -> tuple[DocumentView, bool]:
        """(the document, created?): the same bytes from the same user are the one document they were."""
        try:
            async with self._sessions() as session, session.begin():
                session.add(row)
            return _view(row), True
        except IntegrityError:
            found = await self.by_sha(row.user_id, row.sha256)
            if found is None:
                raise
            return found, False

    async def by_sha(self, user_id: str, sha256: str) -> DocumentView | None:
        async with self._sessions() as session:
            row = (await session.execute(select(Document).where(
                Document.user_id == user_id, Document.sha256 == sha256))).scalar_one_or_none()
            return _view(row) if row else None

    async def get(self, document_id: str, user_id: str | None = None) -> DocumentView | None:
        """A document by id; with `user_id`, only if it is that user's."""
        query = select(Document).where(Document.id == document_id)
        if user_id is not None:
            query = query.where(Document.user_id == user_id)
        async with self._sessions() as session:
            row = (await session.execute(query)).scalar_one_or_none()
            return _view(row) if row else None

    async def list(self, user_id: str, thread_id: str | None = None, limit: int = 200,
                   with_library: bool = True, assistant_id: str | None = None) -> list[DocumentView]:
        """The user's documents; with `thread_id`, those a search in that thread sees (the thread's own,
        and the library's too unless `with_library` is False). An assistant's documents are listed only
        with its `assistant_id` (then they alone: whoever owns them)."""
        if assistant_id is not None:
            query = select(Document).where(Document.assistant_id == assistant_id)
        else:
            query = select(Document).where(Document.user_id == user_id, Document.assistant_id.is_(None))
        if thread_id is not None and with_library:
            query = query.where((Document.thread_id == thread_id) | Document.thread_id.is_(None))
        elif thread_id is not None:
            query = query.where(Document.thread_id == thread_id)
        async with self._sessions() as session:
            rows = (await session.execute(query.order_by(Document.created_at.desc(), Document.id.desc())
                                          .limit(limit))).scalars()
            return [_view(r) for r in rows]

    async def delete(self, document_id: str, user_id: str) -> DocumentView | None:
        async with self._sessions() as session, session.begin():
            row = (await session.execute(select(Document).where(
                Document.id == document_id, Document.user_id == user_id))).scalar_one_or_none()
            if row is None:
                return None
            await session.delete(row)
            return _view(row)

    async def update(self, document_id: str, **values: Any) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(update(Document).where(Document.id == document_id)
                                  .values(updated_at=utcnow(), **values))

    async def requeue(self, document_id: str) -> None:
        await self.update(document_id, status="queued", stage="queued", progress=0, error=None)

    async def start(self, document_id: str) -> DocumentView | None:
        """Marks an attempt; None when the document is gone or already final (nothing to do)."""
        async with self._sessions() as session, session.begin():
            row = (await session.execute(select(Document).where(Document.id == document_id)
                                         .with_for_update())).scalar_one_or_none()
            if row is None or row.status in FINAL:
                return None
            row.status, row.attempts, row.updated_at = "processing", row.attempts + 1, utcnow()
            return _view(row)

    async def may_scope(self, user_id: str, thread_id: str) -> bool:
        """Whether a document may be scoped to this thread: the user's own, or one not created yet."""
        async with self._sessions() as session:
            owner = (await session.execute(select(Thread.user_id).where(Thread.id == thread_id))).scalar_one_or_none()
        return owner is None or owner == user_id

    async def unfinished(self) -> Sequence[str]:
        """Documents queued or processing (an embedded server re-runs them after a restart)."""
        async with self._sessions() as session:
            return list((await session.execute(select(Document.id).where(
                Document.status.in_(("queued", "processing"))).order_by(Document.created_at))).scalars())


async def named(repo: DocumentRepo, user_id: str, ids: Sequence[str],
                assistant_id: str | None = None) -> dict[str, DocumentView]:
    """The user's documents among `ids`, and `assistant_id`'s (a deleted or someone else's document is
    simply absent)."""
    found: dict[str, DocumentView] = {}
    for document_id in dict.fromkeys(ids):
        view = await repo.get(document_id)
        if view is not None and (view.assistant_id == assistant_id if view.assistant_id else view.user_id == user_id):
            found[document_id] = view
    return found
