"""Migrations while the fleet serves, on real PostgreSQL: several `parlor migrate` at once wait for one
another instead of failing; the backfill and the index builds never hold a lock that stops the readers
and writers of `threads` and `runs` (asserted on the locks themselves, seen from another connection,
never on timings: bench/migrate_online.py measures those); a migration queued behind a long transaction
gives up its place after lock_timeout and tries again; a run cut half-way resumes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from parlor.db import Base, create_engine, migrate, schema
from tests import pg
from tests.migrations_kit import OLD, dsn, migrate_to, old_database

# `parlor migrate` refuses a transaction pooler, and these tests watch the migration's own sessions
pytestmark = pytest.mark.skipif(pg.behind_pooler(), reason=pg.DIRECT_ONLY)
THREADS = 20_000  # two batches of the backfill, and more
MESSAGE = "(id, thread_id, role, parts, text, status, created_at)"
# Holds each row the backfill updates until the test lets go of advisory lock 42: a batch in the middle
# of its work, caught to look at the locks it holds.
HOLD_THE_BACKFILL = """
CREATE FUNCTION hold_backfill() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    IF current_query() LIKE 'UPDATE threads SET experiment%' THEN PERFORM pg_advisory_xact_lock_shared(42); END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER hold_backfill BEFORE UPDATE ON threads FOR EACH ROW EXECUTE FUNCTION hold_backfill();
"""


@pytest.fixture
async def connect(pg_url: str) -> AsyncIterator[Callable[[], Awaitable[Any]]]:
    """Plain connections beside the migration's own (the blocker, the watcher, the readers)."""
    opened: list[Any] = []

    async def open_one() -> Any:
        opened.append(await asyncpg.connect(dsn(pg_url)))
        return opened[-1]

    yield open_one
    for connection in opened:
        await connection.close()


