"""Server-Sent Events responses (framing by sse-starlette)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from sse_starlette import EventSourceResponse, ServerSentEvent

from parlor.chat import ChatEvent, Run
from parlor.chat.encoders import UIStreamEncoder, coalesce

UI_STREAM_HEADERS = {"Cache-Control": "no-cache", "x-vercel-ai-ui-message-stream": "v1"}
DONE = ServerSentEvent(data="[DONE]")


def sse(chunks: AsyncIterator[dict[str, Any]], headers: dict[str, str] | None = None) -> EventSourceResponse:
    async def body() -> AsyncIterator[ServerSentEvent]:
        async for chunk in chunks:
            yield ServerSentEvent(data=orjson.dumps(chunk).decode())
        yield DONE

    return EventSourceResponse(body(), headers=headers, sep="\n", ping=15)


def ui_stream(run: Run, on_disconnect: Callable[[Run], None]) -> EventSourceResponse:
    """A run's events as the AI SDK UI message stream; `on_disconnect` decides what a client
    that goes away before the end means for the run."""

    async def chunks() -> AsyncIterator[dict[str, Any]]:
        encoder = UIStreamEncoder()
        try:
            async for batch in run.follow():
                for event in coalesce(batch):
                    for chunk in encoder.encode(event):
                        yield chunk
        finally:
            if not run.done:
                on_disconnect(run)

    return sse(chunks(), UI_STREAM_HEADERS)


async def encoded(events: AsyncIterator[ChatEvent], encode: Callable[[ChatEvent], list[dict[str, Any]]],
                  ) -> AsyncIterator[dict[str, Any]]:
    async for event in events:
        for chunk in encode(event):
            yield chunk
