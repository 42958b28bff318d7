"""What a client reads for a turn: AI SDK UI message stream chunks, from a run of this process or
from another replica's run through the mirror."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from parlor.chat.encoders import UIStreamEncoder, coalesce
from parlor.chat.runs import Run


@dataclass(frozen=True, slots=True)
class TurnStream:
    chunks: AsyncIterator[dict[str, Any]]
    run: Run | None = None  # None when the run lives on another replica


async def ui_chunks(run: Run) -> AsyncIterator[dict[str, Any]]:
    """A run's events from its start (a replay first, when it is under way), then live."""
    encoder = UIStreamEncoder()
    async for batch in run.follow():
        for event in coalesce(batch):
            for chunk in encoder.encode(event):
                yield chunk
