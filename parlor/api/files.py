"""`GET /api/files/{thread}/{name}`: an image or PDF a message carries, for its owner only (anyone else,
and a file that is gone: 404, the same answer, so nobody learns what others have)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from parlor.api.deps import PrincipalDep, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.schemas import IdPath

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
