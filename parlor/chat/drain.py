"""A deploy's drain (SIGTERM): the replica says it is not ready (so the load balancer sends new turns
elsewhere) while its listener stays open, its running turns and `/v1` calls get `seconds` to end, and
the rest are stopped, each ending its stream with a terminal event (stored as aborted). Only then
does the server's own shutdown begin, so no stream is cut mid-answer and nothing waits twice."""

from __future__ import annotations

import asyncio
import logging

from parlor.chat.runs import RunRegistry

log = logging.getLogger(__name__)


class Drain:
    def __init__(self, registries: list[RunRegistry], seconds: float):
        self._registries = registries
        self._seconds = seconds
        self.started = False  # readiness answers 503 from here on; new turns are refused

    async def run(self) -> None:
        self.started = True
        running = sum(len(r) for r in self._registries)
        log.warning("shutting down: %d run(s) get up to %g s to finish", running, self._seconds)
        await asyncio.gather(*(r.drain(self._seconds) for r in self._registries))
