"""The in-process cache of authenticated API keys: it skips the database, yet revocation, tier changes,
expiry and account deletion through the same process apply at once; another process's changes within the TTL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.accounts import AccountStore, KeyExpired
from parlor.accounts.data import AccountData
from parlor.db import ApiKey, create_engine, migrate, session_factory, utcnow

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Sessions]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'parlor.db'}"
    await migrate(url)
    engine = create_engine(url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def revoke_behind_its_back(sessions: Sessions, user_id: str) -> None:
    """As another process would: straight in the database."""
    async with sessions.begin() as session:
        await session.execute(update(ApiKey).where(ApiKey.user_id == user_id).values(revoked_at=utcnow()))


async def test_a_cached_key_skips_the_database_until_its_ttl(sessions: Sessions) -> None:
    cached, uncached = AccountStore(sessions, key_cache_seconds=60), AccountStore(sessions)
    user = await cached.create_user("cached", "pro")
    assert await cached.authenticate(user.api_key) == user.principal
    await revoke_behind_its_back(sessions, user.principal.id)
    assert await cached.authenticate(user.api_key) == user.principal  # another process's change: within the TTL
    assert await uncached.authenticate(user.api_key) is None
    assert await AccountStore(sessions, key_cache_seconds=1e-9).authenticate(user.api_key) is None  # TTL over


async def test_changes_through_this_process_apply_at_once(sessions: Sessions) -> None:
    accounts = AccountStore(sessions, key_cache_seconds=60)
    user = await accounts.create_user("changing", "pro")
    info, second = await accounts.create_key(user.principal.id, "second")
    assert await accounts.authenticate(second) == user.principal
    assert (await accounts.update_user("changing", tier="free")) is not None
    assert (await accounts.authenticate(second) or user.principal).tier == "free"
    assert await accounts.revoke_key(user.principal.id, info.id)
    assert await accounts.authenticate(second) is None
    assert await accounts.authenticate(user.api_key) is not None
    assert await accounts.revoke("changing") == 1
    assert await accounts.authenticate(user.api_key) is None


async def test_account_deletion_and_expiry_apply_at_once(sessions: Sessions) -> None:
    accounts = AccountStore(sessions, key_cache_seconds=60)
    gone = await accounts.create_user("gone", "pro")
    assert await accounts.authenticate(gone.api_key) is not None
    await AccountData(sessions, None).delete(gone.principal.id)
    assert await accounts.authenticate(gone.api_key) is None
    brief = await accounts.create_user("brief", "pro", expires_at=utcnow() + timedelta(seconds=0.5))
    assert await accounts.authenticate(brief.api_key) is not None
    await asyncio.sleep(0.6)  # expiry is checked on every hit, not only on a miss
    with pytest.raises(KeyExpired):
        await accounts.authenticate(brief.api_key)
