"""Job metrics: every try of a job in `parlor_job_duration_seconds` (by job and outcome) and failed
tries in `parlor_job_failures_total`; the queue's depth read from the Redis consumer group at scrape
time (the same numbers whichever process is scraped); `parlor worker` serving them on its own port."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from redis.exceptions import RedisError

from parlor.jobs import JobRunner, LocalQueue
from parlor.jobs.redis_queue import RedisQueue
from parlor.observability import Metrics
from parlor.observability.exposition import serve_metrics
from tests.client import auth
from tests.conftest import upstream_provider
from tests.helpers.documents import events
from tests.helpers.redis import own_redis, redis_url
from tests.helpers.wait import wait_for
from tests.server import ParlorServer, free_port
from tests.upstream import Upstream

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
TOKEN = "jobs-metrics-" + uuid.uuid4().hex[:8]


def parse(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    with own_redis(tmp_path) as (_, port):
        yield port


async def test_each_try_is_timed_by_outcome_and_failed_tries_are_counted() -> None:
    metrics = Metrics()
    runner = JobRunner(retries=2, base_delay=0.001)
    tries: list[str] = []

    async def flaky(arg: str) -> None:
        tries.append(arg)
        if len(tries) == 1:
            raise OSError("disk busy")

    async def broken(arg: str) -> None:
        raise ValueError("never works")

    runner.register("flaky", flaky)
    runner.register("broken", broken)
    metrics.watch_jobs("q", _NoQueue(), runner)
    await runner.run("flaky", "a")
    await runner.run("broken", "b")
    samples = parse((await metrics.render()).decode())
    count = "parlor_job_duration_seconds_count"
    assert value(samples, count, job="flaky", outcome="retry") == 1
    assert value(samples, count, job="flaky", outcome="ok") == 1
    assert value(samples, count, job="broken", outcome="retry") == 2
    assert value(samples, count, job="broken", outcome="failed") == 1
    assert value(samples, "parlor_job_failures_total", job="broken") == 3
    assert value(samples, "parlor_job_failures_total", job="flaky") == 1
    assert value(samples, "parlor_job_duration_seconds_sum", job="flaky") > 0


class _NoQueue:
    async def depth(self) -> dict[str, int]:
        return {}


async def test_depth_counts_queued_and_running_jobs_the_same_from_every_process(redis_port: int) -> None:
    url, name = redis_url(redis_port), f"jobs-{uuid.uuid4().hex[:6]}"
    release = asyncio.Event()
    started: list[str] = []

    async def slow(arg: str) -> None:
        started.append(arg)
        await release.wait()

    runner = JobRunner()
    runner.register("slow", slow)
    producer, consumer = RedisQueue(url, name, runner, 60), RedisQueue(url, name, runner, 60)
    server_metrics, worker_metrics = Metrics(), Metrics()  # two processes' registries
    server_metrics.watch_jobs(name, producer, JobRunner())
    worker_metrics.watch_jobs(name, consumer, runner)

    async def depth(metrics: Metrics) -> tuple[float, float]:
        samples = parse((await metrics.render()).decode())
        return (value(samples, "parlor_job_queue_depth", queue=name, state="waiting"),
                value(samples, "parlor_job_queue_depth", queue=name, state="running"))

    await producer.start()
    await consumer.start()
    stop = asyncio.Event()
    try:
        assert await depth(server_metrics) == (0, 0)
        for arg in ("a", "b", "c"):
            await producer.enqueue("slow", arg)
        assert await depth(server_metrics) == (3, 0) == await depth(worker_metrics)
        work = asyncio.create_task(consumer.work(stop))
        await wait_for(lambda: len(started) == 1)
        assert await depth(server_metrics) == (2, 1) == await depth(worker_metrics)
        release.set()
        await wait_for(lambda: len(started) == 3)
        for _ in range(100):
            if await depth(server_metrics) == (0, 0):
                break
            await asyncio.sleep(0.05)
        assert await depth(server_metrics) == (0, 0) == await depth(worker_metrics)
        samples = parse((await worker_metrics.render()).decode())
        assert value(samples, "parlor_job_duration_seconds_count", job="slow", outcome="ok") == 3
        stop.set()
        await asyncio.wait_for(work, 10)
    finally:
        stop.set()
        await producer.aclose()
        await consumer.aclose()


async def test_the_in_process_queue_of_embedded_mode_reports_its_depth_too() -> None:
    release, started = asyncio.Event(), []

    async def slow(arg: str) -> None:
        started.append(arg)
        await release.wait()

    runner = JobRunner()
    runner.register("slow", slow)
    queue, metrics = LocalQueue(runner, concurrency=1), Metrics()
    metrics.watch_jobs("local", queue, runner)
    await queue.start()
    try:
        for arg in ("a", "b", "c"):
            await queue.enqueue("slow", arg)
        await wait_for(lambda: started == ["a"])
        samples = parse((await metrics.render()).decode())
        assert value(samples, "parlor_job_queue_depth", queue="local", state="waiting") == 2
        assert value(samples, "parlor_job_queue_depth", queue="local", state="running") == 1
        await queue.check()
        release.set()
        await queue.idle()
        samples = parse((await metrics.render()).decode())
        assert value(samples, "parlor_job_queue_depth", queue="local") == 0
        assert value(samples, "parlor_job_duration_seconds_count", job="slow", outcome="ok") == 3
    finally:
        await queue.aclose()


async def test_a_scrape_survives_an_unreachable_queue() -> None:
    queue = RedisQueue(redis_url(free_port()), "nowhere", JobRunner(), 60)  # nothing listens
    metrics = Metrics()
    metrics.watch_jobs("nowhere", queue, JobRunner())
    metrics.streams.inc()
    samples = parse((await metrics.render()).decode())
    assert value(samples, "parlor_active_streams") == 1  # the other metrics still go out
    assert not [name for name, _ in samples if name == "parlor_job_queue_depth"]
    with pytest.raises((RedisError, OSError)):  # and readiness says so
        await queue.check()


def test_the_worker_serves_its_job_metrics_and_the_server_sees_the_backlog(redis_port: int, upstream: Upstream,
                                                                          tmp_path: Path) -> None:
    metrics_port = free_port()
    server = ParlorServer(tmp_path, [upstream_provider(upstream)], PARLOR_REDIS_URL=redis_url(redis_port),
                          PARLOR_METRICS_TOKEN=TOKEN, PARLOR_WORKER_METRICS_PORT=str(metrics_port)).start(120)
    worker: subprocess.Popen[bytes] | None = None
    try:
        ready = httpx.get(f"{server.url}/readyz").json()
        assert ready["checks"]["queue"] is True
        key = server.create_user(f"jobs-{uuid.uuid4().hex[:6]}")
        response = httpx.post(f"{server.url}/api/documents", headers=auth(key), timeout=30,
                              files={"file": ("notes.txt", b"Parlor keeps notes. " * 50, "text/plain")})
        assert response.status_code == 202, response.text
        queued = parse(httpx.get(f"{server.url}/metrics", headers=auth(TOKEN)).text)
        assert value(queued, "parlor_job_queue_depth", state="waiting") == 1  # no worker yet
        with (tmp_path / "worker.log").open("ab") as log:
            worker = subprocess.Popen([sys.executable, "-m", "parlor", "worker"], env=server.env, cwd=tmp_path,
                                      stdout=log, stderr=subprocess.STDOUT)
        final = events(server, key, response.json()["id"])[-1]
        assert final["status"] == "ready", final
        worker_url = f"http://127.0.0.1:{metrics_port}/metrics"
        assert httpx.get(worker_url).status_code == 401  # the same token as the server's /metrics
        after = parse(httpx.get(worker_url, headers=auth(TOKEN)).text)
        assert value(after, "parlor_job_duration_seconds_count", outcome="ok") == 1
        assert value(after, "parlor_job_queue_depth", state="waiting") == 0
        drained = parse(httpx.get(f"{server.url}/metrics", headers=auth(TOKEN)).text)
        assert value(drained, "parlor_job_queue_depth", state="waiting") == 0
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(20)
        server.stop()


async def test_the_worker_metrics_port_serves_and_a_taken_port_is_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    metrics, port = Metrics(), free_port()
    metrics.job_try("ingest", "ok", 0.5)
    async with serve_metrics(metrics, "127.0.0.1", port, SecretStr(TOKEN)):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):  # the server starts in the background
                try:
                    response = await client.get("/metrics", headers=auth(TOKEN))
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            assert value(parse(response.text), "parlor_job_duration_seconds_count", job="ingest") == 1
            assert (await client.get("/metrics")).json()["error"]["code"] == "unauthorized"
            assert (await client.get("/healthz")).json() == {"status": "ok"}
        async with serve_metrics(Metrics(), "127.0.0.1", port, None):  # the port is taken
            await asyncio.sleep(0.5)
    assert "could not serve on 127.0.0.1" in caplog.text
