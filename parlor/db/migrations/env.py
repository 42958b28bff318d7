"""Alembic environment: runs migrations over the async engine for either database."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from parlor.db.engine import create_engine
from parlor.db.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
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
