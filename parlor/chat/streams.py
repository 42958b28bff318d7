"""What a client reads for a turn: AI SDK UI message stream chunks, from a run of this process or
from another replica's run through the mirror. Chunks come in batches: a batch is one write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from parlor.chat.encoders import UIStreamEncoder, coalesce
from parlor.chat.events import TextChunk
from parlor.chat.runs import Run

Chunks = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class TurnStream:
    chunks: AsyncIterator[Chunks]
    run: Run | None = None  # None when the run lives on another replica


async def ui_chunks(run: Run, pace: float = 0.0) -> AsyncIterator[Chunks]:
    """A run's events from its start (a replay first, when it is under way), then live. Once text is
    flowing, a batch is written at most every `pace` seconds, what came meanwhile merged into it: a
    token every 30 ms then costs half the writes. The first token of a step is never held back."""
    encoder = UIStreamEncoder()
    async for batch in run.follow():
        chunks = [chunk for event in coalesce(batch) for chunk in encoder.encode(event)]
        if chunks:
            yield chunks
        if pace and not run.done and isinstance(batch[-1], TextChunk):
            await asyncio.sleep(pace)
