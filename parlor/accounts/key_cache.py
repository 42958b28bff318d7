"""Recently authenticated API keys, so a request skips the database query, and the news of changes to
them across processes. A change (revocation, new tier or role, deletion) drops the user's entries in this
process at once and is announced over Redis pub/sub to every other process, which drops them too. The
cache is only trusted while its process hears those announcements: without Redis, or while the
subscription is down, every request asks the database."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

import redis.asyncio as aioredis

from parlor.accounts.principal import Principal
from parlor.redis_client import REDIS_DOWN
from parlor.redis_keys import RedisKeys

log = logging.getLogger(__name__)


class KeyCache:
    """One per process, built by the composition root and shared by everything that authenticates keys or
    changes them (through `KeyChanges`): a change made here must drop what any of them cached."""

    MAX_ENTRIES = 10_000  # beyond this, start over rather than grow

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Principal, datetime | None]] = {}
        self.live = False  # true while this process hears other processes' changes
        self.generation = 0  # moves on each change: a read from before a change is not cached after it

    def get(self, digest: str, seconds: float) -> tuple[Principal, datetime | None] | None:
        entry = self._entries.get(digest) if self.live else None
        if entry is None or time.monotonic() - entry[0] > seconds:
            return None
        return entry[1], entry[2]

    def put(self, digest: str, principal: Principal, expires_at: datetime | None, read_at: int) -> None:
        """Caches what was read from the database at generation `read_at`, unless something changed since."""
        if read_at != self.generation:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[digest] = (time.monotonic(), principal, expires_at)

    def forget_user(self, user_id: str) -> None:
        self.generation += 1
        for digest in [d for d, (_, p, _) in self._entries.items() if p.id == user_id]:
            del self._entries[digest]

    def distrust(self) -> None:
        """Changes may go unheard from now on: nothing cached is used until they are heard again."""
        self.live = False
        self.generation += 1
        self._entries.clear()


class KeyChanges:
    """Announces a user's changed keys to every process over Redis (without Redis: to this process
    alone), and hears the others' announcements."""

    def __init__(self, redis: aioredis.Redis | None = None, keys: RedisKeys | None = None,
                 cache: KeyCache | None = None):
        self._redis = redis
        self._channel = (keys or RedisKeys()).key_changes()
        self.cache = cache or KeyCache()

    async def announce(self, user_id: str) -> None:
        self.cache.forget_user(user_id)
        if self._redis is None:
            return
        try:
            await self._redis.publish(self._channel, user_id)
        except REDIS_DOWN as exc:  # the others stop trusting their caches when their subscription fails too
            log.warning("could not announce a key change of user %s: %s", user_id, exc)

    async def aclose(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def listen(self) -> None:
        """Keeps this process's cache in step with every other process's changes (until cancelled)."""
        if self._redis is None:
            return
        try:
            while True:
                try:
                    async with self._redis.pubsub() as pubsub:
                        await pubsub.subscribe(self._channel)
                        self.cache.live = True
                        while True:
                            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                            if message is not None and message["type"] == "message":
                                self.cache.forget_user(message["data"].decode())
                except REDIS_DOWN as exc:
                    self.cache.distrust()
                    log.warning("key changes of other processes are not heard, the key cache is off: %s", exc)
                    await asyncio.sleep(2)
        finally:
            self.cache.distrust()
