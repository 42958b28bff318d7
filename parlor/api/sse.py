"""Server-Sent Events responses: sse-starlette keeps them alive (pings, disconnects, shutdown), events framed here."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from sse_starlette import EventSourceResponse

from parlor.api.wire.ui import UIStreamEncoder
from parlor.chat import ChatEvent, Run
from parlor.chat.events import TextChunk, TurnFailed, coalesce
from parlor.chat.service import Batches, TurnStream

log = logging.getLogger(__name__)
Chunks = list[dict[str, Any]]
STREAM_FAILED = TurnFailed("internal_error", "Something went wrong while streaming this answer. Please retry.")


UI_STREAM_HEADERS = {"Cache-Control": "no-cache", "x-vercel-ai-ui-message-stream": "v1"}
DONE = b"data: [DONE]\n\n"


def frame(chunk: dict[str, Any]) -> bytes:
    """One event, framed here rather than by a ServerSentEvent per chunk (the hot path: once per delta).
    orjson never writes a newline, so the JSON is always a single `data:` line. Text orjson refuses (a
    lone surrogate a model sent) goes out escaped, as the standard library writes it: nothing is dropped."""
    try:
        return b"data: " + orjson.dumps(chunk) + b"\n\n"
    except orjson.JSONEncodeError:
        return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def sse(batches: AsyncIterator[Chunks], headers: dict[str, str] | None = None,
        grace: float = 0) -> EventSourceResponse:
    """Each batch of chunks is one write (one trip through the middlewares and the socket)."""
    async def body() -> AsyncIterator[bytes]:
        async for batch in batches:
            yield b"".join(map(frame, batch))
        yield DONE

    return EventSourceResponse(body(), headers=headers, sep="\n", ping=15, shutdown_grace_period=grace)


def ui_stream(stream: TurnStream, on_disconnect: Callable[[Run], None], grace: float = 0,
              pace: float = 0) -> EventSourceResponse:
    """A turn as the AI SDK UI message stream; `on_disconnect` decides what a client that goes away
    before the end means for a run of this process. On shutdown the stream gets `grace` seconds to end.
    Once text is flowing, a batch is written at most every `pace` seconds, what came meanwhile merged
    into it: a token every 30 ms then costs half the writes. The first token of a step is never held."""

    async def chunks() -> AsyncIterator[Chunks]:
        try:
            async for batch in encoded(_paced(stream, pace), UIStreamEncoder().encode):
                yield batch
        finally:
            if stream.run is not None and not stream.run.done:
                on_disconnect(stream.run)

    return sse(chunks(), UI_STREAM_HEADERS, grace)


async def _paced(stream: TurnStream, pace: float) -> Batches:
    async for batch in stream.batches:
        yield batch
        if pace and stream.run is not None and not stream.run.done and isinstance(batch[-1], TextChunk):
            await asyncio.sleep(pace)


async def encoded(batches: Batches, encode: Callable[[ChatEvent], Chunks]) -> AsyncIterator[Chunks]:
    """Each batch of events as one batch of chunks (adjacent text merged: a reader that fell behind
    catches up in one write). Whatever fails inside, the stream still ends with the codec's error."""
    try:
        async for batch in batches:
            if chunks := [chunk for event in coalesce(batch) for chunk in encode(event)]:
                yield chunks
    except Exception:
        log.exception("a stream failed before its end")
        yield encode(STREAM_FAILED)
