"""The job runner's retries, and the distributed queue: `parlor worker` processes reading a Redis
stream; one killed with SIGKILL mid-job leaves the job to the next, which finishes it without duplicates."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import apsw
import httpx
import pytest

from parlor.jobs.runner import JobRunner, PermanentError
from tests import rag_corpus
from tests.client import auth
from tests.conftest import upstream_provider
from tests.helpers.documents import events
from tests.helpers.redis import redis_url
from tests.server import ParlorServer
from tests.upstream import Upstream


async def test_transient_failures_are_retried_with_backoff_permanent_ones_are_not() -> None:
    runs: list[str] = []
    given_up: list[str] = []

    async def flaky(arg: str) -> None:
        runs.append(arg)
        if len(runs) < 3:
            raise OSError("database restarting")

    async def broken(arg: str) -> None:
        runs.append(arg)
        raise PermanentError("cannot be read")

    async def give_up(arg: str, exc: BaseException) -> None:
        given_up.append(f"{arg}: {exc}")

    runner = JobRunner(retries=3, base_delay=0.01)
    runner.register("flaky", flaky, give_up)
    runner.register("broken", broken, give_up)
    await runner.run("flaky", "a")
    assert runs == ["a", "a", "a"] and given_up == []
    runs.clear()
    await runner.run("broken", "b")
    assert runs == ["b"] and given_up == ["b: cannot be read"]
    assert 0.5 <= runner.backoff(0) / runner.base_delay <= 1 and runner.backoff(10) <= runner.max_delay


class Worker:
    def __init__(self, server: ParlorServer):
        self.log = (server.data_dir / "worker.log").open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "parlor", "worker"], env=server.env,
                                        cwd=server.data_dir, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture
def distributed(upstream: Upstream, tmp_path: Path) -> Iterator[ParlorServer]:
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    server = ParlorServer(tmp_path, [upstream_provider(upstream)], PARLOR_REDIS_URL=redis_url(),
                          PARLOR_LIMITS_KEY_PREFIX=prefix, PARLOR_JOBS_QUEUE=f"{prefix}jobs",
                          PARLOR_JOBS_RECLAIM_SECONDS="2").start()
    try:
        yield server
    finally:
        server.stop()
        import redis

        with redis.Redis.from_url(redis_url()) as client:
            client.delete(f"{prefix}jobs")


def stored_chunks(data_dir: Path, document_id: str) -> list[int]:
    db = apsw.Connection(str(data_dir / "vectors.sqlite"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return [r[0] for r in db.execute("SELECT ordinal FROM chunks WHERE document_id = ? ORDER BY ordinal",
                                         (document_id,))]
    finally:
        db.close()


def test_a_worker_killed_mid_job_leaves_the_job_to_the_next_one(distributed: ParlorServer) -> None:
    key = distributed.create_user(f"w-{uuid.uuid4().hex[:6]}")
    first = Worker(distributed)
    try:
        response = httpx.post(f"{distributed.url}/api/documents", headers=auth(key), timeout=30,
                              files={"file": ("dense.pdf", rag_corpus.pdf(50, seed=5))})
        assert response.status_code == 202
        document_id = response.json()["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the worker is embedding, then kill it
            state = httpx.get(f"{distributed.url}/api/documents/{document_id}", headers=auth(key)).json()
            if state["stage"] == "embedding" and state["progress"] < 80:
                break
            assert state["status"] != "ready", "the job finished before it could be killed"
            time.sleep(0.02)
        first.stop(signal.SIGKILL)
        assert first.process.returncode == -signal.SIGKILL
    finally:
        first.stop()
    time.sleep(1.0)
    state = httpx.get(f"{distributed.url}/api/documents/{document_id}", headers=auth(key)).json()
    assert state["status"] == "processing"  # nobody is working on it
    second = Worker(distributed)
    try:
        final = events(distributed, key, document_id)[-1]
    finally:
        second.stop()
    assert final["status"] == "ready", final
    ordinals = stored_chunks(distributed.data_dir, document_id)
    assert ordinals == list(range(final["chunks"]))  # every chunk once: no duplicates from the killed run
    assert httpx.get(f"{distributed.url}/api/documents/{document_id}", headers=auth(key)).json()["pages"] == 50
