"""Documents: upload (202 at once; processed in the background), read, list, delete, and a document's
progress as Server-Sent Events until it is ready or failed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from parlor.api.deps import PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.sse import sse
from parlor.rag import DocumentService

router = APIRouter(prefix="/api/documents", tags=["documents"])
NOT_FOUND = ApiError(404, "document_not_found", "No such document.")
READ_CHUNK = 1 << 20


def _documents(request: Request) -> DocumentService:
    found: DocumentService | None = getattr(request.app.state, "documents", None)
    if found is None:
        raise ApiError(503, "knowledge_unavailable", "Documents are not available on this server.")
    return found


async def _read(file: UploadFile, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await file.read(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "document_too_large", f"The file is over the limit of {limit} bytes.")
        parts.append(chunk)
    return b"".join(parts)


@router.post("", status_code=202)
async def upload(request: Request, svc: ServicesDep, who: PrincipalDep, file: Annotated[UploadFile, File()],
                 thread_id: Annotated[str | None, Form(max_length=128)] = None) -> JSONResponse:
    documents = _documents(request)
    data = await _read(file, svc.settings.max_upload_bytes)
    if thread_id and not await documents.repo.may_scope(who.id, thread_id):
        raise ApiError(404, "thread_not_found", "No such thread.")
    document, created = await documents.upload(who.id, file.filename or "document", data, thread_id or None)
    body = {**document.json(), "duplicate": not created}
    return JSONResponse(body, status_code=202 if created else 200,
                        headers={"Location": f"/api/documents/{document.id}"})


@router.get("")
async def list_documents(request: Request, who: PrincipalDep, thread_id: str | None = None) -> dict[str, Any]:
    found = await _documents(request).list(who.id, thread_id)
    return {"documents": [d.json() for d in found]}


@router.get("/{document_id}")
async def get_document(document_id: str, request: Request, who: PrincipalDep) -> dict[str, Any]:
    document = await _documents(request).get(who.id, document_id)
    if document is None:
        raise NOT_FOUND
    return document.json()


@router.get("/{document_id}/events")
async def document_events(document_id: str, request: Request, who: PrincipalDep) -> Response:
    documents = _documents(request)
    if await documents.get(who.id, document_id) is None:
        raise NOT_FOUND

    async def events() -> AsyncIterator[dict[str, Any]]:
        async for event in documents.events(who.id, document_id):
            yield {"type": "document-progress", **event}

    return sse(events(), {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.delete("/{document_id}", status_code=204)
async def delete_document(document_id: str, request: Request, who: PrincipalDep) -> Response:
    if not await _documents(request).delete(who.id, document_id):
        raise NOT_FOUND
    return Response(status_code=204)