async def schema_diff(url: str) -> list[Any]:
    """What the migrated schema lacks or has beyond the models (an invalid index counts)."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    finally:
        await engine.dispose()


async def until(probe: Callable[[], Awaitable[Any]]) -> Any:
    """The first truthy answer of `probe`, polled (a hang guard of minutes, not a timing)."""
    async def poll() -> Any:
        while True:  # the state polled is the database's: no event to wait on
            if found := await probe():
                return found
            await asyncio.sleep(0.02)
    return await asyncio.wait_for(poll(), 120)


def test_three_parlor_migrate_at_once_all_succeed(pg_url: str) -> None:
    env = {**os.environ, "PARLOR_DATABASE_URL": pg_url}
    runs = [subprocess.Popen([sys.executable, "-m", "parlor", "migrate"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [err for _, err in outputs]
    said = sorted((out.splitlines()[-1] for out, _ in outputs), key=lambda last: last.startswith("applied"))
    assert said[:2] == ["already up to date"] * 2  # they waited for the first, then found nothing to do
    assert said[2].startswith(f"applied {schema.head().split('_')[0]}")
    assert asyncio.run(schema_diff(pg_url)) == []


def test_an_init_containers_wait_changes_nothing_until_the_job_has_migrated(pg_url: str) -> None:
    """`parlor migrate --wait` (what the pods' init containers run, safe through a transaction pooler):
    it says what it waits for, takes no lock and migrates nothing, and ends once another run did."""
    env = {**os.environ, "PARLOR_DATABASE_URL": pg_url}
    waiter = subprocess.Popen([sys.executable, "-m", "parlor", "migrate", "--wait"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert waiter.stdout is not None
    first = waiter.stdout.readline()
    assert first.startswith("waiting for the schema: the database is at no schema"), first
    assert waiter.poll() is None and asyncio.run(schema.current(pg_url)) is None  # it changed nothing
    job = subprocess.run([sys.executable, "-m", "parlor", "migrate"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert job.returncode == 0, job.stderr
    rest, _ = waiter.communicate(timeout=60)
    assert waiter.returncode == 0 and rest.strip() == f"the schema is at {schema.head()}: up to date"


async def test_the_backfill_stops_no_reader_or_writer(pg_url: str, connect: Callable[[], Awaitable[Any]]) -> None:
    await old_database(pg_url, THREADS)
    watcher, client = await connect(), await connect()
    await watcher.execute(HOLD_THE_BACKFILL)
    await watcher.execute("SELECT pg_advisory_lock(42)")  # the backfill's first batch waits on it
    migrating = asyncio.create_task(migrate(pg_url, lock_timeout=600))

    waiting = await until(lambda: watcher.fetchrow(
        "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE threads%'"))
    modes = {r["mode"] for r in await watcher.fetch(
        "SELECT l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE l.pid = $1 AND l.granted AND c.relname IN ('threads', 'runs')", waiting["pid"])}
    assert modes == {"RowExclusiveLock"}  # no table lock: the DDL before it committed on its own
    # Meanwhile, what the old release's replicas do goes on (it would wait here behind a held DDL lock):
    assert await client.fetchval("SELECT count(*) FROM threads") == THREADS
    await client.execute("INSERT INTO threads (id, user_id, created_at, updated_at, metadata) "
                         "VALUES ('new', 'u-old', now(), now(), '{}')")
    await client.execute("UPDATE threads SET title = 'renamed' WHERE id = "  # in a batch still to come
                         "(SELECT max(id) FROM threads WHERE id <> 'new')")
    await client.execute("INSERT INTO runs (id, request_id, user_id, thread_id, status, tokens_in, tokens_out, "
                         "cost_usd, timings, detail, created_at) "
                         "VALUES ('r-new', 'q', 'u-old', 'new', 'ok', 1, 1, 0, '{}', '{}', now())")
    assert await client.fetchval("SELECT count(*) FROM runs") == THREADS + 1
    await watcher.execute("SELECT pg_advisory_unlock(42)")

    applied = await asyncio.wait_for(migrating, 300)
    assert applied[0].startswith("0007_experiments")
    assert await client.fetchval("SELECT count(*) FROM threads WHERE experiment IS NULL AND id <> 'new'") == 0
    assert await schema_diff(pg_url) == []


async def test_the_index_builds_let_writes_through(pg_url: str, connect: Callable[[], Awaitable[Any]]) -> None:
    await old_database(pg_url, 1_000)
    await migrate_to(pg_url, "0008_key_last_used")
    blocker, watcher, client = await connect(), await connect(), await connect()
    held = blocker.transaction()
    await held.start()  # an answer being written: a plain build would wait for it, and every write behind it
    await blocker.execute(f"INSERT INTO messages {MESSAGE} "
                          "VALUES ('held', md5('1'), 'assistant', '[]', '', 'streaming', now())")
    migrating = asyncio.create_task(migrate(pg_url))

    building = await until(lambda: watcher.fetchrow(
        "SELECT pid FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX CONCURRENTLY%ix_messages_streaming%' "
        "AND wait_event_type = 'Lock'"))  # it waits for the open transaction to end, as a concurrent build does
    modes = {r["mode"] for r in await watcher.fetch(
        "SELECT l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE l.pid = $1 AND l.granted "
        "AND c.relname = 'messages'", building["pid"])}
    assert modes == {"ShareUpdateExclusiveLock"}  # conflicts with no read or write (a plain build: ShareLock)
    await client.execute(f"INSERT INTO messages {MESSAGE} VALUES ('m', md5('2'), 'user', '[]', 'hi', 'done', now())")
    await held.rollback()
    applied = await asyncio.wait_for(migrating, 300)
    assert [m.split(" ")[0] for m in applied] == ["0009_streaming_answers", "0010_thread_model",
                                                  "0011_assistants_groups", "0012_user_instructions",
                                                  "0013_message_tree", "0014_shares"]
    assert await schema_diff(pg_url) == []


async def test_a_migration_behind_a_long_transaction_gives_way_and_retries(
        pg_url: str, connect: Callable[[], Awaitable[Any]]) -> None:
    await migrate_to(pg_url, OLD)
    blocker, client = await connect(), await connect()
    held = blocker.transaction()
    await held.start()  # a long report reading threads: the ALTER TABLE would queue every query behind it
    await blocker.fetchval("SELECT count(*) FROM threads")
    said: list[str] = []
    migrating = asyncio.create_task(migrate(pg_url, lock_timeout=0.2, say=said.append))

    await until(lambda: asyncio.sleep(0, said))
    assert said[0] == "a migration waited over 0.2 s for a lock (attempt 1 of 10): again in 2 s"
    assert await client.fetchval("SELECT count(*) FROM threads") == 0  # not queued behind it
    await held.rollback()
    applied = await asyncio.wait_for(migrating, 300)
    assert [m.split(" ")[0] for m in applied] == ["0007_experiments", "0008_key_last_used", "0009_streaming_answers",
                                              "0010_thread_model", "0011_assistants_groups", "0012_user_instructions",
                                              "0013_message_tree", "0014_shares"]
    assert await schema_diff(pg_url) == []


async def test_a_run_cut_after_its_ddl_resumes(pg_url: str, connect: Callable[[], Awaitable[Any]]) -> None:
    await old_database(pg_url, 100)
    await migrate_to(pg_url, "0007_experiments")
    client = await connect()
    # What a run killed during 0007's index build leaves: its DDL committed, part of the backfill done,
    # an invalid index of that name, and 0006 still recorded.
    await client.execute("DROP INDEX ix_runs_experiment")
    await client.execute("UPDATE threads SET experiment = NULL WHERE title > 'thread 5'")
    with pytest.raises(asyncpg.UniqueViolationError):
        await client.execute("CREATE UNIQUE INDEX CONCURRENTLY ix_runs_experiment ON runs (user_id)")
    await client.execute("UPDATE alembic_version SET version_num = $1", OLD)

    applied = await migrate(pg_url)
    assert applied[0].startswith("0007_experiments")
    assert await client.fetchval("SELECT count(*) FROM threads WHERE experiment IS NULL") == 0
    assert await schema_diff(pg_url) == []  # the invalid index was replaced by the real one


async def test_a_migration_that_keeps_waiting_says_what_to_do(
        pg_url: str, connect: Callable[[], Awaitable[Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "ATTEMPTS", 1)  # not ten tries and three minutes of pauses
    await migrate_to(pg_url, OLD)
    blocker = await connect()
    held = blocker.transaction()
    await held.start()
    await blocker.fetchval("SELECT count(*) FROM threads")
    with pytest.raises(schema.LockBusy) as busy:
        await migrate(pg_url, lock_timeout=0.1)
    assert str(busy.value) == ("a migration waited over 0.1 s for a lock (1 tries): a long transaction holds its "
                               "tables (see pg_stat_activity); run `parlor migrate` again once it ends")
    await held.rollback()
    assert await schema.current(pg_url) == OLD  # the migration rolled back whole
