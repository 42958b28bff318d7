"""Horizontal scale on real engines: three `parlor serve` replicas and one `parlor worker` that share a
PostgreSQL (with pgvector) and a Redis of this test's own, and a documents directory (a "shared
volume") — nothing else. Whatever replica a request lands on, the answer is the same: a turn started
on A resumes on B, a stop sent to B stops A, request limits count both, a document uploaded through A
is ingested by the worker and found through B, no state sticks to a replica, and a message posted to
two or three replicas at once is answered once (C joins only those tests)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
import redis

from parlor.db import migrate
from parlor.rag.pg_store import asyncpg_dsn
from tests import rag_corpus
from tests.client import ChatResult, auth, chat, chat_body
from tests.conftest import upstream_provider
from tests.helpers.documents import events
from tests.helpers.redis import OwnRedis
from tests.helpers.wait import wait_for_sync
from tests.server import ParlorServer
from tests.test_jobs_worker import Worker
from tests.test_resilience_runs import answer_with, read_stream, text_of
from tests.upstream import Script, ScriptedToolCall, Upstream

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")

PACED = [f" t{i}" for i in range(40)]  # 40 tokens, 40 ms apart: long enough to change replica mid-answer
CAP = 3  # the "capped" tier's requests per minute
# Small pools, so the bound below is tight: the whole scenario must run within them (docs/deploy.md).
POOLS = {"PARLOR_DB_POOL_SIZE": "3", "PARLOR_DB_MAX_OVERFLOW": "2", "PARLOR_VECTOR_POOL_SIZE": "2",
         "PARLOR_REDIS_MAX_CONNECTIONS": "8", "PARLOR_JOBS_CONCURRENCY": "1"}
# docs/deploy.md's formulas for these settings: three replicas, then the worker
PG_BOUND = 3 * (3 + 2 + 2) + (1 + 2 + 2)
REDIS_BOUND = 3 * (2 * 8 + 1 + 4) + (2 * 1 + 4)
STARTUP_SECONDS = 180.0  # a ceiling, not a target: a busy 2-core machine imports slowly


@dataclass
class Fleet:
    a: ParlorServer
    b: ParlorServer
    c: ParlorServer
    documents: Path
    worker_log: Path
    database_url: str
    redis_url: str

    @property
    def both(self) -> tuple[ParlorServer, ParlorServer]:
        return self.a, self.b

    def replicas(self, count: int) -> tuple[ParlorServer, ...]:
        return (self.a, self.b, self.c)[:count]


@contextmanager
def fleet_on(upstream: Upstream, root: Path, redis_url: str) -> Iterator[Fleet]:
    """Three replicas and a worker on a PostgreSQL of their own and the Redis at `redis_url` (one server
    here; a cluster or a Sentinel's master in tests/test_redis_ha.py)."""
    from tests.pgvector_cluster import PgVectorCluster

    documents = root / "shared-documents"  # the one path both replicas and the worker mount
    with PgVectorCluster() as database:
        shared = {
            "PARLOR_REDIS_URL": redis_url,
            "PARLOR_DOCUMENTS_DIR": str(documents),
            "PARLOR_TIERS": json.dumps({"unlimited": {}, "capped": {"requests_per_minute": CAP}}),
            "PARLOR_JOBS_RECLAIM_SECONDS": "5",
            **POOLS,
        }
        # each its own data directory: nothing local is shared
        a, b, c, jobs = (ParlorServer(root / name, [upstream_provider(upstream)], database_url=database.url,
                                      **shared) for name in ("a", "b", "c", "worker"))
        worker: Worker | None = None
        try:
            asyncio.run(migrate(database.url))  # what `parlor migrate` does, without another interpreter's start-up
            jobs.data_dir.mkdir()
            worker = Worker(jobs)  # `parlor worker` with the replicas' settings, never started as a server
            with ThreadPoolExecutor(3) as pool:  # the replicas start side by side
                list(pool.map(lambda server: server.start(STARTUP_SECONDS), (a, b, c)))
            yield Fleet(a, b, c, documents, jobs.data_dir / "worker.log", database.url, redis_url)
        finally:
            for server in (a, b, c):
                server.stop()
            if worker is not None:
                worker.stop()


@pytest.fixture(scope="module")
def fleet(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    own_redis = OwnRedis().start()
    try:
        with fleet_on(upstream, tmp_path_factory.mktemp("fleet"), own_redis.url) as started:
            yield started
    finally:
        own_redis.stop()


def ready_through(server: ParlorServer, key: str, document_id: str, seconds: float = 40) -> dict[str, Any]:
    """The document once the worker has finished it, as `server` sees it (polled: a job that never
    ends fails the test instead of hanging it)."""
    def check() -> dict[str, Any] | None:
        state: dict[str, Any] = httpx.get(f"{server.url}/api/documents/{document_id}", headers=auth(key),
                                          timeout=10).json()
        return state if state["status"] in ("ready", "failed") else None

    final: dict[str, Any] = wait_for_sync(check, seconds)
    assert final["status"] == "ready", final
    assert events(server, key, document_id)[-1]["status"] == "ready"
    return final


def wait_for_text(lines: Iterator[str]) -> None:
    while '"text-delta"' not in next(lines):
        pass


def test_a_turn_started_on_a_resumes_on_b_with_the_full_text(fleet: Fleet, upstream: Upstream, marker: str) -> None:
    key = fleet.a.create_user(f"roam-{marker}")
    upstream.push(Script(tokens=PACED, token_delay=0.04), match=f"resume {marker}")
    thread_id = uuid.uuid4().hex
    with httpx.Client(headers=auth(key), timeout=30) as client, client.stream(
        "POST", f"{fleet.a.url}/api/chat", json=chat_body(thread_id, f"resume {marker}")
    ) as on_a:
        wait_for_text(on_a.iter_lines())  # A is generating; the client "reloads" onto B
        with client.stream("GET", f"{fleet.b.url}/api/chat/{thread_id}/stream") as on_b:
            assert on_b.status_code == 200
            resumed = read_stream(on_b)
    assert resumed.text == "".join(PACED) and resumed.types[-1] == "finish" and resumed.done
    answer = answer_with(fleet.b.url, key, thread_id, "complete")
    assert text_of(answer) == "".join(PACED)
    assert len([r for r in upstream.requests if f"resume {marker}" in str(r["messages"][-1])]) == 1
    finished = httpx.get(f"{fleet.b.url}/api/chat/{thread_id}/stream", headers=auth(key), timeout=10)
    assert finished.status_code == 204  # nothing runs any more, on any replica


def test_a_stop_sent_to_b_stops_the_run_on_a(fleet: Fleet, upstream: Upstream, marker: str) -> None:
    key = fleet.b.create_user(f"stop-{marker}")
    upstream.push(Script(tokens=PACED, token_delay=0.05), match=f"stop {marker}")
    thread_id = uuid.uuid4().hex
    with httpx.Client(headers=auth(key), timeout=30) as client, client.stream(
        "POST", f"{fleet.a.url}/api/chat", json=chat_body(thread_id, f"stop {marker}")
    ) as on_a:
        lines = on_a.iter_lines()
        wait_for_text(lines)
        assert client.post(f"{fleet.b.url}/api/chat/{thread_id}/stop").status_code == 204
        rest = "".join(lines)
    assert '"type":"abort"' in rest
    answer = answer_with(fleet.b.url, key, thread_id, "aborted")
    assert text_of(answer) and len(text_of(answer)) < len("".join(PACED))


def test_request_limits_count_both_replicas(fleet: Fleet, marker: str) -> None:
    key = fleet.a.create_user(f"capped-{marker}", tier="capped")
    results: list[ChatResult] = []
    for i in range(CAP + 1):  # A, B, A, then B: each replica alone has seen at most two
        server = fleet.both[i % 2]
        results.append(chat(server.url, key, uuid.uuid4().hex, f"limit {i} {marker}"))
    assert [r.status for r in results] == [200] * CAP + [429]
    refused = results[-1]
    assert refused.body["error"]["code"] == "rate_limited" and int(refused.headers["retry-after"]) >= 1


def test_a_document_uploaded_through_a_is_found_through_b(fleet: Fleet, upstream: Upstream, marker: str) -> None:
    key = fleet.a.create_user(f"kb-{marker}")
    text = f"# Vault\n\nThe vault code of the Parlor office is {marker}-7781. Keep it secret.\n"
    uploaded = httpx.post(f"{fleet.a.url}/api/documents", headers=auth(key), timeout=30,
                          files={"file": ("vault.md", text.encode())})
    assert uploaded.status_code == 202
    document = uploaded.json()
    assert any(p.is_file() for p in fleet.documents.rglob("*")), "the upload is on the shared volume"
    ready_through(fleet.b, key, document["id"])  # the worker's progress, seen through B

    query = json.dumps({"query": "vault code of the office"})
    upstream.push(Script(tool_calls=[ScriptedToolCall("search_knowledge_base", query)]), match=f"vault {marker}")
    upstream.push(Script(text="It is in your notes."), match=f"vault {marker}")
    result = chat(fleet.b.url, key, uuid.uuid4().hex, f"what is the vault {marker}?")
    assert result.status == 200 and result.done
    output = next(c for c in result.chunks if c["type"] == "tool-output-available")["output"]
    assert f"{marker}-7781" in json.dumps(output)
    sources = [c for c in result.chunks if c["type"] == "source-document"]
    assert sources and sources[0]["filename"] == "vault.md"


def test_ingestion_runs_on_the_worker_not_on_the_replicas(fleet: Fleet) -> None:
    key = fleet.b.create_user(f"pdf-{uuid.uuid4().hex[:6]}")
    uploaded = httpx.post(f"{fleet.b.url}/api/documents", headers=auth(key), timeout=30,
                          files={"file": ("report.pdf", rag_corpus.pdf(3, seed=11))})
    assert uploaded.status_code == 202
    assert ready_through(fleet.a, key, uploaded.json()["id"])["pages"] == 3
    done = f"document {uploaded.json()['id']} ready"
    assert done in fleet.worker_log.read_text()
    assert not [s for s in fleet.replicas(3) if done in s.log.read_text()]


def test_no_state_sticks_to_a_replica(fleet: Fleet, marker: str) -> None:
    key = fleet.a.create_user(f"same-{marker}")
    for i, server in enumerate((fleet.a, fleet.b, fleet.a)):
        assert chat(server.url, key, uuid.uuid4().hex, f"hello {i} {marker}").status == 200

    def view(server: ParlorServer) -> dict[str, Any]:
        with httpx.Client(base_url=server.url, headers=auth(key), timeout=10) as client:
            threads = client.get("/api/threads").json()
            first = threads["threads"][0]["id"]
            return {"me": client.get("/api/me").json(), "threads": threads,
                    "thread": client.get(f"/api/threads/{first}").json(),
                    "documents": client.get("/api/documents").json()}

    on_a, on_b = view(fleet.a), view(fleet.b)
    assert len(on_a["threads"]["threads"]) == 3
    assert on_a == on_b
    for server in fleet.both:  # every replica is ready: it sees the same PostgreSQL and Redis
        ready = httpx.get(f"{server.url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text


def test_a_key_revoked_through_the_cli_is_refused_by_both_replicas_at_once(fleet: Fleet, marker: str) -> None:
    """Each replica caches the keys it has seen (no database query per request); a change made anywhere
    is announced over Redis, so the cache never outlives a revocation."""
    name = f"revoked-{marker}"
    key = fleet.a.create_user(name)

    def me() -> list[str | int]:
        answers = [httpx.get(f"{s.url}/api/me", headers=auth(key), timeout=10) for s in fleet.both]
        return [a.json()["tier"] if a.status_code == 200 else a.status_code for a in answers]

    async def retier_behind_their_backs() -> None:
        connection = await asyncpg.connect(asyncpg_dsn(fleet.database_url))
        try:
            await connection.execute("UPDATE users SET tier = 'capped' WHERE name = $1", name)
        finally:
            await connection.close()

    assert me() == ["unlimited", "unlimited"]
    asyncio.run(retier_behind_their_backs())
    assert me() == ["unlimited", "unlimited"]  # both answer from their caches: no query saw the change
    env = {**fleet.a.env, "PARLOR_DATABASE_URL": fleet.database_url}
    revoked = subprocess.run([sys.executable, "-m", "parlor", "users", "revoke", name], env=env,
                             cwd=fleet.a.data_dir, capture_output=True, text=True, timeout=60)
    assert revoked.returncode == 0, revoked.stderr
    assert me() == [401, 401]


def connections(fleet: Fleet) -> tuple[int, int]:
    """Client connections PostgreSQL and Redis see right now (this probe's own left out)."""
    async def postgres() -> int:
        connection = await asyncpg.connect(asyncpg_dsn(fleet.database_url))
        try:
            return int(await connection.fetchval("SELECT count(*) FROM pg_stat_activity WHERE backend_type ="
                                                  " 'client backend' AND pid <> pg_backend_pid()"))
        finally:
            await connection.close()

    with redis.Redis.from_url(fleet.redis_url) as client:
        return asyncio.run(postgres()), len(client.client_list()) - 1


def test_a_burst_through_both_replicas_stays_within_the_documented_connections(fleet: Fleet, upstream: Upstream,
                                                                               marker: str) -> None:
    key = fleet.a.create_user(f"burst-{marker}")
    turns = 16
    for _ in range(turns):
        upstream.push(Script(tokens=PACED[:10], token_delay=0.02), match=f"burst {marker}")
    peak = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            now = connections(fleet)
            peak[:] = [max(p, n) for p, n in zip(peak, now, strict=True)]
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(turns) as pool:  # half through each replica, all at once
            results = list(pool.map(lambda i: chat(fleet.both[i % 2].url, key, uuid.uuid4().hex,
                                                   f"burst {marker} {i}"), range(turns)))
    finally:
        done.set()
        sampler.join()
    assert [r.status for r in results] == [200] * turns  # small pools make requests wait, never fail
    assert all(r.text == "".join(PACED[:10]) for r in results)
    print(f"peak connections during the burst: PostgreSQL {peak[0]} (bound {PG_BOUND}), "
          f"Redis {peak[1]} (bound {REDIS_BOUND})")
    assert 0 < peak[0] <= PG_BOUND, peak
    assert 0 < peak[1] <= REDIS_BOUND, peak


# ---- exactly once: claims shared by every replica (chat/leases.py) ----
def rows(fleet: Fleet, thread_id: str) -> list[tuple[str, str]]:
    """The thread's stored messages as (role, status), oldest first, read from PostgreSQL itself."""
    async def read() -> list[tuple[str, str]]:
        connection = await asyncpg.connect(asyncpg_dsn(fleet.database_url))
        try:
            found = await connection.fetch("SELECT role, status FROM messages WHERE thread_id = $1"
                                           " ORDER BY created_at", thread_id)
            return [(r["role"], r["status"]) for r in found]
        finally:
            await connection.close()

    return asyncio.run(read())


def asked(upstream: Upstream, text: str) -> int:
    return len([r for r in upstream.requests if text in str(r["messages"][-1])])


@pytest.mark.parametrize("count", [2, 3])
def test_one_message_posted_twenty_times_across_the_replicas_is_answered_once(
        fleet: Fleet, upstream: Upstream, marker: str, count: int) -> None:
    key = fleet.a.create_user(f"twice-{count}-{marker}")
    servers = fleet.replicas(count)
    for round_ in range(5):  # many rounds: a race lost once in a while must show
        text = f"once {count} {round_} {marker}"
        upstream.push(Script(tokens=PACED[:12], token_delay=0.02), match=text)
        thread_id, message_id = uuid.uuid4().hex, uuid.uuid4().hex
        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(lambda i, t=thread_id, x=text, m=message_id: chat(
                servers[i % count].url, key, t, x, m), range(20)))
        assert [r.status for r in results] == [200] * 20, [r.body for r in results if r.status != 200]
        assert all(r.text == "".join(PACED[:12]) and r.types[-1] == "finish" for r in results)
        assert asked(upstream, text) == 1
        assert rows(fleet, thread_id) == [("user", "complete"), ("assistant", "complete")]


@pytest.mark.parametrize("count", [2, 3])
def test_fifty_messages_at_once_on_one_thread_across_the_replicas_start_one_turn(
        fleet: Fleet, upstream: Upstream, marker: str, count: int) -> None:
    key = fleet.b.create_user(f"busy-{count}-{marker}")
    servers = fleet.replicas(count)
    for round_ in range(3):
        text = f"crowd {count} {round_} {marker}"
        for _ in range(50):  # 6 s: the burst is over long before, however busy the machine
            upstream.push(Script(tokens=PACED, token_delay=0.15), match=text)
        thread_id = uuid.uuid4().hex
        with ThreadPoolExecutor(50) as pool:
            results = list(pool.map(lambda i, t=thread_id, x=text: chat(servers[i % count].url, key, t, f"{x} {i}"),
                                    range(50)))
        answered = [r for r in results if r.status == 200]
        assert len(answered) == 1, [r.status for r in results]  # the turn outlasts the burst: one wins
        assert {r.body["error"]["code"] for r in results if r.status != 200} == {"thread_busy"}
        assert answered[0].text == "".join(PACED) and asked(upstream, text) == 1
        assert rows(fleet, thread_id) == [("user", "complete"), ("assistant", "complete")]


def v1(server: ParlorServer, key: str, text: str, idempotency_key: str, stream: bool) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/chat/completions", timeout=30,
                      headers={**auth(key), "Idempotency-Key": idempotency_key},
                      json={"model": "up", "stream": stream, "messages": [{"role": "user", "content": text}]})


def content_of(sse_text: str) -> str:
    chunks = [json.loads(line[6:]) for line in sse_text.splitlines()
              if line.startswith("data: ") and line != "data: [DONE]"]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))


