"""Databases left at an older schema, as a release that shipped it would have left them: many threads and
runs on PostgreSQL (what the online-migration tests and bench/migrate_online.py upgrade), or one old thread."""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from parlor.db import Base, create_engine, migrate, utcnow
from parlor.db.engine import alembic_config

OLD = "0006_security"  # before the experiments' backfill and the indexes on threads, runs and messages


def dsn(url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def migrate_to(url: str, revision: str) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def populate(url: str, threads: int) -> None:
    """`threads` threads of one user, each with one run (ids in random order, as uuid4s are)."""
    connection = await asyncpg.connect(dsn(url))
    try:
        await connection.execute("INSERT INTO users (id, name, tier, role, created_at) "
                                 "VALUES ('u-old', 'old', 'free', 'user', now())")
        await connection.execute(
            "INSERT INTO threads (id, user_id, title, created_at, updated_at, metadata) "
            "SELECT md5(i::text), 'u-old', 'thread ' || i, now(), now() - i * interval '1 second', '{}' "
            "FROM generate_series(1, $1) i", threads)
        await connection.execute(
            "INSERT INTO runs (id, request_id, user_id, thread_id, status, tokens_in, tokens_out, cost_usd, "
            "timings, detail, created_at) SELECT md5('run' || i), 'req-' || i, 'u-old', md5(i::text), 'ok', "
            "1, 1, 0, '{}', '{}', now() FROM generate_series(1, $1) i", threads)
        await connection.execute("ANALYZE threads; ANALYZE runs")
    finally:
        await connection.close()


async def old_database(url: str, threads: int) -> None:
    await migrate_to(url, OLD)
    await populate(url, threads)


async def upgrade_an_old_thread(url: str, before: str) -> None:
    """A database at `before` holding one user ('u1') and their thread ('t1'), as that release left it,
    upgraded to the head: whose schema must then be the models' to the letter."""
    await migrate_to(url, before)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            now = {"now": utcnow()}
            await connection.execute(text("INSERT INTO users (id, name, tier, role, created_at) "
                                          "VALUES ('u1', 'old', 'free', 'user', :now)"), now)
            await connection.execute(text("INSERT INTO threads (id, user_id, title, created_at, updated_at, metadata)"
                                          " VALUES ('t1', 'u1', 'old thread', :now, :now, '{}')"), now)
        await migrate(url)
        async with engine.connect() as connection:
            assert await connection.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)) == []
    finally:
        await engine.dispose()
