"""A user's data rights: export everything they own, delete it all, and purge idle threads.

What a user owns is found from the schema itself, not a hand-kept list: every table with a `user_id`,
and every table whose foreign key points at an owned row (messages of their threads, summaries, feedback
on their messages…), transitively. A table added later is exported and deleted with no change here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.accounts.key_cache import KeyChanges
from parlor.accounts.keys import iso
from parlor.attachments import AttachmentStore
from parlor.db import Base, Document, Thread, utcnow

SECRET_COLUMNS = frozenset({"key_hash", "token_hash"})  # never exported
PURGE_BATCH = 200  # threads deleted per transaction by the retention purge
ForgetDocument = Callable[[str, str], Awaitable[bool]]  # (user id, document id): its file, chunks and vectors


class DocumentsUnavailable(Exception):
    """The user has documents, but the vector store that holds their chunks cannot be reached."""


async def cannot_forget(user_id: str, document_id: str) -> bool:
    """The `forget` of a server whose knowledge base is off: a user with documents cannot be deleted."""
    raise DocumentsUnavailable("the knowledge base is unavailable, so documents' chunks cannot be deleted")


def owned(root: Table, condition: ColumnElement[bool],
          by_user_id: str | None = None) -> dict[Table, ColumnElement[bool]]:
    """Each table with rows owned through `root`'s rows matching `condition`, and the condition that finds them
    (in dependency order: parents first). With `by_user_id`, every `user_id` column counts as ownership too."""
    found: dict[Table, ColumnElement[bool]] = {root: condition}
    for table in Base.metadata.sorted_tables:
        if table is root:
            continue
        links: list[ColumnElement[bool]] = [fk.parent.in_(select(fk.column).where(found[fk.column.table]))
                 for fk in table.foreign_keys if fk.column.table in found]
        if by_user_id is not None and "user_id" in table.c:
            links.append(table.c.user_id == by_user_id)
        if links:
            found[table] = or_(*links)
    return found


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return None
    return value


class AccountData:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], forget: ForgetDocument = cannot_forget,
                 changes: KeyChanges | None = None, attachments: AttachmentStore | None = None):
        """`forget`: deletes a document's file, chunks and vectors (raising DocumentsUnavailable when it
        cannot, before anything is deleted); `changes`: the process's key cache, shared with AccountStore;
        `attachments`: the images and PDFs of the user's messages (exported and deleted with them)."""
        self._sessions = sessions
        self._forget = forget
        self._changes = changes or KeyChanges()  # tells every process to stop trusting the user's keys
        self._attachments = attachments

    def _owned(self, user_id: str) -> dict[Table, ColumnElement[bool]]:
        users = Base.metadata.tables["users"]
        return owned(users, users.c.id == user_id, by_user_id=user_id)

    async def export(self, user_id: str) -> dict[str, Any]:
        """Everything the user owns, as JSON-ready data: their threads with messages, then every other table."""
        tables: dict[str, list[dict[str, Any]]] = {}
        async with self._sessions() as session:
            for table, condition in self._owned(user_id).items():
                order = [table.c.created_at] if "created_at" in table.c else []
                rows = (await session.execute(select(table).where(condition).order_by(
                    *order, *table.primary_key.columns))).mappings()
                tables[table.name] = [{k: _json(v) for k, v in row.items() if k not in SECRET_COLUMNS} for row in rows]
        (user,) = tables.pop("users")
        messages = tables.pop("messages", [])
        threads = [{**t, "messages": [m for m in messages if m["thread_id"] == t["id"]]}
                   for t in tables.pop("threads", [])]
        files = await self._attachments.export(user_id) if self._attachments is not None else []
        return {"format": "parlor-export/1", "exported_at": iso(utcnow()), "user": user, "threads": threads,
                **tables, "attachments": files}

    async def delete(self, user_id: str) -> dict[str, int]:
        """Deletes the user and every row they own (documents with their files, chunks and vectors first).
        Returns how many rows went from each table."""
        await self._forget_documents(Document.user_id == user_id)
        files = await self._attachments.delete_user(user_id) if self._attachments is not None else 0
        deleted = await self._delete(self._owned(user_id))
        if files:
            deleted["attachments"] = files
        await self._changes.announce(user_id)  # every process stops trusting the user's keys at once
        return deleted

    async def purge_threads(self, idle_since: datetime) -> int:
        """Deletes threads with no activity since `idle_since` (with their messages, summaries and the
        documents attached to them only); returns how many went."""
        purged = 0
        while True:
            async with self._sessions() as session:
                batch = (await session.execute(select(Thread.id, Thread.user_id).where(
                    Thread.updated_at < idle_since).order_by(Thread.updated_at).limit(PURGE_BATCH))).all()
            if not batch:
                return purged
            ids = [row.id for row in batch]
            await self._forget_documents(or_(*(
                (Document.thread_id == row.id) & (Document.user_id == row.user_id) for row in batch)))
            if self._attachments is not None:
                for row in batch:
                    await self._attachments.delete_thread(row.user_id, row.id)
            threads = Base.metadata.tables["threads"]
            await self._delete(owned(threads, threads.c.id.in_(ids)))
            purged += len(ids)

    async def _forget_documents(self, condition: ColumnElement[bool]) -> None:
        async with self._sessions() as session:
            documents = (await session.execute(select(Document.id, Document.user_id).where(condition))).all()
        for document in documents:
            await self._forget(document.user_id, document.id)

    async def _delete(self, tables: dict[Table, ColumnElement[bool]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        async with self._sessions.begin() as session:
            for table, condition in reversed(tables.items()):  # children before their parents
                result = await session.execute(delete(table).where(condition))
                counts[table.name] = int(result.rowcount)  # type: ignore[attr-defined]
        return {name: n for name, n in counts.items() if n}

