"""The distributed job queue: taskiq over a Redis stream (taskiq-redis), run by `parlor worker`.

Why taskiq: it is asyncio-native (our jobs are async functions, as in the server), works with the
redis client the rest of Parlor uses (arq pins redis<6 and is in maintenance mode; Celery is
synchronous at heart), and its stream broker acknowledges a message only after the job ran, so a
worker killed mid-job (kill -9) leaves the message pending in the consumer group for another worker
to claim once it has been idle `reclaim_seconds`. Retries with backoff happen in our JobRunner, the
same code as in embedded mode. Delivery is at least once: jobs are idempotent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Any

from redis.asyncio import Redis
from taskiq import AckableMessage
from taskiq.acks import AcknowledgeType
from taskiq.kicker import AsyncKicker
from taskiq.receiver import Receiver
from taskiq_redis import RedisStreamBroker

from parlor.jobs.runner import JobRunner, trace_carrier
from parlor.redis_keys import jobs_group

log = logging.getLogger(__name__)
TASK = "parlor.run_job"
DEPTH_CAP = 10_000


class ReclaimingStreamBroker(RedisStreamBroker):
    """taskiq-redis's stream broker, with two changes:
    - it claims other consumers' stale messages (XAUTOCLAIM) on every poll; upstream does it only after a
      read that brought new messages, so on a quiet queue a killed worker's job would wait for the next one;
    - it heartbeats the messages it is running (XCLAIM to itself resets their idle time), so a long job of
      a live worker is never taken for a dead worker's, however short the reclaim time."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._running: set[str] = set()
        self._heartbeat: asyncio.Task[None] | None = None

    def _message(self, message_id: Any, fields: Any) -> AckableMessage:
        key = message_id.decode() if isinstance(message_id, bytes) else str(message_id)
        self._running.add(key)
        ack = self._ack_generator(id=message_id, queue_name=self.queue_name)

        async def done() -> None:
            await ack()
            self._running.discard(key)

        return AckableMessage(data=fields[b"data"], ack=done)

    async def _beat(self) -> None:
        async with Redis(connection_pool=self.connection_pool) as redis:
            while True:
                await asyncio.sleep(max(0.2, self.idle_timeout / 3000))
                if self._running:
                    try:
                        await redis.xclaim(self.queue_name, self.consumer_group_name, self.consumer_name, 0,
                                           list(self._running), justid=True)
                    except Exception as exc:  # a missed beat only risks a duplicate run (jobs are idempotent)
                        log.warning("job heartbeat failed: %s", exc)

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._beat(), name="job-heartbeat")
        async with Redis(connection_pool=self.connection_pool) as redis:
            while True:
                claimed: Any = await redis.xautoclaim(self.queue_name, self.consumer_group_name, self.consumer_name,
                                                      min_idle_time=self.idle_timeout,
                                                      count=self.unacknowledged_batch_size)
                for message_id, fields in claimed[1]:
                    if fields and (message_id.decode() if isinstance(message_id, bytes) else message_id) \
                            not in self._running:
                        log.warning("claimed job message %s left unacknowledged by another worker", message_id)
                        yield self._message(message_id, fields)
                fetched: Any = await redis.xreadgroup(self.consumer_group_name, self.consumer_name,
                                                      {self.queue_name: ">"}, block=self.block, noack=False,
                                                      count=self.count)
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
        self.broker = ReclaimingStreamBroker(url, queue_name=queue_name, consumer_group_name=jobs_group(queue_name),
                                             consumer_id="0", idle_timeout=int(reclaim_seconds * 1000),
                                             xread_block=1000, xread_count=concurrency,
                                             max_connection_pool_size=max_connections or concurrency + 4)

        async def run_job(name: str, arg: str, carrier: dict[str, str] | None = None) -> None:
            await self._runner.run(name, arg, carrier)  # no carrier: queued by an older version

        self.broker.register_task(run_job, task_name=TASK)
        self._started = False

    async def start(self) -> None:
        await self.broker.startup()  # creates the stream and its consumer group
        self._started = True

    async def enqueue(self, name: str, arg: str) -> None:
        kicker: AsyncKicker[[str, str, dict[str, str]], None] = AsyncKicker(task_name=TASK, broker=self.broker,
                                                                            labels={})
        await kicker.kiq(name, arg, trace_carrier())

    async def depth(self) -> dict[str, int]:
        """From the consumer group, so every process reads the same numbers: `lag` (entries not yet
        delivered to any worker) and `pending` (delivered, not yet acknowledged: running, or left by a
        dead worker until reclaimed). Two cheap commands, whatever the backlog."""
        async with Redis(connection_pool=self.broker.connection_pool) as redis:
            group = await self._group(redis)
            waiting = group.get("lag")
            if waiting is None:  # Redis cannot tell after deletions: count what is left, up to a cap
                after = group["last-delivered-id"]
                after = after.decode() if isinstance(after, bytes) else str(after)
                waiting = len(await redis.xrange(self.broker.queue_name, min=f"({after}", count=DEPTH_CAP) or [])
        return {"waiting": int(waiting), "running": int(group.get("pending") or 0)}

    async def check(self) -> None:
        async with Redis(connection_pool=self.broker.connection_pool) as redis:
            await self._group(redis)

    async def _group(self, redis: Redis) -> dict[str, Any]:
        wanted = self.broker.consumer_group_name
        for group in await redis.xinfo_groups(self.broker.queue_name):
            name = group["name"]
            if (name.decode() if isinstance(name, bytes) else name) == wanted:
                found: dict[str, Any] = group
                return found
        raise LookupError(f"the job stream has no consumer group {wanted}")

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
