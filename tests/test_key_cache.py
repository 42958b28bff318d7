"""The in-process cache of authenticated API keys: it skips the database, yet revocation, tier changes,
expiry and account deletion apply at once: through this process directly, from any other process through
the announcements it hears over Redis. A process that cannot hear them does not use its cache."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parlor.accounts import AccountStore, KeyExpired, Principal
from parlor.accounts.data import AccountData
from parlor.accounts.key_cache import KeyCache, KeyChanges
from parlor.db import ApiKey, create_engine, migrate, session_factory, utcnow
from parlor.redis_keys import RedisKeys
from tests.redis_proc import own_redis

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


@pytest.fixture
def changes() -> Iterator[KeyChanges]:
    """This process's key cache, hearing every other's key changes (as while its Redis subscription is up)."""
    heard = KeyChanges(cache=KeyCache())
    heard.cache.live = True
    yield heard
    heard.cache.distrust()


async def revoke_behind_its_back(sessions: Sessions, user_id: str) -> None:
    """As another process would: straight in the database."""
    async with sessions.begin() as session:
        await session.execute(update(ApiKey).where(ApiKey.user_id == user_id).values(revoked_at=utcnow()))


async def test_a_cached_key_skips_the_database_until_its_ttl(sessions: Sessions, changes: KeyChanges) -> None:
    cached, uncached = AccountStore(sessions, 60, changes), AccountStore(sessions)
    user = await cached.create_user("cached", "pro")
    assert await cached.authenticate(user.api_key) == user.principal
    await revoke_behind_its_back(sessions, user.principal.id)
    assert await cached.authenticate(user.api_key) == user.principal  # another process's change: within the TTL
    assert await uncached.authenticate(user.api_key) is None
    assert await AccountStore(sessions, 1e-9, changes).authenticate(user.api_key) is None  # TTL over


async def test_changes_through_this_process_apply_at_once(sessions: Sessions, changes: KeyChanges) -> None:
    accounts = AccountStore(sessions, 60, changes)
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


async def test_account_deletion_and_expiry_apply_at_once(sessions: Sessions, changes: KeyChanges) -> None:
    accounts = AccountStore(sessions, 60, changes)
    gone = await accounts.create_user("gone", "pro")
    assert await accounts.authenticate(gone.api_key) is not None
    await AccountData(sessions, changes=changes).delete(gone.principal.id)
    assert await accounts.authenticate(gone.api_key) is None
    brief = await accounts.create_user("brief", "pro", expires_at=utcnow() + timedelta(seconds=0.5))
    assert await accounts.authenticate(brief.api_key) is not None
    await asyncio.sleep(0.6)  # expiry is checked on every hit, not only on a miss
    with pytest.raises(KeyExpired):
        await accounts.authenticate(brief.api_key)


async def test_nothing_is_cached_while_other_processes_changes_cannot_be_heard(sessions: Sessions,
                                                                              changes: KeyChanges) -> None:
    accounts = AccountStore(sessions, 60, changes)
    user = await accounts.create_user("unheard", "pro")
    assert await accounts.authenticate(user.api_key) == user.principal
    changes.cache.distrust()  # e.g. the Redis subscription broke: changes elsewhere may go unheard
    await revoke_behind_its_back(sessions, user.principal.id)
    assert await accounts.authenticate(user.api_key) is None


async def test_a_read_from_before_a_change_is_not_cached_after_it(sessions: Sessions, changes: KeyChanges) -> None:
    accounts = AccountStore(sessions, 60, changes)
    user = await accounts.create_user("racing", "pro")
    read_at = changes.cache.generation  # a request reads the key from the database here...
    await changes.announce(user.principal.id)  # ...a revocation is announced meanwhile...
    changes.cache.put("digest-of-the-racing-read", user.principal, None, read_at)  # ...and the request's result comes
    assert changes.cache.get("digest-of-the-racing-read", 60) is None


async def test_each_store_built_without_a_cache_has_its_own(sessions: Sessions) -> None:
    """No module-level cache: a process shares one only where its composition root passes it around."""
    one, two = AccountStore(sessions, 60), AccountStore(sessions, 60)
    assert one.changes.cache is not two.changes.cache
    one.changes.cache.live = True
    user = await one.create_user("own-cache", "pro")
    assert await one.authenticate(user.api_key) == user.principal
    await revoke_behind_its_back(sessions, user.principal.id)
    assert await one.authenticate(user.api_key) == user.principal  # its own cache, within the TTL
    assert await two.authenticate(user.api_key) is None  # nothing cached there (and it hears nothing)


async def test_announcements_reach_other_processes_and_a_lost_subscription_turns_the_cache_off(
        tmp_path: Path) -> None:
    import redis.asyncio as aioredis

    with own_redis(tmp_path) as (process, port):
        here, there = KeyCache(), KeyCache()  # two processes' caches
        client, other = aioredis.Redis(port=port), aioredis.Redis(port=port)
        listening = asyncio.create_task(KeyChanges(client, RedisKeys("t:"), there).listen())
        try:
            for _ in range(100):
                if there.live:
                    break
                await asyncio.sleep(0.02)
            assert there.live and not here.live
            alice = a_principal("u-alice")
            there.put("alice-key", alice, None, there.generation)
            assert there.get("alice-key", 60) == (alice, None)
            await KeyChanges(other, RedisKeys("t:"), here).announce("u-alice")
            for _ in range(100):
                if there.get("alice-key", 60) is None:
                    break
                await asyncio.sleep(0.02)
            assert there.get("alice-key", 60) is None  # heard: dropped in the other process too
            there.put("alice-key", alice, None, there.generation)
            process.kill()
            process.wait()
            for _ in range(200):
                if not there.live:
                    break
                await asyncio.sleep(0.05)
            assert not there.live and there.get("alice-key", 60) is None
        finally:
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
            await client.aclose()
            await other.aclose()


def a_principal(user_id: str) -> Principal:
    return Principal(id=user_id, name=user_id, tier="pro", role="user")
