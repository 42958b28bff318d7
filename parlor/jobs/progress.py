"""Progress events by topic (e.g. one document): published by jobs wherever they run, followed by
whoever watches. In-process in embedded mode; Redis pub/sub when the jobs run in `parlor worker`.
Events are hints: a watcher reads the current state from the database too, so a lost event only delays."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis

from parlor.redis_client import REDIS_DOWN
from parlor.redis_keys import RedisKeys

log = logging.getLogger(__name__)
Event = dict[str, Any]


class ProgressBus(Protocol):
    async def publish(self, topic: str, event: Event) -> None: ...

    def subscribe(self, topic: str) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[Event]]: ...


class LocalBus:
    def __init__(self) -> None:
        self._watchers: dict[str, set[asyncio.Queue[Event]]] = {}

    async def publish(self, topic: str, event: Event) -> None:
        for queue in self._watchers.get(topic, ()):
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._watchers.setdefault(topic, set()).add(queue)
        try:
            yield queue
        finally:
            watchers = self._watchers.get(topic, set())
            watchers.discard(queue)
            if not watchers:
                self._watchers.pop(topic, None)


class RedisBus:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys):
        self._redis = redis
        self._keys = keys

    def _channel(self, topic: str) -> str:
        return self._keys.progress(topic)

    async def publish(self, topic: str, event: Event) -> None:
        try:
            await self._redis.publish(self._channel(topic), orjson.dumps(event))
        except REDIS_DOWN as exc:  # watchers fall back to polling the database
            log.warning("could not publish progress on %s: %s", topic, exc)

    async def _subscribe(self, pubsub: Any, topic: str) -> bool:
        """Whether it subscribed; Redis down is logged (the watcher polls the database meanwhile)."""
        try:
            await pubsub.subscribe(self._channel(topic))
        except REDIS_DOWN as exc:
            log.warning("cannot subscribe to progress on %s: %s", topic, exc)
            return False
        return True

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        pubsub = self._redis.pubsub()
        subscribed = await self._subscribe(pubsub, topic)

        async def pump() -> None:  # polls: a client's socket timeout must not end a quiet subscription
            nonlocal subscribed
            while True:
                if not subscribed:  # Redis was down when the watcher came: try again
                    await asyncio.sleep(1.0)
                    subscribed = await self._subscribe(pubsub, topic)
                    continue
                try:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                except REDIS_DOWN as exc:
                    log.warning("progress subscription on %s: %s", topic, exc)
                    await asyncio.sleep(1.0)
                    continue
                if message is not None and message.get("type") == "message":
                    queue.put_nowait(orjson.loads(message["data"]))

        task = asyncio.create_task(pump(), name=f"progress:{topic}")
        try:
            yield queue
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, *REDIS_DOWN):
                await task
            with contextlib.suppress(*REDIS_DOWN):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
