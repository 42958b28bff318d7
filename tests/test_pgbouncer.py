"""Parlor behind a real PgBouncer (tests/helpers/pgbouncer.py) in transaction mode, as docs/deploy.md
recommends (RDS Proxy, Supabase's and Neon's poolers, pgcat do the same): two server connections shared
by every client, so each transaction may run on another one. `parlor serve`'s chat turns, `parlor worker`
ingesting an upload, a probe of three processes on Parlor's own engine, the pgvector store and a part of
the suite in three processes all work through it; `parlor migrate` itself refuses it in one line (its
session lock), `parlor migrate --wait` works."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import numpy as np
import pytest

from parlor.rag.pg_store import PgVectorStore, asyncpg_dsn
from parlor.rag.store import Scope
from tests import pg, rag_corpus
from tests.cli import parlor
from tests.client import chat
from tests.conftest import upstream_provider
from tests.helpers import pgbouncer, pgbouncer_suite
from tests.helpers.documents import ready, upload
from tests.helpers.pgbouncer import PgBouncer
from tests.helpers.redis import redis_url
from tests.pgvector_cluster import PgVectorCluster
from tests.server import ParlorServer
from tests.test_jobs_worker import Worker
from tests.test_vector_stores import DIMS, records, unit
from tests.upstream import Script, ScriptedToolCall, Upstream

pytestmark = pytest.mark.skipif(not pgbouncer.available(), reason="needs pgbouncer (scripts/system-deps.sh)")

PROCESSES, TASKS, QUERIES = 3, 5, 90  # 1,350 queries over 15 client connections sharing 2 server ones


@pytest.fixture
async def bounced() -> AsyncIterator[tuple[str, str]]:
    """A fresh database on the shared PostgreSQL: (its URL through a transaction-mode PgBouncer, direct)."""
    async with pg.fresh_database() as direct:
        database = direct.rsplit("/", 1)[1]
        with PgBouncer() as bouncer:
            yield bouncer.url(database), direct


def _probe(url: str) -> list[dict[str, object]]:
    """tests/helpers/crosstalk.py in PROCESSES processes at once: each one's counts."""
    processes = [subprocess.Popen([sys.executable, "-m", "tests.helpers.crosstalk", url, f"p{i}", str(TASKS),
                                   str(QUERIES)], stdout=subprocess.PIPE, text=True) for i in range(PROCESSES)]
    return [json.loads(process.communicate(timeout=600)[0]) for process in processes]


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_no_query_gets_another_callers_answer_through_pgbouncer(pool_mode: str) -> None:
    # session mode holds a server connection per client connection: as many as the probe opens
    with PgBouncer(pool_mode=pool_mode, pool_size=2 if pool_mode == "transaction" else PROCESSES * TASKS) as bouncer:
        counts = _probe(bouncer.url("test"))
    print(f"pooler=pgbouncer, {pool_mode} mode: {counts}")
    assert [(c["total"], c["wrong"], c["errors"]) for c in counts] == [(TASKS * QUERIES, 0, 0)] * PROCESSES


def test_with_statement_caches_on_transaction_mode_mixes_callers_up() -> None:
    """The control: the same probe with pooler=none fails through the same PgBouncer (wrong answers,
    DuplicatePreparedStatementError, missing statements), so the test above proves the setting."""
    with PgBouncer() as bouncer:
        counts = _probe(bouncer.url("test").replace("pooler=pgbouncer", "pooler=none"))
    print(f"pooler=none, transaction mode: {counts}")
    assert sum(int(str(c["wrong"])) + int(str(c["errors"])) for c in counts) > 0


