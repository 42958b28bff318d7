"""Migration 0014: a database of the release before becomes one branch per thread -- each message's
parent the one before it, the thread's leaf its last -- on SQLite and PostgreSQL (batched there); the
schema then matches the models, and the turn's one read follows the branch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from parlor.db import Base, create_engine, migrate, online, session_factory, utcnow
from parlor.memory import MessageStore
from parlor.memory.context import ContextReader
from tests import pg
from tests.migrations_kit import migrate_to

BEFORE = "0010_thread_model"


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'parlor.db'}"
        return
    monkeypatch.setattr(online, "BATCH_ROWS", 3)  # several batches of the backfill, on a few rows
    async with pg.fresh_database() as url:
        yield url


async def test_old_threads_become_a_single_branch(db_url: str) -> None:
    await migrate_to(db_url, BEFORE)
    engine = create_engine(db_url)
    now = utcnow()
    try:
        async with engine.begin() as connection:  # two threads of the release before, and an empty one
            await connection.execute(text("INSERT INTO users (id, name, tier, role, created_at) "
                                          "VALUES ('u1', 'old', 'free', 'user', :now)"), {"now": now})
            for thread in ("t1", "t2", "t3"):
                await connection.execute(text(
                    "INSERT INTO threads (id, user_id, title, created_at, updated_at, metadata) "
                    "VALUES (:id, 'u1', 'old', :now, :now, '{}')"), {"id": thread, "now": now})
            rows = [(f"{thread}-m{i}", thread, "user" if i % 2 == 0 else "assistant", now + timedelta(seconds=i))
                    for thread, count in (("t1", 5), ("t2", 2)) for i in range(count)]
            rows.append(("t1-m9", "t1", "user", now + timedelta(seconds=2)))  # a tie on created_at: by id
            for id_, thread, role, at in rows:
                await connection.execute(text(
                    "INSERT INTO messages (id, thread_id, role, parts, text, status, created_at) "
                    "VALUES (:id, :thread, :role, '[]', :text, 'complete', :at)"),
                    {"id": id_, "thread": thread, "role": role, "text": id_, "at": at})
        await migrate(db_url)
        async with engine.connect() as connection:
            assert await connection.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)) == []
            parents = dict((await connection.execute(text("SELECT id, parent_id FROM messages"))).all())
            leaves = dict((await connection.execute(text("SELECT id, leaf_id FROM threads"))).all())
        assert parents == {"t1-m0": None, "t1-m1": "t1-m0", "t1-m2": "t1-m1", "t1-m9": "t1-m2", "t1-m3": "t1-m9",
                           "t1-m4": "t1-m3", "t2-m0": None, "t2-m1": "t2-m0"}
        assert leaves == {"t1": "t1-m4", "t2": "t2-m1", "t3": None}

        store = MessageStore(session_factory(engine))
        _, branch = await store.get_thread("u1", "t1")
        assert [m.id for m in branch] == ["t1-m0", "t1-m1", "t1-m2", "t1-m9", "t1-m3", "t1-m4"]
        assert all(m.versions == (m.id,) for m in branch)  # one version each
        window = await ContextReader(engine).read("u1", "t1", messages=3)
        assert [m.id for m in window.recent] == ["t1-m9", "t1-m3", "t1-m4"] and window.capped
        await migrate(db_url)  # run again (as after a cut run): nothing changes
    finally:
        await engine.dispose()
