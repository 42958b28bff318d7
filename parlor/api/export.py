"""`GET /api/threads/{id}/export`: one chat as a file to download, Markdown or JSON (the thread and its
messages as GET /api/threads/{id} gives them)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Response

from parlor.api.deps import PrincipalDep, ServicesDep
from parlor.api.schemas import IdPath
from parlor.api.threads import NOT_FOUND, thread_json, ui_message
from parlor.api.wire.markdown import chat_markdown
from parlor.memory import ThreadNotFound

router = APIRouter(tags=["threads"])
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
TYPES = {"markdown": ("md", "text/markdown; charset=utf-8"), "json": ("json", "application/json")}


def download_name(title: str | None, extension: str) -> str:
    """A file name from a chat's title: letters, digits, dot, dash and underscore only; never empty."""
    stem = UNSAFE.sub("-", title or "").strip("-.")[:80] or "chat"
    return f"{stem}.{extension}"


@router.get("/api/threads/{thread_id}/export", response_class=Response,
            responses={200: {"content": {"text/markdown": {}, "application/json": {}}}})
async def export_thread(thread_id: IdPath, svc: ServicesDep, who: PrincipalDep,
                        format: Annotated[Literal["markdown", "json"], Query()] = "markdown") -> Response:
    try:
        thread, stored = await svc.store.get_thread(who.id, thread_id)
    except ThreadNotFound:
        raise NOT_FOUND from None
    messages = [ui_message(m) for m in stored]
    if format == "json":
        body = orjson.dumps({**thread_json(thread), "messages": messages}, option=orjson.OPT_INDENT_2)
    else:
        body = chat_markdown(thread.title, messages).encode()
    extension, media_type = TYPES[format]
    return Response(body, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{download_name(thread.title, extension)}"',
        "Cache-Control": "no-store"})
