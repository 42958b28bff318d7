"""Alembic environment: runs migrations over the async engine for either database.

Each migration is its own transaction (a long upgrade keeps no lock from its first migration to its
last), and on PostgreSQL no statement waits longer than `lock_timeout` for a lock: a migration's DDL
queued behind a long transaction would block every query behind it meanwhile. The caller
(parlor.db.schema) retries a migration that timed out."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from parlor.db.engine import create_engine
from parlor.db.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        seconds = float(context.config.attributes.get("lock_timeout", 3.0))
        connection.exec_driver_sql(f"SET lock_timeout = '{int(seconds * 1000)}ms'")
        connection.commit()  # a session setting: it holds for every migration's transaction
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


asyncio.run(_run_async(context.config.attributes["database_url"]))
