"""Answers whose run died with its replica (SIGKILL, OOM, a lost node) are ended, not left `streaming`
for ever: every replica looks for answers still streaming whose thread nobody holds (no run here, no
lease in Redis: chat/leases.py) and sets them to `error`, keeping what the mirror's copy had said.
Without Redis there is one process: what it does not run at its start is its dead predecessor's."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from parlor.chat.events import TextChunk
from parlor.chat.leases import LEASE_SECONDS
from parlor.chat.mirror import Mirror
from parlor.chat.runs import RunRegistry
from parlor.db import utcnow
from parlor.memory import MessageStore
from parlor.message_json import dump_parts
from parlor.messages import TextPart

log = logging.getLogger(__name__)


class RunRecovery:
    def __init__(self, store: MessageStore, mirror: Mirror, runs: RunRegistry, every: float = LEASE_SECONDS / 3):
        self._store = store
        self._mirror = mirror
        self._runs = runs
        self._every = every

    async def repair(self, settle: float = 0.0) -> int:
        """Ends the dead runs' answers begun over `settle` seconds ago; returns how many. (A run holds its
        lease before its answer's row exists, so no live one is taken for dead; `settle` spares the
        rows of runs that ended but whose write is merely slow.)"""
        found = await self._store.streaming_answers(utcnow() - timedelta(seconds=settle))
        keys = list({(user, thread) for _, user, thread in found if self._runs.active((user, thread)) is None})
        alive = await self._mirror.running(keys)
        repaired = 0
        for message_id, user, thread in found:
            key = (user, thread)
            if key in alive or self._runs.active(key) is not None:
                continue
            text = "".join(e.text for e in await self._mirror.copy(key) if isinstance(e, TextChunk))
            if await self._store.lose_answer(message_id, text, dump_parts([TextPart(text)] if text else [])):
                log.warning("the run of thread %s died with its replica: its answer is ended as an error", thread)
                repaired += 1
        return repaired

    async def watch(self) -> None:
        """Repairs every `every` seconds, for the app's life (a failed round is tried again next time):
        a dead run's answer is ended within a lease and one look (about 13 s). One look is one query
        on a partial index of the few rows still streaming."""
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.repair(settle=LEASE_SECONDS)
            except Exception:
                log.exception("looking for runs that died failed")
