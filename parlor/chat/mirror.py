"""Runs seen from every replica, through Redis: each run's events go to a Redis Stream (so a client of
any protocol can resume on any replica), an `active` key says which run a thread has (so a retried POST
on another replica attaches instead of generating twice), and stop requests travel over pub/sub to the
replica that is generating. Without Redis, `NoMirror` stands in: every run is this replica's alone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from parlor.chat.eventlog import dump_event, load_event
from parlor.chat.events import ChatEvent, coalesce
from parlor.chat.runs import Run
from parlor.redis_keys import RedisKeys

log = logging.getLogger(__name__)
END = b"end"
BLOCK_MS = 1_000  # short blocking reads: a client with short socket timeouts can serve them
FLUSH_SECONDS = 0.05  # a run's events go to Redis at most this often: one pipeline per window, not per token
REDIS_DOWN = (RedisError, OSError, TimeoutError)


Key = tuple[str, str]  # (user id, thread id)
Batches = AsyncIterator[list[ChatEvent]]


class Mirror(Protocol):
    async def publish(self, run: Run) -> None: ...

    async def active_client_id(self, key: Key) -> str | None: ...

    async def follow(self, key: Key, ended_too: bool = False) -> Batches | None: ...

    async def request_stop(self, key: Key) -> None: ...

    async def listen_for_stops(self, stop: Callable[[Key], object]) -> None: ...


class NoMirror:
    """No Redis: other replicas neither see this one's runs nor ask it to stop them."""

    async def publish(self, run: Run) -> None:
        return None

    async def active_client_id(self, key: Key) -> str | None:
        return None

    async def follow(self, key: Key, ended_too: bool = False) -> Batches | None:
        return None

    async def request_stop(self, key: Key) -> None:
        return None

    async def listen_for_stops(self, stop: Callable[[Key], object]) -> None:
        return None


@dataclass(slots=True)
class _Copy:
    """Where a run's copy stands: its stream key, and how far into the run's log it has been written."""

    stream: str
    position: int = 0

    def take(self, run: Run) -> list[bytes]:
        batch = run.log[self.position:]
        self.position += len(batch)
        return [dump_event(event) for event in coalesce(batch)]


class RunMirror:
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys, ttl: int = 600):
        self._redis = redis
        self._keys = keys
        self._ttl = ttl
        self._copies: dict[Run, _Copy] = {}  # this process's runs being copied
        self._writer: asyncio.Task[None] | None = None
        self._tick: asyncio.Future[None] | None = None  # the events write under way, if any

    def _stream(self, key: Key) -> str:
        return self._keys.run_stream(*key)

    def _active(self, key: Key) -> str:
        return self._keys.run_active(*key)

    @property
    def _stops(self) -> str:
        return self._keys.stops()

    async def publish(self, run: Run) -> None:
        """Copies a run's events to its stream until the run ends (runs as the run's own tracked task).
        The events of all this process's runs go out together, one pipeline every FLUSH_SECONDS; the
        start and the end of each run are written at once. Without Redis the run goes on, resumable on
        this replica only."""
        stream = self._stream(run.key)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.delete(stream)
                pipe.set(self._active(run.key), run.client_id or "", ex=self._ttl)
                await pipe.execute()
        except REDIS_DOWN as exc:
            log.warning("run %s is not mirrored to Redis: %s", run.key[1], exc)
            return
        self._copies[run] = _Copy(stream)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_while_running(), name="mirror-writer")
        try:
            await run.wait()
        finally:
            await asyncio.shield(self._end(run))

    async def _write_while_running(self) -> None:
        try:
            while self._copies:
                await asyncio.sleep(FLUSH_SECONDS)
                self._tick = asyncio.ensure_future(self._write([(c, c.take(r)) for r, c in self._copies.items()]))
                await self._tick
        finally:
            self._writer = self._tick = None

    async def _end(self, run: Run) -> None:
        """The run's last events and its end marker, after the events write under way (ends wait for
        nothing else: under load they must not queue behind each other)."""
        copy = self._copies.pop(run)  # no later tick takes its events
        if self._tick is not None:
            await asyncio.wait([self._tick])  # done or failed alike: the end goes out after it
        await self._write([(copy, [*copy.take(run), END])], ended=self._active(run.key))

    async def _write(self, events: list[tuple[_Copy, list[bytes]]], ended: str | None = None) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for copy, items in events:
                    for event in items:
                        pipe.xadd(copy.stream, {"e": event})
                    if items:
                        pipe.expire(copy.stream, self._ttl)
                if ended is not None:
                    pipe.delete(ended)
                if len(pipe):
                    await pipe.execute()
        except REDIS_DOWN as exc:  # those events are missing from the copy; the runs go on
            log.warning("run events not mirrored to Redis: %s", exc)

    async def active_client_id(self, key: Key) -> str | None:
        """The client message id of the run a thread has on any replica, or None."""
        try:
            value = await self._redis.get(self._active(key))
        except REDIS_DOWN as exc:
            log.warning("cannot see other replicas' runs: %s", exc)
            return None
        return value.decode() if isinstance(value, bytes) else value

    async def follow(self, key: Key, ended_too: bool = False) -> Batches | None:
        """The active run's events from its start, then live; None when the key has no active run
        (`ended_too`: nor a copy of an ended one, kept for the mirror's TTL)."""
        try:
            found = await (self._redis.exists(self._stream(key)) if ended_too else self.active_client_id(key))
        except REDIS_DOWN as exc:
            log.warning("cannot see other replicas' runs: %s", exc)
            return None
        return self._read(key) if found else None

    async def _read(self, key: Key) -> Batches:
        stream, position = self._stream(key), "0"
        while True:
            answer: Any = await self._redis.xread({stream: position}, block=BLOCK_MS, count=500)
            if not answer:
                if await self._redis.exists(self._active(key)):
                    continue  # a slow model: still running
                return  # no end marker and no active run: the generating replica is gone
            batch: list[ChatEvent] = []
            for entry_id, fields in answer[0][1]:
                position = entry_id
                if fields[b"e"] == END:
                    if batch:
                        yield batch
                    return
                batch.append(load_event(fields[b"e"]))
            yield batch

    async def request_stop(self, key: Key) -> None:
        try:
            await self._redis.publish(self._stops, orjson.dumps(list(key)))
        except REDIS_DOWN as exc:
            log.warning("could not pass a stop to the other replicas: %s", exc)

    async def listen_for_stops(self, stop: Callable[[Key], object]) -> None:
        """Calls `stop` for each stop request any replica publishes (runs for the app's life,
        reconnecting after a Redis outage)."""
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._stops)
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                        if message is not None and message["type"] == "message":
                            user, thread = orjson.loads(message["data"])
                            stop((user, thread))
            except REDIS_DOWN as exc:
                log.warning("stop requests from other replicas are not heard: %s", exc)
                await asyncio.sleep(2)