def test_a_v1_stream_started_on_a_is_resumed_on_b_by_its_idempotency_key(
        fleet: Fleet, upstream: Upstream, marker: str) -> None:
    key = fleet.a.create_user(f"v1-{marker}")
    text, idempotency_key = f"v1 resume {marker}", f"idem-{marker}"
    upstream.push(Script(tokens=PACED, token_delay=0.04), match=text)
    body = {"model": "up", "stream": True, "messages": [{"role": "user", "content": text}]}
    with httpx.Client(headers={**auth(key), "Idempotency-Key": idempotency_key}, timeout=30) as client, \
            client.stream("POST", f"{fleet.a.url}/v1/chat/completions", json=body) as on_a:
        lines = on_a.iter_lines()
        while '"content"' not in next(lines):
            pass  # A is generating; the client's retry lands on B
        on_b = v1(fleet.b, key, text, idempotency_key, stream=True)
    assert on_b.status_code == 200 and on_b.text.rstrip().endswith("data: [DONE]")
    assert content_of(on_b.text) == "".join(PACED)
    done = v1(fleet.b, key, text, idempotency_key, stream=False)  # once it ended: replayed, not regenerated
    assert done.status_code == 200 and done.json()["choices"][0]["message"]["content"] == "".join(PACED)
    assert asked(upstream, text) == 1

