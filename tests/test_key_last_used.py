"""A key's `last_used_at`: written on its first use and then at most once an hour (compared with the row
authentication reads anyway, so most requests write nothing), and listed by `GET /api/keys`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from parlor.accounts import AccountStore, KeyExpired
from parlor.accounts.keys import aware
from parlor.db import ApiKey, create_engine, migrate, session_factory, utcnow
from tests.client import auth
from tests.conftest import RunningServer


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'parlor.db'}"
    await migrate(url)
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


def count_key_writes(engine: AsyncEngine) -> list[str]:
    writes: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            writes.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    return writes


async def last_used(engine: AsyncEngine, user_id: str) -> Any:
    async with session_factory(engine)() as session:
        return (await session.execute(select(ApiKey.last_used_at).where(ApiKey.user_id == user_id))).scalar_one()


async def test_written_on_first_use_then_at_most_hourly(engine: AsyncEngine) -> None:
    store = AccountStore(session_factory(engine))
    new = await store.create_user("ada", "free")
    assert await last_used(engine, new.principal.id) is None  # made, never used
    writes = count_key_writes(engine)

    before = utcnow()
    for _ in range(20):
        assert await store.authenticate(new.api_key) == new.principal
    assert len(writes) == 1, "every request wrote the key's row"
    first = aware(await last_used(engine, new.principal.id))
    assert before <= first <= utcnow()

    # An hour later (moved back in the database, as time would), the next use writes once more.
    async with session_factory(engine).begin() as session:
        await session.execute(update(ApiKey).where(ApiKey.user_id == new.principal.id)
                              .values(last_used_at=first - timedelta(minutes=61)))
    writes.clear()
    for _ in range(5):
        await store.authenticate(new.api_key)
    assert len(writes) == 1
    assert aware(await last_used(engine, new.principal.id)) >= first

    (listed,) = await store.list_keys(new.principal.id)
    assert listed.json()["last_used_at"] is not None


async def test_a_refused_key_is_not_marked_used(engine: AsyncEngine) -> None:
    store = AccountStore(session_factory(engine))
    new = await store.create_user("bob", "free", expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(KeyExpired):
        await store.authenticate(new.api_key)
    assert await last_used(engine, new.principal.id) is None


def test_listed_by_the_api(server: RunningServer) -> None:
    key = server.user(f"used-{uuid.uuid4().hex[:6]}")
    spare = httpx.post(f"{server.url}/api/keys", json={"name": "spare"}, headers=auth(key)).json()
    listing = httpx.get(f"{server.url}/api/keys", headers=auth(key)).json()["keys"]
    used = {k["name"]: k["last_used_at"] for k in listing}
    assert used["spare"] is None and spare["id"] in [k["id"] for k in listing]
    assert used["first key"] is not None  # this very request used it
