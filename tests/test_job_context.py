"""A job continues the trace of the request that queued it (W3C `traceparent` carried with the job, on the
in-process queue and through Redis), and every line logged while it runs carries `job` and `document_id`."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from parlor.jobs.queue import JobQueue, LocalQueue
from parlor.jobs.redis_queue import RedisQueue
from parlor.jobs.runner import JobRunner
from parlor.observability.logs import configure_logging
from tests.helpers.redis import redis_url


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    stream, root = io.StringIO(), logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("info", "json", stream=stream)
    try:
        yield stream
    finally:
        root.handlers = saved[0]
        root.setLevel(saved[1])


def runner(done: asyncio.Event) -> JobRunner:
    tries = 0
    jobs = JobRunner(retries=1, base_delay=0.01, max_delay=0.01)

    async def ingest(document_id: str) -> None:
        nonlocal tries
        tries += 1
        logging.getLogger("parlor.rag.test").info("parsing %s", document_id)
        if tries == 1:
            raise RuntimeError("transient")  # the runner's own warning line must carry the job too
        done.set()

    jobs.register("ingest", ingest, arg_name="document_id")
    return jobs


async def queued_from_a_request(queue: JobQueue, done: asyncio.Event, document_id: str) -> ReadableSpan | Any:
    with trace.get_tracer("test").start_as_current_span("POST /api/documents") as upload:
        await queue.enqueue("ingest", document_id)
    await asyncio.wait_for(done.wait(), 30)
    return upload


def check(exporter: InMemorySpanExporter, upload: Any, stream: io.StringIO, document_id: str) -> None:
    upload_ids = upload.get_span_context()
    jobs = [s for s in exporter.get_finished_spans() if s.name == "job ingest"
            and s.context.trace_id == upload_ids.trace_id]
    assert len(jobs) == 1  # the job (both its tries), in the upload's trace, under its span
    assert all(s.parent is not None and s.parent.span_id == upload_ids.span_id for s in jobs)
    logged = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    during = [line for line in logged if document_id in line["event"]]
    assert {line["logger"] for line in during} == {"parlor.rag.test", "parlor.jobs.runner"}
    trace_id = format(upload_ids.trace_id, "032x")
    for line in during:
        assert (line["job"], line["document_id"], line["trace_id"]) == ("ingest", document_id, trace_id), line
    after = [line for line in logged if line["event"] == "after the job"]
    assert after and "job" not in after[0] and "document_id" not in after[0]  # unbound when it ends


async def test_the_in_process_queue(exporter: InMemorySpanExporter, lines: io.StringIO) -> None:
    done, document_id = asyncio.Event(), f"doc-{uuid.uuid4().hex[:8]}"
    queue = LocalQueue(runner(done))
    await queue.start()
    try:
        upload = await queued_from_a_request(queue, done, document_id)
        await queue.idle()
        logging.getLogger("parlor.rag.test").info("after the job")
    finally:
        await queue.aclose()
    check(exporter, upload, lines, document_id)


async def test_through_redis(exporter: InMemorySpanExporter, lines: io.StringIO) -> None:
    done, document_id = asyncio.Event(), f"doc-{uuid.uuid4().hex[:8]}"
    name = f"jobs-trace-{uuid.uuid4().hex[:8]}"
    producer, consumer = RedisQueue(redis_url(), name, JobRunner(), 60), RedisQueue(redis_url(), name, runner(done), 60)
    await producer.start()
    await consumer.start()
    stop = asyncio.Event()
    work = asyncio.create_task(consumer.work(stop))
    try:
        upload = await queued_from_a_request(producer, done, document_id)
        await asyncio.sleep(0.2)
        logging.getLogger("parlor.rag.test").info("after the job")
    finally:
        stop.set()
        await asyncio.wait_for(work, 10)
        await producer.redis.delete(name)
        await producer.aclose()
        await consumer.aclose()
    check(exporter, upload, lines, document_id)
