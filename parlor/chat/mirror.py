"""Runs seen from every replica, through Redis: a thread is claimed for a run before it is planned (a
lease, chat/leases.py: a retried POST on another replica attaches instead of generating twice), each
run's events go to a Redis Stream (so a client of any protocol can resume on any replica), and stop
requests travel over pub/sub to the replica that is generating. Without Redis, `NoMirror` stands in:
every run is this replica's alone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import redis.asyncio as aioredis

from parlor.chat.eventlog import dump_event, load_event
from parlor.chat.events import ChatEvent, TurnFailed, coalesce
from parlor.chat.leases import Claim, Leases, run_id
from parlor.chat.runs import Run
from parlor.redis_client import REDIS_DOWN
from parlor.redis_keys import RedisKeys
from parlor.tasks import TaskTracker

log = logging.getLogger(__name__)
END = b"end"
BLOCK_MS = 1_000  # short blocking reads: a client with short socket timeouts can serve them
FLUSH_SECONDS = 0.05  # a run's events go to Redis at most this often: one pipeline per window, not per token


Key = tuple[str, str]  # (user id, thread id)
Batches = AsyncIterator[list[ChatEvent]]


RUN_LOST = TurnFailed("run_lost", "The server generating this answer stopped. Please ask again.")
MIRROR_LOST = TurnFailed("resume_failed", "Lost track of this answer while it was generated elsewhere; "
                         "reload the chat to see it.")


class Mirror(Protocol):
    async def claim(self, key: Key, client_id: str) -> Claim: ...

    async def release(self, claim: Claim) -> None: ...

    async def publish(self, run: Run) -> None: ...

    async def follow(self, key: Key) -> Batches | None: ...

    async def ended(self, key: Key) -> Batches | None: ...

    async def running(self, keys: list[Key]) -> set[Key]: ...

    async def copy(self, key: Key) -> list[ChatEvent]: ...

    async def request_stop(self, key: Key) -> None: ...

    async def listen_for_stops(self, stop: Callable[[Key], object]) -> None: ...


class NoMirror:
    """No Redis: other replicas neither see this one's runs nor ask it to stop them."""

    async def claim(self, key: Key, client_id: str) -> Claim:
        return Claim(key)  # this replica's own registry decides

    async def release(self, claim: Claim) -> None:
        return None

    async def publish(self, run: Run) -> None:
        return None

    async def follow(self, key: Key) -> Batches | None:
        return None

    async def ended(self, key: Key) -> Batches | None:
        return None

    async def running(self, keys: list[Key]) -> set[Key]:
        return set()  # one process alone: what it does not run, nobody runs

    async def copy(self, key: Key) -> list[ChatEvent]:
        return []

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
    def __init__(self, redis: aioredis.Redis, keys: RedisKeys, leases: Leases, tasks: TaskTracker, ttl: int = 600):
        self._redis = redis
        self._keys = keys
        self._leases = leases
        self._tasks = tasks
        self._ttl = ttl
        self._reading: dict[str, Run] = {}  # other replicas' runs this one's clients follow, read once
        self._copies: dict[Run, _Copy] = {}  # this process's runs being copied
        self._writer: asyncio.Task[None] | None = None
        self._tick: asyncio.Future[None] | None = None  # the events write under way, if any

    def _stream(self, key: Key, run: str) -> str:
        return self._keys.run_stream(*key, run)

    def _last(self, key: Key) -> str:
        return self._keys.run_last(*key)

    def _active(self, key: Key) -> str:
        return self._keys.run_active(*key)

    @property
    def _stops(self) -> str:
        return self._keys.stops()

    async def claim(self, key: Key, client_id: str) -> Claim:
        """Takes the key for a run (chat/leases.py); the lease's token names the run's copy."""
        return await self._leases.claim(key, client_id)

    async def release(self, claim: Claim) -> None:
        await self._leases.release(claim)

    async def running(self, keys: list[Key]) -> set[Key]:
        return await self._leases.running(keys)

    async def publish(self, run: Run) -> None:
        """Copies a run's events to its stream until the run ends (runs as the run's own tracked task),
        then gives its thread back. The events of all this process's runs go out together, one pipeline
        every FLUSH_SECONDS; the start and the end of each run are written at once. Without Redis the
        run goes on, resumable on this replica only. A run without a lease on its key (a `/v1` call
        without an idempotency key) is nobody else's business: it is not copied."""
        if not run.claim.lease:
            return
        token = run_id(run.claim.lease)
        stream = self._stream(run.key, token)
        try:
            await self._redis.set(self._last(run.key), token, ex=self._ttl)
        except REDIS_DOWN as exc:
            log.warning("run %s is not mirrored to Redis: %s", run.key[1], exc)
            await run.wait()
            await self._leases.release(run.claim)
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
        nothing else: under load they must not queue behind each other); then the thread is free (not
        before: a follower that finds neither an end nor a lease takes the run for lost)."""
        copy = self._copies.pop(run)  # no later tick takes its events
        if self._tick is not None:
            await asyncio.wait([self._tick])  # done or failed alike: the end goes out after it
        await self._write([(copy, [*copy.take(run), END])])
        await self._leases.release(run.claim)

    async def _write(self, events: list[tuple[_Copy, list[bytes]]]) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for copy, items in events:
                    for event in items:
                        pipe.xadd(copy.stream, {"e": event})
                    if items:
                        pipe.expire(copy.stream, self._ttl)
                if len(pipe):
                    await pipe.execute()
        except REDIS_DOWN as exc:  # those events are missing from the copy; the runs go on
            log.warning("run events not mirrored to Redis: %s", exc)

    async def follow(self, key: Key) -> Batches | None:
        """The running run's events from its start, then live; None when no replica runs one for the key.
        However many clients of this replica follow one run, it is read from Redis once (a blocking read
        holds a connection: one per follower would empty the pool under a burst of retries)."""
        try:
            lease = await self._redis.get(self._active(key))
        except REDIS_DOWN as exc:
            log.warning("cannot see other replicas' runs: %s", exc)
            return None
        if lease is None:
            return None
        stream = self._stream(key, run_id(lease))
        if (reading := self._reading.get(stream)) is None or reading.done:
            reading = self._reading[stream] = Run(key, self._events(key, stream, lease), self._tasks)
        return reading.follow()

    async def _events(self, key: Key, stream: str, lease: bytes | str) -> AsyncIterator[ChatEvent]:
        try:
            async for batch in self._read(key, stream, lease):
                for event in batch:
                    yield event
        finally:
            self._reading.pop(stream, None)

    async def ended(self, key: Key) -> Batches | None:
        """The complete copy of the key's last run, kept for the mirror's TTL after it ended; None when
        there is none (nor for a run that died before its end: that one is lost)."""
        try:
            stream = await self._last_stream(key)
            last: Any = await self._redis.xrevrange(stream, count=1) if stream else None
        except REDIS_DOWN as exc:
            log.warning("cannot see other replicas' runs: %s", exc)
            return None
        return self._read(key, stream) if stream and last and last[0][1][b"e"] == END else None

    async def _last_stream(self, key: Key) -> str | None:
        token = await self._redis.get(self._last(key))
        return self._stream(key, run_id(token)) if token is not None else None

    async def copy(self, key: Key) -> list[ChatEvent]:
        """What the key's run copied so far (all of it, once it ended); [] when Redis cannot say."""
        try:
            stream = await self._last_stream(key)
            entries: Any = await self._redis.xrange(stream) if stream else []
        except REDIS_DOWN as exc:
            log.warning("cannot read the copy of run %s: %s", key[1], exc)
            return []
        return [load_event(fields[b"e"]) for _, fields in entries if fields[b"e"] != END]

    async def _read(self, key: Key, stream: str, lease: bytes | str | None = None) -> Batches:
        """A run's copy from its start to its end marker; a terminal event of its own when the run's
        replica no longer holds its `lease` (it died) or Redis fails mid-read: a follower's stream ends."""
        position = "0"
        while True:
            try:
                answer: Any = await self._redis.xread({stream: position}, block=BLOCK_MS, count=500)
                running = bool(answer) or (lease is not None and await self._redis.get(self._active(key)) == lease)
            except REDIS_DOWN as exc:
                log.warning("lost the copy of run %s: %s", key[1], exc)
                yield [MIRROR_LOST]
                return
            if not answer:
                if running:
                    continue  # a slow model: still running
                yield [RUN_LOST]  # no end marker and no lease: the generating replica is gone
                return
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