async def test_parlor_migrates_and_serves_chat_turns_through_pgbouncer(
        bounced: tuple[str, str], upstream: Upstream, tmp_path: Path) -> None:
    url, direct = bounced
    refused = parlor("migrate", env={"PARLOR_DATABASE_URL": url}, timeout=60)  # its session lock would stay behind
    assert refused.returncode == 1 and "parlor migrate needs a session of its own" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    migrated = parlor("migrate", env={"PARLOR_DATABASE_URL": direct}, timeout=300)  # the Job: PostgreSQL itself
    assert migrated.returncode == 0, migrated.stderr
    waited = parlor("migrate", "--wait", env={"PARLOR_DATABASE_URL": url}, timeout=120)  # a pod's init container
    assert waited.returncode == 0 and waited.stdout.strip().endswith("up to date"), waited.stderr
    pools = {"PARLOR_DB_POOL_SIZE": "4", "PARLOR_DB_MAX_OVERFLOW": "2"}  # more than PgBouncer's 2 server ones
    server = ParlorServer(tmp_path, [upstream_provider(upstream)], database_url=url, **pools).start()
    try:
        keys = [server.create_user(f"u{i}") for i in range(3)]
        turns = [(keys[n % 3], uuid.uuid4().hex, f"turn {n} {uuid.uuid4().hex[:8]}") for n in range(6)]
        turns = [(key, thread, f"turn {n} of {thread}") for key, thread, _ in turns for n in range(10)]
        with ThreadPoolExecutor(6) as pool:  # six threads at once, each thread's turns one after another
            results = list(pool.map(lambda n: _turns(server.url, turns[n * 10:(n + 1) * 10]), range(6)))
    finally:
        server.stop()
    said = [answer for thread in results for answer in thread]
    errors = [line for line in server.log.read_text().splitlines() if "error" in line][1:3]
    assert [status for status, _ in said] == [200] * 60, errors
    assert [text for _, text in said] == [f"You said: {text}" for _, _, text in turns]  # each its own answer
    connection = await asyncpg.connect(asyncpg_dsn(direct))
    try:
        stored = await connection.fetch("SELECT role, text, count(*) AS n FROM messages GROUP BY role, text")
    finally:
        await connection.close()
    users = {r["text"]: r["n"] for r in stored if r["role"] == "user"}
    assistants = {r["text"]: r["n"] for r in stored if r["role"] == "assistant"}
    assert users == {text: 1 for _, _, text in turns}  # every turn stored exactly once
    assert assistants == {f"You said: {text}": 1 for _, _, text in turns}


def _turns(url: str, turns: list[tuple[str, str, str]]) -> list[tuple[int, str]]:
    answers = [chat(url, key, thread, text, timeout=120) for key, thread, text in turns]
    return [(answer.status, answer.text) for answer in answers]


@pytest.fixture(scope="module")
def pgvector_behind_pgbouncer() -> Iterator[tuple[PgVectorCluster, PgBouncer]]:
    """A PostgreSQL with pgvector (the tests' own has none) and a transaction-mode PgBouncer in front."""
    with PgVectorCluster() as cluster, PgBouncer(backend_port=cluster.port) as bouncer:
        yield cluster, bouncer


async def test_the_vector_store_searches_with_its_settings_through_pgbouncer(
        pgvector_behind_pgbouncer: tuple[PgVectorCluster, PgBouncer]) -> None:
    store = PgVectorStore(pgvector_behind_pgbouncer[1].url("postgres"), DIMS, pool_size=6)  # 6 clients, 2 servers
    await store.setup()
    try:
        user, documents = uuid.uuid4().hex, [uuid.uuid4().hex for _ in range(4)]
        vectors = unit(4 * 20)
        for i, document in enumerate(documents):
            await store.replace(document, records(document, user, [f"pallet note {i}.{j}" for j in range(20)]),
                                vectors[i * 20:(i + 1) * 20])
        searches = [store.vector_search(Scope(user), vectors[n], 5) for n in range(0, 80, 4)]
        found = await asyncio.gather(*searches, *(store.text_search(Scope(user), "pallet", 5) for _ in range(10)))
        for n, hits in zip(range(0, 80, 4), found[:20], strict=True):
            assert hits[0].text == f"pallet note {n // 20}.{n % 20}"  # the exact nearest: itself
            assert np.isclose(hits[0].score, 1.0, atol=1e-4)
        assert all(len(hits) == 5 for hits in found[20:])
        async with store._transaction() as connection:  # the settings hold inside the store's transactions
            assert await connection.fetchval("SHOW hnsw.iterative_scan") == "strict_order"
            assert await connection.fetchval("SHOW hnsw.ef_search") == "100"
            assert await connection.fetchval("SHOW max_parallel_workers_per_gather") == "0"
        async with store._pool.acquire() as connection:  # ...and are left on no server connection
            assert await connection.fetchval("SHOW hnsw.ef_search") == "40"
    finally:
        await store.aclose()


