"""The distributed job queue: taskiq over a Redis stream (a broker of our own, after taskiq-redis's: it
runs on any client parlor/redis_client.py makes), run by `parlor worker`.

Why taskiq: it is asyncio-native (our jobs are async functions, as in the server), works with the
redis client the rest of Parlor uses (arq pins redis<6 and is in maintenance mode; Celery is
synchronous at heart), and the stream broker acknowledges a message only after the job ran, so a
worker killed mid-job (kill -9) leaves the message pending in the consumer group for another worker
to claim once it has been idle `reclaim_seconds`. Retries with backoff happen in our JobRunner, the
same code as in embedded mode. Delivery is at least once: jobs are idempotent."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError
from taskiq import AckableMessage, AsyncBroker, BrokerMessage
from taskiq.acks import AcknowledgeType
from taskiq.exceptions import SendTaskError
from taskiq.kicker import AsyncKicker
from taskiq.receiver import Receiver

from parlor.jobs.queue import QueueUnavailable
from parlor.jobs.runner import JobRunner, trace_carrier
from parlor.redis_client import REDIS_DOWN, Options, connect
from parlor.redis_keys import jobs_group

log = logging.getLogger(__name__)
TASK = "parlor.run_job"
DEPTH_CAP = 10_000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class StreamBroker(AsyncBroker):
    """taskiq's broker over one Redis stream and its consumer group, on any client parlor/redis_client.py
    makes (one server, a cluster: the stream is one key, or a Sentinel's master). Like taskiq-redis's
    stream broker, with three changes:
    - the group is created by whoever needs it, idempotently (XGROUP CREATE MKSTREAM, BUSYGROUP is fine),
      and again when Redis lost it (a flush, a failover to a replica that lagged): nobody waits on another;
    - it claims other consumers' stale messages (XAUTOCLAIM) on every poll, so on a quiet queue a killed
      worker's job does not wait for the next one;
    - it heartbeats the messages it is running (XCLAIM to itself resets their idle time), so a long job of
      a live worker is never taken for a dead worker's, however short the reclaim time."""

    def __init__(self, redis: aioredis.Redis, stream: str, idle_ms: int, block_ms: int = 1000, count: int = 1):
        super().__init__()
        self.redis = redis
        self.stream = stream
        self.group = jobs_group(stream)
        self.consumer = uuid.uuid4().hex
        self.idle_ms = idle_ms
        self.block_ms = block_ms
        self.count = count
        self._running: set[str] = set()
        self._heartbeat: asyncio.Task[None] | None = None

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def startup(self) -> None:
        await super().startup()
        await self.ensure_group()

    async def kick(self, message: BrokerMessage) -> None:
        await self.redis.xadd(self.stream, {b"data": message.message})

    def _message(self, message_id: Any, fields: Any) -> AckableMessage:
        key = _text(message_id)
        self._running.add(key)

        async def done() -> None:
            await self.redis.xack(self.stream, self.group, message_id)
            self._running.discard(key)

        return AckableMessage(data=fields[b"data"], ack=done)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(max(0.2, self.idle_ms / 3000))
            if self._running:
                try:
                    await self.redis.xclaim(self.stream, self.group, self.consumer, 0, list(self._running),
                                            justid=True)
                except Exception as exc:  # a missed beat only risks a duplicate run (jobs are idempotent)
                    log.warning("job heartbeat failed: %s", exc)

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._beat(), name="job-heartbeat")
        while True:
            try:
                claimed: Any = await self.redis.xautoclaim(self.stream, self.group, self.consumer,
                                                           min_idle_time=self.idle_ms, count=100)
                fetched: Any = await self.redis.xreadgroup(self.group, self.consumer, {self.stream: ">"},
                                                           block=self.block_ms, count=self.count)
            except ResponseError as exc:  # NOGROUP; UNBLOCKED: the stream went while a read waited on it
                if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                    raise
                log.warning("the job stream lost its consumer group (Redis flushed or failed over): recreating it")
                await self.ensure_group()
                continue
            for message_id, fields in claimed[1]:
                if fields and _text(message_id) not in self._running:
                    log.warning("claimed job message %s left unacknowledged by another worker", message_id)
                    yield self._message(message_id, fields)
            for _stream, messages in fetched or []:
                for message_id, fields in messages:
                    yield self._message(message_id, fields)

    async def shutdown(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        await super().shutdown()


class RedisQueue:
    def __init__(self, url: str, queue_name: str, runner: JobRunner, reclaim_seconds: float, concurrency: int = 1,
                 max_connections: int | None = None):
        """`max_connections`: the broker's pool (it waits for a free one); the default: concurrency + 4
        (the blocking read, the heartbeat, acknowledgements, enqueues and depth checks)."""
        self._runner = runner
        self._concurrency = concurrency
        # no socket timeout below the blocking read's second; a pool that waits for a free connection
        self.redis = connect(url, Options(max_connections=max_connections or concurrency + 4, wait=10,
                                          socket_timeout=10, connect_timeout=2))
        self.broker = StreamBroker(self.redis, queue_name, int(reclaim_seconds * 1000), count=concurrency)

        async def run_job(name: str, arg: str, carrier: dict[str, str] | None = None) -> None:
            await self._runner.run(name, arg, carrier)  # no carrier: queued by an older version

        self.broker.register_task(run_job, task_name=TASK)
        self._started = False

    async def start(self) -> None:
        await self.broker.startup()  # creates the stream and its consumer group (if not there yet)
        self._started = True

    async def enqueue(self, name: str, arg: str) -> None:
        kicker: AsyncKicker[[str, str, dict[str, str]], None] = AsyncKicker(task_name=TASK, broker=self.broker,
                                                                            labels={})
        try:
            await kicker.kiq(name, arg, trace_carrier())
        except SendTaskError as exc:  # taskiq's wrapper of whatever the broker raised
            if isinstance(exc.__cause__, REDIS_DOWN):
                raise QueueUnavailable(f"Redis did not take the job: {exc.__cause__}") from exc
            raise

    async def depth(self) -> dict[str, int]:
        """From the consumer group, so every process reads the same numbers: `lag` (entries not yet
        delivered to any worker) and `pending` (delivered, not yet acknowledged: running, or left by a
        dead worker until reclaimed). Two cheap commands, whatever the backlog."""
        group = await self._group()
        waiting = group.get("lag")
        if waiting is None:  # Redis cannot tell after deletions: count what is left, up to a cap
            after = _text(group["last-delivered-id"])
            waiting = len(await self.redis.xrange(self.broker.stream, min=f"({after}", count=DEPTH_CAP) or [])
        return {"waiting": int(waiting), "running": int(group.get("pending") or 0)}

    async def check(self) -> None:
        """Readiness: Redis takes jobs. The group is made here if it is missing (after a flush): a replica's
        readiness depends on Redis answering, never on a worker having come by."""
        await self.broker.ensure_group()

    async def _group(self) -> dict[str, Any]:
        for group in await self.redis.xinfo_groups(self.broker.stream):
            if _text(group["name"]) == self.broker.group:
                found: dict[str, Any] = group
                return found
        raise LookupError(f"the job stream has no consumer group {self.broker.group}")

    async def work(self, stop: asyncio.Event) -> None:
        """Runs jobs from the queue until `stop` is set (then finishes the ones under way)."""
        self.broker.is_worker_process = True
        receiver = Receiver(self.broker, max_async_tasks=self._concurrency, run_startup=False,
                            ack_type=AcknowledgeType.WHEN_EXECUTED, propagate_exceptions=False)
        await receiver.listen(stop)

    async def aclose(self) -> None:
        if self._started:
            self._started = False
            await self.broker.shutdown()
        await self.redis.aclose()
