"""An in-process knowledge base for tests and benchmarks: a migrated SQLite database with users, the
bundled embedder, the sqlite-vec store and the in-process job queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from parlor.config import Settings
from parlor.db import User, create_engine, migrate, new_id, session_factory
from parlor.rag import Knowledge
from parlor.redis_keys import RedisKeys
from parlor.wiring.knowledge import knowledge as build_knowledge


@asynccontextmanager
async def knowledge(tmp: Path, database_url: str | None = None,
                    **settings: Any) -> AsyncIterator[tuple[Knowledge, list[str]]]:
    """(the knowledge base, two user ids); on PostgreSQL, vectors go to pgvector."""
    config = Settings(data_dir=tmp, database_url=database_url or f"sqlite+aiosqlite:///{tmp}/parlor.db", **settings)
    await migrate(config.database_url)
    engine = create_engine(config.database_url)
    users = [new_id(), new_id()]
    async with session_factory(engine).begin() as session:
        session.add_all([User(id=u, name=f"user-{u}", tier="free") for u in users])
    built = build_knowledge(config, engine, None, RedisKeys())
    await built.start()
    try:
        yield built, users
    finally:
        await built.aclose()
        await engine.dispose()


async def wait_final(built: Knowledge, document_id: str, seconds: float = 60.0) -> str:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        found = await built.repo.get(document_id)
        if found is not None and found.status in ("ready", "failed"):
            return found.status
        await asyncio.sleep(0.05)
    raise TimeoutError(f"document {document_id} did not finish")
