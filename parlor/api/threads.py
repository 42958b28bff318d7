"""Threads of the caller: list (and search), read (as UI messages, to seed `useChat`: the current branch,
each message with its versions), switch branch, rename, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from parlor.api.deps import PrincipalDep, Services, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.schemas import ID_PATTERN, IdPath, LeafChoice, ThreadPatch
from parlor.api.wire.ui import ui_parts
from parlor.assistants.types import Badge
from parlor.memory import MessageNotFound, StoredMessage, ThreadNotFound
from parlor.memory.store import ThreadSummary

router = APIRouter(prefix="/api/threads", tags=["threads"])
NOT_FOUND = ApiError(404, "thread_not_found", "No such thread.")
NO_MESSAGE = ApiError(404, "message_not_found", "No such message in this thread.")
ThreadId = Annotated[str, Query(pattern=ID_PATTERN)]


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def thread_json(thread: ThreadSummary, badges: dict[str, Badge] | None = None) -> dict[str, Any]:
    """`assistant`: the one the thread started with (null: none, or deleted since)."""
    badge = (badges or {}).get(thread.assistant_id or "")
    assistant = {"id": badge.id, "name": badge.name, "avatar": badge.avatar, "color": badge.color} if badge else None
    return {"id": thread.id, "title": thread.title, "created_at": _iso(thread.created_at),
            "updated_at": _iso(thread.updated_at), "model": thread.model, "assistant": assistant}


async def _badges(svc: Services, threads: list[ThreadSummary]) -> dict[str, Badge]:
    return await svc.assistants.badges([t.assistant_id for t in threads if t.assistant_id])


def ui_message(message: StoredMessage) -> dict[str, Any]:
    metadata = {"status": message.status.value, "createdAt": _iso(message.created_at), **message.meta}
    if message.id in message.versions:  # it and its siblings: "2/3" (index from 1, in creation order)
        ids = list(message.versions)
        metadata["versions"] = {"index": ids.index(message.id) + 1, "count": len(ids), "ids": ids}
    return {"id": message.id, "role": message.role, "parts": ui_parts(message.parts), "metadata": metadata}


@router.get("")
async def list_threads(svc: ServicesDep, who: PrincipalDep,
                       limit: Annotated[int, Query(ge=1, le=100)] = 30,
                       cursor: Annotated[str | None, Query(max_length=512)] = None,
                       q: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    """Newest first; `q`: only threads whose title or messages contain the text (any case)."""
    try:
        page = await svc.store.list_threads(who.id, limit, cursor, (q or "").strip() or None)
    except ValueError:
        raise ApiError(422, "invalid_cursor", "The cursor is not one this server gave out.") from None
    badges = await _badges(svc, page.threads)
    return {"threads": [thread_json(t, badges) for t in page.threads], "next_cursor": page.next_cursor}


@router.get("/{thread_id}")
async def get_thread(thread_id: IdPath, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    try:
        thread, messages = await svc.store.get_thread(who.id, thread_id)
    except ThreadNotFound:
        raise NOT_FOUND from None
    return await _thread_with_messages(svc, who.id, thread, messages)


@router.put("/{thread_id}/leaf")
async def set_leaf(thread_id: IdPath, body: LeafChoice, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """Switches the thread to the branch through the message (its newest descendant becomes the leaf:
    the newest child at each step); returns the thread as GET does, on that branch."""
    if svc.runs.active((who.id, thread_id)) is not None:
        raise ApiError(409, "thread_busy", "This thread is answering; stop it before switching versions.")
    try:
        thread, messages = await svc.store.set_leaf(who.id, thread_id, body.message_id)
    except ThreadNotFound:
        raise NOT_FOUND from None
    except MessageNotFound:
        raise NO_MESSAGE from None
    return await _thread_with_messages(svc, who.id, thread, messages)


async def _thread_with_messages(svc: Services, user_id: str, thread: ThreadSummary,
                                messages: list[StoredMessage]) -> dict[str, Any]:
    rated = await svc.experiments.feedback.for_thread(user_id, thread.id) if svc.experiments else {}
    messages_json = [_with_feedback(ui_message(m), rated) for m in messages]
    return {**thread_json(thread, await _badges(svc, [thread])), "messages": messages_json}


def _with_feedback(message: dict[str, Any], rated: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An assistant message's rating as `metadata.feedback` (absent when none)."""
    if message["id"] in rated:
        message["metadata"]["feedback"] = rated[message["id"]]
    return message


@router.patch("/{thread_id}")
async def rename_thread(thread_id: IdPath, body: ThreadPatch, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    try:
        renamed = await svc.store.rename_thread(who.id, thread_id, body.title)
        return thread_json(renamed, await _badges(svc, [renamed]))
    except ThreadNotFound:
        raise NOT_FOUND from None


@router.delete("/{thread_id}", status_code=204)
async def delete_thread(thread_id: IdPath, svc: ServicesDep, who: PrincipalDep) -> Response:
    if svc.runs.active((who.id, thread_id)) is not None:
        raise ApiError(409, "thread_busy", "This thread is answering; stop it before deleting it.")
    try:
        await svc.store.delete_thread(who.id, thread_id)
    except ThreadNotFound:
        raise NOT_FOUND from None
    await svc.attachments.forget_thread(who.id, thread_id)  # its messages' images and PDFs
    return Response(status_code=204)
