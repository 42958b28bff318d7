"""Parlor behind a real PgBouncer (tests/helpers/pgbouncer.py) in transaction mode, as docs/deploy.md
recommends (RDS Proxy, Supabase's and Neon's poolers, pgcat do the same): two server connections shared
by every client, so each transaction may run on another one. `parlor migrate`, `parlor serve`'s chat
turns, a probe of three processes on Parlor's own engine, and the pgvector store all work through it;
`parlor migrate` itself refuses it in one line (its session lock), `parlor migrate --wait` works."""

from __future__ import annotations

import asyncio
import json
import os
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
from tests import pg
from tests.cli import parlor
from tests.client import chat
from tests.conftest import upstream_provider
from tests.helpers import pgbouncer
from tests.helpers.pgbouncer import PgBouncer
from tests.pgvector_cluster import PgVectorCluster
from tests.server import ParlorServer
from tests.test_vector_stores import DIMS, records, unit
from tests.upstream import Upstream

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
    assert all(text.startswith("You said: turn ") for _, text in said)
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
def pgvector_behind_pgbouncer() -> Iterator[str]:
    with PgVectorCluster() as cluster, PgBouncer(backend_port=cluster.port) as bouncer:
        yield bouncer.url("postgres")


async def test_the_vector_store_searches_with_its_settings_through_pgbouncer(pgvector_behind_pgbouncer: str) -> None:
    store = PgVectorStore(pgvector_behind_pgbouncer, DIMS, pool_size=6)  # 6 clients, 2 server connections
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


SUITE = ["tests/test_store.py", "tests/test_context.py", "tests/test_threads_api.py"]  # their PostgreSQL: tests/pg.py


def test_the_postgresql_tests_of_the_stores_pass_through_pgbouncer() -> None:
    """A representative part of the suite (the stores, the context reader, the threads API on a server),
    its every PostgreSQL database reached through a PgBouncer (PARLOR_TEST_PG with pooler=pgbouncer)."""
    with PgBouncer(pool_size=4) as bouncer:
        admin = f"postgresql://postgres@127.0.0.1:{bouncer.port}/postgres?pooler=pgbouncer"
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUITE],
                             env={**os.environ, "PARLOR_TEST_PG": admin}, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout, run.stdout[-500:]
