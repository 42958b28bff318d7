"""Documents: upload (202 at once; processed in the background), read, list, delete, and a document's
progress as Server-Sent Events until it is ready or failed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi.responses import JSONResponse

from parlor.api.deps import PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.inputs import problem
from parlor.api.schemas import ID_PATTERN, IdPath
from parlor.api.sse import sse
from parlor.assistants.types import AssistantNotFound, NotAssistantOwner
from parlor.jobs.queue import QueueUnavailable
from parlor.memory import ThreadNotFound
from parlor.rag import DocumentService, KnowledgeUnavailable
from parlor.rag.service import DocumentElsewhere

router = APIRouter(prefix="/api/documents", tags=["documents"])
NOT_FOUND = ApiError(404, "document_not_found", "No such document.")
THREAD_NOT_FOUND = ApiError(404, "thread_not_found", "No such thread.")
READ_CHUNK = 1 << 20


def _documents(svc: ServicesDep) -> DocumentService:
    try:
        return svc.knowledge.service()
    except KnowledgeUnavailable:
        raise ApiError(503, "knowledge_unavailable", "Documents are not available on this server.") from None


async def _read(file: UploadFile, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await file.read(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "document_too_large", f"The file is over the limit of {limit} bytes.")
        parts.append(chunk)
    return b"".join(parts)


@router.post("", status_code=202, responses={200: {"description": "A duplicate of one of the caller's documents "
                                                                  "(`duplicate: true`): nothing new is stored."}})
async def upload(svc: ServicesDep, who: PrincipalDep, file: Annotated[UploadFile, File()],
                 thread_id: Annotated[str | None, Form(pattern=ID_PATTERN)] = None,
                 assistant_id: Annotated[str | None, Form(pattern=ID_PATTERN)] = None) -> JSONResponse:
    """Stores the file and queues it; with `thread_id`, also shows it in that thread as a message; with
    `assistant_id` (an assistant of the caller's), it is that assistant's knowledge: searched in its chats
    only, not in the caller's own."""
    if (why := problem(file.filename or "")) is not None:  # the name is stored: the input rule holds for it too
        raise ApiError(422, "invalid_request", f"file.filename: {why}")
    if thread_id and assistant_id:
        raise ApiError(422, "invalid_request", "A document goes to a thread or to an assistant, not both.")
    documents = _documents(svc)
    data = await _read(file, svc.settings.max_upload_bytes)
    if thread_id and not await documents.repo.may_scope(who.id, thread_id):
        raise THREAD_NOT_FOUND
    if assistant_id:
        try:
            await svc.assistants.owned(who, assistant_id)
        except (AssistantNotFound, NotAssistantOwner):
            raise ApiError(404, "assistant_not_found", "No such assistant of yours.") from None
    try:
        document, created = await documents.upload(who.id, file.filename or "document", data, thread_id or None,
                                                   assistant_id or None)
    except DocumentElsewhere as exc:
        where = "another assistant of yours" if exc.document.assistant_id else "your documents"
        raise ApiError(409, "document_elsewhere", f"This file is already in {where} ({exc.document.filename!r}); "
                       "delete it there first to upload it here.") from None
    except QueueUnavailable:  # the file is kept and the document marked failed: the same upload again queues it
        raise ApiError(503, "jobs_unavailable", "The job queue is unavailable right now; upload the file again"
                       " in a moment.", {"Retry-After": "5"}) from None
    body = {**document.json(), "duplicate": not created}
    if thread_id:
        try:
            body["message_id"] = await documents.attach(who.id, thread_id, document)
        except ThreadNotFound:  # taken by another user between the check and the write
            raise THREAD_NOT_FOUND from None
    return JSONResponse(body, status_code=202 if created else 200,
                        headers={"Location": f"/api/documents/{document.id}"})


@router.get("")
async def list_documents(svc: ServicesDep, who: PrincipalDep,
                         thread_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None) -> dict[str, Any]:
    """The caller's documents, newest first; with `thread_id`, only those attached to that thread."""
    found = await _documents(svc).list(who.id, thread_id)
    return {"documents": [d.json() for d in found]}


@router.get("/{document_id}")
async def get_document(document_id: IdPath, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    document = await _documents(svc).get(who.id, document_id)
    if document is None:
        raise NOT_FOUND
    return document.json()


@router.get("/{document_id}/chunks")
async def document_chunks(document_id: IdPath, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """The document's chunks in order, with their pages (what citations point at)."""
    chunks = await _documents(svc).chunks(who.id, document_id)
    if chunks is None:
        raise NOT_FOUND
    return {"chunks": [{"ordinal": c.ordinal, "page": c.page, "text": c.text} for c in chunks]}


@router.get("/{document_id}/file")
async def document_file(document_id: IdPath, svc: ServicesDep, who: PrincipalDep) -> Response:
    """The original bytes, as a download (never rendered inline: an uploaded HTML file is not our page)."""
    found = await _documents(svc).file(who.id, document_id)
    if found is None:
        raise NOT_FOUND
    document, data = found
    return Response(data, media_type=document.content_type, headers={
        "Content-Disposition": content_disposition(document.filename), "X-Content-Type-Options": "nosniff"})


@router.get("/{document_id}/events")
async def document_events(document_id: IdPath, svc: ServicesDep, who: PrincipalDep) -> Response:
    documents = _documents(svc)
    if await documents.get(who.id, document_id) is None:
        raise NOT_FOUND

    async def events() -> AsyncIterator[list[dict[str, Any]]]:
        async for event in documents.events(who.id, document_id):
            yield [{"type": "document-progress", **event}]

    return sse(events(), {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.delete("/{document_id}", status_code=204)
async def delete_document(document_id: IdPath, svc: ServicesDep, who: PrincipalDep) -> Response:
    if not await _documents(svc).delete(who.id, document_id):
        raise NOT_FOUND
    return Response(status_code=204)


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact one in RFC 5987 form."""
    fallback = "".join(ch if ch.isascii() and ch.isprintable() and ch not in '"\\' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
