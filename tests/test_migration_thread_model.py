"""Migration 0010: a database of the release before gains `threads.model` (nullable, so its threads keep
the default), on SQLite and PostgreSQL; the store then keeps a thread's chosen model, and the turn's one
read returns it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from parlor.db import Base, Message, create_engine, migrate, new_id, session_factory, utcnow
from parlor.memory import MessageStore
from parlor.memory.context import ContextReader
from parlor.messages import MessageStatus
from tests import pg
from tests.migrations_kit import migrate_to

BEFORE = "0009_streaming_answers"


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'parlor.db'}"
        return
    async with pg.fresh_database() as url:
        yield url


async def test_an_old_database_gains_the_column_and_keeps_a_choice(db_url: str) -> None:
    await migrate_to(db_url, BEFORE)
    engine = create_engine(db_url)
    try:
        async with engine.begin() as connection:  # a thread of the release before
            await connection.execute(text("INSERT INTO users (id, name, tier, role, created_at) "
                                          "VALUES ('u1', 'old', 'free', 'user', :now)"), {"now": utcnow()})
            await connection.execute(text("INSERT INTO threads (id, user_id, title, created_at, updated_at, metadata)"
                                          " VALUES ('t1', 'u1', 'old thread', :now, :now, '{}')"), {"now": utcnow()})
        await migrate(db_url)
        async with engine.connect() as connection:
            assert await connection.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)) == []
        store = MessageStore(session_factory(engine))
        assert (await store.get_thread("u1", "t1"))[0].model is None  # the old thread: the default

        await store.begin_turn(user_id="u1", thread_id="t1", title="x", user_message=None,
                               assistant_message=answer("t1"), model="beta")
        await store.begin_turn(user_id="u1", thread_id="t1", title="x", user_message=None,
                               assistant_message=answer("t1"))  # a later turn naming none keeps it
        assert (await store.get_thread("u1", "t1"))[0].model == "beta"
        assert [t.model for t in (await store.list_threads("u1", 10)).threads] == ["beta"]
        window = await ContextReader(engine).read("u1", "t1", messages=10)
        assert window.model == "beta" and window.arm is None and len(window.recent) == 2
    finally:
        await engine.dispose()


def answer(thread_id: str) -> Message:
    return Message(id=new_id(), thread_id=thread_id, role="assistant", parts=[], text="",
                   status=MessageStatus.STREAMING, created_at=utcnow())