async def test_a_worker_through_pgbouncer_ingests_an_upload_end_to_end(
        pgvector_behind_pgbouncer: tuple[PgVectorCluster, PgBouncer], upstream: Upstream, tmp_path: Path,
        marker: str) -> None:
    """`parlor worker` and `parlor serve` with every database connection through the PgBouncer (the app's
    engine, the vector store's pool): an upload through the server is ingested by the worker, its chunks
    and vectors stored once, and found by a search through the server."""
    cluster, bouncer = pgvector_behind_pgbouncer
    database = f"w_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    direct = f"postgresql+asyncpg://postgres@127.0.0.1:{cluster.port}/{database}"
    assert parlor("migrate", env={"PARLOR_DATABASE_URL": direct}, timeout=300).returncode == 0
    env = {"PARLOR_REDIS_URL": redis_url(), "PARLOR_JOBS_QUEUE": f"t-{marker}:jobs",
           "PARLOR_REDIS_PREFIX": f"t-{marker}:", "PARLOR_DOCUMENTS_DIR": str(tmp_path / "documents"),
           "PARLOR_DB_POOL_SIZE": "4", "PARLOR_VECTOR_POOL_SIZE": "4"}  # more clients than its 2 server connections
    server = ParlorServer(tmp_path / "api", [upstream_provider(upstream)], database_url=bouncer.url(database), **env)
    jobs = ParlorServer(tmp_path / "worker", [upstream_provider(upstream)], database_url=bouncer.url(database), **env)
    jobs.data_dir.mkdir()
    worker = Worker(jobs)  # `parlor worker` with the server's settings
    try:
        server.start(180)
        key = server.create_user(f"kb-{marker}")
        files = {"vault.md": f"# Vault\n\nThe vault code of the office is {marker}-7781.\n".encode(),
                 "report.pdf": rag_corpus.pdf(3, seed=11)}
        uploaded = [upload(server, key, name, data).json()["id"] for name, data in files.items()]
        finals = {document: ready(server, key, document) for document in uploaded}
        query = json.dumps({"query": "vault code of the office"})
        upstream.push(Script(tool_calls=[ScriptedToolCall("search_knowledge_base", query)]), match=f"vault {marker}")
        upstream.push(Script(text="It is in your notes."), match=f"vault {marker}")
        found = chat(server.url, key, uuid.uuid4().hex, f"what is the vault {marker}?")
    finally:
        server.stop()
        worker.stop()
    output = next(c for c in found.chunks if c["type"] == "tool-output-available")["output"]
    assert found.status == 200 and f"{marker}-7781" in json.dumps(output)
    worker_log = (jobs.data_dir / "worker.log").read_text()
    assert all(f"document {d} ready" in worker_log and f"document {d} ready" not in server.log.read_text()
               for d in uploaded)  # the worker ingested them, not the server
    connection = await asyncpg.connect(asyncpg_dsn(direct))  # what was stored, seen past the pooler
    try:
        chunks = dict(await connection.fetch("SELECT document_id, count(*) FROM rag_chunks GROUP BY 1"))
        statuses = dict(await connection.fetch("SELECT id, status FROM documents"))
    finally:
        await connection.close()
    assert statuses == {d: "ready" for d in uploaded}
    assert chunks == {d: finals[d]["chunks"] for d in uploaded} and all(chunks.values())  # each one once
    assert finals[uploaded[1]]["pages"] == 3


SUITE = ("tests/test_store.py", "tests/test_context.py", "tests/test_threads_api.py")  # PostgreSQL: tests/pg.py


def test_the_postgresql_tests_of_the_stores_pass_through_pgbouncer_in_three_processes() -> None:
    """A representative part of the suite (the stores, the context reader, the threads API on a server),
    its every PostgreSQL database reached through a PgBouncer (PARLOR_TEST_PG with pooler=pgbouncer), in 3
    processes, while the cross-talk probe runs through the same PgBouncer. `make test-pgbouncer` runs
    every PostgreSQL-backed file so (tests/helpers/pgbouncer_suite.py): too long for every `make test`."""
    outcome = pgbouncer_suite.run(SUITE)
    print(f"{outcome.summary}; probe: {dict(outcome.probe)}")
    assert outcome.returncode == 0, outcome.output[-3000:]
    assert outcome.summary["passed"] >= 80 and "skipped" not in outcome.summary, outcome.output[-500:]
    assert outcome.probe["total"] > 0 and (outcome.probe["wrong"], outcome.probe["errors"]) == (0, 0)
