"""Share links to one chat: the owner makes (`POST`), lists and revokes them; anyone with a link reads
the snapshot it keeps and the images and PDFs that snapshot shows, with no key. Signed-out reads are
rate-limited by address, and a token that opens nothing also counts as an invalid credential."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import Field

from parlor.accounts.keys import iso
from parlor.api.deps import PrincipalDep, Services, ServicesDep
from parlor.api.errors import ApiError
from parlor.api.files import FileName
from parlor.api.inputs import RequestBody
from parlor.api.ratelimit import add_headers, headers_for, rate_limited
from parlor.api.schemas import ID_PATTERN, IdPath
from parlor.api.threads import NOT_FOUND, ui_message
from parlor.api.wire.shared import file_names, linked, public_messages
from parlor.memory import ThreadNotFound
from parlor.shares import SharedChat, ShareInfo

router = APIRouter(tags=["shares"])
SHARE_NOT_FOUND = ApiError(404, "share_not_found", "This link is not shared (any more).")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")  # what parlor/shares/store.py makes
TokenPath = Annotated[str, Path(max_length=128)]  # any other form: the same 404 as a token nobody made


class ShareIn(RequestBody):
    message_id: str | None = Field(default=None, pattern=ID_PATTERN)  # the last message it shows (default: the last)


NO_CHOICE = ShareIn()  # no body: the link shows the chat up to its last message


def share_json(share: ShareInfo) -> dict[str, Any]:
    return {"id": share.id, "title": share.title, "created_at": iso(share.created_at),
            "through_message_id": share.through_message_id}


@router.post("/api/threads/{thread_id}/shares", status_code=201)
async def create_share(thread_id: IdPath, svc: ServicesDep, who: PrincipalDep,
                       body: ShareIn = NO_CHOICE) -> dict[str, Any]:
    """A new link to the chat as it is now, up to and including `message_id`. The token is in this answer
    only: Parlor keeps its hash."""
    try:
        thread, stored = await svc.store.get_thread(who.id, thread_id)
    except ThreadNotFound:
        raise NOT_FOUND from None
    messages = [ui_message(m) for m in stored]
    through = body.message_id or (messages[-1]["id"] if messages else None)
    ids = [m["id"] for m in messages]
    if through is None:
        raise ApiError(422, "thread_empty", "This chat has no messages to share yet.")
    if through not in ids:
        raise ApiError(404, "message_not_found", "No such message in this chat.")
    snapshot = public_messages(messages[:ids.index(through) + 1], thread_id)
    share, token = await svc.shares.create(who.id, thread_id, through, thread.title, snapshot)
    return {**share_json(share), "token": token, "url": f"/s/{token}"}


@router.get("/api/threads/{thread_id}/shares")
async def list_shares(thread_id: IdPath, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """The chat's links not revoked, newest first (without their tokens, which are not kept)."""
    shares = await svc.shares.active(who.id, thread_id)
    if shares is None:
        raise NOT_FOUND
    return {"shares": [share_json(s) for s in shares]}


@router.delete("/api/shares/{share_id}", status_code=204)
async def revoke_share(share_id: IdPath, svc: ServicesDep, who: PrincipalDep) -> Response:
    """The link stops working at once (its snapshot is kept, unreadable, until the thread goes)."""
    if not await svc.shares.revoke(who.id, share_id):
        raise SHARE_NOT_FOUND
    return Response(status_code=204)


async def _opened(request: Request, svc: Services, token: str) -> SharedChat:
    address = request.client.host if request.client else "-"
    decision = await svc.limits.guard.visitor(address)
    if not decision.allowed:
        raise rate_limited(decision)
    add_headers(headers_for(decision))
    chat = await svc.shares.open(token) if TOKEN.match(token) else None
    if chat is None:
        guessed = await svc.limits.guard.auth_failed(address)
        if not guessed.allowed:
            raise rate_limited(guessed, "links that open nothing")
        raise SHARE_NOT_FOUND
    return chat


@router.get("/api/shared/{token}")
async def shared_chat(token: TokenPath, request: Request, svc: ServicesDep, response: Response) -> dict[str, Any]:
    """A shared chat, for anyone with the link: its title, when it was shared, and its messages as they
    were then (no user, no thread id, no run or usage details)."""
    chat = await _opened(request, svc, token)
    response.headers["Cache-Control"] = "no-store"
    return {"title": chat.title, "created_at": iso(chat.created_at),
            "messages": linked(chat.messages, f"/api/shared/{token}/files/")}


@router.get("/api/shared/{token}/files/{name}", response_class=Response,
            responses={200: {"content": {"image/*": {}, "application/pdf": {}}}})
async def shared_file(token: TokenPath, name: FileName, request: Request, svc: ServicesDep) -> Response:
    """An image or PDF the shared snapshot shows; no other file of the thread, whatever its name."""
    chat = await _opened(request, svc, token)
    if name not in file_names(chat.messages):
        raise ApiError(404, "file_not_found", "No such file.")
    try:
        data, media_type = await svc.attachments.read(chat.user_id, chat.thread_id, name)
    except FileNotFoundError:
        raise ApiError(404, "file_not_found", "No such file.") from None
    disposition = "attachment" if media_type == "application/pdf" else "inline"
    return Response(data, media_type=media_type, headers={  # not cached: a revoked link stops showing it
        "Content-Disposition": f'{disposition}; filename="{name}"', "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-cache", "Content-Security-Policy": "sandbox"})
