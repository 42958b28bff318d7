"""`GET /api/files/{thread}/{name}`: an image or PDF a message carries, for its owner only (anyone else,
and a file that is gone: 404, the same answer, so nobody learns what others have); and the check of the
files a message brings, for `/api/chat` and `/v1`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Path, Response

from parlor.api.deps import PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.schemas import IdPath
from parlor.attachments import AttachmentLimits, AttachmentRejected, Upload, read_uploads
from parlor.attachments.intake import FileIn
from parlor.config import Settings

router = APIRouter(tags=["files"])
FileName = Annotated[str, Path(pattern=r"^[a-z0-9]{8,64}\.(png|jpg|gif|webp|pdf)$")]


@router.get("/api/files/{thread_id}/{name}", response_class=Response,
            responses={200: {"content": {"image/*": {}, "application/pdf": {}}}})
async def message_file(thread_id: IdPath, name: FileName, svc: ServicesDep, who: PrincipalDep) -> Response:
    """Images are shown inline (Parlor re-encoded them: nothing but pixels); a PDF is a download, never a
    page of ours. Private and immutable: a stored file never changes."""
    try:
        data, media_type = await svc.attachments.read(who.id, thread_id, name)
    except FileNotFoundError:
        raise ApiError(404, "file_not_found", "No such file.") from None
    disposition = "attachment" if media_type == "application/pdf" else "inline"
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": f'{disposition}; filename="{name}"', "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=31536000, immutable", "Content-Security-Policy": "sandbox"})


async def checked(files: Sequence[FileIn], settings: Settings) -> tuple[Upload, ...]:
    """The files checked and cleaned (in a thread: images are decoded and re-encoded), or the 4xx of the
    first that is not acceptable."""
    if not files:
        return ()
    limits = AttachmentLimits(settings.max_attachment_bytes, settings.max_attachments, settings.max_image_edge)
    try:
        return await asyncio.to_thread(read_uploads, files, limits)
    except AttachmentRejected as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
